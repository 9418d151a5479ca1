"""The one writer of secret files: mode 0600 from the first byte, whole or not at all.

Keys, API keys, client secrets and stack files all go through here, so no secret is ever
readable by others, not even for the moment between create and chmod, and a process starting at
the same moment never reads a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_private(path: Path, data: bytes | str, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` (mode 0600) through a private temporary file.

    Without ``replace`` the file is created or not at all: FileExistsError if it is already
    there (the temporary file is hard-linked into place). With ``replace`` an existing file is
    swapped atomically.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def load_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """A random secret kept in a 0600 file; safe when several processes start at once."""
    with contextlib.suppress(FileExistsError):
        write_private(path, secrets.token_bytes(nbytes))
    return path.read_bytes()
