"""Hypothesis strategies for WebSocket frame streams, shared by the frame tests and the fuzz seeds.

Frames are described by :class:`FrameSpec` and put on the wire by
:func:`build_frame`, a deliberately naive encoder that is independent of
wscodec: it can write every frame RFC 6455 forbids (reserved opcodes, RSV
bits, oversized or fragmented control frames, non-minimal or 2**63 lengths,
the wrong mask direction), so the decoders can be tested against bytes they
did not produce themselves.

Strategies (all return ``SearchStrategy`` objects):

* :func:`valid_streams` - lists of frames forming well-formed messages:
  fragmented at random byte positions (code points of text split across
  fragments), PING/PONG interleaved between fragments, an optional CLOSE last;
* :func:`any_frames` / :func:`any_streams` - frames with every opcode, RSV
  combination, length form and mask direction, mostly valid, often not; and
  valid streams with a few frames changed, inserted or removed (bad UTF-8,
  bad CLOSE payloads, broken sequencing);
* :func:`chunked` - a byte string cut at random points, as a socket delivers it;
* :func:`garbage` - random bytes and valid streams with random bytes flipped;
* building blocks: :func:`payloads`, :func:`utf8_payloads`,
  :func:`close_payloads`, :func:`split`.

``wire(specs)`` joins the encoded frames of a stream. To seed a fuzzer, draw
outside a test with ``wire(valid_streams(masked=True).example())`` or encode
hand-written specs with :func:`build_frame`; ``tests/outcomes.py`` holds the
model of what a decoder must make of them.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from typing import Literal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "BOUNDARY_LENGTHS",
    "DATA_OPCODES",
    "FrameSpec",
    "LengthForm",
    "any_frames",
    "any_streams",
    "build_frame",
    "chunked",
    "close_payloads",
    "frame_settings",
    "garbage",
    "payloads",
    "split",
    "utf8_payloads",
    "valid_streams",
    "wire",
]

#: Payload lengths on both sides of every length-form boundary (7-bit, 16-bit, 64-bit).
BOUNDARY_LENGTHS = (0, 1, 125, 126, 127, 65535, 65536, 65537)
DATA_OPCODES = (1, 2)

#: How the payload length is written: the shortest form, or forced into the 16- or 64-bit form.
LengthForm = Literal["minimal", "16", "64"]


@dataclasses.dataclass(frozen=True, repr=False)
class FrameSpec:
    """One frame as a test wants it on the wire, valid or not.

    ``rsv`` holds the three RSV bits as ``rsv_allowed`` does (RSV1=4, RSV2=2,
    RSV3=1). ``mask`` is the 4-byte key, or None for an unmasked frame.
    ``declared`` overrides the length written in the header (for lengths too
    large to send); ``None`` writes ``len(payload)``.
    """

    opcode: int
    payload: bytes = b""
    fin: bool = True
    rsv: int = 0
    mask: bytes | None = None
    length_form: LengthForm = "minimal"
    declared: int | None = None

    @property
    def length(self) -> int:
        """The payload length the header announces."""
        return len(self.payload) if self.declared is None else self.declared

    @property
    def rsv_bits(self) -> tuple[bool, bool, bool]:
        """``(rsv1, rsv2, rsv3)`` as booleans."""
        return bool(self.rsv & 4), bool(self.rsv & 2), bool(self.rsv & 1)

    def encode(self) -> bytes:
        """The frame's bytes (see :func:`build_frame`)."""
        return build_frame(self)

    def __repr__(self) -> str:
        # Short enough for a test id: the payload by its length and first bytes.
        head = self.payload[:8]
        more = "..." if len(self.payload) > 8 else ""
        fields = [f"op={self.opcode}", f"{len(self.payload)}B={head!r}{more}"]
        fields += [] if self.fin else ["fin=False"]
        fields += [f"rsv={self.rsv}"] if self.rsv else []
        fields += ["masked"] if self.mask is not None else []
        fields += [] if self.length_form == "minimal" else [f"form={self.length_form}"]
        fields += [] if self.declared is None else [f"declared={self.declared}"]
        return f"FrameSpec({', '.join(fields)})"


