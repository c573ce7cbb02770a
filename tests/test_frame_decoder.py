"""FrameDecoder: one test per RFC 6455 §5 rule, every chunking, errors, memory and input types.

When a rule fires: the rules of the first two bytes (RSV bits, reserved
opcode, control-frame FIN and length, mask direction) as soon as those two
bytes are there; the length rules (64-bit top bit, minimal length, size
limit) as soon as the whole header is, before any payload byte is kept.
"""

from __future__ import annotations

import array
import dataclasses
import random
from types import ModuleType

import pytest
from outcomes import drive, frame_item, normalise
from strategies import FrameSpec, wire
from tracing import peak_during

from wscodec.enums import RSV1, RSV2, RSV3, Opcode
from wscodec.errors import ProtocolError

KEY = b"\x5a\xa5\x0f\xf0"


def _spec(masked: bool, **fields: object) -> FrameSpec:
    """A frame in the direction a decoder expects: masked for a server's decoder (client=False)."""
    return FrameSpec(**{"opcode": 2, "mask": KEY if masked else None, **fields})  # type: ignore[arg-type]


@dataclasses.dataclass
class Rule:
    """A header rule: a frame breaking it, the decoder options, the close code, and the bytes needed to see it."""

    name: str
    spec: FrameSpec
    options: dict[str, object]
    code: int
    fires_at: int


def _side_rules(client: bool) -> list[Rule]:
    """The rules as one side's decoder sees them (a server's decoder reads masked frames)."""
    rules: list[Rule] = []
    side = "client" if client else "server"
    masked = not client
    key = 4 if masked else 0  # the mask key's bytes, part of the header
    opts: dict[str, object] = {"client": client}

    def add(name: str, code: int, fires_at: int, options: dict[str, object] = opts, **fields: object) -> None:
        rules.append(Rule(f"{side}-{name}", _spec(masked, **fields), options, code, fires_at))

    for bit, label in ((RSV1, "rsv1"), (RSV2, "rsv2"), (RSV3, "rsv3")):
        add(f"{label}-without-extension", 1002, 2, rsv=bit)
        add(f"{label}-not-the-negotiated-one", 1002, 2, {**opts, "rsv_allowed": 7 & ~bit}, rsv=bit)
    for opcode in (*range(3, 8), *range(11, 16)):
        add(f"reserved-opcode-{opcode}", 1002, 2, opcode=opcode)
    add("pong-of-126-bytes", 1002, 2, opcode=10, payload=bytes(126))
    add("close-of-126-bytes", 1002, 2, opcode=8, payload=bytes(126))
    add("ping-in-16-bit-form", 1002, 2, opcode=9, payload=bytes(5), length_form="16")
    add("fragmented-ping", 1002, 2, opcode=9, fin=False, payload=b"abc")
    add("fragmented-close", 1002, 2, opcode=8, fin=False)
    add("wrong-mask-direction", 1002, 2, mask=None if masked else KEY)
    add("length-2**63", 1002, 10 + key, declared=1 << 63, length_form="64")
    add("length-2**64-1", 1002, 10 + key, declared=(1 << 64) - 1, length_form="64")
    add("0-in-16-bit-form", 1002, 4 + key, payload=b"", length_form="16")
    add("125-in-16-bit-form", 1002, 4 + key, payload=bytes(125), length_form="16")
    add("0-in-64-bit-form", 1002, 10 + key, payload=b"", length_form="64")
    add("65535-in-64-bit-form", 1002, 10 + key, payload=bytes(65535), length_form="64")
    limit = {**opts, "max_frame_size": 1024}
    add("declared-2**62-over-limit", 1009, 10 + key, limit, declared=1 << 62, length_form="64")
    add("1025-bytes-over-1024", 1009, 4 + key, limit, payload=bytes(1025))
    add("101-bytes-over-100", 1009, 2 + key, {**opts, "max_frame_size": 100}, payload=bytes(101))
    add("1-byte-over-0", 1009, 2 + key, {**opts, "max_frame_size": 0}, payload=b"x")
    add("ping-over-limit", 1009, 2 + key, {**opts, "max_frame_size": 3}, opcode=9, payload=b"abcd")
    return rules


