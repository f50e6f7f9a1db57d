"""All configuration, read once from environment variables (prefix GUIDELEDGER_)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Known to all, so production refuses it (see `_refuse_unsafe_production`).
DEVELOPMENT_SECRET = "development-only-secret-change-me-0123456789"  # noqa: S105


class Persistence(StrEnum):
    AUTO = "auto"  # PostgreSQL when a database URL is set, else SQLite
    POSTGRES = "postgres"
    SQLITE = "sqlite"
    MEMORY = "memory"  # tests only: nothing survives the process


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GUIDELEDGER_", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    persistence: Persistence = Persistence.AUTO
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GUIDELEDGER_DATABASE_URL", "DATABASE_URL"),
        description="postgresql://user:password@host:port/dbname",
    )
    postgres_schema: str = "public"
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
    jwt_secret: str = Field(
        default=DEVELOPMENT_SECRET,
        min_length=32,
        description="HS256 key for bearer tokens; production refuses the development default",
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
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @property
    def resolved_persistence(self) -> Persistence:
        if self.persistence is not Persistence.AUTO:
            return self.persistence
        return Persistence.POSTGRES if self.database_url else Persistence.SQLITE

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        production = self.environment is Environment.PRODUCTION
        if production and self.resolved_persistence is not Persistence.POSTGRES:
            raise ValueError("production runs on PostgreSQL: set GUIDELEDGER_DATABASE_URL")
        if production and self.jwt_secret == DEVELOPMENT_SECRET:
            raise ValueError("production needs its own GUIDELEDGER_JWT_SECRET")
        if self.token_minutes > self.token_max_minutes:
            raise ValueError("token_minutes exceeds token_max_minutes")
        if self.resolved_persistence is Persistence.POSTGRES and not self.database_url:
            raise ValueError("persistence=postgres needs GUIDELEDGER_DATABASE_URL")
        return self
