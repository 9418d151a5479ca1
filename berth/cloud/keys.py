"""Key material in the cloud's data dir: token signing keys, the JWT secret, the tower-key vault.

Every file is created with mode 0600 and never leaves the machine except a tower's own private
key, which only an operator can fetch (for provisioning that tower).
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from berth.domain.tokens import SigningKey
from berth.kit.secret_files import load_or_create_secret, write_private


class KeyRing:
    """The cloud's Ed25519 token-signing keys by id; the newest signs, all verify (rotation)."""

    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self.keys = {k.key_id: k for k in keys}
        self.current = keys[-1]

    @classmethod
    def load_or_create(cls, folder: Path) -> KeyRing:
        """Load ``k<N>.pem`` files from ``folder``; create ``k1`` if there are none."""
        folder.mkdir(parents=True, exist_ok=True)
        if not list(folder.glob("k*.pem")):
            cls._write(folder, SigningKey.generate("k1"))
        files = sorted(folder.glob("k*.pem"), key=lambda p: int(p.stem[1:]))
        return cls([cls._read(p) for p in files])

    @classmethod
    def rotate(cls, folder: Path) -> KeyRing:
        """Add a new signing key ``k<N+1>``; older keys stay so issued tokens keep working."""
        ring = cls.load_or_create(folder)
        n = max(int(k[1:]) for k in ring.keys) + 1
        cls._write(folder, SigningKey.generate(f"k{n}"))
        return cls.load_or_create(folder)

    @staticmethod
    def _write(folder: Path, key: SigningKey) -> None:
        pem = key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with contextlib.suppress(FileExistsError):  # another process won: its key is as good
            write_private(folder / f"{key.key_id}.pem", pem)

    @staticmethod
    def _read(path: Path) -> SigningKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 key")
        return SigningKey(path.stem, key)

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """What a tower stores: public halves only."""
        return {kid: k.public for kid, k in self.keys.items()}

    def public_keys_hex(self) -> dict[str, str]:
        return {kid: raw_public(k.public).hex() for kid, k in self.keys.items()}


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Vault:
    """Seals tower private keys at rest (AES-256-GCM under a key file in the data dir)."""

    key: bytes

    @classmethod
    def load_or_create(cls, path: Path) -> Vault:
        return cls(load_or_create_secret(path, 32))

    def seal(self, plain: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self.key).encrypt(nonce, plain, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        return AESGCM(self.key).decrypt(sealed[:12], sealed[12:], context)
