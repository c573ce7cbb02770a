"""MessageDecoder: reassembly, control frames between fragments, sequencing, size limits, UTF-8, CLOSE."""

from __future__ import annotations

import random
from types import ModuleType

import pytest
from outcomes import Item, drive, normalise
from strategies import FrameSpec, wire
from tracing import peak_during

from wscodec.enums import Opcode
from wscodec.errors import ProtocolError

KEY = b"\x12\x34\x56\x78"


def _frame(opcode: int, payload: bytes = b"", fin: bool = True) -> FrameSpec:
    return FrameSpec(opcode, payload, fin=fin, mask=KEY)  # client-to-server frames, for a server's decoder


def _message(opcode: int, payload: bytes) -> Item:
    return ("message", opcode, payload)


def _control(opcode: int, payload: bytes = b"") -> Item:
    return ("frame", True, opcode, payload, False, False, False)


def _decode(impl: ModuleType, specs: list[FrameSpec], **options: object) -> list[Item]:
    """Feed one frame per call; everything delivered, or the ProtocolError raised."""
    decoder = impl.MessageDecoder(**options)
    return [normalise(impl, item) for spec in specs for item in decoder.feed(spec.encode())]


def _error(impl: ModuleType, specs: list[FrameSpec], **options: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        _decode(impl, specs, **options)
    assert type(info.value) is ProtocolError
    return info.value


# ---------------------------------------------------------------- reassembly


def test_fragments_are_reassembled(impl: ModuleType) -> None:
    specs = [
        _frame(1, b"Hel", fin=False),
        _frame(0, b"", fin=False),
        _frame(0, b"lo"),
        _frame(2, b"\x00\xff", fin=False),
        _frame(0, b"\x80"),
        _frame(2, b""),
        _frame(1, b""),
    ]
    assert _decode(impl, specs) == [
        _message(1, b"Hello"),
        _message(2, b"\x00\xff\x80"),
        _message(2, b""),
        _message(1, b""),
    ]


def test_control_frames_are_delivered_where_they_arrive(impl: ModuleType) -> None:
    specs = [
        _frame(9, b"before"),
        _frame(1, b"a", fin=False),
        _frame(9, b"p1"),
        _frame(10, b"p2"),
        _frame(0, b"b", fin=False),
        _frame(9, b""),
        _frame(0, b"c"),
        _frame(10, b"after"),
    ]
    want = [
        _control(9, b"before"),
        _control(9, b"p1"),
        _control(10, b"p2"),
        _control(9),
        _message(1, b"abc"),
        _control(10, b"after"),
    ]
    assert _decode(impl, specs) == want
    together = impl.MessageDecoder().feed(wire(specs))
    assert [normalise(impl, item) for item in together] == want


def test_message_values(impl: ModuleType) -> None:
    text = "naïve ☃ 𝄞"
    (message,) = impl.MessageDecoder().feed(wire([_frame(1, text.encode())]))
    assert isinstance(message, impl.Message)
    assert type(message.opcode) is Opcode and message.opcode == Opcode.TEXT
    assert type(message.payload) is bytes and message.payload == text.encode()
    assert message.text == text
    (ping,) = impl.MessageDecoder().feed(wire([_frame(9, b"x")]))
    assert isinstance(ping, impl.Frame) and type(ping.opcode) is Opcode


def test_large_fragmented_message_in_socket_reads(impl: ModuleType) -> None:
    rng = random.Random(3)
    body = rng.randbytes(3 * 65536 + 17)
    cuts = sorted(rng.sample(range(1, len(body)), 40))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)])]
    specs = [_frame(0 if i else 2, piece, fin=i == len(pieces) - 1) for i, piece in enumerate(pieces)]
    data = wire(specs)
    decoder = impl.MessageDecoder()
    got = [normalise(impl, m) for i in range(0, len(data), 65536) for m in decoder.feed(data[i : i + 65536])]
    assert got == [_message(2, body)]


def test_client_side_decoder_takes_unmasked_frames(impl: ModuleType) -> None:
    data = wire([FrameSpec(1, b"Hel", fin=False), FrameSpec(9, b"!"), FrameSpec(0, b"lo")])
    got = [normalise(impl, m) for m in impl.MessageDecoder(client=True).feed(data)]
    assert got == [_control(9, b"!"), _message(1, b"Hello")]
    with pytest.raises(ProtocolError) as info:
        impl.MessageDecoder(client=True).feed(wire([_frame(1, b"masked")]))
    assert info.value.code == 1002
    with pytest.raises(ProtocolError) as info:
        impl.MessageDecoder().feed(wire([FrameSpec(1, b"unmasked")]))
    assert info.value.code == 1002


