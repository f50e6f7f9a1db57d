"""Bearer tokens (HS256 JWTs) naming the caller, their role and what they may see.

Roles: frontend (orders), guide (own attribution and statements), store_manager
(own store), finance (settlements, audits), support (history, corrections,
rebinding), admin (rules, rebuilds, organisation; may do everything).
Every endpoint declares the roles that may call it; data a guide or store
manager asks for is checked against the ids their token carries.
"""

from __future__ import annotations

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
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def read_token(settings: Settings, token: str) -> Caller:
    try:
        claims = jwt.decode(
            token, settings.jwt_secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return Caller(
            subject=str(claims["sub"]),
            role=Role(claims["role"]),
            guide_id=UUID(claims["guide_id"]) if claims.get("guide_id") else None,
            store_id=UUID(claims["store_id"]) if claims.get("store_id") else None,
        )
    except (jwt.PyJWTError, KeyError, ValueError):
        raise NotAuthenticated("the bearer token is missing, expired or invalid") from None


_bearer = HTTPBearer(auto_error=False, description="A token from `guideledger token`")


def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        raise NotAuthenticated("send 'Authorization: Bearer <token>'")
    settings: Settings = request.app.state.ledger.settings
    return read_token(settings, credentials.credentials)


def allow(*roles: Role) -> Callable[..., Caller]:
    """A dependency admitting these roles (and admin)."""
    admitted = {*roles, Role.ADMIN}

    def check(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
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
