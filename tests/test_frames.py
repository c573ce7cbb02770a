"""Frame headers and frame encoding: parse_header, encode_header, encode_frame, the RFC 6455 §5.7 examples."""

from __future__ import annotations

import array
import random
from types import ModuleType

import pytest
from strategies import FrameSpec

from wscodec.enums import Opcode
from wscodec.errors import ProtocolError

# RFC 6455 §5.7, byte for byte.
HELLO = bytes.fromhex("810548656c6c6f")
HELLO_MASKED = bytes.fromhex("818537fa213d7f9f4d5158")
HEL = bytes.fromhex("010348656c")
LO = bytes.fromhex("80026c6f")
PING_HELLO = bytes.fromhex("890548656c6c6f")
PONG_HELLO_MASKED = bytes.fromhex("8a8537fa213d7f9f4d5158")
BINARY_256_HEADER = bytes.fromhex("827e0100")
BINARY_64K_HEADER = bytes.fromhex("827f0000000000010000")
RFC_KEY = bytes.fromhex("37fa213d")

RESERVED_OPCODES = [*range(3, 8), *range(11, 16)]
ALL_RSV = [(r1, r2, r3) for r1 in (False, True) for r2 in (False, True) for r3 in (False, True)]


def _header_fields(header: object) -> tuple[object, ...]:
    names = ("fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "length", "mask", "header_size")
    return tuple(getattr(header, name) for name in names)


# ---------------------------------------------------------------- RFC 6455 §5.7


def test_rfc_examples_encode_byte_for_byte(impl: ModuleType) -> None:
    assert impl.encode_frame(Opcode.TEXT, b"Hello") == HELLO
    assert impl.encode_frame(Opcode.TEXT, b"Hello", mask=RFC_KEY) == HELLO_MASKED
    assert impl.encode_frame(Opcode.TEXT, b"Hel", fin=False) == HEL
    assert impl.encode_frame(Opcode.CONTINUATION, b"lo") == LO
    assert impl.encode_frame(Opcode.PING, b"Hello") == PING_HELLO
    assert impl.encode_frame(Opcode.PONG, b"Hello", mask=RFC_KEY) == PONG_HELLO_MASKED
    assert impl.encode_header(Opcode.BINARY, 256) == BINARY_256_HEADER
    assert impl.encode_frame(Opcode.BINARY, bytes(256)) == BINARY_256_HEADER + bytes(256)
    assert impl.encode_header(Opcode.BINARY, 65536) == BINARY_64K_HEADER
    assert impl.encode_frame(Opcode.BINARY, bytes(65536)) == BINARY_64K_HEADER + bytes(65536)


def test_rfc_examples_decode(impl: ModuleType) -> None:
    (frame,) = impl.FrameDecoder(client=True).feed(HELLO)
    assert (frame.fin, frame.opcode, frame.payload) == (True, Opcode.TEXT, b"Hello")
    (frame,) = impl.FrameDecoder().feed(HELLO_MASKED)
    assert (frame.fin, frame.opcode, frame.payload) == (True, Opcode.TEXT, b"Hello")
    first, last = impl.FrameDecoder(client=True).feed(HEL + LO)
    assert (first.fin, first.opcode, first.payload) == (False, Opcode.TEXT, b"Hel")
    assert (last.fin, last.opcode, last.payload) == (True, Opcode.CONTINUATION, b"lo")
    (message,) = impl.MessageDecoder(client=True).feed(HEL + LO)
    assert (message.opcode, message.payload, message.text) == (Opcode.TEXT, b"Hello", "Hello")
    (ping,) = impl.FrameDecoder(client=True).feed(PING_HELLO)
    assert (ping.opcode, ping.payload) == (Opcode.PING, b"Hello")
    (pong,) = impl.FrameDecoder().feed(PONG_HELLO_MASKED)
    assert (pong.opcode, pong.payload) == (Opcode.PONG, b"Hello")
    for size, header in ((256, BINARY_256_HEADER), (65536, BINARY_64K_HEADER)):
        payload = random.Random(size).randbytes(size)
        (frame,) = impl.FrameDecoder(client=True).feed(header + payload)
        assert (frame.fin, frame.opcode, frame.payload) == (True, Opcode.BINARY, payload)


def test_rfc_example_headers_parse(impl: ModuleType) -> None:
    assert _header_fields(impl.parse_header(HELLO_MASKED)) == (
        True,
        False,
        False,
        False,
        Opcode.TEXT,
        True,
        5,
        RFC_KEY,
        6,
    )
    assert _header_fields(impl.parse_header(BINARY_256_HEADER)) == (
        True,
        False,
        False,
        False,
        Opcode.BINARY,
        False,
        256,
        None,
        4,
    )
    assert _header_fields(impl.parse_header(BINARY_64K_HEADER)) == (
        True,
        False,
        False,
        False,
        Opcode.BINARY,
        False,
        65536,
        None,
        10,
    )
    assert _header_fields(impl.parse_header(HEL)) == (
        False,
        False,
        False,
        False,
        Opcode.TEXT,
        False,
        3,
        None,
        2,
    )


# ---------------------------------------------------------------- parse_header

HEADERS = [
    FrameSpec(2, bytes(5)),
    FrameSpec(2, bytes(125), mask=b"abcd"),
    FrameSpec(1, bytes(126)),
    FrameSpec(1, bytes(65535), mask=b"abcd"),
    FrameSpec(2, bytes(65536)),
    FrameSpec(2, bytes(65536), mask=b"\x00\xff\x10\x01"),
    FrameSpec(0, fin=False, rsv=7, mask=b"wxyz"),
    FrameSpec(9, bytes(125), mask=b"wxyz"),
]


@pytest.mark.parametrize("spec", HEADERS, ids=lambda s: f"op{s.opcode}-len{s.length}-{'masked' if s.mask else 'plain'}")
def test_parse_header_none_at_every_incomplete_prefix(impl: ModuleType, spec: FrameSpec) -> None:
    frame = spec.encode()
    size = 2 + (spec.length > 125) * 2 + (spec.length > 65535) * 6 + (spec.mask is not None) * 4
    for n in range(size):
        assert impl.parse_header(frame[:n]) is None
    header = impl.parse_header(frame[:size])
    rsv1, rsv2, rsv3 = spec.rsv_bits
    expected = (spec.fin, rsv1, rsv2, rsv3, spec.opcode, spec.mask is not None, spec.length, spec.mask, size)
    assert _header_fields(header) == expected
    assert _header_fields(impl.parse_header(frame)) == expected  # payload bytes after it change nothing


def test_parse_header_field_types(impl: ModuleType) -> None:
    header = impl.parse_header(FrameSpec(1, b"hi", rsv=4, mask=b"abcd").encode())
    for flag in (header.fin, header.rsv1, header.rsv2, header.rsv3, header.masked):
        assert type(flag) is bool
    assert type(header.opcode) is Opcode
    assert type(header.length) is int and type(header.header_size) is int
    assert type(header.mask) is bytes
    assert impl.parse_header(HELLO).mask is None


def test_parse_header_offset(impl: ModuleType) -> None:
    frame = FrameSpec(2, bytes(300), mask=b"abcd").encode()
    data = b"\xff" * 7 + frame
    assert _header_fields(impl.parse_header(data, 7)) == _header_fields(impl.parse_header(frame))
    assert _header_fields(impl.parse_header(data, offset=7)) == _header_fields(impl.parse_header(frame))
    for cut in range(7, 7 + 8):
        assert impl.parse_header(data[:cut], 7) is None
    assert impl.parse_header(data, len(data)) is None
    assert impl.parse_header(data, len(data) + 10) is None
    with pytest.raises(ValueError):
        impl.parse_header(data, -1)


def test_parse_header_accepts_any_buffer(impl: ModuleType) -> None:
    frame = FrameSpec(2, bytes(126), mask=b"abcd").encode()
    want = _header_fields(impl.parse_header(frame))
    doubled = bytes(b for x in frame for b in (x, 0))
    for data in (bytearray(frame), memoryview(frame), array.array("B", frame), memoryview(doubled)[::2]):
        assert _header_fields(impl.parse_header(data)) == want
    with pytest.raises(TypeError):
        impl.parse_header(frame.decode("latin-1"))


@pytest.mark.parametrize(
    "spec",
    [
        *(FrameSpec(op) for op in RESERVED_OPCODES),
        FrameSpec(9, fin=False),
        FrameSpec(10, bytes(126)),
        FrameSpec(8, bytes(2), length_form="16"),
        FrameSpec(2, declared=1 << 63, length_form="64"),
        FrameSpec(2, declared=(1 << 64) - 1, length_form="64"),
        FrameSpec(2, bytes(125), length_form="16"),
        FrameSpec(2, bytes(65535), length_form="64"),
        FrameSpec(2, length_form="64"),
    ],
    ids=repr,
)
def test_parse_header_rejects_what_no_header_may_hold(impl: ModuleType, spec: FrameSpec) -> None:
    with pytest.raises(ProtocolError) as info:
        impl.parse_header(spec.encode())
    assert info.value.code == 1002


def test_parse_header_reports_rsv_and_masking_without_judging(impl: ModuleType) -> None:
    for rsv in range(8):
        for key in (None, b"abcd"):
            header = impl.parse_header(FrameSpec(2, b"x", rsv=rsv, mask=key).encode())
            assert (header.rsv1, header.rsv2, header.rsv3) == FrameSpec(2, rsv=rsv).rsv_bits
            assert header.masked is (key is not None)


def test_parse_header_length_forms_at_their_boundaries(impl: ModuleType) -> None:
    for length, size in ((0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), ((1 << 63) - 1, 10)):
        header = impl.parse_header(FrameSpec(2, declared=length).encode())
        assert (header.length, header.header_size) == (length, size)


# ---------------------------------------------------------------- encode_header / encode_frame


@pytest.mark.parametrize("rsv", ALL_RSV, ids=lambda r: "rsv" + "".join(str(int(b)) for b in r))
@pytest.mark.parametrize("fin", [True, False])
def test_encode_every_rsv_combination(impl: ModuleType, rsv: tuple[bool, bool, bool], fin: bool) -> None:
    r1, r2, r3 = rsv
    b0 = (0x80 if fin else 0) | (0x40 if r1 else 0) | (0x20 if r2 else 0) | (0x10 if r3 else 0) | 2
    head = impl.encode_header(Opcode.BINARY, 3, fin=fin, rsv1=r1, rsv2=r2, rsv3=r3)
    assert head == bytes((b0, 3))
    frame = impl.encode_frame(Opcode.BINARY, b"abc", fin=fin, rsv1=r1, rsv2=r2, rsv3=r3)
    assert frame == head + b"abc"
    (decoded,) = impl.FrameDecoder(client=True, rsv_allowed=7).feed(frame)
    assert (decoded.fin, decoded.rsv1, decoded.rsv2, decoded.rsv3, decoded.payload) == (
        fin,
        r1,
        r2,
        r3,
        b"abc",
    )


@pytest.mark.parametrize(
    ("length", "prefix"),
    [
        (0, "8200"),
        (125, "827d"),
        (126, "827e007e"),
        (65535, "827effff"),
        (65536, "827f0000000000010000"),
        ((1 << 63) - 1, "827f7fffffffffffffff"),
    ],
)
def test_encode_header_length_forms(impl: ModuleType, length: int, prefix: str) -> None:
    assert impl.encode_header(Opcode.BINARY, length) == bytes.fromhex(prefix)
    masked = impl.encode_header(Opcode.BINARY, length, mask=b"\x01\x02\x03\x04")
    assert masked == bytes((0x82, bytes.fromhex(prefix)[1] | 0x80)) + bytes.fromhex(prefix)[2:] + b"\x01\x02\x03\x04"


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 65537])
def test_encode_frame_is_header_then_masked_payload(impl: ModuleType, length: int) -> None:
    payload = random.Random(length).randbytes(length)
    key = b"\x9a\x00\xff\x31"
    frame = impl.encode_frame(Opcode.BINARY, payload, mask=key)
    head = impl.encode_header(Opcode.BINARY, length, mask=key)
    assert frame == head + impl.apply_mask(payload, key)
    assert frame == FrameSpec(2, payload, mask=key).encode()
    assert impl.encode_frame(Opcode.BINARY, payload) == FrameSpec(2, payload).encode()


