"""Bearer tokens (HS256 JWTs) naming the caller, their role, their group and their scope.

Roles: frontend (the group's mall: places orders, reads those it placed), guide (own
attribution and statements), store_manager (own store), logistics (records deliveries),
finance (settlements, audits), support (history, corrections, rebinding), admin (the
group's rules, rebuilds and organisation; may do everything in the group), and
platform_admin (creates groups; sees inside none). Every role but the platform's acts
inside one group, and finance, support and admin tokens may narrow it to one brand.
Every endpoint declares the roles that may call it (`allow`); the same dependency checks
that what the path names belongs to the caller (see `guideledger.api.tenancy`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
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
    LOGISTICS = "logistics"
    FINANCE = "finance"
    SUPPORT = "support"
    ADMIN = "admin"
    PLATFORM_ADMIN = "platform_admin"


# What a token of each role must name besides its group.
REQUIRED_SCOPE = {Role.GUIDE: "guide_id", Role.STORE_MANAGER: "store_id"}
BRAND_SCOPED = frozenset({Role.FINANCE, Role.SUPPORT, Role.ADMIN, Role.LOGISTICS})


class NotAuthenticated(DomainError):
    type = "not-authenticated"


class Forbidden(DomainError):
    type = "forbidden"


@dataclass(frozen=True)
class Caller:
    subject: str
    role: Role
    group_id: UUID | None = None  # the tenant; None only for the platform's admins
    brand_id: UUID | None = None  # finance, support, admin, logistics: one brand only
    guide_id: UUID | None = None  # for guides: who they are
    store_id: UUID | None = None  # for store managers: their store

    def __post_init__(self) -> None:
        if not self.subject.strip():
            raise ValueError("a caller needs a subject")
        if (self.group_id is None) != (self.role is Role.PLATFORM_ADMIN):
            raise ValueError("every caller but the platform's admins acts inside one group")
        needed = REQUIRED_SCOPE.get(self.role)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"a {self.role} token names its {needed}")
        if self.brand_id is not None and self.role not in BRAND_SCOPED:
            raise ValueError(f"a {self.role} token is not narrowed to a brand")

    @property
    def actor(self) -> str:
        """How events name this caller."""
        return f"{self.role}:{self.subject}"

    @property
    def identity(self) -> str:
        """Who this caller is across tenants (the actor is only unique inside a group)."""
        return f"{self.group_id or 'platform'}/{self.actor}"


SCOPE_CLAIMS = ("group_id", "brand_id", "guide_id", "store_id")


def issue_token(settings: Settings, caller: Caller) -> str:
    """Valid for `token_minutes` of real time (not the ledger's business clock)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": caller.subject,
        "role": str(caller.role),
        "iat": now,
        "exp": now + timedelta(minutes=settings.token_minutes),
    }
    for name in SCOPE_CLAIMS:
        if value := getattr(caller, name):
            claims[name] = str(value)
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
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        if float(claims["exp"]) - float(claims["iat"]) > settings.token_max_minutes * 60:
            raise ValueError("the token lives longer than this ledger accepts")
        caller = Caller(
            subject=str(claims["sub"]),
            role=Role(claims["role"]),
            **{name: UUID(claims[name]) for name in SCOPE_CLAIMS if claims.get(name)},
        )
        return caller, float(claims["exp"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
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