def test_rsv_bits_are_refused(impl: ModuleType) -> None:
    for rsv in range(1, 8):
        with pytest.raises(ProtocolError) as info:
            impl.MessageDecoder().feed(FrameSpec(1, b"x", rsv=rsv, mask=KEY).encode())
        assert info.value.code == 1002


# ---------------------------------------------------------------- sequencing


@pytest.mark.parametrize(
    "specs",
    [
        [_frame(0, b"orphan")],
        [_frame(0, b"orphan", fin=False)],
        [_frame(1, b"done"), _frame(0, b"orphan")],
        [_frame(1, b"a", fin=False), _frame(0, b"b"), _frame(0, b"c")],
        [_frame(1, b"a", fin=False), _frame(1, b"b")],
        [_frame(1, b"a", fin=False), _frame(2, b"b")],
        [_frame(2, b"a", fin=False), _frame(9), _frame(2, b"b", fin=False)],
    ],
    ids=[
        "orphan",
        "orphan-unfinished",
        "after-a-message",
        "after-the-end",
        "text-in-text",
        "binary-in-text",
        "binary-in-binary",
    ],
)
def test_sequencing_violations(impl: ModuleType, specs: list[FrameSpec]) -> None:
    assert _error(impl, specs).code == 1002


def test_sequencing_is_judged_from_the_header(impl: ModuleType) -> None:
    decoder = impl.MessageDecoder()
    assert [normalise(impl, m) for m in decoder.feed(_frame(1, b"x", fin=False).encode())] == []
    header = _frame(2, bytes(1000)).encode()[:8]  # 16-bit length form and key: the header alone
    with pytest.raises(ProtocolError) as info:
        decoder.feed(header)
    assert info.value.code == 1002


def test_errors_keep_what_came_before(impl: ModuleType) -> None:
    good = [_frame(1, b"one"), _frame(2, b"tw", fin=False), _frame(9, b"p"), _frame(0, b"o")]
    data = wire([*good, _frame(0, b"orphan"), _frame(1, b"never")])
    outcome = drive(impl, impl.MessageDecoder(), [data])
    assert outcome.code == 1002
    assert outcome.delivered == [_message(1, b"one"), _control(9, b"p"), _message(2, b"two")]
    outcome = drive(impl, impl.MessageDecoder(), [data[:5], data[5:]])
    assert outcome.failed_at == 1
    assert outcome.delivered == [_message(1, b"one"), _control(9, b"p"), _message(2, b"two")]


# ---------------------------------------------------------------- size limits


def test_max_message_size_counts_every_fragment(impl: ModuleType) -> None:
    fragments = [_frame(2, bytes(40), fin=False), _frame(9, bytes(100)), _frame(0, bytes(40), fin=False)]
    decoder = impl.MessageDecoder(max_message_size=100)
    assert [normalise(impl, m) for m in decoder.feed(wire(fragments))] == [_control(9, bytes(100))]
    header = _frame(0, bytes(21)).encode()[:6]
    with pytest.raises(ProtocolError) as info:
        decoder.feed(header)  # 40 + 40 + 21 > 100, known from the header: no payload byte needed
    assert info.value.code == 1009


def test_max_message_size_boundary(impl: ModuleType) -> None:
    specs = [_frame(2, bytes(40), fin=False), _frame(0, bytes(40), fin=False), _frame(0, bytes(20))]
    assert _decode(impl, specs * 3, max_message_size=100) == [_message(2, bytes(100))] * 3  # the count restarts
    assert _decode(impl, [_frame(1, b"x" * 100)], max_message_size=100) == [_message(1, b"x" * 100)]
    assert _error(impl, [_frame(1, b"x" * 101)], max_message_size=100).code == 1009
    assert _error(impl, [*specs[:2], _frame(0, bytes(21))], max_message_size=100).code == 1009


def test_max_frame_size_is_separate(impl: ModuleType) -> None:
    three = [_frame(2, bytes(50), fin=False), _frame(0, bytes(50), fin=False), _frame(0, bytes(50))]
    assert _decode(impl, three, max_message_size=1000, max_frame_size=50) == [_message(2, bytes(150))]
    assert _error(impl, [_frame(2, bytes(51))], max_message_size=1000, max_frame_size=50).code == 1009
    # By default a frame may be as large as a message.
    assert _decode(impl, [_frame(2, bytes(1000))], max_message_size=1000) == [_message(2, bytes(1000))]
    assert _error(impl, [_frame(2, bytes(1001))], max_message_size=1000).code == 1009


def test_size_limits_do_not_apply_to_control_frames(impl: ModuleType) -> None:
    """Control frames are at most 125 bytes by rule; the limits bound messages and their fragments."""
    specs = [_frame(9, bytes(125)), _frame(8, b"\x03\xe8" + b"r" * 123)]
    assert _decode(impl, specs, max_message_size=10, max_frame_size=10) == [
        _control(9, bytes(125)),
        _control(8, b"\x03\xe8" + b"r" * 123),
    ]