RULES = _side_rules(client=False) + _side_rules(client=True)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_violation_fails_from_the_header(impl: ModuleType, rule: Rule) -> None:
    frame = rule.spec.encode()
    with pytest.raises(ProtocolError) as info:
        impl.FrameDecoder(**rule.options).feed(frame)
    assert type(info.value) is ProtocolError
    assert info.value.code == rule.code
    assert info.value.reason and isinstance(info.value.reason, str)
    assert info.value.frames == []


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_violation_fires_as_soon_as_its_bytes_arrive(impl: ModuleType, rule: Rule) -> None:
    frame = rule.spec.encode()
    decoder = impl.FrameDecoder(**rule.options)
    for i in range(rule.fires_at - 1):
        assert decoder.feed(frame[i : i + 1]) == []
    assert decoder.buffered == rule.fires_at - 1
    with pytest.raises(ProtocolError) as info:
        decoder.feed(frame[rule.fires_at - 1 : rule.fires_at])
    assert info.value.code == rule.code
    assert decoder.buffered == 0


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_violation_keeps_earlier_frames_and_stays_failed(impl: ModuleType, rule: Rule) -> None:
    masked = not rule.options["client"]
    before = [
        _spec(masked, opcode=1, payload=b""),
        _spec(masked, opcode=9, payload=b""),
    ]  # within every limit
    after = [_spec(masked, opcode=2, payload=b"never")]
    for chunks in ([wire([*before, rule.spec, *after])], [wire(before), wire([rule.spec, *after])]):
        outcome = drive(impl, impl.FrameDecoder(**rule.options), chunks)
        assert outcome.code == rule.code
        assert outcome.delivered == [frame_item(spec) for spec in before]
        assert outcome.failed_at == len(chunks) - 1


def test_rsv_bits_allowed_when_negotiated(impl: ModuleType) -> None:
    for allowed in range(8):
        decoder = impl.FrameDecoder(client=True, rsv_allowed=allowed)
        for rsv in range(8):
            if rsv & ~allowed:
                continue
            (frame,) = decoder.feed(FrameSpec(2, b"x", rsv=rsv).encode())
            assert (frame.rsv1, frame.rsv2, frame.rsv3) == FrameSpec(2, rsv=rsv).rsv_bits


def test_minimal_length_boundaries_pass(impl: ModuleType) -> None:
    specs = [FrameSpec(2, bytes(n), mask=KEY) for n in (0, 125, 126, 65535, 65536)]
    frames = impl.FrameDecoder().feed(wire(specs))
    assert [len(frame.payload) for frame in frames] == [0, 125, 126, 65535, 65536]


def test_size_limit_boundary_passes(impl: ModuleType) -> None:
    for limit in (0, 125, 126, 1024, 65536):
        (frame,) = impl.FrameDecoder(max_frame_size=limit).feed(FrameSpec(2, bytes(limit), mask=KEY).encode())
        assert len(frame.payload) == limit
    huge = FrameSpec(2, declared=(1 << 63) - 1, length_form="64").encode()
    assert impl.FrameDecoder(client=True, max_frame_size=None).feed(huge) == []


def test_the_first_broken_rule_is_reported(impl: ModuleType) -> None:
    """A header breaking several rules fails on the first in the documented order."""

    def error(spec: FrameSpec, **options: object) -> tuple[int, str]:
        with pytest.raises(ProtocolError) as info:
            impl.FrameDecoder(**options).feed(spec.encode())
        return info.value.code, info.value.reason

    top_bit = {"declared": 1 << 63, "length_form": "64"}
    chains = [
        # (frame breaking only the first rule, frame breaking it and later ones)
        (FrameSpec(2, rsv=4, mask=KEY), FrameSpec(3, rsv=4, **top_bit)),  # type: ignore[arg-type]
        (FrameSpec(11, mask=KEY), FrameSpec(11, fin=False, **top_bit)),  # type: ignore[arg-type]
        (FrameSpec(9, fin=False, mask=KEY), FrameSpec(9, fin=False, payload=bytes(126))),
        (FrameSpec(9, payload=bytes(126), mask=KEY), FrameSpec(9, payload=bytes(126))),
        (FrameSpec(2), FrameSpec(2, **top_bit)),  # type: ignore[arg-type]
        (FrameSpec(2, mask=KEY, **top_bit), FrameSpec(2, mask=KEY, **top_bit)),  # type: ignore[arg-type]
        (
            FrameSpec(2, bytes(100), mask=KEY, length_form="16"),
            FrameSpec(2, bytes(100), mask=KEY, length_form="16"),
        ),
    ]
    for alone, together in chains:
        assert error(together, max_frame_size=10) == error(alone), (alone, together)
    # A length breaking the RFC is a protocol error (1002), not a size-limit one (1009).
    assert error(FrameSpec(2, mask=KEY, **top_bit), max_frame_size=10)[0] == 1002  # type: ignore[arg-type]
    assert error(FrameSpec(2, bytes(100), mask=KEY, length_form="16"), max_frame_size=10)[0] == 1002


