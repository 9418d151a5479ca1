"""API-key authentication and the admin page's signed session.

The key comes from ``BERTH_GATEWAY_API_KEY``; otherwise one is generated once and kept in
``data_dir/gateway-api-key`` (mode 0600). Requests carry it as ``X-API-Key`` or
``Authorization: Bearer``. The admin session cookie never holds the key: it holds an issue time
and a nonce, signed with an HMAC key derived from the API key (changing the key ends sessions).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path

from berth.kit.secret_files import write_private

KEY_FILE = "gateway-api-key"
SESSION_COOKIE = "berth_admin"
SESSION_TTL = 12 * 3600


def resolve_api_key(configured: str | None, data_dir: Path) -> tuple[str, bool]:
    """The API key, and whether it was generated just now."""
    if configured:
        return configured, False
    path = data_dir / KEY_FILE
    key = secrets.token_urlsafe(32)
    try:
        write_private(path, key + "\n")
    except FileExistsError:  # another process (or an earlier start) made it
        return path.read_text(encoding="utf-8").strip(), False
    return key, True


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``X-API-Key``, else from ``Authorization: Bearer``."""
    key = headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


class ApiKeyAuth:
    """Checks requests; also signs and verifies admin sessions and form tokens."""

    def __init__(self, api_key: str) -> None:
        self._key = api_key
        self._session_key = hmac.new(api_key.encode(), b"berth-admin-session",
                                     hashlib.sha256).digest()

    def valid(self, key: str | None) -> bool:
        return key is not None and _same(key, self._key)

    def _sign(self, message: str) -> str:
        mac = hmac.new(self._session_key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def new_session(self, now: float) -> str:
        body = f"{int(now)}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    def session_valid(self, value: str | None, now: float) -> bool:
        if not value or value.count(".") != 2:
            return False
        issued, nonce, sig = value.split(".")
        if not _same(sig, self._sign(f"{issued}.{nonce}")):
            return False
        return issued.isdigit() and 0 <= now - int(issued) <= SESSION_TTL

    def form_token(self, session: str) -> str:
        """CSRF token bound to the session (double-submit, signed)."""
        return self._sign("form:" + session)

    def form_token_valid(self, session: str, token: str | None) -> bool:
        return token is not None and _same(token, self.form_token(session))
