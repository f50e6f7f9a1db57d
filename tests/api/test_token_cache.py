"""Bearer tokens are verified once and remembered until they expire; a refused token is
never remembered, so it is refused every time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from guideledger.api import auth
from guideledger.api.auth import ALGORITHM, Caller, NotAuthenticated, Role, TokenVerifier
from guideledger.platform.settings import Persistence, Settings
from tests.world import GROUP_ID

SETTINGS = Settings(persistence=Persistence.MEMORY)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature and claims were checked, in order."""
    checked: list[str] = []
    decode = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counted)
    return checked


def test_a_verified_token_is_remembered_until_it_expires(decodes: list[str]) -> None:
    clock = Clock()
    tokens = TokenVerifier(SETTINGS, now=clock)
    token = auth.issue_token(SETTINGS, Caller("mall", Role.FRONTEND, GROUP_ID))
    assert tokens.caller(token) == tokens.caller(token) == Caller("mall", Role.FRONTEND, GROUP_ID)
    assert decodes == [token]
    clock.now += SETTINGS.token_minutes * 60 + 1  # past its expiry: checked again
    tokens.caller(token)
    assert decodes == [token, token]


def test_a_refused_token_stays_refused(decodes: list[str]) -> None:
    tokens = TokenVerifier(SETTINGS)
    forged = jwt.encode(
        {"sub": "x", "role": "admin", "exp": datetime.now(UTC) + timedelta(hours=1)},
        "another-secret-of-at-least-thirty-two-bytes",
        ALGORITHM,
    )
    expired = jwt.encode(
        {"sub": "x", "role": "admin", "exp": datetime.now(UTC) - timedelta(seconds=1)},
        SETTINGS.jwt_secret.get_secret_value(),
        ALGORITHM,
    )
    for token in (forged, expired, forged, expired):
        with pytest.raises(NotAuthenticated):
            tokens.caller(token)
    assert decodes == [forged, expired, forged, expired]


def test_only_the_most_recently_used_tokens_are_remembered(decodes: list[str]) -> None:
    tokens = TokenVerifier(SETTINGS, size=2)
    first, second, third = (
        auth.issue_token(SETTINGS, Caller(name, Role.SUPPORT, GROUP_ID)) for name in ("a", "b", "c")
    )
    for token in (first, second, first, third):  # `second` is the least recently used
        tokens.caller(token)
    tokens.caller(first)
    tokens.caller(second)
    assert decodes == [first, second, third, second]