def test_close_payload_is_not_judged_by_the_frame_decoder(impl: ModuleType) -> None:
    """Frames are frames: a CLOSE with a 1-byte payload or a bad code is the caller's to parse_close."""
    specs = [
        FrameSpec(8, b"\x03", mask=KEY),
        FrameSpec(8, b"\x03\xed\xff", mask=KEY),
        FrameSpec(2, b"x", mask=KEY),
    ]
    assert [normalise(impl, f) for f in impl.FrameDecoder().feed(wire(specs))] == [frame_item(s) for s in specs]


def test_decoder_options_are_checked(impl: ModuleType) -> None:
    for options in ({"max_frame_size": -1}, {"rsv_allowed": 8}, {"rsv_allowed": -1}):
        with pytest.raises(ValueError):
            impl.FrameDecoder(**options)
    for wrong_type in ({"rsv_allowed": 4.0}, {"rsv_allowed": "4"}, {"max_frame_size": "10"}):
        with pytest.raises(TypeError):
            impl.FrameDecoder(**wrong_type)
    assert impl.DEFAULT_MAX_FRAME_SIZE == 1 << 24
    at_default = FrameSpec(2, declared=impl.DEFAULT_MAX_FRAME_SIZE, length_form="64", mask=KEY).encode()
    assert impl.FrameDecoder().feed(at_default) == []
    with pytest.raises(ProtocolError) as info:
        impl.FrameDecoder().feed(FrameSpec(2, declared=impl.DEFAULT_MAX_FRAME_SIZE + 1, mask=KEY).encode())
    assert info.value.code == 1009


# ---------------------------------------------------------------- chunkings


def _stream(masked: bool) -> list[FrameSpec]:
    """Small frames of every kind and the 7- and 16-bit length forms, a few hundred bytes in all."""
    key = KEY if masked else None
    rng = random.Random(6455)
    return [
        FrameSpec(1, "héllo".encode(), fin=False, mask=key),
        FrameSpec(9, b"", mask=key),
        FrameSpec(0, rng.randbytes(130), fin=False, mask=key),
        FrameSpec(10, rng.randbytes(125), mask=key),
        FrameSpec(0, b"", mask=key),
        FrameSpec(2, rng.randbytes(126), mask=key),
        FrameSpec(8, b"\x03\xe8bye", mask=key),
    ]


@pytest.mark.parametrize("client", [False, True])
def test_split_at_every_position(impl: ModuleType, client: bool) -> None:
    specs = _stream(not client)
    data = wire(specs)
    want = [frame_item(spec) for spec in specs]
    for cut in range(len(data) + 1):
        decoder = impl.FrameDecoder(client=client)
        got = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert [normalise(impl, frame) for frame in got] == want, cut
        assert decoder.buffered == 0


@pytest.mark.parametrize("client", [False, True])
def test_64_bit_frame_split_around_header_and_ends(impl: ModuleType, client: bool) -> None:
    spec = FrameSpec(2, random.Random(1).randbytes(65536 + 3), mask=None if client else KEY)
    data = wire([spec, FrameSpec(9, b"p", mask=spec.mask)])
    want = [frame_item(spec), ("frame", True, 9, b"p", False, False, False)]
    for cut in [*range(20), *range(len(data) - 20, len(data) + 1)]:
        decoder = impl.FrameDecoder(client=client)
        got = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert [normalise(impl, frame) for frame in got] == want, cut


