"""Invalid UTF-8 in a text message fails in the feed() call that delivers it, even in the middle of a frame.

DESIGN.md ("Fail fast, everywhere"): a violation is reported by the call whose
bytes make it certain. For text that is the call whose chunk holds the byte no
continuation can repair -- the byte at which ``Utf8Validator.feed`` first
answers False. Every call before it returns normally; every item completed
before it is delivered, by an earlier call or on the raising call's
``ProtocolError.frames``; every later call raises again.

The expected outcome of each stream is computed here, independently of the
decoders: the failing byte from the pure ``Utf8Validator`` (:func:`first_invalid`,
itself cross-checked against CPython's incremental decoder), its wire position
from the frame layout, the items from the frames before it (and cross-checked
against ``outcomes.expected_messages``). The hypothesis tests also run the
pure implementation on the same chunks: the two must agree call by call.

Small frames are buffered until complete and frames of 32 KiB or more are
streamed (both implementations have the two paths), so both sizes are covered.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from outcomes import Item, Outcome, completable, drive, expected_messages
from strategies import FrameSpec, chunked, frame_settings, split, utf8_payloads, valid_streams, wire

import wscodec._impl_py as reference
from wscodec.errors import ProtocolError
from wscodec.utf8_py import Utf8Validator

# High bits in the key: unmasking a partial payload at the wrong phase turns ASCII into invalid UTF-8.
KEY = b"\x37\xfa\x21\x3d"
# The size from which a frame that arrives over several reads is streamed (both implementations).
STREAM_MIN = 1 << 15
BIG = 1 << 16


# ---------------------------------------------------------------- the oracle


@dataclasses.dataclass(frozen=True)
class Bad:
    """An invalid sequence: ``data[offset]`` is the byte that makes the text invalid.

    ``cpython_lag``: how many bytes later CPython's incremental decoder raises
    (it keeps ``ED A0`` pending, though no continuation can make it valid).
    """

    name: str
    data: bytes
    offset: int
    cpython_lag: int = 0


BADS = (
    Bad("lone-80", b"\x80", 0),
    Bad("ff", b"\xff", 0),
    Bad("overlong-c0-80", b"\xc0\x80", 0),
    Bad("surrogate-ed-a0-80", b"\xed\xa0\x80", 1, cpython_lag=1),
    Bad("truncated-e2-82-then-A", b"\xe2\x82A", 2),
    Bad("above-10ffff-f4-90", b"\xf4\x90", 1),
)
BAD_IDS = [bad.name for bad in BADS]


def _still_valid(data: bytes, k: int) -> bool:
    return bool(Utf8Validator().feed(data[:k]))


def first_invalid(data: bytes) -> int | None:
    """The index of the byte that makes ``data`` invalid UTF-8, or None.

    That is ``k - 1`` for the smallest ``k`` such that a fresh
    ``Utf8Validator().feed(data[:k])`` is False. A prefix that no continuation
    can repair stays so however it goes on, so ``k`` is found by bisection
    (:func:`first_invalid_by_scan` checks that on small inputs).
    """
    if _still_valid(data, len(data)):
        return None
    lo, hi = 0, len(data)  # data[:lo] can still be valid, data[:hi] cannot
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _still_valid(data, mid):
            lo = mid
        else:
            hi = mid
    return hi - 1


def first_invalid_by_scan(data: bytes) -> int | None:
    """:func:`first_invalid` by the definition: every prefix, shortest first."""
    for k in range(1, len(data) + 1):
        if not _still_valid(data, k):
            return k - 1
    return None


def cpython_first_error(data: bytes) -> int | None:
    """The index of the byte at which CPython's incremental decoder (final=False) raises, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for i in range(len(data)):
        try:
            decoder.decode(data[i : i + 1])
        except UnicodeDecodeError:
            return i
    return None