def test_encode_header_limits(impl: ModuleType) -> None:
    for bad in (-1, 1 << 63, 1 << 64, 1 << 100):
        with pytest.raises(ValueError):
            impl.encode_header(Opcode.BINARY, bad)
    for not_an_int in (5.0, 200.5, 70000.0, "5", None):
        with pytest.raises(TypeError):
            impl.encode_header(Opcode.BINARY, not_an_int)


@pytest.mark.parametrize("opcode", [*RESERVED_OPCODES, 16, -1, 255, 1 << 70])
def test_encode_rejects_reserved_opcodes(impl: ModuleType, opcode: int) -> None:
    with pytest.raises(ValueError):
        impl.encode_frame(opcode, b"")
    with pytest.raises(ValueError):
        impl.encode_header(opcode, 0)


@pytest.mark.parametrize("opcode", ["1", 1.0, None])
def test_encode_rejects_a_non_integer_opcode(impl: ModuleType, opcode: object) -> None:
    with pytest.raises(TypeError):
        impl.encode_frame(opcode, b"")
    with pytest.raises(TypeError):
        impl.encode_header(opcode, 0)


@pytest.mark.parametrize("opcode", [Opcode.CLOSE, Opcode.PING, Opcode.PONG])
def test_encode_rejects_bad_control_frames(impl: ModuleType, opcode: Opcode) -> None:
    assert len(impl.encode_frame(opcode, bytes(125))) == 127
    assert impl.encode_header(opcode, 125) == bytes((0x80 | opcode, 125))
    with pytest.raises(ValueError):
        impl.encode_frame(opcode, bytes(126))
    with pytest.raises(ValueError):
        impl.encode_header(opcode, 126)
    with pytest.raises(ValueError):
        impl.encode_frame(opcode, b"", fin=False)
    with pytest.raises(ValueError):
        impl.encode_header(opcode, 0, fin=False)


