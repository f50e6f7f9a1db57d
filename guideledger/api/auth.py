"""Bearer tokens (HS256 JWTs) naming the caller, their role and what they may see.

Roles: frontend (orders), guide (own attribution and statements), store_manager
(own store), finance (settlements, audits), support (history, corrections,
rebinding), admin (rules, rebuilds, organisation; may do everything).
Every endpoint declares the roles that may call it; data a guide or store
manager asks for is checked against the ids their token carries.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from guideledger.kernel.errors import DomainError
from guideledger.platform.settings import Settings

ALGORITHM = "HS256"


class Role(StrEnum):
    FRONTEND = "frontend"
    GUIDE = "guide"
    STORE_MANAGER = "store_manager"
    FINANCE = "finance"
    SUPPORT = "support"
    ADMIN = "admin"


class NotAuthenticated(DomainError):
    type = "not-authenticated"


class Forbidden(DomainError):
    type = "forbidden"


@dataclass(frozen=True)
class Caller:
    subject: str
    role: Role
    guide_id: UUID | None = None  # for guides: who they are
    store_id: UUID | None = None  # for store managers: their store

    @property
    def actor(self) -> str:
        """How events name this caller."""
        return f"{self.role}:{self.subject}"


def issue_token(settings: Settings, caller: Caller) -> str:
    """Valid for `token_minutes` of real time (not the ledger's business clock)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": caller.subject,
        "role": str(caller.role),
        "iat": now,
        "exp": now + timedelta(minutes=settings.token_minutes),
    }
    if caller.guide_id:
        claims["guide_id"] = str(caller.guide_id)
    if caller.store_id:
        claims["store_id"] = str(caller.store_id)
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def read_token(settings: Settings, token: str) -> Caller:
    return _verify(settings, token)[0]


def _verify(settings: Settings, token: str) -> tuple[Caller, float]:
    """The caller a valid token names, and when the token expires (a POSIX timestamp)."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
        caller = Caller(
            subject=str(claims["sub"]),
            role=Role(claims["role"]),
            guide_id=UUID(claims["guide_id"]) if claims.get("guide_id") else None,
            store_id=UUID(claims["store_id"]) if claims.get("store_id") else None,
        )
        return caller, float(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise NotAuthenticated("the bearer token is missing, expired or invalid") from None


class TokenVerifier:
    """Reads bearer tokens, each verified once and then remembered by its text until it
    expires, so a client's requests do not each pay for the signature and the claims.
    Only verified tokens are remembered (a refused one is checked, and refused, again);
    at most `size` of them, the least recently used forgotten first."""

    def __init__(
        self, settings: Settings, size: int = 4096, now: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.size = size
        self.now = now  # real time, as the tokens' expiry is
        self._verified: OrderedDict[str, tuple[Caller, float]] = OrderedDict()
        self._lock = threading.Lock()

    def caller(self, token: str) -> Caller:
        with self._lock:
            known = self._verified.get(token)
            if known is not None and self.now() < known[1]:
                self._verified.move_to_end(token)
                return known[0]
            self._verified.pop(token, None)
        caller, expires = _verify(self.settings, token)
        with self._lock:
            self._verified[token] = (caller, expires)
            if len(self._verified) > self.size:
                self._verified.popitem(last=False)
        return caller


_bearer = HTTPBearer(auto_error=False, description="A token from `guideledger token`")


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    tokens: TokenVerifier = request.app.state.tokens
    return tokens.caller(credentials.credentials)


def allow(*roles: Role) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting these roles (and admin)."""
    admitted = {*roles, Role.ADMIN}

    async def check(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        if caller.role not in admitted:
            raise Forbidden(
                f"a {caller.role} may not do this", allowed=sorted(str(r) for r in admitted)
            )
        return caller

    return check


def require_own(
    caller: Caller, *, guide_id: UUID | None = None, store_id: UUID | None = None
) -> None:
    """Guides and store managers see only their own data."""
    if caller.role is Role.GUIDE and (guide_id is None or guide_id != caller.guide_id):
        raise Forbidden("a guide sees only their own data")
    if caller.role is Role.STORE_MANAGER and (store_id is None or store_id != caller.store_id):
        raise Forbidden("a store manager sees only their own store")