def model_first_invalid(data: bytes) -> int | None:
    """An independent model of the same rule: CPython's decoder, plus "can the pending bytes still be completed"."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for i in range(len(data)):
        try:
            decoder.decode(data[i : i + 1])
        except UnicodeDecodeError:
            return i
        if not completable(decoder.getstate()[0]):
            return i
    return None


# ---------------------------------------------------------------- building streams

_PATTERN = "aé€𝄞z".encode()  # 1-, 2-, 3- and 4-byte code points: the validator carries state between reads


def filler(n: int) -> bytes:
    """Exactly ``n`` bytes of valid UTF-8 ending on a code-point boundary."""
    data = _PATTERN * (n // len(_PATTERN) + 1)
    cut = n
    while cut and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return data[:cut] + b"x" * (n - cut)


def bad_payload(length: int, at: int, bad: Bad, head: bytes = b"") -> bytes:
    """``length`` bytes beginning with ``head``, whose byte ``at`` is ``bad``'s failing byte."""
    fill = at - bad.offset - len(head)
    assert fill >= 0 and length > at, (length, at, bad, head)
    payload = (head + filler(fill) + bad.data + filler(length))[:length]
    return payload


def _spec(opcode: int, payload: bytes, fin: bool, client: bool) -> FrameSpec:
    # A client's decoder reads a server's unmasked frames; a server's decoder reads masked ones.
    return FrameSpec(opcode, payload, fin=fin, mask=None if client else KEY)


def preamble(client: bool) -> list[FrameSpec]:
    """A complete text message (fragmented inside a code point) and a PING, before the message that fails."""
    return [
        _spec(1, b"\xc3", False, client),
        _spec(0, b"\xa9", True, client),
        _spec(9, b"p", True, client),
    ]


LAYOUTS = ("single", "first-fragment", "continuation")


def text_message(layout: str, length: int, at: int, bad: Bad, client: bool) -> list[FrameSpec]:
    """A text message whose ``length``-byte frame has ``bad``'s failing byte at index ``at``.

    ``single``: that frame alone; ``first-fragment``: it, then a continuation;
    ``continuation``: after a first frame and a PING, and before a last frame.
    There the first frame ends inside a code point that the bad frame's first
    byte completes, unless that leaves no room before the failing byte.
    """
    if layout == "single":
        return [_spec(1, bad_payload(length, at, bad), True, client)]
    if layout == "first-fragment":
        return [_spec(1, bad_payload(length, at, bad), False, client), _spec(0, b"!", True, client)]
    assert layout == "continuation", layout
    carry = at - bad.offset >= 1
    return [
        _spec(1, b"ok\xc3" if carry else b"ok", False, client),
        _spec(9, b"mid", True, client),
        _spec(0, bad_payload(length, at, bad, b"\xa9" if carry else b""), False, client),
        _spec(0, b"!", True, client),
    ]


#: Index of the bad frame in :func:`text_message`'s frames.
BAD_FRAME = {"single": 0, "first-fragment": 0, "continuation": 2}


def header_size(spec: FrameSpec) -> int:
    """RFC 6455 §5.2: 2 bytes, 2 more for a 16-bit length, 8 more for a 64-bit one, 4 more for a mask key."""
    n = len(spec.payload)
    size = 2 if n < 126 else 4 if n < 0x10000 else 10
    return size + (4 if spec.mask is not None else 0)


@dataclasses.dataclass
class Expected:
    """What a MessageDecoder must make of a stream.

    ``bad_at``: the wire index of the byte that makes a text message invalid
    (None if the stream is valid); ``items``: ``(index of the last wire byte
    that completes it, item)`` for everything completed before that byte.
    """

    wire: bytes
    bad_at: int | None
    items: list[tuple[int, Item]]
    bad_frame: int | None = None
    bad_index: int | None = None  # in the bad frame's payload

    def feeds(self, chunks: Sequence[bytes]) -> tuple[list[list[Item]], int | None]:
        """The items each feed of ``chunks`` must return (the raising one: on ``.frames``), and which feed raises."""
        feeds: list[list[Item]] = []
        start = 0
        for i, chunk in enumerate(chunks):
            end = start + len(chunk)
            feeds.append([item for last, item in self.items if start <= last < end])
            if self.bad_at is not None and start <= self.bad_at < end:
                return feeds, i
            start = end
        return feeds, None