def build_frame(spec: FrameSpec) -> bytes:
    """Encode ``spec`` byte by byte as RFC 6455 §5.2 lays a frame out, without judging it."""
    length = spec.length
    b0 = (0x80 if spec.fin else 0) | (spec.rsv & 7) << 4 | (spec.opcode & 0x0F)
    mbit = 0x80 if spec.mask is not None else 0
    form: str = spec.length_form
    if form == "minimal":
        form = "7" if length < 126 else "16" if length < 0x10000 else "64"
    if form == "7":
        head = bytes((b0, mbit | length))
    elif form == "16":
        head = bytes((b0, mbit | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + length.to_bytes(8, "big")
    if spec.mask is None:
        return head + spec.payload
    n = len(spec.payload)
    stream = (spec.mask * (n // 4 + 1))[:n]
    masked = int.from_bytes(spec.payload, "big") ^ int.from_bytes(stream, "big")
    return head + spec.mask + masked.to_bytes(n, "big")


def wire(specs: Sequence[FrameSpec]) -> bytes:
    """The bytes of a whole stream of frames."""
    return b"".join(spec.encode() for spec in specs)


def frame_settings(max_examples: int) -> settings:
    """Hypothesis settings for the frame suites: no deadline (the machine is shared), fixture reuse allowed.

    The ``impl`` fixture is a stateless module, so sharing it across examples is safe.
    """
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


# ---------------------------------------------------------------- payloads


def _lengths(max_small: int, big: bool) -> st.SearchStrategy[int]:
    small = st.integers(0, max_small)
    edges = st.sampled_from(BOUNDARY_LENGTHS if big else [n for n in BOUNDARY_LENGTHS if n <= max_small])
    return st.one_of(small, small, small, edges)  # mostly small, often a boundary


@st.composite
def payloads(draw: st.DrawFn, max_small: int = 200, big: bool = True) -> bytes:
    """Binary payloads: short ones drawn byte by byte, long ones from a drawn seed (cheap to shrink)."""
    n = draw(_lengths(max_small, big))
    if n <= 64:
        return draw(st.binary(min_size=n, max_size=n))
    return random.Random(draw(st.integers(0, 2**32))).randbytes(n)


@st.composite
def utf8_payloads(draw: st.DrawFn, max_small: int = 200, big: bool = True) -> bytes:
    """Valid UTF-8 of about a drawn length, with 1- to 4-byte code points."""
    n = draw(_lengths(max_small, big))
    unit = draw(st.text(min_size=1, max_size=8)).encode("utf-8")
    data = unit * (n // len(unit) + 1)
    cut = n
    while cut and (data[cut] & 0xC0) == 0x80:  # back off to a code-point boundary
        cut -= 1
    return data[:cut]


@st.composite
def split(draw: st.DrawFn, data: bytes, max_pieces: int = 5) -> list[bytes]:
    """``data`` cut at 0 to ``max_pieces - 1`` random points (empty pieces allowed)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=max_pieces - 1)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def chunked(data: bytes, max_chunks: int = 24) -> st.SearchStrategy[list[bytes]]:
    """``data`` as a socket might deliver it: cut at up to ``max_chunks - 1`` random points."""
    return split(data, max_chunks)


# ---------------------------------------------------------------- frames


def _keys(masked: bool) -> st.SearchStrategy[bytes | None]:
    return st.binary(min_size=4, max_size=4) if masked else st.none()


@st.composite
def close_payloads(draw: st.DrawFn) -> bytes:
    """Valid CLOSE payloads: empty, or a wire-legal code and a UTF-8 reason of at most 123 bytes."""
    if draw(st.booleans()):
        return b""
    code = draw(st.one_of(st.integers(1000, 1003), st.integers(1007, 1014), st.integers(3000, 4999)))
    reason = draw(st.text(max_size=30)).encode("utf-8")  # at most 120 bytes: within the 123-byte limit
    return code.to_bytes(2, "big") + reason


@st.composite
def _control(draw: st.DrawFn, key: st.SearchStrategy[bytes | None], close: bool = False) -> FrameSpec:
    if close:
        return FrameSpec(8, draw(close_payloads()), mask=draw(key))
    opcode = draw(st.sampled_from((9, 10)))
    return FrameSpec(opcode, draw(st.binary(max_size=125)), mask=draw(key))


@st.composite
def valid_streams(
    draw: st.DrawFn,
    masked: bool,
    max_messages: int = 4,
    big: bool = True,
    rsv_allowed: int = 0,
) -> list[FrameSpec]:
    """Well-formed streams: messages fragmented at random byte positions, control frames in between.

    ``masked`` is the direction: True for frames a client sends (a server's
    decoder reads them). RSV bits appear only where ``rsv_allowed`` allows.
    """
    key = _keys(masked)
    rsv = st.sampled_from([r for r in range(8) if not r & ~rsv_allowed])
    specs: list[FrameSpec] = []
    for _ in range(draw(st.integers(0, max_messages))):
        for _ in range(draw(st.integers(0, 1))):
            specs.append(draw(_control(key)))
        opcode = draw(st.sampled_from(DATA_OPCODES))
        body = draw(utf8_payloads(big=big) if opcode == 1 else payloads(big=big))
        pieces = draw(split(body, 4))
        for i, piece in enumerate(pieces):
            if i:
                for _ in range(draw(st.integers(0, 2))):
                    specs.append(draw(_control(key)))
            last = i == len(pieces) - 1
            specs.append(FrameSpec(0 if i else opcode, piece, fin=last, rsv=draw(rsv), mask=draw(key)))
    if draw(st.booleans()):
        specs.append(draw(_control(key, close=True)))
    return specs


@st.composite
def any_frames(draw: st.DrawFn, masked: bool, big: bool = False) -> FrameSpec:
    """A frame that is usually valid on its own but may break any header rule.

    Reserved opcodes, RSV bits, FIN clear on a control frame, the wrong mask
    direction, non-minimal length forms, control payloads past 125 bytes, and
    now and then a 2**63 (or larger-than-any-limit) declared length with no
    payload behind it.
    """
    rare = st.integers(0, 9).map(lambda n: n == 0)  # each violation in about 1 frame in 10
    opcode = draw(st.integers(0, 15) if draw(rare) else st.sampled_from((0, 1, 2, 8, 9, 10)))
    rsv = draw(st.integers(1, 7)) if draw(rare) else 0
    fin = not draw(rare) if opcode >= 8 else draw(st.booleans())
    key = draw(_keys(masked != draw(rare)))
    if opcode == 1 and draw(st.booleans()):
        payload = draw(utf8_payloads(big=big))
    elif opcode == 8 and draw(st.booleans()):
        payload = draw(close_payloads())
    else:
        payload = draw(payloads(max_small=140 if draw(rare) else 125, big=big))
    form: LengthForm = draw(st.sampled_from(("16", "64"))) if draw(rare) else "minimal"
    if form == "16" and len(payload) > 0xFFFF:
        form = "64"
    declared = None
    if draw(rare) and draw(st.booleans()):
        declared = draw(st.sampled_from((1 << 63, (1 << 64) - 1, 1 << 62, (1 << 63) - 1)))
        form, payload = "64", b""
    return FrameSpec(opcode, payload, fin=fin, rsv=rsv, mask=key, length_form=form, declared=declared)


# Invalid UTF-8; the last four are prefixes no continuation can complete (a fragment ending so must fail).
_BAD_UTF8 = (
    b"\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\x80",
    b"\xed\xa0",
    b"\xf4\x90",
    b"\xe0\x80",
    b"\xf0\x8f",
)
_BAD_CLOSE = (
    b"\x03",
    b"\x03\xe7",
    b"\x03\xec",
    b"\x03\xed",
    b"\x03\xee",
    b"\x03\xf7",
    b"\x13\x88",
    b"\x03\xe8\xff",
)


@st.composite
def _broken(draw: st.DrawFn, masked: bool) -> list[FrameSpec]:
    """A valid stream with one to three things wrong with it (a frame changed, inserted or removed)."""
    specs = draw(valid_streams(masked, big=False))
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(("insert", "insert", "delete", "change", "change", "change", "utf8", "close")))
        if how == "insert" or not specs:
            specs.insert(draw(st.integers(0, len(specs))), draw(any_frames(masked)))
            continue
        i = draw(st.integers(0, len(specs) - 1))
        spec = specs[i]
        if how == "delete":
            del specs[i]
        elif how == "utf8":
            at = draw(st.one_of(st.just(len(spec.payload)), st.integers(0, len(spec.payload))))
            bad = draw(st.sampled_from(_BAD_UTF8))
            specs[i] = dataclasses.replace(spec, payload=spec.payload[:at] + bad + spec.payload[at:])
        elif how == "close":
            specs[i] = dataclasses.replace(spec, opcode=8, fin=True, payload=draw(st.sampled_from(_BAD_CLOSE)))
        else:
            change = draw(st.sampled_from(("opcode", "rsv", "fin", "mask", "form", "payload")))
            if change == "opcode":
                spec = dataclasses.replace(spec, opcode=draw(st.integers(0, 15)))
            elif change == "rsv":
                spec = dataclasses.replace(spec, rsv=draw(st.integers(1, 7)))
            elif change == "fin":
                spec = dataclasses.replace(spec, fin=not spec.fin)
            elif change == "mask":
                spec = dataclasses.replace(spec, mask=None if spec.mask else b"\x01\x02\x03\x04")
            elif change == "form":
                forms = ("16", "64") if spec.length < 0x10000 else ("64",)  # a length must fit its form
                spec = dataclasses.replace(spec, length_form=draw(st.sampled_from(forms)))
            else:
                spec = dataclasses.replace(spec, payload=draw(payloads(max_small=300, big=False)))
            specs[i] = spec
    return specs


def any_streams(masked: bool, max_frames: int = 8, big: bool = False) -> st.SearchStrategy[list[FrameSpec]]:
    """Streams to judge: lists of :func:`any_frames`, or valid streams with a few things broken.

    A violation may come after frames that must still be delivered.
    """
    broken = _broken(masked)
    return st.one_of(st.lists(any_frames(masked, big=big), max_size=max_frames), broken, broken)


@st.composite
def garbage(draw: st.DrawFn) -> bytes:
    """Bytes a decoder must survive: random bytes, or a valid stream with some bytes overwritten."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    data = bytearray(wire(draw(valid_streams(draw(st.booleans()), max_messages=3, big=False))))
    for _ in range(draw(st.integers(1, 4)) if data else 0):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)
