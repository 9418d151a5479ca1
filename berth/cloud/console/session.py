"""Who is logged in to the fleet console and the CSRF token of their forms.

Starlette's ``SessionMiddleware``: a cookie signed with itsdangerous (timestamped, so it ends
after ``SESSION_TTL``), HttpOnly, SameSite=strict, path ``/console``, signed with a random key
kept in the data dir (``cloud-console-session.secret``, 0600; deleting it ends every session).
The session holds the operator client's id and a random CSRF token, given to the login form
too: every POST of the console must echo it.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware

from berth.domain.errors import Forbidden
from berth.kit.secret_files import load_or_create_secret

COOKIE = "berth_console"
SESSION_TTL = 12 * 3600
SECRET_FILE = "cloud-console-session.secret"


def install(app: FastAPI, data_dir: Path) -> None:
    """Sessions for the console (the cookie only ever travels to /console)."""
    key = load_or_create_secret(data_dir / SECRET_FILE, 32)
    app.add_middleware(SessionMiddleware, secret_key=key.hex(), session_cookie=COOKIE,
                       max_age=SESSION_TTL, path="/console", same_site="strict",
                       https_only=False)


def csrf_token(request: Request) -> str:
    """The session's form token, made on its first use (the login form has one too)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def check_csrf(request: Request, form_token: str) -> None:
    expected = request.session.get("csrf")
    if not (isinstance(expected, str) and expected and form_token
            and hmac.compare_digest(form_token.encode(), expected.encode())):
        raise Forbidden("CSRF_FAILED", "Invalid form token; reload the console page.")


def start(request: Request, client_id: str) -> None:
    """A fresh session (a new CSRF token: the one before login is never reused)."""
    request.session.clear()
    request.session.update({"client_id": client_id, "csrf": secrets.token_urlsafe(24)})


def end(request: Request) -> None:
    request.session.clear()


def client_id(request: Request) -> str | None:
    value = request.session.get("client_id")
    return value if isinstance(value, str) else None