def test_encode_accepts_int_and_opcode(impl: ModuleType) -> None:
    assert impl.encode_frame(1, b"Hello") == impl.encode_frame(Opcode.TEXT, b"Hello") == HELLO
    assert impl.encode_header(10, 0) == impl.encode_header(Opcode.PONG, 0) == b"\x8a\x00"


# ---------------------------------------------------------------- masks


@pytest.mark.parametrize("key", [b"\x01\x02\x03\x04", bytearray(b"wxyz"), memoryview(b"\x00\x00\x00\x00")])
def test_mask_given_is_used(impl: ModuleType, key: bytes | bytearray | memoryview) -> None:
    frame = impl.encode_frame(Opcode.TEXT, b"Hello", mask=key)
    assert frame[2:6] == bytes(key)
    assert frame == FrameSpec(1, b"Hello", mask=bytes(key)).encode()
    assert impl.encode_header(Opcode.TEXT, 5, mask=key)[2:] == bytes(key)


@pytest.mark.parametrize("mask", [None, False])
def test_no_mask(impl: ModuleType, mask: object) -> None:
    assert impl.encode_frame(Opcode.TEXT, b"Hello", mask=mask) == HELLO
    assert impl.encode_header(Opcode.TEXT, 5, mask=mask) == HELLO[:2]


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde", bytearray(8)])
def test_bad_mask_key(impl: ModuleType, key: bytes) -> None:
    with pytest.raises(ValueError):
        impl.encode_frame(Opcode.TEXT, b"Hello", mask=key)
    with pytest.raises(ValueError):
        impl.encode_header(Opcode.TEXT, 5, mask=key)


