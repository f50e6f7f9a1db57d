"""All configuration, read once from environment variables (prefix GUIDELEDGER_).

Secrets (the JWT key, the database URL with its password) are `SecretStr`: shown as
asterisks, read with `get_secret_value()` only where a library needs them. A refused
setting's error names the variable and the reason, never the value given."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import (
    AliasChoices,
    AwareDatetime,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# Known to all, so production refuses them (see `_refuse_unsafe_production`).
DEVELOPMENT_SECRET = "development-only-secret-change-me-0123456789"  # noqa: S105
DEVELOPMENT_PAYMENT_SECRET = "development-only-payment-provider-secret-0123"  # noqa: S105
MIN_SECRET_LENGTH = 32


class Persistence(StrEnum):
    AUTO = "auto"  # PostgreSQL when a database URL is set, else SQLite
    POSTGRES = "postgres"
    SQLITE = "sqlite"
    MEMORY = "memory"  # tests only: nothing survives the process


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ClockMode(StrEnum):
    WALL = "wall"
    MANUAL = "manual"  # the sandbox clock: moved only by `POST /sandbox/clock`


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GUIDELEDGER_", frozen=True, hide_input_in_errors=True
    )

    environment: Environment = Environment.DEVELOPMENT
    persistence: Persistence = Persistence.AUTO
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GUIDELEDGER_DATABASE_URL", "DATABASE_URL"),
        description="postgresql://user:password@host:port/dbname",
    )
    postgres_schema: str = "public"
    directory_url: SecretStr | None = Field(
        default=None,
        description="postgresql://... of the cell directory: groups placed on cells (PostgreSQL "
        "servers) get a store of their own there; unset: every group in the one store above",
    )
    cell_pool_size: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Most connections per application of a group's store on a cell",
    )
    postgres_pool_lazy: bool = Field(
        default=False,
        description="Keep one connection per pool and open the others only as needed (the "
        "stores of groups on cells: many stores share a server's connections)",
    )
    postgres_pool_size: int = Field(default=5, ge=1, le=100)
    postgres_max_overflow: int = Field(default=10, ge=0, le=100)
    data_dir: Path = Path("var")
    aggregate_cache_size: int = Field(
        default=10_000,
        ge=0,
        le=1_000_000,
        description="Aggregates kept in memory per application, fast-forwarded on each read",
    )
    audit_processes: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="Processes replaying a big commission log in an audit (PostgreSQL)",
    )
    payment_window_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    clock: ClockMode = Field(
        default=ClockMode.WALL,
        description="manual: the sandbox clock, shared through the store and moved only by "
        "POST /sandbox/clock (refused in production)",
    )
    clock_start: AwareDatetime | None = Field(
        default=None,
        description="Where a manual clock starts when the store has none yet (default: the "
        "wall clock then)",
    )
    jwt_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET),
        description=f"HS256 key for bearer tokens, at least {MIN_SECRET_LENGTH} characters; "
        "production refuses the development default",
    )
    payment_provider_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PAYMENT_SECRET),
        description=f"At least {MIN_SECRET_LENGTH} characters: the key the payment provider "
        "signs its notifications with (HMAC-SHA256); production refuses the development default",
    )
    token_minutes: int = Field(
        default=12 * 60, ge=1, le=7 * 24 * 60, description="Lifetime of the tokens it issues"
    )
    token_max_minutes: int = Field(
        default=24 * 60,
        ge=1,
        le=7 * 24 * 60,
        description="Tokens living longer than this (expiry minus issue time) are refused",
    )
    token_issuer: str = Field(default="guideledger", min_length=1)
    token_audience: str = Field(default="guideledger-api", min_length=1)
    access_log: bool = Field(
        default=False, description="One log line per request (costs CPU on every request)"
    )
    nats_url: SecretStr | None = Field(
        default=None,
        description="nats://[user:password@]host:port of a JetStream server; when set, the "
        "worker publishes the event feed there (unset: no feed)",
    )
    nats_stream: str = Field(
        default="GUIDELEDGER", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The feed's stream"
    )
    nats_subject_prefix: str = Field(
        default="guideledger",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="Subjects are <prefix>.<group id>.<event type>",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @property
    def resolved_persistence(self) -> Persistence:
        if self.persistence is not Persistence.AUTO:
            return self.persistence
        return Persistence.POSTGRES if self._has_database_url else Persistence.SQLITE

    @property
    def _has_database_url(self) -> bool:
        return self.database_url is not None and bool(self.database_url.get_secret_value())

    @property
    def feed_url(self) -> str | None:
        """The NATS URL, credentials and all: for the client, never for a message."""
        url = None if self.nats_url is None else self.nats_url.get_secret_value()
        return url or None

    @property
    def directory_conninfo(self) -> str | None:
        """The directory's URL, password and all: for a driver, never for a message."""
        url = None if self.directory_url is None else self.directory_url.get_secret_value()
        return url or None

    @property
    def database_conninfo(self) -> str:
        """The database URL, password and all: for a driver, never for a message."""
        if self.database_url is None:
            raise ValueError("no database URL is set: GUIDELEDGER_DATABASE_URL")
        return self.database_url.get_secret_value()

    @field_validator("jwt_secret", "payment_provider_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters long")
        return secret

    @field_validator("clock_start")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.astimezone(UTC)

    @model_validator(mode="after")
    def _refuse_a_manual_clock_outside_a_sandbox(self) -> Self:
        manual = self.clock is ClockMode.MANUAL
        if manual and self.environment is Environment.PRODUCTION:
            raise ValueError(
                "production runs on the wall clock: GUIDELEDGER_CLOCK=manual is for sandboxes"
            )
        if not manual and self.clock_start is not None:
            raise ValueError("GUIDELEDGER_CLOCK_START needs GUIDELEDGER_CLOCK=manual")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        production = self.environment is Environment.PRODUCTION
        if production and self.resolved_persistence is not Persistence.POSTGRES:
            raise ValueError("production runs on PostgreSQL: set GUIDELEDGER_DATABASE_URL")
        if production and self.jwt_secret.get_secret_value() == DEVELOPMENT_SECRET:
            raise ValueError("production needs its own GUIDELEDGER_JWT_SECRET")
        development_payment_secret = self.payment_provider_secret.get_secret_value() == (
            DEVELOPMENT_PAYMENT_SECRET
        )
        if production and development_payment_secret:
            raise ValueError("production needs its own GUIDELEDGER_PAYMENT_PROVIDER_SECRET")
        if self.token_minutes > self.token_max_minutes:
            raise ValueError("token_minutes exceeds token_max_minutes")
        if self.resolved_persistence is Persistence.POSTGRES and not self._has_database_url:
            raise ValueError("persistence=postgres needs GUIDELEDGER_DATABASE_URL")
        if self.directory_url is not None and self.resolved_persistence is not Persistence.POSTGRES:
            raise ValueError(
                "cells are PostgreSQL servers: GUIDELEDGER_DIRECTORY_URL needs "
                "GUIDELEDGER_DATABASE_URL (the home store)"
            )
        return self


def refusals(invalid: ValidationError) -> list[str]:
    """Why the settings were refused, a line per reason, naming the variable (if the
    reason is one variable's) and never the value given."""
    lines = []
    for error in invalid.errors(include_input=False, include_url=False, include_context=False):
        variable = "_".join(str(part) for part in error["loc"]).upper()
        prefix = "" if not variable or variable.startswith("GUIDELEDGER_") else "GUIDELEDGER_"
        reason = error["msg"].removeprefix("Value error, ")
        lines.append(f"{prefix}{variable}: {reason}" if variable else reason)
    return lines
