"""API-key authentication.

The key comes from ``BERTH_GATEWAY_API_KEY``; otherwise one is generated once and kept in
``data_dir/gateway-api-key`` (mode 0600). Requests carry it as ``X-API-Key`` or
``Authorization: Bearer``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path

from berth.kit.secret_files import write_private

KEY_FILE = "gateway-api-key"


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
    """Checks the key requests present (the console's sessions: ``admin/session.py``)."""

    def __init__(self, api_key: str) -> None:
        self._key = api_key

    def valid(self, key: str | None) -> bool:
        return key is not None and _same(key, self._key)