def test_mask_key_as_str_is_a_type_error(impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        impl.encode_frame(Opcode.TEXT, b"Hello", mask="abcd")


def test_mask_true_draws_fresh_keys(impl: ModuleType) -> None:
    """Keys come from the CSPRNG pool: distinct across pool refills (1024 keys each), payload masked with them."""
    payload = b"0123456789"
    keys = []
    for _ in range(2500):
        frame = impl.encode_frame(Opcode.BINARY, payload, mask=True)
        assert frame[1] == 0x80 | len(payload)
        key = frame[2:6]
        assert impl.apply_mask(frame[6:], key) == payload
        keys.append(key)
    heads = [impl.encode_header(Opcode.BINARY, 10, mask=True) for _ in range(500)]
    keys += [head[2:] for head in heads]
    assert all(head[:2] == b"\x82\x8a" for head in heads)
    # 3000 random 32-bit keys collide with probability ~1e-3; three collisions would mean a broken source.
    assert len(set(keys)) >= len(keys) - 2


def test_mask_keys_do_not_come_from_the_random_module(impl: ModuleType) -> None:
    """Reseeding ``random`` must not replay keys, drawn one by one or refilled into the pool (2100 > 2 x 1024)."""
    state = random.getstate()
    try:
        batches = []
        for _ in range(2):
            random.seed(1234)
            batches.append({impl.encode_frame(Opcode.BINARY, b"", mask=True)[2:] for _ in range(2100)})
    finally:
        random.setstate(state)
    assert len(batches[0] & batches[1]) <= 2  # chance overlaps of 32-bit keys are ~1e-3 each


def test_mask_true_frames_decode(impl: ModuleType) -> None:
    decoder = impl.FrameDecoder()
    for size in (0, 1, 125, 126, 65536):
        payload = random.Random(size).randbytes(size)
        (frame,) = decoder.feed(impl.encode_frame(Opcode.BINARY, payload, mask=True))
        assert frame.payload == payload


# ---------------------------------------------------------------- payload types


def test_encode_frame_accepts_any_buffer(impl: ModuleType) -> None:
    payload = bytes(range(200))
    want = impl.encode_frame(Opcode.BINARY, payload, mask=b"abcd")
    doubled = bytes(b for x in payload for b in (x, 0))
    for data in (
        bytearray(payload),
        memoryview(payload),
        memoryview(bytearray(payload)),
        array.array("B", payload),
        memoryview(doubled)[::2],
        memoryview(payload).cast("B", (10, 20)),
    ):
        assert impl.encode_frame(Opcode.BINARY, data, mask=b"abcd") == want


@pytest.mark.parametrize("payload", [5, None, object()])
def test_encode_frame_rejects_non_buffers(impl: ModuleType, payload: object) -> None:
    with pytest.raises(TypeError):
        impl.encode_frame(Opcode.TEXT, payload)


def test_encode_frame_returns_bytes(impl: ModuleType) -> None:
    assert type(impl.encode_frame(Opcode.BINARY, bytearray(b"x"))) is bytes
    assert type(impl.encode_frame(Opcode.BINARY, memoryview(b"x"), mask=True)) is bytes
    assert type(impl.encode_header(Opcode.BINARY, 1)) is bytes


# ---------------------------------------------------------------- value types


def test_frame_and_message_values(impl: ModuleType) -> None:
    frame = impl.Frame(True, Opcode.TEXT, b"abc")
    assert (frame.fin, frame.opcode, frame.payload, frame.rsv1, frame.rsv2, frame.rsv3) == (
        True,
        Opcode.TEXT,
        b"abc",
        False,
        False,
        False,
    )
    assert frame == impl.Frame(True, Opcode.TEXT, b"abc", False, False, False)
    assert frame != impl.Frame(True, Opcode.TEXT, b"abc", True)
    assert "Frame(" in repr(frame)
    message = impl.Message(Opcode.TEXT, "é".encode())
    assert (message.opcode, message.payload, message.text) == (Opcode.TEXT, b"\xc3\xa9", "é")
    assert message == impl.Message(Opcode.TEXT, b"\xc3\xa9")
    assert message != impl.Message(Opcode.BINARY, b"\xc3\xa9")
    assert "Message(" in repr(message)


def test_frame_header_equality(impl: ModuleType) -> None:
    assert impl.parse_header(HELLO_MASKED) == impl.parse_header(bytearray(HELLO_MASKED))
    assert impl.parse_header(HELLO_MASKED) != impl.parse_header(HELLO)
    assert "FrameHeader(" in repr(impl.parse_header(HELLO))


def test_value_types_are_unequal_to_other_types(impl: ModuleType) -> None:
    header = impl.FrameHeader(True, False, False, False, Opcode.TEXT, False, 5, None, 2)
    frame = impl.Frame(True, Opcode.TEXT, b"hello")
    message = impl.Message(Opcode.TEXT, b"hello")
    for value in (header, frame, message):
        assert value != object()
        assert not value == (True, Opcode.TEXT, b"hello")  # == itself, not only !=
    assert frame != message and message != frame
    assert frame == impl.Frame(True, Opcode.TEXT, b"hello") and message == impl.Message(Opcode.TEXT, b"hello")


def test_a_protocol_error_reads_as_its_reason_and_close_code(impl: ModuleType) -> None:
    with pytest.raises(ProtocolError) as caught:
        impl.FrameDecoder(client=True).feed(bytes([0x83, 0]))  # a reserved opcode
    error = caught.value
    assert error.code == 1002
    assert str(error) == f"{error.reason} (close code 1002)"


# ---------------------------------------------------------------- the value types are read-only in both


def _values(impl: ModuleType) -> list[tuple[object, tuple[str, ...]]]:
    header = impl.parse_header(impl.encode_frame(Opcode.TEXT, b"abc", mask=b"\x01\x02\x03\x04"))
    return [
        (impl.Frame(True, Opcode.TEXT, b"abc"), ("fin", "opcode", "payload", "rsv1", "rsv2", "rsv3")),
        (header, ("fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "length", "mask", "header_size")),
        (impl.Message(Opcode.TEXT, b"abc"), ("opcode", "payload")),
    ]


def test_frame_header_and_message_fields_are_read_only(impl: ModuleType) -> None:
    for value, fields in _values(impl):
        before = repr(value)
        for field in fields:
            with pytest.raises(AttributeError, match="is not writable"):
                setattr(value, field, getattr(value, field))
            with pytest.raises(AttributeError):
                delattr(value, field)
        with pytest.raises(AttributeError):
            value.extra = 1  # type: ignore[attr-defined]
        assert repr(value) == before


def test_both_implementations_have_the_value_types_of_one_source(impls: list[ModuleType]) -> None:
    # the compiled ones are wscodec/_values.py compiled, its .pxd giving them C-level fields
    import inspect

    from wscodec import _values

    for name in ("Frame", "FrameHeader", "Message"):
        source = getattr(_values, name)
        for impl in impls:
            cls = getattr(impl, name)
            if source.__doc__ is not None:  # python -OO drops it
                # compiled, the signature comes first
                assert inspect.cleandoc(cls.__doc__).endswith(inspect.cleandoc(source.__doc__)), (impl, name)
            assert cls.__slots__ == source.__slots__, (impl, name)
            field = type(getattr(cls, cls.__slots__[0])).__name__
            assert field == ("member_descriptor" if impl.NAME == "python" else "getset_descriptor"), (impl, name)


def test_frame_header_and_message_copy_and_pickle(impl: ModuleType) -> None:
    import copy
    import pickle

    for value, _ in _values(impl):
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value
        assert pickle.loads(pickle.dumps(value)) == value