def expect(specs: Sequence[FrameSpec], client: bool) -> Expected:
    """Walk the frames as RFC 6455 reassembles them and find the first byte no UTF-8 continuation can repair."""
    items: list[tuple[int, Item]] = []
    pos = 0
    opcode = 0
    message = b""
    for j, spec in enumerate(specs):
        encoded = spec.encode()
        size = header_size(spec)
        assert size == len(encoded) - len(spec.payload)
        last = pos + len(encoded) - 1
        if spec.opcode >= 8:
            assert spec.opcode != 8, "the streams built here carry no CLOSE"
            items.append((last, ("frame", True, spec.opcode, spec.payload, False, False, False)))
        else:
            if spec.opcode:
                opcode, message = spec.opcode, b""
            message += spec.payload
            if opcode == 1:
                at = first_invalid(message)
                if at is not None:
                    index = at - (len(message) - len(spec.payload))
                    assert 0 <= index < len(spec.payload), "an earlier frame was invalid already"
                    out = Expected(wire(specs), pos + size + index, items, j, index)
                    _check_model(specs, client, out)
                    return out
                if spec.fin:
                    message.decode("utf-8")  # the streams built here end every text message on a code point
            if spec.fin:
                items.append((last, ("message", opcode, message)))
                opcode = 0
        pos += len(encoded)
    out = Expected(wire(specs), None, items)
    _check_model(specs, client, out)
    return out


def _check_model(specs: Sequence[FrameSpec], client: bool, out: Expected) -> None:
    """The items must be those the frame-level model in ``outcomes`` gives (it fails a whole frame at once)."""
    model, code = expected_messages(specs, client=client)
    assert [item for _, item in out.items] == model
    assert code == (None if out.bad_at is None else 1007)


# ---------------------------------------------------------------- chunkings


def by_size(data: bytes, size: int) -> list[bytes]:
    """``data`` in ``size``-byte reads."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def chunkings(name: str, data: bytes, bad_at: int) -> list[bytes]:
    """Named ways of cutting ``data``: fixed-size reads, or cuts around the failing byte."""
    if name.endswith("-byte") and name[:-5].isdigit():
        return by_size(data, int(name[:-5]))
    if name == "1-byte-near":  # everything up to 16 bytes before the failing byte at once, then 1-byte reads
        start = max(0, bad_at - 16)
        return [data[:start], *by_size(data[start : bad_at + 1], 1), data[bad_at + 1 :]]
    if name == "bad-byte-alone":  # the frame begun, then the failing byte in a read of its own
        return [data[:bad_at], data[bad_at : bad_at + 1], data[bad_at + 1 :]]
    if name == "up-to-bad-byte":  # the preamble and the frame's beginning, up to the failing byte, in one read
        return [data[: bad_at + 1], data[bad_at + 1 :]]
    if name == "whole":
        return [data]
    raise ValueError(name)


# ---------------------------------------------------------------- checking


def run(impl: ModuleType, chunks: Sequence[bytes], client: bool) -> Outcome:
    """Feed ``chunks`` to ``impl``'s MessageDecoder; the reference must give the very same outcome, call by call."""
    got = drive(impl, impl.MessageDecoder(client=client), chunks)
    if impl is not reference:
        assert got == drive(reference, reference.MessageDecoder(client=client), chunks), "differs from pure Python"
    return got


def mismatch(impl: ModuleType, expected: Expected, chunks: Sequence[bytes], client: bool) -> str | None:
    """Why ``impl`` did not do what ``expected`` says with these chunks, or None if it did."""
    want_feeds, want_failed_at = expected.feeds(chunks)
    got = drive(impl, impl.MessageDecoder(client=client), chunks)
    if got.failed_at != want_failed_at:
        where = "never" if got.failed_at is None else f"in feed {got.failed_at}"
        return f"raised {where} (code {got.code}), expected in feed {want_failed_at}"
    if want_failed_at is not None and got.code != 1007:
        return f"raised {got.error}, expected 1007"
    if got.feeds != want_feeds:
        return f"delivered {got.feeds}, expected {want_feeds}"
    return None


