"""Who is logged in to the site console, in what role, and the CSRF token of their forms.

The session is Starlette's ``SessionMiddleware``: a cookie signed with itsdangerous (timestamped,
so it expires after ``SESSION_TTL`` of inactivity), HttpOnly, SameSite=strict, path ``/admin``,
signed with a key derived from the API key (changing the key ends every session). It holds the
role and a random per-session CSRF token; every POST of the console must echo that token.

Roles: the API key logs in an **owner** (everything); ``BERTH_GATEWAY_TECHNICIAN_KEY``, when
set, a **technician** (open doors, take lockers out of and back into service).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import IntEnum
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware

from berth.domain.errors import Forbidden, Unauthenticated
from berth.gateway.config import GatewayConfig

COOKIE = "berth_admin"
SESSION_TTL = 12 * 3600


class Role(IntEnum):
    """Ordered: a role may do everything the ones below it may."""

    TECHNICIAN = 1
    OWNER = 2


def install(app: FastAPI, config: GatewayConfig) -> None:
    """Sessions for the console (one middleware; the cookie only ever travels to /admin)."""
    secret = hmac.new(config.api_key.encode(), b"berth-admin-session", hashlib.sha256).hexdigest()
    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie=COOKIE,
                       max_age=SESSION_TTL, path="/admin", same_site="strict", https_only=False)
    app.state.console_keys = {Role.OWNER: config.api_key, Role.TECHNICIAN: config.technician_key}


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def role_of_key(request: Request, key: str) -> Role | None:
    """The role a presented key logs in as; None for a wrong one (every key is compared)."""
    found = None
    for role, expected in request.app.state.console_keys.items():
        if expected and key and _same(key, expected):
            found = role
    return found


def start(request: Request, role: Role) -> None:
    request.session.clear()
    request.session.update({"role": role.name, "csrf": secrets.token_urlsafe(24)})


def end(request: Request) -> None:
    request.session.clear()


def current(request: Request) -> Role | None:
    name = request.session.get("role")
    return Role[name] if name in Role.__members__ else None


def csrf_token(request: Request) -> str:
    token: Any = request.session.get("csrf", "")
    return str(token)


def require(request: Request, role: Role, form_token: str | None = None) -> Role:
    """The session's role if it reaches ``role``; a POST also checks its CSRF token."""
    have = current(request)
    if have is None:
        raise Unauthenticated("UNAUTHORIZED", "Log in to the admin page first")
    if form_token is not None and not (csrf_token(request) and
                                       _same(form_token, csrf_token(request))):
        raise Forbidden("FORBIDDEN", "Invalid form token; reload the admin page")
    if have < role:
        raise Forbidden("FORBIDDEN", f"This needs the {role.name.lower()} role")
    return have