def test_declared_huge_fragment_fails_at_once(impl: ModuleType) -> None:
    decoder = impl.MessageDecoder(max_message_size=1 << 20)
    decoder.feed(_frame(2, bytes(10), fin=False).encode())
    header = FrameSpec(0, declared=1 << 62, length_form="64", mask=KEY).encode()
    with pytest.raises(ProtocolError) as info:
        decoder.feed(header)
    assert info.value.code == 1009


def test_options(impl: ModuleType) -> None:
    assert impl.DEFAULT_MAX_MESSAGE_SIZE == 1 << 24
    with pytest.raises(ValueError):
        impl.MessageDecoder(max_message_size=-1)
    with pytest.raises(ValueError):
        impl.MessageDecoder(max_frame_size=-1)
    unlimited = impl.MessageDecoder(max_message_size=None, max_frame_size=None)
    assert unlimited.feed(FrameSpec(2, declared=1 << 24, length_form="64", mask=KEY).encode()) == []
    with pytest.raises(ProtocolError) as info:
        impl.MessageDecoder(max_message_size=None).feed(FrameSpec(2, declared=(1 << 24) + 1, mask=KEY).encode())
    assert info.value.code == 1009


# ---------------------------------------------------------------- UTF-8

EURO = "€".encode()  # e2 82 ac
CLEF = "𝄞".encode()  # f0 9d 84 9e


def test_code_points_split_across_fragments_pass(impl: ModuleType) -> None:
    specs = [
        _frame(1, b"a" + CLEF[:1], fin=False),
        _frame(0, CLEF[1:2], fin=False),
        _frame(9, b"ping"),
        _frame(0, CLEF[2:3], fin=False),
        _frame(0, CLEF[3:] + EURO[:2], fin=False),
        _frame(0, EURO[2:]),
    ]
    assert _decode(impl, specs) == [_control(9, b"ping"), _message(1, b"a" + CLEF + EURO)]


def test_code_point_split_across_reads_passes(impl: ModuleType) -> None:
    data = wire([_frame(1, EURO * 50)])
    for cut in range(len(data) + 1):
        decoder = impl.MessageDecoder()
        got = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert [normalise(impl, m) for m in got] == [_message(1, EURO * 50)]


@pytest.mark.parametrize(
    "bad",
    [
        b"\xff",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\x80",
    ],
    ids=["ff", "overlong-2", "overlong-3", "surrogate", "above-10ffff", "5-byte", "lone-continuation"],
)
def test_invalid_text_is_1007(impl: ModuleType, bad: bytes) -> None:
    assert _error(impl, [_frame(1, b"ok" + bad + b"ok")]).code == 1007
    assert _decode(impl, [_frame(2, b"ok" + bad + b"ok")]) == [_message(2, b"ok" + bad + b"ok")]


@pytest.mark.parametrize(
    "bad_fragment",
    [b"x\xff", b"\xc0", b"ok\xed\xa0", b"ok\xf4\x90", b"\xe0\x80", b"\xf0\x8f"],
    ids=["ff", "c0", "surrogate-prefix", "above-10ffff-prefix", "overlong-3-prefix", "overlong-4-prefix"],
)
def test_text_fails_fast_at_the_first_bad_fragment(impl: ModuleType, bad_fragment: bytes) -> None:
    """The fragment that makes the message invalid fails, though the message is not finished."""
    decoder = impl.MessageDecoder()
    assert decoder.feed(_frame(1, b"fine " + EURO[:1], fin=False).encode()) == []
    assert decoder.feed(_frame(0, EURO[1:] + b" still fine", fin=False).encode()) == []
    ping = decoder.feed(_frame(9, b"between").encode())
    assert [normalise(impl, p) for p in ping] == [_control(9, b"between")]
    with pytest.raises(ProtocolError) as info:
        decoder.feed(_frame(0, bad_fragment, fin=False).encode() + _frame(9, b"after").encode())
    assert info.value.code == 1007
    assert info.value.frames == []


def test_text_ending_inside_a_code_point_is_1007(impl: ModuleType) -> None:
    assert _error(impl, [_frame(1, b"ok" + EURO[:2])]).code == 1007
    assert _error(impl, [_frame(1, b"ok" + EURO[:2], fin=False), _frame(0, b"")]).code == 1007
    assert _error(impl, [_frame(1, CLEF[:1], fin=False), _frame(0, CLEF[1:3])]).code == 1007


def test_utf8_state_restarts_with_each_message(impl: ModuleType) -> None:
    specs = [_frame(1, EURO[:2], fin=False), _frame(0, EURO[2:]), _frame(1, EURO)]
    assert _decode(impl, specs) == [_message(1, EURO), _message(1, EURO)]
    assert _error(impl, [_frame(1, b"a", fin=False), _frame(0, b"b"), _frame(1, EURO[2:])]).code == 1007