@dataclasses.dataclass(frozen=True)
class Case:
    """A stream to check: its frames, the decoder's side, and (for a sweep) where the failing byte must be."""

    label: str
    specs: tuple[FrameSpec, ...]
    client: bool
    where: tuple[int, int] | None = None  # (index of the bad frame, index of the failing byte in its payload)


def check_all(impl: ModuleType, cases: Sequence[Case], chunking: str, expect_failure: bool = True) -> int:
    """Check every case, then report all that went wrong at once (a sweep's failures come in families)."""
    failures = []
    for case in cases:
        expected = expect_case(case)
        assert (expected.bad_at is not None) == expect_failure, case.label
        if case.where is not None:
            assert (expected.bad_frame, expected.bad_index) == case.where, case.label
        chunks = chunkings(chunking, expected.wire, expected.bad_at or 0)
        why = mismatch(impl, expected, chunks, case.client)
        if why is not None:
            failures.append(f"{case.label}: {why}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed, e.g.\n" + "\n".join(failures[:5])
    return len(cases)


def expect_case(case: Case) -> Expected:
    """:func:`expect` for a case; for small ones computed once for both implementations."""
    if sum(len(spec.payload) for spec in case.specs) > 1000:
        return expect(case.specs, case.client)
    return _expect_small(case)


@functools.cache
def _expect_small(case: Case) -> Expected:
    return expect(case.specs, case.client)


def sweep(layout: str, client: bool, points: tuple[tuple[int, int], ...]) -> tuple[Case, ...]:
    """:func:`_sweep`, kept for both implementations when its frames are small."""
    if max(length for length, _ in points) > 1000:
        return _sweep(layout, client, points)
    return _small_sweep(layout, client, points)


def _sweep(layout: str, client: bool, points: tuple[tuple[int, int], ...]) -> tuple[Case, ...]:
    """One case per ``(length, at)``: the failing byte of an invalid sequence is byte ``at`` of a
    ``length``-byte frame of a text message laid out as ``layout``, after :func:`preamble`.

    The kind of invalid sequence rotates with the position and the length, so
    that every kind meets every residue of 7 (the 7-byte reads' period) and
    ends frames of many lengths.
    """
    cases = []
    for length, at in points:
        usable = [bad for bad in BADS if bad.offset <= at]
        bad = usable[(at + length // 6) % len(usable)]
        specs = (*preamble(client), *text_message(layout, length, at, bad, client))
        label = f"{layout} client={client} length={length} at={at} {bad.name}"
        cases.append(Case(label, specs, client, (len(preamble(client)) + BAD_FRAME[layout], at)))
    return tuple(cases)


_small_sweep = functools.cache(_sweep)


@pytest.fixture(scope="module", autouse=True)
def _forget_cases() -> Iterator[None]:
    """Small cases are kept for both implementations while this module runs, not for the rest of the session."""
    yield
    _small_sweep.cache_clear()
    _expect_small.cache_clear()


# ---------------------------------------------------------------- the oracle, cross-checked


@pytest.mark.parametrize("bad", BADS, ids=BAD_IDS)
def test_oracle_agrees_with_cpython_and_a_model(impl: ModuleType, bad: Bad) -> None:
    """The failing byte: where it was put, by bisection and by scan, per CPython (where it is as strict)
    and per the completability model; and ``impl``'s own Utf8Validator agrees prefix by prefix."""
    for head in (b"", b"a", b"\xc3\xa9", _PATTERN, filler(300)):
        for tail in (b"", b"x", b"\x80\x80", _PATTERN):
            data = head + bad.data + tail
            at = len(head) + bad.offset
            assert first_invalid(data) == at
            assert first_invalid_by_scan(data) == at
            assert model_first_invalid(data) == at
            assert cpython_first_error(data + b"x") == at + bad.cpython_lag
            assert impl.Utf8Validator().feed(data[:at]) is True
            assert impl.Utf8Validator().feed(data[: at + 1]) is False
            # Fed in pieces, the validator reaches the same verdict at the same byte.
            validator = impl.Utf8Validator()
            assert all(validator.feed(data[i : i + 1]) for i in range(at))
            assert validator.feed(data[at : at + 1]) is False


def test_oracle_on_valid_text_and_bisection_matches_scan() -> None:
    text = filler(1000)
    assert first_invalid(text) is None and model_first_invalid(text) is None
    assert first_invalid(text[:-1]) is None  # a cut code point can still be completed
    for at in range(60):
        for bad in BADS:
            if at >= bad.offset:
                data = bad_payload(60, at, bad)
                assert first_invalid(data) == first_invalid_by_scan(data) == model_first_invalid(data) == at


# ---------------------------------------------------------------- payloads of 1-300 bytes

CLIENTS = [pytest.param(False, id="masked"), pytest.param(True, id="unmasked")]


def _points(lengths: range, positions: Callable[[int], Sequence[int]]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted({(length, at) for length in lengths for at in positions(length) if 0 <= at < length}))


# 1-byte reads cost a feed per byte: from the first byte on they sweep frames up to 130 bytes (both
# sides of the 7-bit length's limit of 125), and 300-byte frames from 16 bytes before the failing byte on.
_LONGEST = {"1-byte": 126}  # every position of a frame this long (default: 300 bytes)
_LENGTHS = {"1-byte": range(1, 131)}  # the lengths whose ends are swept (default: 1-300)
# Where the failing byte goes in frames of every length, besides every position of the longest frame
# (what the other readings already cover is left out: every case costs a decoder run per implementation).
_ENDS: dict[str, Callable[[int], list[int]]] = {
    "1-byte": lambda length: [length - 2],
    "1-byte-near": lambda length: [length - 2] if length > 130 else [],
    "7-byte": lambda length: [0],
    "bad-byte-alone": lambda length: [length - 2],
    "up-to-bad-byte": lambda length: [length - 2],
}
INSIDE_CHUNKINGS = list(_ENDS)
# A failing byte that ends its frame is read alike from 16 bytes before it or alone: 1-byte reads cover that.
ENDING_CHUNKINGS = ["1-byte", "7-byte", "up-to-bad-byte"]


def ending_points(chunking: str) -> tuple[tuple[int, int], ...]:
    """The failing byte is the last byte of its frame, for frames of every length."""
    return _points(_LENGTHS.get(chunking, range(1, 301)), lambda length: [length - 1])


def inside_points(chunking: str) -> tuple[tuple[int, int], ...]:
    """The failing byte arrives before its frame's last byte: every position of the longest frame,
    and in frames of every length the first position or the one before the last."""
    longest = _LONGEST.get(chunking, 300)
    every = _points(range(longest, longest + 1), lambda length: range(length - 1))
    ends = _points(_LENGTHS.get(chunking, range(2, 301)), _ENDS[chunking])
    return tuple(sorted({*every, *ends}))


@pytest.mark.parametrize("chunking", ENDING_CHUNKINGS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_bad_byte_that_completes_its_frame(impl: ModuleType, client: bool, layout: str, chunking: str) -> None:
    """The failing byte is the frame's last: the feed that completes the frame raises."""
    assert check_all(impl, sweep(layout, client, ending_points(chunking)), chunking) >= 130


@pytest.mark.parametrize("chunking", INSIDE_CHUNKINGS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_bad_byte_inside_its_frame(impl: ModuleType, client: bool, layout: str, chunking: str) -> None:
    """The failing byte arrives while its frame is incomplete: that very feed raises, not the one ending the frame."""
    assert check_all(impl, sweep(layout, client, inside_points(chunking)), chunking) >= 240


# ---------------------------------------------------------------- large frames (streamed) and their threshold

_BIG_POINTS = {
    # Positions in a 64 KiB frame, by reading: early, around the 4 KiB and 32 KiB marks, and the end.
    "1-byte": (10, 32768),  # reads from the very first byte: the most costly (one feed per byte)
    "1-byte-near": (0, 10, 4095, 4096, 32766, 32767, 32768, 32769, BIG - 2, BIG - 1),
    "7-byte": (0, 10, 4096, 32768),
    "bad-byte-alone": (0, 1, 2, 3, 10, 4095, 4096, 32767, 32768, 32769, 40000, BIG - 2, BIG - 1),
    "up-to-bad-byte": (0, 10, 4096, 32767, 32768, 32769, BIG - 2, BIG - 1),
}


@pytest.mark.parametrize("chunking", list(_BIG_POINTS))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_64k_payload(impl: ModuleType, client: bool, layout: str, chunking: str) -> None:
    """A 64 KiB frame (a 64-bit length; streamed when it arrives over several reads)."""
    points = tuple((BIG, at) for at in _BIG_POINTS[chunking])
    if chunking == "1-byte" and layout != "single":
        points = points[:1]  # the streamed payload is read alike in every layout: keep the run short
    cases = sweep(layout, client, points)
    ending = [case for case in cases if case.where is not None and case.where[1] == BIG - 1]
    inside = [case for case in cases if case not in ending]
    assert check_all(impl, ending, chunking) == len(ending)
    assert check_all(impl, inside, chunking) == len(inside)


@pytest.mark.parametrize("chunking", ["1-byte-near", "bad-byte-alone", "up-to-bad-byte", "7-byte"])
@pytest.mark.parametrize("length", [STREAM_MIN - 1, STREAM_MIN, 65535])
@pytest.mark.parametrize("client", CLIENTS)
def test_around_the_streaming_threshold(impl: ModuleType, client: bool, length: int, chunking: str) -> None:
    """32767 bytes is buffered, 32768 streamed, 65535 the largest 16-bit length: the same rule for each."""
    positions = (0, 100) if chunking == "7-byte" else (0, 100, length // 2, length - 2, length - 1)
    points = tuple((length, at) for at in positions)
    cases = [case for layout in LAYOUTS for case in sweep(layout, client, points)]
    assert check_all(impl, cases, chunking) == len(cases)


@pytest.mark.parametrize("client", CLIENTS)
def test_streamed_frame_fails_at_byte_10_with_1_byte_reads(impl: ModuleType, client: bool) -> None:
    """The issue's example: a 64 KiB text frame written a byte at a time, invalid at byte 10."""
    payload = bad_payload(BIG, 10, BADS[1])
    specs = [_spec(1, payload, True, client)]
    expected = expect(specs, client)
    assert expected.bad_at == header_size(specs[0]) + 10
    assert expected.wire == impl.encode_frame(1, payload, mask=None if client else KEY)
    decoder = impl.MessageDecoder(client=client)
    data = expected.wire
    for i in range(expected.bad_at):
        assert decoder.feed(data[i : i + 1]) == []
    with pytest.raises(ProtocolError) as info:
        decoder.feed(data[expected.bad_at : expected.bad_at + 1])
    assert (info.value.code, info.value.frames) == (1007, [])


# ---------------------------------------------------------------- a code point cut between frames


_SPLIT_CODE_POINTS = [
    # (end of the first frame, start of the continuation, index in the continuation of the failing byte)
    (b"\xe2\x82", b"A", 0),
    (b"\xed", b"\xa0\x80", 0),
    (b"\xf4", b"\x90\x80\x80", 0),
    (b"\xe0", b"\x80\x80", 0),
    (b"\xe2", b"\x82A", 1),
    (b"\xf0\x9d", b"\x84A", 1),
    (b"ok", b"\x80", 0),
]


@pytest.mark.parametrize("length", [50, 40000])
@pytest.mark.parametrize("chunking", ["7-byte", "bad-byte-alone", "up-to-bad-byte", "whole"])
@pytest.mark.parametrize("client", CLIENTS)
def test_code_point_cut_between_frames(impl: ModuleType, client: bool, chunking: str, length: int) -> None:
    """The validator's state crosses frames (and a PING between them): the continuation's failing byte fails."""
    cases = []
    for end, start, at in _SPLIT_CODE_POINTS:
        specs = [
            *preamble(client),
            _spec(1, b"text " + end, False, client),
            _spec(9, b"between", True, client),
            _spec(0, (start + filler(length))[:length], False, client),
            _spec(0, b"", True, client),
        ]
        cases.append(Case(f"{end!r}|{start!r} client={client}", tuple(specs), client, (len(specs) - 2, at)))
    assert check_all(impl, cases, chunking) == len(cases)


# ---------------------------------------------------------------- what comes before, and after


@pytest.mark.parametrize("big", [False, True], ids=["buffered", "streamed"])
@pytest.mark.parametrize("client", CLIENTS)
def test_items_before_the_bad_byte_in_the_same_read(impl: ModuleType, client: bool, big: bool) -> None:
    """A message and a PING completed by the read that carries the bad byte are on ``.frames``, in order."""
    length = BIG if big else 200
    specs = [*preamble(client), _spec(1, bad_payload(length, 20, BADS[4]), True, client)]
    expected = expect(specs, client)
    decoder = impl.MessageDecoder(client=client)
    assert decoder.feed(expected.wire[:1]) == []  # the first frame's first byte
    assert expected.bad_at is not None
    with pytest.raises(ProtocolError) as info:
        decoder.feed(expected.wire[1 : expected.bad_at + 1])
    assert info.value.code == 1007
    got = [(type(item).__name__, int(item.opcode), item.payload) for item in info.value.frames]
    assert got == [("Message", 1, "é".encode()), ("Frame", 9, b"p")]


@pytest.mark.parametrize("big", [False, True], ids=["buffered", "streamed"])
@pytest.mark.parametrize("client", CLIENTS)
def test_a_failed_decoder_raises_on_every_later_feed(impl: ModuleType, client: bool, big: bool) -> None:
    """After the 1007 every feed raises it again (the rest of the frame, a valid frame, nothing), delivering nothing."""
    length = BIG if big else 200
    specs = [*preamble(client), _spec(1, bad_payload(length, 30, BADS[3]), False, client), _spec(0, b"", True, client)]
    expected = expect(specs, client)
    assert expected.bad_at is not None
    decoder = impl.MessageDecoder(client=client)
    before = decoder.feed(expected.wire[: expected.bad_at])
    assert [(type(item).__name__, item.payload) for item in before] == [
        ("Message", "é".encode()),
        ("Frame", b"p"),
    ]
    with pytest.raises(ProtocolError) as first:
        decoder.feed(expected.wire[expected.bad_at : expected.bad_at + 1])
    assert (first.value.code, first.value.frames) == (1007, [])
    rest = expected.wire[expected.bad_at + 1 :]
    valid_frame = _spec(1, b"fine", True, client).encode()
    for more in [*by_size(rest[:21], 7), rest, valid_frame, b""]:
        with pytest.raises(ProtocolError) as again:
            decoder.feed(more)
        assert (again.value.code, again.value.reason, again.value.frames) == (1007, first.value.reason, [])


# ---------------------------------------------------------------- binary is never validated


@pytest.mark.parametrize("chunking", ["1-byte", "7-byte", "1000-byte", "whole"])
@pytest.mark.parametrize("client", CLIENTS)
def test_binary_with_invalid_utf8_is_delivered(impl: ModuleType, client: bool, chunking: str) -> None:
    """Invalid UTF-8 in a binary message (and a binary message ending inside a code point) is no 1007,
    and leaves no state behind for the text message after it; small frames and streamed ones."""
    lengths = [1, 2, 3, 50, 300] if chunking in ("1-byte", "7-byte") else [1, 300, STREAM_MIN, BIG]
    cases = []
    for bad, length, layout in itertools.product(BADS, lengths, LAYOUTS):
        at = min(length - 1, max(bad.offset, length // 3))
        if at < bad.offset:
            continue
        payload = bad_payload(length, at, bad)
        if layout == "single":
            frames = [_spec(2, payload, True, client)]
        elif layout == "first-fragment":
            frames = [_spec(2, payload, False, client), _spec(0, b"\xe2", True, client)]
        else:
            frames = [
                _spec(2, b"\xe2\x82", False, client),
                _spec(9, b"", True, client),
                _spec(0, payload, True, client),
            ]
        specs = [*preamble(client), *frames, _spec(1, b"A text after it", True, client)]
        cases.append(Case(f"{layout} {bad.name} length={length}", tuple(specs), client))
    assert check_all(impl, cases, chunking, expect_failure=False) == len(cases)


# ---------------------------------------------------------------- hypothesis: any chunking


def _no_close(specs: list[FrameSpec]) -> list[FrameSpec]:
    return [spec for spec in specs if spec.opcode != 8]


@st.composite
def text_bodies(draw: st.DrawFn) -> bytes:
    """Valid UTF-8: any text, now and then repeated past the streaming threshold, or a sized payload."""
    how = draw(st.sampled_from(("text", "text", "long", "sized")))
    if how == "sized":
        return draw(utf8_payloads())
    text = draw(st.text()).encode("utf-8")
    if how == "long" and text:
        text *= STREAM_MIN // len(text) + 1
    return text


@frame_settings(100)
@given(data=st.data())
def test_valid_text_never_raises(impl: ModuleType, data: st.DataObject) -> None:
    """Valid text, fragmented anywhere (code points cut between frames), PINGs between, any reads: delivered whole."""
    client = data.draw(st.booleans(), "client")
    key = st.none() if client else st.binary(min_size=4, max_size=4)
    bodies = data.draw(st.lists(text_bodies(), min_size=1, max_size=3), "bodies")
    specs: list[FrameSpec] = []
    for body in bodies:
        pieces = data.draw(split(body, 5))
        for i, piece in enumerate(pieces):
            if i and data.draw(st.booleans()):
                specs.append(FrameSpec(9, data.draw(st.binary(max_size=10)), mask=data.draw(key)))
            specs.append(FrameSpec(0 if i else 1, piece, fin=i == len(pieces) - 1, mask=data.draw(key)))
    stream = wire(specs)
    how = data.draw(st.sampled_from(("random", "1-byte", "7-byte")), "reads")
    if how == "random" or len(stream) > 1024:
        chunks = data.draw(chunked(stream), "chunks")
    else:
        chunks = by_size(stream, 1 if how == "1-byte" else 7)
    got = run(impl, chunks, client)
    assert got.error is None
    assert [item for item in got.delivered if item[0] == "message"] == [("message", 1, body) for body in bodies]
    assert got.feeds == expect(specs, client).feeds(chunks)[0]


@frame_settings(50)
@given(data=st.data())
def test_valid_streams_never_raise(impl: ModuleType, data: st.DataObject) -> None:
    """The shared valid streams (text and binary messages, control frames, large frames) at random reads."""
    client = data.draw(st.booleans(), "client")
    specs = _no_close(data.draw(valid_streams(not client), "specs"))
    chunks = data.draw(chunked(wire(specs)), "chunks")
    got = run(impl, chunks, client)
    assert got.error is None
    assert got.feeds == expect(specs, client).feeds(chunks)[0]


@frame_settings(150)
@given(data=st.data())
def test_bad_byte_at_any_reads(impl: ModuleType, data: st.DataObject) -> None:
    """Any valid stream first, then a text message with a failing byte anywhere, cut into random reads."""
    client = data.draw(st.booleans(), "client")
    before = _no_close(data.draw(valid_streams(not client, max_messages=2, big=False), "before"))
    bad = data.draw(st.sampled_from(BADS), "bad")
    length = data.draw(st.one_of(st.integers(1, 300), st.integers(STREAM_MIN - 8, BIG + 8)), "length")
    at = data.draw(st.integers(bad.offset, max(bad.offset, length - 1)), "at")
    length = max(length, at + 1)
    layout = data.draw(st.sampled_from(LAYOUTS), "layout")
    specs = before + text_message(layout, length, at, bad, client)
    expected = expect(specs, client)
    assert expected.bad_at is not None
    how = data.draw(st.sampled_from(("random", "random", "7-byte", "1-byte", "1-byte-near")), "reads")
    if how == "1-byte-near" or (how != "random" and expected.bad_at <= 1024):
        chunks = chunkings(how, expected.wire, expected.bad_at)
    else:
        chunks = data.draw(chunked(expected.wire), "chunks")
    got = run(impl, chunks, client)
    want_feeds, want_failed_at = expected.feeds(chunks)
    assert (got.failed_at, got.code) == (want_failed_at, 1007)
    assert got.feeds == want_feeds
