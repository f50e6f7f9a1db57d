"""Settings refuse what is unsafe, and no refusal, repr or message shows a secret or a piece
of one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from guideledger.api.cli import cli
from guideledger.platform.settings import (
    DEVELOPMENT_SECRET,
    ClockMode,
    Environment,
    Persistence,
    Settings,
)

PRODUCTION = {
    "environment": Environment.PRODUCTION,
    "persistence": Persistence.POSTGRES,
    "database_url": "postgresql://ledger@db/ledger",
    "jwt_secret": "j" * 40,
}


def test_production_refuses_the_development_payment_provider_secret() -> None:
    with pytest.raises(ValidationError, match="GUIDELEDGER_PAYMENT_PROVIDER_SECRET"):
        Settings(**PRODUCTION)  # type: ignore[arg-type]
    own = Settings(**PRODUCTION, payment_provider_secret="p" * 40)  # type: ignore[arg-type]
    assert own.payment_provider_secret.get_secret_value() == "p" * 40


def test_the_payment_provider_secret_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUIDELEDGER_PAYMENT_PROVIDER_SECRET", "short-but-secret")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "short-but-secret" not in str(refused.value)
    monkeypatch.setenv("GUIDELEDGER_PAYMENT_PROVIDER_SECRET", "a-long-enough-secret-" * 2)
    assert "a-long-enough-secret" not in repr(Settings())


SHORT_SECRET = "Zq81xTw0Rk-7JpV"
PASSWORD = "pw-Kx7Lq2Mz9Vb4"
DATABASE_URL = f"postgresql://ledger:{PASSWORD}@127.0.0.1:1/ledger"


def assert_shows_none_of(text: str, *secrets: str) -> None:
    """Not the secret, nor any 6 characters of it in a row."""
    for secret in secrets:
        pieces = {secret[i : i + 6] for i in range(len(secret) - 5)}
        shown = sorted(piece for piece in pieces if piece in text)
        assert not shown, f"{shown} of a secret in: {text}"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "GUIDELEDGER_DATABASE_URL", "GUIDELEDGER_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_a_short_jwt_secret_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUIDELEDGER_JWT_SECRET", SHORT_SECRET)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert_shows_none_of(str(refused.value) + repr(refused.value), SHORT_SECRET)

    printed = CliRunner().invoke(cli, ["token", "--role", "admin"])
    assert printed.exit_code == 2
    assert "invalid setting: GUIDELEDGER_JWT_SECRET: must be at least 32 characters" in (
        printed.output
    )
    assert_shows_none_of(printed.output, SHORT_SECRET)


def test_production_with_the_development_key_is_refused_without_showing_any_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUIDELEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("GUIDELEDGER_DATABASE_URL", DATABASE_URL)
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "production needs its own GUIDELEDGER_JWT_SECRET" in str(refused.value)
    assert_shows_none_of(str(refused.value) + repr(refused.value), DEVELOPMENT_SECRET, PASSWORD)

    printed = CliRunner().invoke(cli, ["token", "--role", "admin"])
    assert printed.exit_code == 2
    assert "invalid setting: production needs its own GUIDELEDGER_JWT_SECRET" in printed.output
    assert_shows_none_of(printed.output, DEVELOPMENT_SECRET, PASSWORD)


def test_settings_show_their_secrets_as_asterisks() -> None:
    secret = "Hq3vN8-Lw2Jx5Rp0-Tz7Yc4Mk1-Gd6Fs9Ba3Ke"
    settings = Settings(
        environment=Environment.PRODUCTION,
        database_url=SecretStr(DATABASE_URL),
        jwt_secret=SecretStr(secret),
        payment_provider_secret=SecretStr(secret[::-1]),
    )
    assert_shows_none_of(repr(settings) + str(settings.model_dump()), secret, PASSWORD)
    assert settings.jwt_secret.get_secret_value() == secret
    assert settings.database_conninfo == DATABASE_URL


def test_production_refuses_the_sandbox_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    production = {**PRODUCTION, "payment_provider_secret": "p" * 40}
    assert Settings(**production).clock is ClockMode.WALL  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="production runs on the wall clock"):
        Settings(**production, clock=ClockMode.MANUAL)  # type: ignore[arg-type]

    monkeypatch.setenv("GUIDELEDGER_CLOCK", "manual")
    monkeypatch.setenv("GUIDELEDGER_ENVIRONMENT", "production")
    monkeypatch.setenv("GUIDELEDGER_DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("GUIDELEDGER_JWT_SECRET", "j" * 40)
    monkeypatch.setenv("GUIDELEDGER_PAYMENT_PROVIDER_SECRET", "p" * 40)
    printed = CliRunner().invoke(cli, ["token", "--role", "admin"])
    assert printed.exit_code == 2
    assert "invalid setting: production runs on the wall clock" in printed.output


def test_the_clock_start_is_an_instant_for_a_manual_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUIDELEDGER_CLOCK", "manual")
    monkeypatch.setenv("GUIDELEDGER_CLOCK_START", "2026-01-01T08:00:00+08:00")
    assert Settings().clock_start == datetime(2026, 1, 1, tzinfo=UTC)
    monkeypatch.setenv("GUIDELEDGER_CLOCK_START", "2026-01-01T00:00:00")
    with pytest.raises(ValidationError, match="timezone"):
        Settings()  # no time zone: which instant is it?
    monkeypatch.setenv("GUIDELEDGER_CLOCK_START", "2026-01-01T00:00:00Z")
    monkeypatch.setenv("GUIDELEDGER_CLOCK", "wall")
    with pytest.raises(ValidationError, match="GUIDELEDGER_CLOCK_START needs"):
        Settings()