# ---------------------------------------------------------------- CLOSE


def test_nothing_is_delivered_after_close(impl: ModuleType) -> None:
    decoder = impl.MessageDecoder()
    data = wire([_frame(1, b"before"), _frame(8, b"\x03\xe8bye"), _frame(1, b"after"), _frame(9)])
    got = [normalise(impl, m) for m in decoder.feed(data)]
    assert got == [_message(1, b"before"), _control(8, b"\x03\xe8bye")]
    assert decoder.feed(wire([_frame(1, b"more")])) == []
    assert decoder.feed(b"\xff\xff garbage that would fail a live decoder") == []
    assert decoder.feed(wire([_frame(0, b"orphan")])) == []
    with pytest.raises(TypeError):
        decoder.feed("still a type error")


def test_close_inside_a_fragmented_message(impl: ModuleType) -> None:
    specs = [_frame(1, b"half", fin=False), _frame(8), _frame(0, b"rest")]
    assert _decode(impl, specs) == [_control(8)]


def test_nothing_after_close_split_across_reads(impl: ModuleType) -> None:
    data = wire([_frame(8, b"\x03\xe8"), _frame(1, b"after")])
    for cut in range(len(data) + 1):
        decoder = impl.MessageDecoder()
        got = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert [normalise(impl, m) for m in got] == [_control(8, b"\x03\xe8")]


def test_failed_decoder_raises_again(impl: ModuleType) -> None:
    decoder = impl.MessageDecoder()
    with pytest.raises(ProtocolError) as first:
        decoder.feed(wire([_frame(1, b"\xff")]))
    for more in (b"", wire([_frame(1, b"fine")]), wire([_frame(8)])):
        with pytest.raises(ProtocolError) as again:
            decoder.feed(more)
        assert (
            (again.value.code, again.value.reason)
            == (first.value.code, first.value.reason)
            == (
                1007,
                first.value.reason,
            )
        )
        assert again.value.frames == []


# ---------------------------------------------------------------- input types


def test_feed_accepts_any_buffer_and_refuses_str(impl: ModuleType) -> None:
    data = wire([_frame(1, b"Hel", fin=False), _frame(0, b"lo")])
    for chunk in (bytearray(data), memoryview(data), memoryview(bytearray(data))):
        assert [normalise(impl, m) for m in impl.MessageDecoder().feed(chunk)] == [_message(1, b"Hello")]
    decoder = impl.MessageDecoder()
    assert decoder.feed(data[:4]) == []
    with pytest.raises(TypeError):
        decoder.feed("Hello")
    assert [normalise(impl, m) for m in decoder.feed(data[4:])] == [_message(1, b"Hello")]


# ---------------------------------------------------------------- memory


def test_one_byte_dribble_of_a_64k_text_message(impl: ModuleType) -> None:
    text = ("wscodec ☃ " * 7000).encode()[:65536]
    data = wire([_frame(1, text[:30000], fin=False), _frame(9, b"p"), _frame(0, text[30000:])])
    decoder = impl.MessageDecoder()
    out: list[object] = []

    def dribble() -> None:
        for i in range(len(data)):
            out.extend(decoder.feed(data[i : i + 1]))

    assert peak_during(dribble) < 4 * len(data)
    assert [normalise(impl, m) for m in out] == [_control(9, b"p"), _message(1, text)]


def test_one_byte_fragments_hold_a_small_multiple_of_their_wire_size(impl: ModuleType) -> None:
    """8192 one-byte fragments, dribbled a byte at a time: no per-fragment object is kept."""
    count = 8192
    middle = _frame(0, b"\x01", fin=False).encode() * (count - 2)
    data = _frame(2, b"\x00", fin=False).encode() + middle + _frame(0, b"\x02").encode()
    decoder = impl.MessageDecoder()
    out: list[object] = []

    def dribble() -> None:
        for i in range(len(data)):
            out.extend(decoder.feed(data[i : i + 1]))

    assert peak_during(dribble) < 2 * len(data)
    assert [normalise(impl, m) for m in out] == [_message(2, b"\x00" + b"\x01" * (count - 2) + b"\x02")]


def test_one_byte_fragments_in_socket_reads(impl: ModuleType) -> None:
    count = 16384
    middle = _frame(0, b"b", fin=False).encode() * (count - 2)
    data = _frame(1, b"a", fin=False).encode() + middle + _frame(0, b"c").encode()
    decoder = impl.MessageDecoder()
    out: list[object] = []

    def feed() -> None:
        for i in range(0, len(data), 65536):
            out.extend(decoder.feed(data[i : i + 65536]))

    assert peak_during(feed) < 2 * len(data)
    assert [normalise(impl, m) for m in out] == [_message(1, b"a" + b"b" * (count - 2) + b"c")]
