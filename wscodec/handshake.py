"""Opening-handshake helpers (RFC 6455 §4). hashlib and base64 are already C, so one version serves both."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

__all__ = ["generate_key", "accept_key", "validate_key", "GUID"]

#: The GUID that RFC 6455 §1.3 appends to the client's key.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def generate_key() -> str:
    """Return a fresh ``Sec-WebSocket-Key``: 16 random bytes from the OS CSPRNG, base64-encoded."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def validate_key(key: str | bytes) -> str:
    """Check a client's ``Sec-WebSocket-Key`` and return it as ``str``.

    RFC 6455 §4.2.1: the value must be the base64 encoding of exactly 16 bytes.
    Raises ``ValueError`` otherwise (``TypeError`` for a non-string).
    """
    if isinstance(key, (bytes, bytearray)):
        try:
            key = bytes(key).decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("Sec-WebSocket-Key is not ASCII") from None
    if not isinstance(key, str):
        raise TypeError(f"Sec-WebSocket-Key must be str or bytes, not {type(key).__name__}")
    key = key.strip(" \t")
    if len(key) != 24 or not key.isascii():
        raise ValueError("Sec-WebSocket-Key must be 24 base64 characters (16 bytes)")
    try:
        raw = base64.b64decode(key, validate=True)
    except binascii.Error:
        raise ValueError("Sec-WebSocket-Key is not valid base64") from None
    if len(raw) != 16:
        raise ValueError("Sec-WebSocket-Key must decode to 16 bytes")
    return key


def accept_key(key: str | bytes) -> str:
    """Return the ``Sec-WebSocket-Accept`` value for a client's key (RFC 6455 §4.2.2, step 5.4)."""
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("ascii")
    if not isinstance(key, str):
        raise TypeError(f"Sec-WebSocket-Key must be str or bytes, not {type(key).__name__}")
    digest = hashlib.sha1((key.strip(" \t") + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")
