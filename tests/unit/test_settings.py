"""Settings refuse what is unsafe in production, without repeating a secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from guideledger.platform.settings import Environment, Persistence, Settings

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
