"""Text payloads as ``str``: ``decode_text`` and ``encode_frame`` given a ``str``, both implementations.

``decode_text`` must accept exactly what ``validate_utf8`` accepts (CPython's
strict decoder is the oracle) and return what ``bytes.decode`` returns, from
masked and unmasked payloads in any buffer; the compiled version's ASCII path
writes the unmasked bytes straight into the ``str``, so ASCII with a single
high byte at every position, at sizes around its vector steps, is checked too.
"""

from __future__ import annotations

import array
import random
import sys
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_utf8 import INVALID, VALID, _guarded, _mixed_text, any_input, examples

from wscodec import Opcode, ProtocolError

KEY = b"\x8f\x01\xfe\x70"


def masked(data: bytes, key: bytes = KEY) -> bytes:
    """``data`` masked with ``key`` (written out here, independent of the implementations)."""
    return bytes(b ^ key[i & 3] for i, b in enumerate(data))


def check_decode(impl: ModuleType, data: bytes) -> None:
    """``decode_text`` on ``data``, plain and masked, against CPython's strict decoder."""
    try:
        want: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        want = None
    for args in ((data,), (masked(data), KEY)):
        if want is None:
            with pytest.raises(ProtocolError) as caught:
                impl.decode_text(*args)
            assert (caught.value.code, caught.value.reason) == (1007, "invalid UTF-8 in text message")
        else:
            text = impl.decode_text(*args)
            assert type(text) is str
            assert text == want


# ---------------------------------------------------------------- decode_text


@pytest.mark.parametrize("name", sorted(VALID))
def test_decode_valid_vectors(impl: ModuleType, name: str) -> None:
    check_decode(impl, VALID[name])
    check_decode(impl, b"x" * 70 + VALID[name] + b"y" * 70)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_decode_invalid_vectors(impl: ModuleType, name: str) -> None:
    check_decode(impl, INVALID[name])
    check_decode(impl, b"x" * 300 + INVALID[name])


@pytest.mark.parametrize("size", [1, 15, 63, 64, 65, 255, 256, 257, 600])
def test_decode_one_high_byte_anywhere(impl: ModuleType, size: int) -> None:
    """ASCII with one non-ASCII byte at each position: a lone byte is invalid, a 2-byte char is not."""
    for pos in range(size):
        check_decode(impl, b"a" * pos + b"\x80" + b"a" * (size - pos - 1))
        check_decode(impl, b"a" * pos + "é".encode() + b"a" * (size - pos - 1))


@pytest.mark.parametrize("size", [70_000, 300 * 1024 + 3])
def test_decode_large(impl: ModuleType, size: int) -> None:
    """Past the size where the compiled version unmasks without the GIL."""
    check_decode(impl, b"q" * size)
    check_decode(impl, _mixed_text(size, size))
    check_decode(impl, b"q" * (size - 1) + b"\xff")


@examples(300)
@given(data=any_input)
def test_decode_matches_decoder(impl: ModuleType, data: bytes) -> None:
    check_decode(impl, data)


@examples(100)
@given(data=any_input, key=st.binary(min_size=4, max_size=4))
def test_implementations_agree_on_decode(impls: list[ModuleType], data: bytes, key: bytes) -> None:
    answers = set()
    for impl in impls:
        try:
            answers.add(impl.decode_text(data, key))
        except ProtocolError as exc:
            answers.add((exc.code, exc.reason))
    assert len(answers) == 1


def test_decode_accepts_any_buffer(impl: ModuleType) -> None:
    data = "Grüße, 世界".encode()
    doubled = bytes(b for x in masked(data) for b in (x, 0))
    for payload in (
        bytearray(masked(data)),
        memoryview(masked(data)),
        array.array("B", masked(data)),
        memoryview(doubled)[::2],
    ):
        for key in (KEY, bytearray(KEY), memoryview(KEY)):
            assert impl.decode_text(payload, key) == "Grüße, 世界"
    assert impl.decode_text(bytearray(data)) == "Grüße, 世界"


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde", bytearray(8)])
def test_decode_bad_key_length(impl: ModuleType, key: bytes) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        impl.decode_text(b"abcd", key)


