"""The node's Ed25519 signing key, kept in the data directory (``audit_ed25519.pem``, 0600).

A key is identified by ``key_id``: the first 16 hex digits of the SHA-256 of its
raw 32-byte public key. Public keys travel as base64 of those 32 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deconfliction.audit.chain import signed_message

#: The node key's file name inside a data directory.
KEY_FILE = "audit_ed25519.pem"


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_key_from_text(text: str) -> bytes:
    """Raw public key bytes from base64 (as exported) or a PEM ``PUBLIC KEY``."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return raw


class NodeKey:
    """A node's signing key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public_raw)
        self.public_b64 = base64.b64encode(self.public_raw).decode()

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> NodeKey:
        """The key in ``data_dir``, created there (0600) on first use."""
        path = Path(data_dir) / KEY_FILE
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                return cls.load_or_create(data_dir)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
                out.flush()
                os.fsync(out.fileno())
            return cls(key)
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return cls(loaded)

    def sign(self, hash_hex: str) -> str:
        """The base64 signature of an entry hash."""
        return base64.b64encode(self._private.sign(signed_message(hash_hex))).decode()

    def sign_bytes(self, message: bytes) -> str:
        return base64.b64encode(self._private.sign(message)).decode()


def verify_signature(public_raw: bytes, signature_b64: str, message: bytes) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
