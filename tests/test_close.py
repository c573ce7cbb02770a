"""CLOSE frames: parse_close and encode_close, and how each implementation's MessageDecoder judges them.

parse_close and encode_close are one shared pure module, so their direct
tests run once; the decoder tests run on both implementations.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from outcomes import normalise
from strategies import FrameSpec

from wscodec import CloseCode, encode_close, parse_close
from wscodec.close import is_valid_close_code
from wscodec.errors import ProtocolError

KEY = b"\x01\x02\x03\x04"

# (code, may it appear on the wire) for the codes the issue names, and the edges of every range.
CODES = [
    (0, False),
    (999, False),
    (1000, True),
    (1001, True),
    (1002, True),
    (1003, True),
    (1004, False),
    (1005, False),
    (1006, False),
    (1007, True),
    (1011, True),
    (1014, True),
    (1015, False),
    (1016, False),
    (2999, False),
    (3000, True),
    (4999, True),
    (5000, False),
    (65535, False),
]


def _wire_rule(code: int) -> bool:
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def _close(payload: bytes) -> bytes:
    return FrameSpec(8, payload, mask=KEY).encode()


# ---------------------------------------------------------------- on the wire, both implementations


@pytest.mark.parametrize(("code", "valid"), CODES, ids=[str(c) for c, _ in CODES])
def test_close_codes_on_the_wire(impl: ModuleType, code: int, valid: bool) -> None:
    payload = code.to_bytes(2, "big") + b"reason"
    decoder = impl.MessageDecoder()
    if valid:
        (frame,) = decoder.feed(_close(payload))
        assert normalise(impl, frame) == ("frame", True, 8, payload, False, False, False)
        assert parse_close(frame.payload) == (code, "reason")
    else:
        with pytest.raises(ProtocolError) as info:
            decoder.feed(_close(payload))
        assert info.value.code == 1002


@pytest.mark.parametrize(
    ("length", "code"), [(0, None), (1, 1002), (2, None), (125, None), (126, 1002)], ids=lambda v: str(v)
)
def test_close_payload_lengths(impl: ModuleType, length: int, code: int | None) -> None:
    payload = (b"\x03\xe8" + b"r" * 200)[:length]
    decoder = impl.MessageDecoder()
    if code is None:
        (frame,) = decoder.feed(_close(payload))
        assert frame.payload == payload
    else:
        with pytest.raises(ProtocolError) as info:
            decoder.feed(_close(payload))
        assert info.value.code == code


def test_close_frame_of_126_bytes_fails_from_its_header(impl: ModuleType) -> None:
    with pytest.raises(ProtocolError) as info:
        impl.MessageDecoder().feed(_close(bytes(126))[:2])
    assert info.value.code == 1002


@pytest.mark.parametrize("reason", [b"\xff", b"ok\xc3", b"\xed\xa0\x80", b"\xc0\xaf"], ids=repr)
def test_close_reason_not_utf8_is_1007(impl: ModuleType, reason: bytes) -> None:
    with pytest.raises(ProtocolError) as info:
        impl.MessageDecoder().feed(_close(b"\x03\xe8" + reason))
    assert info.value.code == 1007


def test_bad_close_keeps_what_came_before(impl: ModuleType) -> None:
    data = FrameSpec(1, b"last words", mask=KEY).encode() + _close(b"\x03")
    with pytest.raises(ProtocolError) as info:
        impl.MessageDecoder().feed(data)
    assert info.value.code == 1002
    assert [normalise(impl, m) for m in info.value.frames] == [("message", 1, b"last words")]


# ---------------------------------------------------------------- parse_close


def test_parse_close_empty_is_1005() -> None:
    assert parse_close(b"") == (1005, "")


def test_parse_close_lengths() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_close(b"\x03")
    assert info.value.code == 1002
    assert parse_close(b"\x03\xe8") == (1000, "")
    assert parse_close(b"\x0b\xb8" + b"r" * 123) == (3000, "r" * 123)
    with pytest.raises(ProtocolError) as info:
        parse_close(b"\x0b\xb8" + b"r" * 124)
    assert info.value.code == 1002


def test_parse_close_every_code() -> None:
    for code in range(1 << 16):
        payload = code.to_bytes(2, "big")
        if _wire_rule(code):
            assert parse_close(payload) == (code, "")
        else:
            with pytest.raises(ProtocolError) as info:
                parse_close(payload)
            assert info.value.code == 1002, code


def test_parse_close_reason() -> None:
    assert parse_close(b"\x03\xe9" + "bientôt ☃".encode()) == (1001, "bientôt ☃")
    assert parse_close(bytearray(b"\x0f\xa0ok")) == (4000, "ok")
    assert parse_close(memoryview(b"\x0f\xa0ok")) == (4000, "ok")
    for bad in (b"\xff", b"\xe2\x82", b"\xed\xa0\x80"):
        with pytest.raises(ProtocolError) as info:
            parse_close(b"\x03\xe8" + bad)
        assert info.value.code == 1007


# ---------------------------------------------------------------- encode_close


def test_encode_close_default() -> None:
    assert encode_close() == b"\x03\xe8"
    assert encode_close(1001, "bye") == b"\x03\xe9bye"
    assert encode_close(CloseCode.GOING_AWAY, b"bye") == b"\x03\xe9bye"


@pytest.mark.parametrize(("code", "valid"), CODES, ids=[str(c) for c, _ in CODES])
def test_encode_close_codes(code: int, valid: bool) -> None:
    if valid:
        assert encode_close(code) == code.to_bytes(2, "big")
    else:
        with pytest.raises(ValueError):
            encode_close(code)


def test_encode_close_reason_limit() -> None:
    assert len(encode_close(1000, "r" * 123)) == 125
    with pytest.raises(ValueError):
        encode_close(1000, "r" * 124)
    assert len(encode_close(1000, "é" * 61 + "a")) == 125  # 123 bytes of UTF-8
    with pytest.raises(ValueError):
        encode_close(1000, "é" * 62)  # 62 characters, 124 bytes
    with pytest.raises(ValueError):
        encode_close(1000, b"r" * 124)


def test_encode_close_types() -> None:
    with pytest.raises(ValueError):
        encode_close(1000, b"\xff")
    for code in ("1000", 1000.0, True, None):
        with pytest.raises(TypeError):
            encode_close(code)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_close(1000, 5)  # type: ignore[arg-type]


def test_encode_then_parse() -> None:
    for code in (1000, 1003, 1007, 1014, 3000, 4999):
        for reason in ("", "x", "☃" * 41):
            assert parse_close(encode_close(code, reason)) == (code, reason)


def test_is_valid_close_code() -> None:
    assert [code for code in range(6000) if is_valid_close_code(code)] == [
        code for code in range(6000) if _wire_rule(code)
    ]


def test_close_code_enum() -> None:
    assert [int(code) for code in CloseCode] == list(range(1000, 1016))