@pytest.mark.parametrize("client", [False, True])
def test_one_byte_dribble_delivers_each_frame_with_its_last_byte(impl: ModuleType, client: bool) -> None:
    specs = _stream(not client)
    decoder = impl.FrameDecoder(client=client)
    end = 0
    for spec in specs:
        frame = spec.encode()
        for i, byte in enumerate(frame):
            got = decoder.feed(bytes((byte,)))
            if i < len(frame) - 1:
                assert got == []
                assert decoder.buffered == i + 1
            else:
                assert [normalise(impl, f) for f in got] == [frame_item(spec)]
                assert decoder.buffered == 0
        end += len(frame)


@pytest.mark.parametrize("client", [False, True])
def test_64k_socket_reads_of_mixed_sizes(impl: ModuleType, client: bool) -> None:
    rng = random.Random(64)
    key = None if client else KEY
    specs = [FrameSpec(2, rng.randbytes(n), mask=key) for n in (2, 125, 1024, 65536, 2, 1 << 20, 125, 65535, 0)]
    data = wire(specs)
    decoder = impl.FrameDecoder(client=client)
    got = [normalise(impl, f) for i in range(0, len(data), 65536) for f in decoder.feed(data[i : i + 65536])]
    assert got == [frame_item(spec) for spec in specs]
    assert decoder.buffered == 0


def test_many_frames_in_one_chunk(impl: ModuleType) -> None:
    specs = [FrameSpec(1 + i % 2, str(i).encode(), mask=KEY) for i in range(10_000)]
    decoder = impl.FrameDecoder()
    frames = decoder.feed(wire(specs))
    assert [normalise(impl, f) for f in frames] == [frame_item(spec) for spec in specs]
    assert decoder.buffered == 0


def test_partial_frame_is_buffered(impl: ModuleType) -> None:
    first = FrameSpec(1, b"done", mask=KEY).encode()
    second = FrameSpec(2, bytes(300), mask=KEY).encode()
    decoder = impl.FrameDecoder()
    assert len(decoder.feed(first + second[:100])) == 1
    assert decoder.buffered == 100
    assert decoder.feed(b"") == []
    assert decoder.buffered == 100
    (frame,) = decoder.feed(second[100:])
    assert frame.payload == bytes(300)
    assert decoder.buffered == 0


def test_empty_feeds(impl: ModuleType) -> None:
    decoder = impl.FrameDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(bytearray()) == []
    assert decoder.buffered == 0


# ---------------------------------------------------------------- input types


def test_feed_accepts_any_buffer(impl: ModuleType) -> None:
    data = wire(_stream(True))
    want = [normalise(impl, f) for f in impl.FrameDecoder().feed(data)]
    doubled = bytes(b for x in data for b in (x, 0))
    for chunk in (
        bytearray(data),
        memoryview(data),
        memoryview(bytearray(data)),
        array.array("B", data),
        memoryview(doubled)[::2],
    ):
        decoder = impl.FrameDecoder()
        assert [normalise(impl, f) for f in decoder.feed(chunk)] == want
        half = len(data) // 2
        decoder = impl.FrameDecoder()
        got = decoder.feed(memoryview(data)[:half]) + decoder.feed(bytearray(data[half:]))
        assert [normalise(impl, f) for f in got] == want


def test_feed_takes_buffers_by_their_bytes(impl: ModuleType) -> None:
    """Multi-byte items and several dimensions: the bytes count, not the items."""
    data = FrameSpec(2, b"abcdefghij", mask=KEY).encode()  # 16 bytes
    for chunk in (array.array("H", data), memoryview(array.array("I", data)), memoryview(data).cast("B", (4, 4))):
        (frame,) = impl.FrameDecoder().feed(chunk)
        assert frame.payload == b"abcdefghij"


@pytest.mark.parametrize("bad", ["\x82\x80abcd", 130, None, ["\x82"]])
def test_feed_rejects_non_buffers_and_stays_usable(impl: ModuleType, bad: object) -> None:
    decoder = impl.FrameDecoder()
    frame = FrameSpec(2, b"abc", mask=KEY).encode()
    assert decoder.feed(frame[:3]) == []
    with pytest.raises(TypeError):
        decoder.feed(bad)
    (got,) = decoder.feed(frame[3:])
    assert got.payload == b"abc"


