"""Opening-handshake helpers (RFC 6455 §4): generate_key, accept_key, validate_key.

They are one shared pure module (hashlib and base64 do the work in C), so
these tests run once rather than per implementation.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from wscodec import accept_key, generate_key, validate_key
from wscodec.handshake import GUID

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3 and §4.2.2
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_accept_key_rfc_example() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT
    assert accept_key(RFC_KEY.encode()) == RFC_ACCEPT
    assert accept_key(bytearray(RFC_KEY.encode())) == RFC_ACCEPT  # type: ignore[arg-type]
    assert accept_key(f" {RFC_KEY}\t") == RFC_ACCEPT  # header whitespace is not part of the key


def test_accept_key_matches_its_definition() -> None:
    assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    for _ in range(20):
        key = generate_key()
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        assert accept_key(key) == want


def test_accept_key_type() -> None:
    with pytest.raises(TypeError):
        accept_key(16)  # type: ignore[arg-type]


def test_generate_key_format() -> None:
    for _ in range(100):
        key = generate_key()
        assert type(key) is str and len(key) == 24 and key.endswith("==")
        assert len(base64.b64decode(key, validate=True)) == 16
        assert validate_key(key) == key


def test_generate_key_is_random() -> None:
    keys = {generate_key() for _ in range(1000)}
    assert len(keys) == 1000  # 128-bit keys: a repeat means a broken source
    raw = b"".join(base64.b64decode(key) for key in keys)
    assert 0.4 < sum(byte.bit_count() for byte in raw) / (8 * len(raw)) < 0.6


@pytest.mark.parametrize(
    ("key", "want"),
    [
        (RFC_KEY, RFC_KEY),
        (RFC_KEY.encode(), RFC_KEY),
        (bytearray(RFC_KEY.encode()), RFC_KEY),
        (" " + RFC_KEY, RFC_KEY),
        (RFC_KEY + "\t", RFC_KEY),
        ("AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA=="),
    ],
    ids=repr,
)
def test_validate_key_accepts(key: str | bytes, want: str) -> None:
    assert validate_key(key) == want


@pytest.mark.parametrize(
    "key",
    [
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",  # 23 characters
        "dGhlIHNhbXBsZSBub25jZQ===",  # 25 characters
        "dGhlIHNhbXBsZSBub25jZQ",  # unpadded
        "AAAAAAAAAAAAAAAAAAAAAAA=",  # 24 characters, 17 bytes
        "AAAAAAAAAAAAAAAAAAAAAAAA",  # 24 characters, 18 bytes
        "dGhlIHNhbXBsZSBub25jZ!==",  # not base64
        "dGhlIHNhbXBsZSBub25j ZQ=",  # inner space
        "dGhlIHNhbXBsZSBub25jZé==",  # not ASCII
        b"dGhlIHNhbXBsZSBub25jZ\xff==",
        "dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==",
    ],
    ids=repr,
)
def test_validate_key_rejects(key: str | bytes) -> None:
    with pytest.raises(ValueError):
        validate_key(key)


def test_validate_key_type() -> None:
    for key in (None, 16, ["key"]):
        with pytest.raises(TypeError):
            validate_key(key)  # type: ignore[arg-type]