@pytest.mark.parametrize("key", ["abcd", True, 1234])
def test_decode_key_must_be_bytes(impl: ModuleType, key: object) -> None:
    with pytest.raises(TypeError):
        impl.decode_text(b"abcd", key)


@pytest.mark.parametrize("payload", ["text", 5, None])
def test_decode_rejects_non_buffers(impl: ModuleType, payload: object) -> None:
    with pytest.raises(TypeError):
        impl.decode_text(payload)


def test_decode_leaves_the_payload_alone(impl: ModuleType) -> None:
    data = bytearray(masked(b"hello" * 100))
    before = bytes(data)
    assert impl.decode_text(data, KEY) == "hello" * 100
    assert data == before


@pytest.mark.skipif(sys.platform == "win32", reason="mprotect is POSIX")
@pytest.mark.parametrize("at_end", [True, False], ids=["guard-after", "guard-before"])
def test_decode_reads_nothing_outside_the_buffer(impl: ModuleType, at_end: bool) -> None:
    for sample in (b"", b"a", b"x" * 63, b"x" * 64, b"x" * 257, "中".encode() * 43, b"x" * 100 + b"\xff"):
        for payload, key in ((sample, None), (masked(sample), KEY)):
            m, view = _guarded(payload, at_end)
            try:
                want: object = sample.decode()
            except UnicodeDecodeError:
                want = ProtocolError
            if want is ProtocolError:
                with pytest.raises(ProtocolError):
                    impl.decode_text(view, key)
            else:
                assert impl.decode_text(view, key) == want
            view.release()
            m.close()


# ---------------------------------------------------------------- encode_frame with a str


@pytest.mark.parametrize("text", ["", "Hello", "héllo wörld", "中" * 50, "😀" * 40_000, "a" * 125, "b" * 70_000])
@pytest.mark.parametrize("mask", [None, KEY])
def test_encode_str_is_encode_of_its_utf8(impl: ModuleType, text: str, mask: bytes | None) -> None:
    for opcode in (Opcode.TEXT, Opcode.CONTINUATION):
        for fin in (True, False):
            want = impl.encode_frame(opcode, text.encode(), fin=fin, mask=mask)
            assert impl.encode_frame(opcode, text, fin=fin, mask=mask) == want


def test_encode_str_subclass_and_control_frames(impl: ModuleType) -> None:
    class Text(str):
        pass

    assert impl.encode_frame(Opcode.TEXT, Text("héllo"), mask=KEY) == impl.encode_frame(
        Opcode.TEXT, "héllo".encode(), mask=KEY
    )
    assert impl.encode_frame(Opcode.PING, "ping é") == impl.encode_frame(Opcode.PING, "ping é".encode())
    with pytest.raises(ValueError, match="125"):
        impl.encode_frame(Opcode.PING, "é" * 63)  # 126 bytes once encoded


def test_encode_str_with_a_lone_surrogate(impl: ModuleType) -> None:
    with pytest.raises(UnicodeEncodeError):
        impl.encode_frame(Opcode.TEXT, "a\ud800b")


def test_encode_str_roundtrip_through_decode_text(impl: ModuleType) -> None:
    rng = random.Random(3)
    for _ in range(200):
        text = "".join(rng.choice("aZ é中😀\x00\x7f") for _ in range(rng.randrange(300)))
        frame = impl.encode_frame(Opcode.TEXT, text, mask=KEY)
        header = impl.parse_header(frame)
        assert impl.decode_text(memoryview(frame)[header.header_size :], header.mask) == text


@examples(100)
@given(text=st.text(max_size=300), key=st.binary(min_size=4, max_size=4))
def test_implementations_agree_on_encoding_str(impls: list[ModuleType], text: str, key: bytes) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        return  # lone surrogates: covered above
    assert len({impl.encode_frame(Opcode.TEXT, text, mask=key) for impl in impls}) == 1