def test_decoder_keeps_no_reference_to_the_callers_buffer(impl: ModuleType) -> None:
    frame = FrameSpec(2, b"payload!", mask=KEY).encode()
    chunk = bytearray(frame[:9])
    decoder = impl.FrameDecoder()
    assert decoder.feed(chunk) == []
    chunk[:] = bytes(len(chunk))  # the caller reuses its receive buffer
    chunk.extend(b"resized")  # and resizes it: no buffer export may still be held
    (got,) = decoder.feed(frame[9:])
    assert got.payload == b"payload!"


def test_payloads_are_independent_bytes(impl: ModuleType) -> None:
    chunk = bytearray(FrameSpec(2, b"abc").encode())
    (frame,) = impl.FrameDecoder(client=True).feed(chunk)
    chunk[2:] = b"xyz"
    assert frame.payload == b"abc" and type(frame.payload) is bytes


# ---------------------------------------------------------------- memory


@pytest.mark.parametrize("client", [False, True])
def test_declared_2_62_bytes_over_a_small_limit_fails_at_once_allocating_nothing(
    impl: ModuleType, client: bool
) -> None:
    header = FrameSpec(2, declared=1 << 62, length_form="64", mask=None if client else KEY).encode()
    decoder = impl.FrameDecoder(client=client, max_frame_size=4096)
    errors: list[ProtocolError] = []

    def feed() -> None:
        try:
            decoder.feed(header)
        except ProtocolError as exc:
            errors.append(exc)

    assert peak_during(feed) < 16 * 1024
    assert [exc.code for exc in errors] == [1009]
    assert decoder.buffered == 0


@pytest.mark.parametrize(
    ("declared", "limit"), [(1 << 62, None), ((1 << 63) - 1, None), (1 << 29, 1 << 30), (1 << 24, 1 << 24)]
)
def test_declared_length_is_not_allocated_before_it_arrives(impl: ModuleType, declared: int, limit: int) -> None:
    data = FrameSpec(2, declared=declared, length_form="64", mask=KEY).encode() + bytes(1000)
    decoder = impl.FrameDecoder(max_frame_size=limit)
    assert peak_during(lambda: decoder.feed(data)) < 64 * 1024
    assert decoder.buffered == len(data)
    more = bytes(1 << 16)
    assert peak_during(lambda: decoder.feed(more)) < 4 * len(more)
    assert decoder.buffered == len(data) + len(more)


@pytest.mark.parametrize("client", [False, True])
def test_one_byte_dribble_of_a_64k_frame_holds_what_arrived(impl: ModuleType, client: bool) -> None:
    payload = random.Random(2).randbytes(65536)
    data = FrameSpec(2, payload, mask=None if client else KEY).encode()
    decoder = impl.FrameDecoder(client=client)
    frames: list[object] = []

    def dribble() -> None:
        for i in range(len(data)):
            frames.extend(decoder.feed(data[i : i + 1]))
            assert decoder.buffered == (i + 1) % len(data)

    # The receive buffer (with growth slack), the payload copied out and the frame: a few times the wire size.
    assert peak_during(dribble) < 4 * len(data)
    assert [normalise(impl, f) for f in frames] == [("frame", True, 2, payload, False, False, False)]


def test_buffer_shrinks_as_frames_complete(impl: ModuleType) -> None:
    """A long stream of small frames, each split across reads, never accumulates consumed bytes."""
    data = wire([FrameSpec(2, bytes(100), mask=KEY)] * 2000)
    decoder = impl.FrameDecoder()
    count = 0
    for i in range(0, len(data), 157):
        count += len(decoder.feed(data[i : i + 157]))
        assert decoder.buffered < 106
    assert count == 2000


def test_frames_carry_opcode_members(impl: ModuleType) -> None:
    frames = impl.FrameDecoder().feed(wire([FrameSpec(op, mask=KEY) for op in (0, 1, 2, 8, 9, 10)]))
    assert [type(f.opcode) for f in frames] == [Opcode] * 6
    assert [f.opcode for f in frames] == [0, 1, 2, 8, 9, 10]
