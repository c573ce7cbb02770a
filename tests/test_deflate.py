"""permessage-deflate (RFC 7692 §7): PerMessageDeflate, MessageDecoder(deflate=), encode_message(deflate=).

Every test runs on both implementations (``impl``); the differential tests put
them side by side (``impls``, hypothesis). CPython's zlib is the independent
reference: what wscodec sends must inflate with ``zlib.decompressobj(-bits)``
using exactly the agreed window (the oracle's :class:`ZlibReceiver`), and what
``zlib.compressobj(level, DEFLATED, -bits, memLevel)`` sends must decode
(:class:`ZlibSender`). Frames are laid out and read back by the suite's own
code (tests/strategies.py and :func:`parse_frames`), not by wscodec's.
Negotiation has its own module, test_deflate_negotiation.py.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import functools
import gc
import importlib
import itertools
import random
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from outcomes import Item, Outcome, drive
from strategies import FrameSpec, build_frame, frame_settings, payloads, utf8_payloads
from together import in_threads
from tracing import traced, tracing

from wscodec import DeflateParams
from wscodec.benchmark.oracle import ZlibReceiver, xor_mask
from wscodec.errors import ProtocolError

TAIL = b"\x00\x00\xff\xff"  # what a sender strips and a receiver appends (RFC 7692 §7.2.1, §7.2.2)
KEY = b"\x37\xfa\x21\x3d"
RNG_SEED = 7692

#: The deflate backends and how to install each (CPython's zlib is always there).
BACKENDS = {
    "zlib": ("zlib", ""),
    "zlib-ng": ("zlib_ng.zlib_ng", "pip install zlib-ng"),
    "isal": ("isal.isal_zlib", "pip install isal"),
}


def available_backends() -> list[str]:
    """The backends importable here."""
    names = []
    for name, (module, _) in BACKENDS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        names.append(name)
    return names


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    """Each deflate backend; one that is not installed is skipped, saying how to install it."""
    name: str = request.param
    module, install = BACKENDS[name]
    try:
        importlib.import_module(module)
    except ImportError:
        pytest.skip(f"the {name} backend is not installed here ({install})")
    return name


# ---------------------------------------------------------------- the independent side: zlib and a frame reader


class ZlibSender:
    """A peer compressing with CPython's zlib as RFC 7692 §7.2.1 says: sync flush, tail removed.

    Without context takeover every message gets a fresh compressor.
    """

    def __init__(self, bits: int, takeover: bool = True, level: int = 6, mem_level: int = 8) -> None:
        self.bits, self.takeover, self.level, self.mem_level = bits, takeover, level, mem_level
        self._compressor: Any = None

    def payload(self, data: bytes) -> bytes:
        """The payload of one compressed message."""
        if self._compressor is None or not self.takeover:
            self._compressor = zlib.compressobj(self.level, zlib.DEFLATED, -self.bits, self.mem_level)
        out: bytes = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        if not out:
            return b"\x00"  # nothing since the last flush: an empty stored block's first byte (RFC 7692 §7.2.3.6)
        assert out.endswith(TAIL)
        return out[:-4]


class WireFrame(NamedTuple):
    """One frame as read back from the wire, payload unmasked."""

    fin: bool
    rsv1: bool
    rsv23: int
    opcode: int
    key: bytes | None
    payload: bytes


def parse_frames(data: bytes) -> list[WireFrame]:
    """Read back well-formed frames (RFC 6455 §5.2), byte by byte."""
    frames = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        pos += 2
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
        key = None
        if b1 & 0x80:
            key = data[pos : pos + 4]
            pos += 4
        payload = data[pos : pos + length]
        assert len(payload) == length, "truncated frame"
        pos += length
        frames.append(
            WireFrame(
                bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x30, b0 & 0x0F, key, xor_mask(payload, key) if key else payload
            )
        )
    return frames


def message_payloads(frames: Sequence[WireFrame]) -> list[tuple[int, bool, bytes]]:
    """The data messages in ``frames``: (opcode, compressed, payload as sent); control frames are skipped."""
    messages = []
    current: list[Any] | None = None
    for frame in frames:
        if frame.opcode >= 8:
            continue
        if frame.opcode:
            current = [frame.opcode, frame.rsv1, b""]
        assert current is not None
        current[2] += frame.payload
        if frame.fin:
            messages.append((current[0], current[1], current[2]))
            current = None
    return messages


# ---------------------------------------------------------------- wscodec's side


def deflate_params(direction: str, bits: int = 15, takeover: bool = True) -> DeflateParams:
    """Parameters with ``bits`` and ``takeover`` for the messages ``direction`` carries, the other direction
    set differently (so a side that mixed the two up would fail)."""
    other_bits = 15 if bits < 12 else 9
    if direction == "client-to-server":
        return DeflateParams(
            client_max_window_bits=bits,
            client_no_context_takeover=not takeover,
            server_max_window_bits=other_bits,
            server_no_context_takeover=takeover,
        )
    return DeflateParams(
        server_max_window_bits=bits,
        server_no_context_takeover=not takeover,
        client_max_window_bits=other_bits,
        client_no_context_takeover=takeover,
    )


DIRECTIONS = ("client-to-server", "server-to-client")


def sender(impl: ModuleType, params: DeflateParams, direction: str, **options: Any) -> Any:
    """The sending side's PerMessageDeflate for ``direction``."""
    return impl.PerMessageDeflate(params, client=direction == "client-to-server", **options)


def receiver(
    impl: ModuleType, params: DeflateParams, direction: str, *, backend: str | None = None, **options: Any
) -> Any:
    """The receiving side's MessageDecoder (with its PerMessageDeflate) for ``direction``."""
    client = direction == "server-to-client"
    deflate = impl.PerMessageDeflate(params, client=client, backend=backend)
    return impl.MessageDecoder(client=client, deflate=deflate, **options)


def key_for(direction: str) -> bytes | None:
    """A client masks what it sends; a server does not."""
    return KEY if direction == "client-to-server" else None


def frame(opcode: int, payload: bytes, direction: str, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """One frame as ``direction``'s sender puts it on the wire (the suite's own encoder)."""
    return build_frame(FrameSpec(opcode, payload, fin=fin, rsv=4 if rsv1 else 0, mask=key_for(direction)))


def compressed_message(
    opcode: int, payload: bytes, direction: str, pieces: int = 1, between: Sequence[bytes] = ()
) -> bytes:
    """A compressed payload as one message of ``pieces`` frames (RSV1 on the first), ``between`` frames
    (already on the wire) after each but the last."""
    cuts = [len(payload) * i // pieces for i in range(pieces + 1)]
    out = b""
    for i in range(pieces):
        last = i == pieces - 1
        out += frame(0 if i else opcode, payload[cuts[i] : cuts[i + 1]], direction, fin=last, rsv1=not i)
        if not last:
            out += b"".join(between)
    return out


def cut(data: bytes, how: int | str | None, seed: int = 0) -> list[bytes]:
    """``data`` as reads: whole (None), in pieces of ``how`` bytes, or cut at random points ("random")."""
    if how is None:
        return [data]
    if how == "random":
        rng = random.Random(seed)
        bounds = sorted({0, len(data), *(rng.randrange(len(data) + 1) for _ in range(len(data) // 50 + 5))})
        return [data[a:b] for a, b in itertools.pairwise(bounds)]
    assert isinstance(how, int)
    return [data[i : i + how] for i in range(0, len(data), how)] or [b""]


def receive(impl: ModuleType, decoder: Any, data: bytes, how: int | str | None = None) -> list[Item]:
    """Everything ``decoder`` delivers for ``data`` fed as ``how`` says; no error allowed."""
    outcome = drive(impl, decoder, cut(data, how))
    assert outcome.error is None, outcome.error
    return outcome.delivered


def outcome_of(impl: ModuleType, decoder: Any, data: bytes, how: int | str | None = None) -> Outcome:
    """What ``decoder`` made of ``data`` fed as ``how`` says, errors included."""
    return drive(impl, decoder, cut(data, how))


def msg(opcode: int, payload: bytes | str) -> Item:
    """A normalised data message."""
    return ("message", opcode, payload.encode() if isinstance(payload, str) else payload)


def ctl(opcode: int, payload: bytes = b"") -> Item:
    """A normalised control frame."""
    return ("frame", True, opcode, payload, False, False, False)


def words(rng: random.Random, n: int) -> bytes:
    """About ``n`` bytes of compressible, JSON-like UTF-8 text."""
    vocabulary = [
        '"id"',
        '"price"',
        "κόσμε",
        "☃",
        "😀",
        "true",
        "null",
        *(str(rng.randrange(10**6)) for _ in range(40)),
    ]
    out = []
    size = 0
    while size < n:
        word = rng.choice(vocabulary)
        out.append(word)
        size += len(word.encode()) + 1
    return " ".join(out).encode()[:n].decode("utf-8", "ignore").encode()


# ---------------------------------------------------------------- RFC 7692 §7.2.3, byte for byte

RFC_EXAMPLES = {
    "7.2.3.1-hello": (["c1 07 f2 48 cd c9 c9 07 00"], [b"Hello"]),
    "7.2.3.1-fragmented": (["41 03 f2 48 cd", "80 04 c9 c9 07 00"], [b"Hello"]),
    "7.2.3.2-sharing-the-window": (["c1 07 f2 48 cd c9 c9 07 00", "c1 05 f2 00 11 00 00"], [b"Hello", b"Hello"]),
    "7.2.3.3-no-compression": (["c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"], [b"Hello"]),
    "7.2.3.4-bfinal": (["c1 08 f3 48 cd c9 c9 07 00 00"], [b"Hello"]),
    "7.2.3.4-bfinal-then-sharing": (["c1 08 f3 48 cd c9 c9 07 00 00", "c1 05 f2 00 11 00 00"], [b"Hello", b"Hello"]),
    "7.2.3.5-two-blocks": (["c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"], [b"Hello"]),
    "7.2.3.6-empty-first-fragment": (["41 00", "80 07 f2 48 cd c9 c9 07 00"], [b"Hello"]),
}


def _masked(frames_hex: list[str]) -> bytes:
    """The same frames as a client sends them (masked with KEY)."""
    out = b""
    for item in parse_frames(bytes.fromhex(" ".join(frames_hex))):
        spec = FrameSpec(item.opcode, item.payload, fin=item.fin, rsv=4 if item.rsv1 else 0, mask=KEY)
        out += spec.encode()
    return out


@pytest.mark.parametrize("how", [None, 1, 3])
@pytest.mark.parametrize("name", RFC_EXAMPLES)
def test_rfc_7692_examples_decode(impl: ModuleType, name: str, how: int | None) -> None:
    frames_hex, messages = RFC_EXAMPLES[name]
    wanted = [msg(1, m) for m in messages]
    unmasked = bytes.fromhex(" ".join(frames_hex))
    client = impl.MessageDecoder(client=True, deflate=impl.PerMessageDeflate(DeflateParams(), client=True))
    assert receive(impl, client, unmasked, how) == wanted
    server = impl.MessageDecoder(deflate=impl.PerMessageDeflate(DeflateParams()))
    assert receive(impl, server, _masked(frames_hex), how) == wanted


def test_rfc_7692_examples_encode(impl: ModuleType) -> None:
    server = impl.PerMessageDeflate(DeflateParams())
    assert impl.encode_message(1, "Hello", deflate=server) == bytes.fromhex("c1 07 f2 48 cd c9 c9 07 00")  # §7.2.3.1
    assert impl.encode_message(1, "Hello", deflate=server) == bytes.fromhex("c1 05 f2 00 11 00 00")  # §7.2.3.2
    fresh = impl.PerMessageDeflate(DeflateParams())
    assert fresh.compress(b"Hello") == bytes.fromhex("f2 48 cd c9 c9 07 00")
    # §7.2.3.1 fragmented: the same payload, cut every 3 bytes, RSV1 on the first frame only.
    fragmented = impl.encode_message(1, b"Hello", deflate=impl.PerMessageDeflate(DeflateParams()), fragment_size=3)
    assert fragmented == bytes.fromhex("41 03 f2 48 cd 00 03 c9 c9 07 80 01 00")
    # Without context takeover the second message is compressed afresh: the same bytes as the first.
    reset = impl.PerMessageDeflate(DeflateParams(server_no_context_takeover=True))
    for _ in range(3):
        assert impl.encode_message(1, "Hello", deflate=reset) == bytes.fromhex("c1 07 f2 48 cd c9 c9 07 00")
    client = impl.PerMessageDeflate(DeflateParams(), client=True)
    wire = impl.encode_message(1, "Hello", deflate=client, mask=KEY)
    assert wire == FrameSpec(1, bytes.fromhex("f2 48 cd c9 c9 07 00"), rsv=4, mask=KEY).encode()


# ---------------------------------------------------------------- windows 9-15, each way, with and without takeover


def _window_messages(bits: int, seed: int) -> list[tuple[int, bytes | str]]:
    """Messages that tell windows apart: random data one window and 1000 bytes long, then 100 bytes of it from
    beyond the window and 100 from well inside it; text that repeats itself; an empty message."""
    rng = random.Random(seed)
    window = 1 << bits
    first = rng.randbytes(window + 1000)
    # zlib's compressor reaches back at most the window less 262 bytes (its lookahead)
    inside = len(first) + 100 - min(window // 2, window - 300)  # where the second message's last 100 bytes come from
    text = words(rng, window + 1000)
    return [
        (2, first),
        (2, first[:100] + first[inside : inside + 100]),
        (1, text.decode() + text[:300].decode("utf-8", "ignore")),
        (2, b""),
        (1, "héllo ☃ 😀 " * 20),
        (2, first[-100:] * 3),
    ]


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("bits", range(9, 16))
def test_what_we_send_inflates_with_exactly_the_agreed_window(
    impl: ModuleType, bits: int, direction: str, takeover: bool
) -> None:
    params = deflate_params(direction, bits, takeover)
    deflate = sender(impl, params, direction)
    peer = ZlibReceiver(bits, takeover)
    messages = _window_messages(bits, bits)
    sizes = []
    for opcode, payload in messages:
        data = payload.encode() if isinstance(payload, str) else payload
        frames = parse_frames(
            impl.encode_message(opcode, payload, mask=direction == "client-to-server" or None, deflate=deflate)
        )
        assert len(frames) == 1
        item = frames[0]
        assert (item.fin, item.rsv1, item.rsv23, item.opcode) == (True, True, 0, opcode)
        assert (item.key is not None) == (direction == "client-to-server")
        assert peer.message(item.payload) == data
        sizes.append(len(item.payload))
    # The repeat from inside the window is a back-reference only when the window is kept.
    if takeover:
        assert sizes[1] < 150
    else:
        assert sizes[1] > 200


@pytest.mark.parametrize("bits", [9, 11, 14])
def test_the_reference_receiver_catches_a_larger_window(bits: int) -> None:
    # The check above can fail: a sender that used zlib's largest window on the same messages is refused.
    peer = ZlibReceiver(bits)
    sent = ZlibSender(15)
    with pytest.raises(zlib.error, match="too far back"):
        for _, payload in _window_messages(bits, bits):
            peer.message(sent.payload(payload.encode() if isinstance(payload, str) else payload))


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("bits", range(9, 16))
def test_what_zlib_sends_decodes(impl: ModuleType, bits: int, direction: str, takeover: bool) -> None:
    params = deflate_params(direction, bits, takeover)
    peer = ZlibSender(bits, takeover, level=9, mem_level=9)
    wire = b""
    wanted = []
    ping = frame(9, b"between", direction)
    for i, (opcode, payload) in enumerate(_window_messages(bits, bits + 100)):
        data = payload.encode() if isinstance(payload, str) else payload
        wire += compressed_message(opcode, peer.payload(data), direction, pieces=1 + i % 3, between=[ping])
        wanted += [ctl(9, b"between")] * (i % 3) + [msg(opcode, data)]
    for how in (None, 7):
        assert receive(impl, receiver(impl, params, direction), wire, how) == wanted


@pytest.mark.parametrize("mem_level", [1, 5, 8, 9])
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_every_level_and_memory_level_inflates_with_zlib(impl: ModuleType, level: int, mem_level: int) -> None:
    rng = random.Random(level * 10 + mem_level)
    for bits in (9, 12, 15):
        deflate = impl.PerMessageDeflate(DeflateParams(server_max_window_bits=bits), level=level, mem_level=mem_level)
        peer = ZlibReceiver(bits)
        for data in (words(rng, 3000), rng.randbytes(700), b"", words(rng, 100) * 30, words(rng, 80_000)):
            assert peer.message(deflate.compress(data)) == data


# ---------------------------------------------------------------- the two implementations: the same bytes


def test_both_implementations_compress_to_the_same_bytes(impls: list[ModuleType]) -> None:
    rng = random.Random(RNG_SEED)
    messages = [words(rng, 2000), rng.randbytes(300), b"", words(rng, 80_000), "☃ text", b"x"]
    for bits in (9, 12, 15):
        for reset in (False, True):
            for level in range(10):
                for mem_level in (1, 5, 9):
                    params = DeflateParams(client_max_window_bits=bits, client_no_context_takeover=reset)
                    sides = [
                        impl.PerMessageDeflate(params, client=True, level=level, mem_level=mem_level) for impl in impls
                    ]
                    for payload in messages:
                        outs = {side.compress(payload) for side in sides}
                        assert len(outs) == 1, (bits, reset, level, mem_level)
    # encode_message too, framing and masking included.
    params = DeflateParams(client_max_window_bits=11)
    sides = [impl.PerMessageDeflate(params, client=True) for impl in impls]
    for fragment_size in (None, 1, 100, 70_000):
        for payload in messages:
            wires = {
                impl.encode_message(1, payload, mask=KEY, deflate=side, fragment_size=fragment_size)
                for impl, side in zip(impls, sides, strict=True)
            }
            assert len(wires) == 1


# ---------------------------------------------------------------- backends


def test_backend_names_and_default(impl: ModuleType, backend: str) -> None:
    assert impl.PerMessageDeflate(DeflateParams(), backend=backend).backend == backend
    assert impl.PerMessageDeflate(DeflateParams()).backend == "zlib"
    assert impl.PerMessageDeflate(DeflateParams(), backend=None).backend == "zlib"


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
def test_every_backend_talks_to_every_backend_and_to_zlib(impl: ModuleType, backend: str, takeover: bool) -> None:
    rng = random.Random(RNG_SEED)
    direction = "client-to-server"
    for bits in (9, 15):
        params = deflate_params(direction, bits, takeover)
        messages = [words(rng, 5000), b"", rng.randbytes(1 << bits), words(rng, 80_000), words(rng, 40)]
        deflate = sender(impl, params, direction, backend=backend)
        wire = b"".join(impl.encode_message(2, m, mask=True, deflate=deflate, fragment_size=4000) for m in messages)
        peer = ZlibReceiver(bits, takeover)
        assert [peer.message(p) for _, _, p in message_payloads(parse_frames(wire))] == messages
        for other in available_backends():
            decoder = receiver(impl, params, direction, backend=other)
            assert receive(impl, decoder, wire, "random") == [msg(2, m) for m in messages], other
        # and what zlib sends decodes with this backend
        zsend = ZlibSender(bits, takeover)
        wire = b"".join(compressed_message(2, zsend.payload(m), direction, pieces=2) for m in messages)
        assert receive(impl, receiver(impl, params, direction, backend=backend), wire, 1000) == [
            msg(2, m) for m in messages
        ]


def test_levels_per_backend(impl: ModuleType, backend: str) -> None:
    top = 3 if backend == "isal" else 9
    for level in range(top + 1):
        deflate = impl.PerMessageDeflate(DeflateParams(), backend=backend, level=level)
        assert ZlibReceiver(15).message(deflate.compress(b"level " * 50)) == b"level " * 50
    for level in (-1, top + 1, 100):
        with pytest.raises(ValueError, match="level"):
            impl.PerMessageDeflate(DeflateParams(), backend=backend, level=level)
    for mem_level in (0, 10):
        with pytest.raises(ValueError, match="mem_level"):
            impl.PerMessageDeflate(DeflateParams(), backend=backend, mem_level=mem_level)


# ---------------------------------------------------------------- chunking, fragments, control frames


def _conversation(direction: str, seed: int, large: int) -> tuple[bytes, list[Item]]:
    """A stream as zlib would send it: compressed and plain messages, fragmented, control frames between
    fragments, empty messages, ``large`` random bytes; and what a decoder must deliver for it."""
    rng = random.Random(seed)
    peer = ZlibSender(15)
    ping, pong = frame(9, b"p", direction), frame(10, b"", direction)
    wire = b""
    wanted: list[Item] = []
    texts = [words(rng, n) for n in (10, 2000, 20_000)] + ["ünïcödé ☃ 😀 split".encode(), b""]
    for i, data in enumerate([*texts, rng.randbytes(large), bytes(100_000)]):
        opcode = 2 if i >= len(texts) else 1
        pieces = 1 + i % 4
        if i % 3 == 2:  # sent uncompressed: RSV1 clear, the window untouched
            cuts = [len(data) * k // pieces for k in range(pieces + 1)]
            for k in range(pieces):
                wire += frame(0 if k else opcode, data[cuts[k] : cuts[k + 1]], direction, fin=k == pieces - 1)
                if k < pieces - 1:
                    wire += ping
        else:
            wire += compressed_message(opcode, peer.payload(data), direction, pieces, [ping, pong])
        wanted += [ctl(9, b"p"), ctl(10)] * (pieces - 1) if i % 3 != 2 else [ctl(9, b"p")] * (pieces - 1)
        wanted.append(msg(opcode, data))
    return wire, wanted


@pytest.mark.parametrize("how", [1, 7, "random", None])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_chunking(impl: ModuleType, direction: str, how: int | str | None) -> None:
    # A compressed frame past 64 KiB too (the compiled decoder streams large frames), except byte by byte.
    wire, wanted = _conversation(direction, 1, 3000 if how == 1 else 70_000)
    assert receive(impl, receiver(impl, DeflateParams(), direction), wire, how) == wanted


@pytest.mark.parametrize("fragment_size", [1, 2, 3, 7, 125, 126, 65535, 65536, None])
def test_fragment_sizes(impl: ModuleType, fragment_size: int | None) -> None:
    rng = random.Random(fragment_size)
    params = DeflateParams()
    client, twin = (impl.PerMessageDeflate(params, client=True) for _ in range(2))
    decoder = impl.MessageDecoder(deflate=impl.PerMessageDeflate(params))
    large = 70_000 if fragment_size is None or fragment_size > 100 else 700  # frames of every length form
    for opcode, data in ((1, words(rng, 3000)), (2, rng.randbytes(large)), (2, b""), (1, b"x")):
        wire = impl.encode_message(opcode, data, mask=True, deflate=client, fragment_size=fragment_size)
        frames = parse_frames(wire)
        payload = twin.compress(data)
        step = fragment_size or len(payload)
        assert len(frames) == max(1, -(-len(payload) // step))
        for i, item in enumerate(frames):
            assert item.opcode == (0 if i else opcode)
            assert item.rsv1 == (i == 0) and item.rsv23 == 0
            assert item.fin == (i == len(frames) - 1)
            assert item.key is not None
            assert len(item.payload) <= step
        assert b"".join(item.payload for item in frames) == payload
        assert receive(impl, decoder, wire, 997) == [msg(opcode, data)]


@pytest.mark.parametrize("how", [None, 1])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_control_frames_between_compressed_fragments(impl: ModuleType, direction: str, how: int | None) -> None:
    rng = random.Random(3)
    text = words(rng, 20_000)
    peer = ZlibSender(15)
    controls = [frame(9, b"ping 1", direction), frame(10, b"pong", direction), frame(9, b"", direction)]
    wire = compressed_message(1, peer.payload(text), direction, pieces=4, between=controls)
    wire += compressed_message(2, peer.payload(b"after"), direction)  # the window was not disturbed
    wire += frame(8, (1000).to_bytes(2, "big"), direction)
    wire += compressed_message(2, peer.payload(b"never delivered"), direction)
    between = [ctl(9, b"ping 1"), ctl(10, b"pong"), ctl(9)]
    assert receive(impl, receiver(impl, DeflateParams(), direction), wire, how) == [
        *between * 3,
        msg(1, text),
        msg(2, b"after"),
        ctl(8, (1000).to_bytes(2, "big")),
    ]


# ---------------------------------------------------------------- BFINAL (RFC 7692 §7.2.3.4)


def _final(data: bytes, zdict: bytes = b"", bits: int = 15) -> bytes:
    """``data`` compressed as a whole deflate stream (its last block has BFINAL set), primed with ``zdict``."""
    compressor = (
        zlib.compressobj(6, zlib.DEFLATED, -bits, 8, zdict=zdict)
        if zdict
        else zlib.compressobj(6, zlib.DEFLATED, -bits, 8)
    )
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


@pytest.mark.parametrize("how", [None, 1, 7, "random"])
def test_bfinal_then_a_back_reference_into_the_previous_message(impl: ModuleType, how: int | str | None) -> None:
    rng = random.Random(4)
    first = words(rng, 20_000)
    second = first[-5000:-3000] + b" new " + first[100:300]  # only back-references into the first message
    third = second[:1000] + first[-200:]
    payloads = [
        _final(first) + b"\x00",  # as §7.2.3.4 sends it: a padding byte after the final block
        _final(second, zdict=first),  # and without it
    ]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zdict=(first + second)[-32768:])
    payloads.append((compressor.compress(third) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4])
    payloads.append((compressor.compress(first[:3000]) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4])
    for direction in DIRECTIONS:
        wire = b"".join(compressed_message(1, p, direction, pieces=1 + i) for i, p in enumerate(payloads))
        assert receive(impl, receiver(impl, DeflateParams(), direction), wire, how) == [
            msg(1, first),
            msg(1, second),
            msg(1, third),
            msg(1, first[:3000]),
        ]


def test_bfinal_ending_a_fragment(impl: ModuleType) -> None:
    # The final block ends in the first fragment; the padding byte comes alone in the next one.
    hello = _final(b"Hello")
    wire = frame(1, hello, "server-to-client", fin=False, rsv1=True) + frame(0, b"\x00", "server-to-client")
    wire += frame(1, bytes.fromhex("f2 00 11 00 00"), "server-to-client", rsv1=True)
    decoder = receiver(impl, DeflateParams(), "server-to-client")
    assert receive(impl, decoder, wire) == [msg(1, b"Hello"), msg(1, b"Hello")]


@pytest.mark.parametrize("bits", [9, 12])
@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
def test_bfinal_with_a_small_window_and_without_takeover(impl: ModuleType, bits: int, takeover: bool) -> None:
    rng = random.Random(bits)
    window = 1 << bits
    history = b""
    wire = b""
    wanted = []
    for _ in range(6):
        data = (history[-window // 2 :] if takeover else b"") + words(rng, window // 2)
        wire += frame(
            1, _final(data, zdict=history[-window:] if takeover else b"", bits=bits), "client-to-server", rsv1=True
        )
        wanted.append(msg(1, data))
        history += data
    params = deflate_params("client-to-server", bits, takeover)
    assert receive(impl, receiver(impl, params, "client-to-server"), wire, 5) == wanted


# ---------------------------------------------------------------- RSV1 where it does not belong

_HELLO = bytes.fromhex("f2 48 cd c9 c9 07 00")

RSV1_CASES = {
    "continuation": ([(1, _HELLO[:3], False, True), (0, _HELLO[3:], True, True)], "RSV1 set on a continuation frame"),
    "continuation-of-a-plain-message": (
        [(1, b"He", False, False), (0, b"llo", True, True)],
        "RSV1 set on a continuation frame",
    ),
    "ping": ([(9, b"", True, True)], "RSV1 set on a control frame"),
    "pong": ([(10, b"x", True, True)], "RSV1 set on a control frame"),
    "close": ([(8, (1000).to_bytes(2, "big"), True, True)], "RSV1 set on a control frame"),
    "ping-between-fragments": ([(1, _HELLO[:3], False, True), (9, b"", True, True)], "RSV1 set on a control frame"),
}


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("case", RSV1_CASES)
def test_rsv1_in_every_wrong_place_is_1002(impl: ModuleType, case: str, direction: str) -> None:
    frames, reason = RSV1_CASES[case]
    before = compressed_message(1, _HELLO, direction)  # delivered first: on the error's .frames
    wire = [before] + [frame(op, payload, direction, fin=fin, rsv1=rsv1) for op, payload, fin, rsv1 in frames]
    *good, bad = wire
    decoder = receiver(impl, DeflateParams(), direction)
    assert receive(impl, decoder, b"".join(good)) == [msg(1, b"Hello")]
    header = bad[: 6 if direction == "client-to-server" else 2]  # the header alone makes the violation certain
    with pytest.raises(ProtocolError) as info:
        decoder.feed(header)
    assert (info.value.code, info.value.reason) == (1002, reason)
    # All in one read: the message before the bad frame is on the error's .frames.
    outcome = outcome_of(impl, receiver(impl, DeflateParams(), direction), b"".join(wire))
    assert (outcome.error, outcome.delivered) == ((1002, reason), [msg(1, b"Hello")])


@pytest.mark.parametrize("opcode", [1, 2, 0, 9, 10, 8])
def test_rsv1_without_a_negotiated_deflate_is_1002(impl: ModuleType, opcode: int) -> None:
    start = frame(1, b"He", "client-to-server", fin=False) if opcode == 0 else b""
    wire = start + frame(opcode, b"\x03\xe8" if opcode == 8 else b"llo", "client-to-server", rsv1=True)
    outcome = outcome_of(impl, impl.MessageDecoder(), wire)
    assert outcome.error == (1002, "reserved bit set without a negotiated extension")


@pytest.mark.parametrize("rsv", [2, 1, 6, 7])
def test_rsv2_and_rsv3_stay_refused_with_deflate(impl: ModuleType, rsv: int) -> None:
    wire = FrameSpec(1, _HELLO, rsv=rsv).encode()
    decoder = receiver(impl, DeflateParams(), "server-to-client")
    assert outcome_of(impl, decoder, wire).error == (1002, "reserved bit set without a negotiated extension")


# ---------------------------------------------------------------- corrupt, truncated, too far back

CORRUPT = {
    "reserved-block-type": b"\x06\x00",
    "invalid-block-type-ff": b"\xff\xff\xff",
    "bad-stored-lengths": b"\x00\x05\x00\x00\x00Hello",
    "distance-before-any-output": bytes.fromhex("f2 00 11 00 00"),
    "bad-code-lengths": bytes.fromhex("ec fd 00 00 ff ff"),
}


@pytest.mark.parametrize("how", [None, 1])
@pytest.mark.parametrize("case", CORRUPT)
def test_corrupt_data_is_1007(impl: ModuleType, case: str, how: int | None) -> None:
    with pytest.raises(zlib.error):  # zlib agrees that it is corrupt
        zlib.decompressobj(-15).decompress(CORRUPT[case] + TAIL)
    for direction in DIRECTIONS:
        wire = compressed_message(1, _HELLO, direction) + compressed_message(2, CORRUPT[case], direction)
        wire += compressed_message(1, b"\x00", direction)
        params = DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True)
        outcome = outcome_of(impl, receiver(impl, params, direction), wire, how)
        assert outcome.code == 1007
        assert outcome.error is not None and outcome.error[1].startswith("invalid compressed data")
        assert outcome.delivered == [msg(1, b"Hello")]


@pytest.mark.parametrize("step", [1, 7, 1000])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_corrupt_data_fails_in_the_feed_that_shows_it(impl: ModuleType, direction: str, step: int) -> None:
    rng = random.Random(step)
    good = ZlibSender(15).payload(words(rng, 30_000))
    found = 0
    for at in range(len(good) // 5, len(good), len(good) // 5):
        payload = good[:at] + bytes(rng.randrange(256) for _ in range(40))
        wire = frame(2, payload, direction, rsv1=True)
        chunks = cut(wire, step)
        when = _zlib_error_feed(payload, len(wire) - len(payload), chunks)
        if when is None:
            continue  # the garbage happened to inflate (ends inside a block): not what this test is about
        found += 1
        outcome = outcome_of(impl, receiver(impl, DeflateParams(), direction), wire, step)
        assert (outcome.code, outcome.failed_at) == (1007, when)
    assert found >= 2


def _zlib_error_feed(payload: bytes, header: int, chunks: list[bytes]) -> int | None:
    """The index of the read after which zlib, inflating the payload as it arrives, reports an error."""
    inflater = zlib.decompressobj(-15)
    fed = 0
    for i, chunk in enumerate(chunks):
        start, fed = fed, fed + len(chunk)
        try:
            inflater.decompress(payload[max(0, start - header) : max(0, fed - header)])
        except zlib.error:
            return i
    try:
        inflater.decompress(TAIL)
    except zlib.error:
        return len(chunks) - 1
    return None


@pytest.mark.parametrize("kept", range(1, 7))
def test_a_truncated_compressed_message_is_1007(impl: ModuleType, kept: int) -> None:
    # "Hello" (§7.2.3.1) cut short inside its block: with the tail appended it still does not end at a block
    # boundary. It must not be delivered (it inflates to b"H`", b"Heh", b"Helh", ...), nor leave the next
    # message to fail for it.
    wire = compressed_message(1, _HELLO[:kept], "server-to-client") + compressed_message(1, _HELLO, "server-to-client")
    outcome = outcome_of(impl, receiver(impl, DeflateParams(server_no_context_takeover=True), "server-to-client"), wire)
    assert outcome.code == 1007
    assert outcome.delivered == []


# A message compressed with a final block (Z_FINISH; RFC 7692 7.2.3.4 allows it), fixed Huffman codes.
_FINAL_FIXED = bytes.fromhex("f348cdc9c9d75128cf2fca495154f040e1252625a7a4a6a56764660100")
# Found cut short where the two implementations judged differently: our tail's bytes decode as codes of
# the block cut open (one as a final dynamic block whose end-of-block code 03 00 begins; one as a block
# that then ends between blocks, bits pending). Each inflates, with the tail, to bytes the peer never sent.
_TAIL_READ_AS_CODES = [
    "15c1010100000883b0446425253dbc9b158248888d0fc934190dcb012bd4929e425a6210118260a4912910a66814954218"
    "34a4162644589156285812",
    "1c8cc90d000008c2e27c0cd3fd7f52e2452a9a5c388baacb92929386c526d585e871df8d7dc0b3dd4ad150af",
]


@pytest.mark.parametrize("kept", range(1, len(_FINAL_FIXED) + 1))
def test_a_final_block_cut_short_is_1007(impl: ModuleType, kept: int) -> None:
    # Cut anywhere, the final block's end comes from our tail's bits (its zeros are a fixed block's
    # end-of-block code): zlib inflates it to a shortened message ("Hello, wh"). Whole, it is delivered.
    params = DeflateParams(server_no_context_takeover=True)
    wire = compressed_message(1, _FINAL_FIXED[:kept], "server-to-client")
    outcome = outcome_of(impl, receiver(impl, params, "server-to-client"), wire)
    if kept == len(_FINAL_FIXED):
        assert (outcome.code, outcome.delivered) == (None, [msg(1, b"Hello, world! Hello, world! abcdefghij")])
    else:
        assert (outcome.code, outcome.delivered) == (1007, [])


@pytest.mark.parametrize("body", _TAIL_READ_AS_CODES)
def test_a_message_whose_tail_inflates_as_codes_is_1007(impl: ModuleType, body: str) -> None:
    for direction in DIRECTIONS:
        params = DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True)
        outcome = outcome_of(
            impl, receiver(impl, params, direction), compressed_message(2, bytes.fromhex(body), direction)
        )
        assert (outcome.code, outcome.delivered) == (1007, [])


def test_cut_messages_get_the_same_verdict_from_both_implementations(impls: list[ModuleType]) -> None:
    # Whole, a message is delivered as sent; cut short by 1-5 bytes (a final block, or a sync flush's),
    # the implementations agree: refused, or (rarely: the cut fell between blocks) what zlib inflates.
    rng = random.Random(7692)
    params = DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True)
    for _ in range(400):
        message = bytes(rng.choice(b'abcde{}:,"0123') for _ in range(rng.randrange(1, 400)))
        compressor = zlib.compressobj(rng.randrange(1, 10), zlib.DEFLATED, -15, 8, rng.choice([0, 1, 2, 3]))
        final = rng.random() < 0.5
        body = compressor.compress(message) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
        body = body if final else body[:-4]
        for shortened in range(min(6, len(body))):
            wire = compressed_message(2, body[: len(body) - shortened], "server-to-client")
            outcomes = {
                (o.code, tuple(o.delivered))
                for o in (outcome_of(impl, receiver(impl, params, "server-to-client"), wire) for impl in impls)
            }
            assert len(outcomes) == 1, (body.hex(), shortened, outcomes)
            ((code, delivered),) = outcomes
            if code is None:  # delivered: then as zlib inflates it with the tail (whole: the message sent)
                inflated = zlib.decompressobj(-15).decompress(body[: len(body) - shortened] + TAIL)
                assert delivered == (msg(2, inflated),)
                assert shortened or inflated == message
            else:
                assert shortened and code == 1007


def test_an_empty_compressed_payload_is_refused_or_harmless(impl: ModuleType) -> None:
    # RSV1 with no payload at all is not a deflate block (an empty message is sent as 00, §7.2.3.6): either it
    # is refused (1007) or it is an empty message and the next message still decodes.
    wire = frame(1, b"", "server-to-client", rsv1=True) + compressed_message(1, _HELLO, "server-to-client")
    outcome = outcome_of(impl, receiver(impl, DeflateParams(), "server-to-client"), wire, 2)
    assert (outcome.code, outcome.delivered) in ((1007, []), (None, [msg(1, b""), msg(1, b"Hello")]))


def _too_far_across_messages(bits: int, seed: int) -> list[bytes]:
    """Two payloads from a compressor with zlib's largest window: the second refers back beyond ``bits``."""
    first = random.Random(seed).randbytes((1 << bits) + 100)
    sent = ZlibSender(15, level=9, mem_level=9)
    return [sent.payload(first), sent.payload(first[:300])]


@pytest.mark.parametrize(("bits", "how"), [(8, None), (9, None), (9, 7), (12, None), (14, 1000)])
def test_a_peer_using_a_larger_window_than_agreed_is_1007(
    impl: ModuleType, backend: str, bits: int, how: int | None
) -> None:
    for direction in DIRECTIONS:
        params = deflate_params(direction, bits) if bits > 8 else DeflateParams(server_max_window_bits=8)
        if bits == 8 and direction == "client-to-server":
            params = DeflateParams(client_max_window_bits=8)
        wire = b"".join(compressed_message(2, p, direction) for p in _too_far_across_messages(bits, bits))
        outcome = outcome_of(impl, receiver(impl, params, direction, backend=backend), wire, how)
        if backend == "isal":
            # isal's inflater keeps a 32 KiB window whatever it is told and checks distances against
            # that only: a peer that exceeds the agreed window is decoded (documented limitation).
            assert outcome.code is None
            assert [len(item[2]) for item in outcome.delivered] == [(1 << bits) + 100, 300]
            continue
        assert outcome.code == 1007, (direction, outcome.delivered and len(outcome.delivered))
        assert [len(item[2]) for item in outcome.delivered] == [(1 << bits) + 100]


@pytest.mark.parametrize("how", [None, 7])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("at", [1000, 32_740, 32_592, 65_530])
def test_a_reference_beyond_the_window_inside_one_message(
    impl: ModuleType, at: int, direction: str, how: int | None
) -> None:
    # A 9-bit window agreed, one message that repeats 60 bytes from 600 bytes back, at several offsets.
    # zlib judges a distance against the window plus what the same inflate call has produced (up to
    # 32 KiB, given the input at hand): both implementations make the same calls, so they agree, and
    # a reference that reaches before both is 1007. Within that span zlib cannot see it (documented).
    data = random.Random(at).randbytes(at)
    data += data[at - 600 : at - 540]
    wire = frame(2, ZlibSender(15, level=9, mem_level=9).payload(data), direction, rsv1=True)
    outcome = outcome_of(impl, receiver(impl, deflate_params(direction, 9), direction), wire, how)
    # Whole reads: the message's first 32 KiB come out of one call, so a reference inside them is not
    # seen (at 1000 and 32592); past them (32740, 65530) it is. 7-byte reads inflate a few bytes a call.
    unseen = how is None and at + 60 <= 32_768
    expected = (None, [msg(2, data)]) if unseen else (1007, [])
    assert (outcome.code, outcome.delivered) == expected


# ---------------------------------------------------------------- bombs and the message budget


@functools.lru_cache(maxsize=1)
def _records_base() -> bytes:
    rng = random.Random(5)
    return b"".join(b'{"id":%d,"price":%d},' % (rng.randrange(10**6), rng.randrange(10**4)) for _ in range(60_000))


def _records(n: int) -> bytes:
    """``n`` bytes of ASCII JSON-like records with random numbers (about 3:1 under deflate), up to 1 MiB."""
    base = _records_base()
    assert n <= len(base)
    return base[:n]


#: Messages at several deflate ratios, each of exactly the size asked for.
BOMBS: dict[str, Callable[[int], bytes]] = {
    "zeros": bytes,  # about 1030:1, deflate's most
    "pattern": lambda n: (b"0123456789abcdef" * (n // 16 + 1))[:n],
    "repeated-5000": lambda n: (_records(5000) * (n // 5000 + 1))[:n],  # about 100:1
    "records": _records,
}


@functools.lru_cache(maxsize=64)
def _bomb(kind: str, size: int) -> tuple[bytes, bytes]:
    """A message of ``size`` bytes of ``kind`` and its payload compressed by zlib at its best."""
    data = BOMBS[kind](size)
    return data, ZlibSender(15, level=9, mem_level=9).payload(data)


@pytest.mark.parametrize("limit", [0, 1, 1000, 65_536, 1 << 20])
@pytest.mark.parametrize("kind", BOMBS)
def test_the_exact_limit_passes_and_one_byte_more_is_1009(impl: ModuleType, kind: str, limit: int) -> None:
    for direction in DIRECTIONS:
        for size in (limit, limit + 1):
            data, payload = _bomb(kind, size)
            for pieces, how in ((1, None), (3, 4093)):
                wire = compressed_message(2, payload, direction, pieces=pieces)
                decoder = receiver(impl, DeflateParams(), direction, max_message_size=limit, max_frame_size=1 << 24)
                outcome = outcome_of(impl, decoder, wire, how)
                if size == limit:
                    assert outcome.error is None and outcome.delivered == [msg(2, data)]
                else:
                    assert outcome.error == (1009, "message exceeds the size limit once inflated")


@pytest.mark.parametrize("limit", [0, 1000, 4096])
def test_a_message_at_the_limit_passes_whatever_its_compressed_size(impl: ModuleType, limit: int) -> None:
    # max_message_size bounds the inflated message. Random data (and an empty message, payload 00) compresses to
    # a few bytes more than it holds: with the default max_frame_size that must not make it 1009.
    data = random.Random(limit).randbytes(limit)
    for direction in DIRECTIONS:
        wire = compressed_message(2, ZlibSender(15).payload(data), direction)
        outcome = outcome_of(impl, receiver(impl, DeflateParams(), direction, max_message_size=limit), wire)
        assert (outcome.error, outcome.delivered) == (None, [msg(2, data)])


# Where the compiled decoder's message output changes hands: its small buffer (4 KiB), the bytes object
# it then grows in (doubling), an inflate call's 32 KiB of output.
_OUTPUT_EDGES = [4095, 4096, 4097, 8192, 8193, 32768, 32769, 65536, 65537, 131073]


@pytest.mark.parametrize("size", _OUTPUT_EDGES)
@pytest.mark.parametrize(("pieces", "how"), [(1, None), (3, None), (3, "random")])
def test_messages_across_the_output_buffers_edges_and_limits(
    impl: ModuleType, size: int, pieces: int, how: str | None
) -> None:
    data = random.Random(size).randbytes(size // 2) + bytes(size - size // 2)
    for compressed in (True, False):
        payload = ZlibSender(15).payload(data) if compressed else data
        if compressed:
            wire = compressed_message(2, payload, "client-to-server", pieces)
        else:
            cuts = [size * i // pieces for i in range(pieces + 1)]
            wire = b"".join(
                frame(0 if i else 2, data[cuts[i] : cuts[i + 1]], "client-to-server", fin=i == pieces - 1)
                for i in range(pieces)
            )
        for limit in (size, size - 1):
            decoder = receiver(impl, DeflateParams(), "client-to-server", max_message_size=limit)
            outcome = outcome_of(impl, decoder, wire + wire, how)
            if limit == size:
                assert (outcome.error, outcome.delivered) == (None, [msg(2, data)] * 2)
            else:
                assert outcome.code == 1009


def _first_read_inflating_past(chunks: Sequence[bytes], payload: bytes, size: int) -> int:
    """The index of the first read after which zlib, inflating ``payload`` (the end of the frame the reads carry)
    as it arrives, has produced more than ``size`` bytes."""
    header = sum(map(len, chunks)) - len(payload)
    inflater = zlib.decompressobj(-15)
    produced = fed = 0
    for i, chunk in enumerate(chunks):
        start, fed = fed, fed + len(chunk)
        produced += len(
            inflater.decompress(payload[max(0, start - header) : max(0, fed - header)], size + 2 - produced)
        )
        if produced > size:
            return i
    raise AssertionError(f"the payload inflates to {produced} bytes, not more than {size}")


@pytest.mark.parametrize("step", [1, 7, 4096])
@pytest.mark.parametrize("kind", BOMBS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_bomb_fails_in_the_feed_that_proves_it(impl: ModuleType, direction: str, kind: str, step: int) -> None:
    limit = 40_000
    _, payload = _bomb(kind, limit * 20)
    wire = frame(2, payload, direction, rsv1=True)
    chunks = cut(wire, step)
    when = _first_read_inflating_past(chunks, payload, limit)
    decoder = receiver(impl, DeflateParams(), direction, max_message_size=limit, max_frame_size=1 << 24)
    outcome = outcome_of(impl, decoder, wire, step)
    assert (outcome.code, outcome.failed_at) == (1009, when)


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="tracemalloc's figures are CPython's")
@pytest.mark.parametrize(("opcode", "how"), [(1, None), (2, 4096)])
def test_a_bomb_is_never_inflated_into_memory(impl: ModuleType, opcode: int, how: int | None) -> None:
    limit = 1 << 20
    _, payload = _bomb("pattern", 64 << 20)  # 64 MiB in about 64 KiB
    wire = frame(opcode, payload, "client-to-server", rsv1=True)
    decoder = receiver(impl, DeflateParams(), "client-to-server", max_message_size=limit, max_frame_size=1 << 24)
    chunks = cut(wire, how)
    gc.collect()
    with tracing():
        outcome = drive(impl, decoder, chunks)
        peak = tracemalloc.get_traced_memory()[1]
    assert outcome.code == 1009
    # The compiled decoder inflates into its message buffer, never past the limit plus one byte; CPython's zlib
    # module (the pure one's) may hold its output twice while joining it. Either way far below 64 MiB.
    bound = (limit + 1 if impl.NAME == "cython" else 3 * limit) + len(wire) + (64 << 10)
    assert peak < bound, (peak, bound)


# ---------------------------------------------------------------- empty messages


@pytest.mark.parametrize("takeover", [True, False], ids=["takeover", "no-takeover"])
def test_empty_messages(impl: ModuleType, takeover: bool) -> None:
    params = deflate_params("client-to-server", 15, takeover)
    client = impl.PerMessageDeflate(params, client=True)
    # Our empty message is the one byte 00, first, after another message, and after another empty one.
    for data in (b"", b"", "", b"Hello", b"", b""):
        frames = parse_frames(impl.encode_message(1, data, mask=True, deflate=client, fragment_size=1))
        if not data:
            assert [(f.opcode, f.rsv1, f.fin, f.payload) for f in frames] == [(1, True, True, b"\x00")]
    assert client.compress(b"") == b"\x00"
    # Empty messages alone and between others, as zlib sends them.
    peer = ZlibSender(15, takeover)
    sequence = [b"", b"Hello", b"", b"", b"Hello", b"Hello", b""]
    wire = b"".join(compressed_message(1, peer.payload(data), "client-to-server") for data in sequence)
    wire += compressed_message(2, b"\x00", "client-to-server")
    # §7.2.3.6: a message whose first frame is empty, then its data, then an empty last fragment.
    compressed = peer.payload(b"after empty fragments")
    wire += frame(2, b"", "client-to-server", fin=False, rsv1=True) + frame(
        0, compressed, "client-to-server", fin=False
    )
    wire += frame(0, b"", "client-to-server")
    wanted = [msg(1, data) for data in sequence] + [msg(2, b""), msg(2, b"after empty fragments")]
    for how in (None, 1):
        assert receive(impl, receiver(impl, params, "client-to-server"), wire, how) == wanted


# ---------------------------------------------------------------- UTF-8 in compressed text


@pytest.mark.parametrize("step", [1, 7, 4096])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_invalid_utf8_in_compressed_text_fails_in_the_feed_that_produced_it(
    impl: ModuleType, direction: str, step: int
) -> None:
    rng = random.Random(step)
    text = words(rng, 60_000)
    for at in (0, 100, 30_000, len(text)):
        bad = b"\xed\xa0\x80" if at % 2 else b"\xff"  # a surrogate, or a byte UTF-8 never has
        while at < len(text) and (text[at] & 0xC0) == 0x80:
            at += 1  # between code points, so the bad bytes are the first wrong ones
        payload = ZlibSender(15).payload(text[:at] + bad + text[at:])
        wire = frame(1, payload, direction, rsv1=True)
        chunks = cut(wire, step)
        # the first read after which the inflated text holds the first byte that cannot be UTF-8
        when = _first_read_inflating_past(chunks, payload, at + (1 if bad == b"\xed\xa0\x80" else 0))  # ED A0: certain
        outcome = outcome_of(impl, receiver(impl, DeflateParams(), direction), wire, step)
        assert (outcome.error, outcome.failed_at) == ((1007, "invalid UTF-8 in text message"), when)


def test_compressed_text_ending_inside_a_code_point_is_1007(impl: ModuleType) -> None:
    payload = ZlibSender(15).payload("κόσμε".encode()[:-1])
    wire = compressed_message(1, payload, "client-to-server", pieces=2)
    outcome = outcome_of(impl, receiver(impl, DeflateParams(), "client-to-server"), wire, 1)
    assert (outcome.code, outcome.failed_at) == (1007, len(wire) - 1)


# ---------------------------------------------------------------- encode_message and compress


def test_mask_true_draws_a_fresh_key_for_every_frame(impl: ModuleType) -> None:
    client, twin = (impl.PerMessageDeflate(DeflateParams(), client=True) for _ in range(2))
    data = words(random.Random(1), 2000)
    frames = parse_frames(impl.encode_message(1, data, mask=True, deflate=client, fragment_size=16))
    assert len(frames) > 10
    assert all(item.key is not None and len(item.key) == 4 for item in frames)
    assert len({item.key for item in frames}) > 1
    assert b"".join(item.payload for item in frames) == twin.compress(data)


def test_a_given_key_masks_every_frame(impl: ModuleType) -> None:
    client, twin = (impl.PerMessageDeflate(DeflateParams(), client=True) for _ in range(2))
    data = words(random.Random(2), 2000)
    wire = impl.encode_message(2, data, mask=KEY, deflate=client, fragment_size=100)
    payload = twin.compress(data)
    specs = [
        FrameSpec(0 if i else 2, payload[i : i + 100], fin=i + 100 >= len(payload), rsv=0 if i else 4, mask=KEY)
        for i in range(0, len(payload), 100)
    ]
    assert wire == b"".join(spec.encode() for spec in specs)
    server = impl.PerMessageDeflate(DeflateParams())
    assert parse_frames(impl.encode_message(2, data, mask=None, deflate=server))[0].key is None
    assert parse_frames(impl.encode_message(2, data, mask=False, deflate=server))[0].key is None


def test_payload_types(impl: ModuleType) -> None:
    text = "héllo ☃ 😀 " * 30
    data = text.encode()
    outs = set()
    for payload in (text, data, bytearray(data), memoryview(data), array.array("B", data), memoryview(b"." + data)[1:]):
        deflate = impl.PerMessageDeflate(DeflateParams())
        outs.add(impl.encode_message(1, payload, deflate=deflate, fragment_size=50))
        assert impl.PerMessageDeflate(DeflateParams()).compress(payload) == ZlibSender(
            15, level=6, mem_level=5
        ).payload(data)
    assert len(outs) == 1


BAD_CALLS: dict[str, tuple[dict[str, Any], type[Exception]]] = {
    "continuation-opcode": ({"opcode": 0}, ValueError),
    "close-opcode": ({"opcode": 8}, ValueError),
    "ping-opcode": ({"opcode": 9}, ValueError),
    "pong-opcode": ({"opcode": 10}, ValueError),
    "reserved-opcode": ({"opcode": 3}, ValueError),
    "opcode-16": ({"opcode": 16}, ValueError),
    "float-opcode": ({"opcode": 1.0}, TypeError),
    "fragment-size-0": ({"fragment_size": 0}, ValueError),
    "fragment-size-negative": ({"fragment_size": -1}, ValueError),
    "fragment-size-float": ({"fragment_size": 1.5}, TypeError),
    "mask-3-bytes": ({"mask": b"abc"}, ValueError),
    "mask-5-bytes": ({"mask": b"abcde"}, ValueError),
    "mask-empty": ({"mask": b""}, ValueError),
    "mask-str": ({"mask": "abcd"}, TypeError),
    "payload-int": ({"payload": 12}, TypeError),
    "payload-none": ({"payload": None}, TypeError),
    "payload-lone-surrogate": ({"payload": "a\ud800"}, UnicodeEncodeError),
    "deflate-not-a-per-message-deflate": ({"deflate": object()}, TypeError),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_invalid_arguments_raise_before_the_compressor_is_touched(impl: ModuleType, case: str) -> None:
    options, error = BAD_CALLS[case]
    params = DeflateParams()
    client, twin = (impl.PerMessageDeflate(params, client=True) for _ in range(2))
    decoder = impl.MessageDecoder(deflate=impl.PerMessageDeflate(params))
    text = b"a message that the next one refers back to; " * 5
    wire = impl.encode_message(1, text, mask=KEY, deflate=client)
    assert wire == impl.encode_message(1, text, mask=KEY, deflate=twin)
    call: dict[str, Any] = {"opcode": 1, "payload": text + b"(bad call)", "mask": KEY, "deflate": client, **options}
    with pytest.raises(error):
        impl.encode_message(call.pop("opcode"), call.pop("payload"), **call)
    # Windows never drift: the compressor is where it was (its next output is the twin's), the peer follows.
    again = impl.encode_message(1, text, mask=KEY, deflate=client)
    assert again == impl.encode_message(1, text, mask=KEY, deflate=twin)
    assert receive(impl, decoder, wire + again) == [msg(1, text), msg(1, text)]


def test_an_uncompressed_message_never_touches_either_window(impl: ModuleType) -> None:
    # Each compressed message repeats the one before it; random plain messages go between them. Had either
    # side put a plain message in its window, the back-references would land in it.
    rng = random.Random(6)
    params = DeflateParams()
    client, twin = (impl.PerMessageDeflate(params, client=True) for _ in range(2))
    decoder = impl.MessageDecoder(deflate=impl.PerMessageDeflate(params))
    common = words(rng, 400)
    wire = b""
    wanted = []
    for i in range(6):
        data = common + b"%d" % i
        plain = rng.randbytes(300)
        wire += impl.encode_message(1, data, mask=True, deflate=client)
        wire += impl.encode_message(2, plain, mask=True)  # sent plain: RSV1 clear
        twin.compress(data)
        wanted += [msg(1, data), msg(2, plain)]
    sizes = [len(payload) for opcode, _, payload in message_payloads(parse_frames(wire)) if opcode == 1]
    assert max(sizes[1:]) < 60 < sizes[0]  # the later ones are back-references into the one before
    assert client.compress(b"next") == twin.compress(b"next")  # the compressor saw the compressed ones only
    assert receive(impl, decoder, wire, 13) == wanted


def test_compress_then_frame_by_hand(impl: ModuleType) -> None:
    rng = random.Random(9)
    params = DeflateParams(client_max_window_bits=10, server_no_context_takeover=True)
    client = impl.PerMessageDeflate(params, client=True)
    decoder = impl.MessageDecoder(deflate=impl.PerMessageDeflate(params))
    messages: list[bytes | str | memoryview] = [
        words(rng, 5000),
        b"",
        "str ☃",
        rng.randbytes(2000),
        b"",
        memoryview(words(rng, 300)),
    ]
    wire = b"".join(FrameSpec(2, client.compress(m), rsv=4, mask=KEY).encode() for m in messages)
    wanted = [msg(2, m.encode() if isinstance(m, str) else bytes(m)) for m in messages]
    assert receive(impl, decoder, wire, 100) == wanted
    peer = ZlibReceiver(10)
    assert [peer.message(p) for _, _, p in message_payloads(parse_frames(wire))] == [item[2] for item in wanted]


# ---------------------------------------------------------------- PerMessageDeflate's arguments


def test_unknown_backend(impl: ModuleType) -> None:
    for name in ("zlib_ng", "ISAL", "libdeflate", ""):
        with pytest.raises(ValueError, match="unknown deflate backend"):
            impl.PerMessageDeflate(DeflateParams(), backend=name)


def test_an_8_bit_send_window_is_refused(impl: ModuleType) -> None:
    # zlib would silently compress with 9 bits, which a peer holding 8 cannot follow.
    with pytest.raises(ValueError, match="8-bit window"):
        impl.PerMessageDeflate(DeflateParams(server_max_window_bits=8))
    with pytest.raises(ValueError, match="8-bit window"):
        impl.PerMessageDeflate(DeflateParams(client_max_window_bits=8), client=True)


def test_an_8_bit_receive_window_works(impl: ModuleType) -> None:
    # Receiving with 8 bits is fine: a peer may compress with references no longer than 256 bytes.
    params = DeflateParams(server_max_window_bits=8)
    decoder = impl.MessageDecoder(client=True, deflate=impl.PerMessageDeflate(params, client=True))
    data = b"0123456789 short distances only " * 50
    assert receive(impl, decoder, compressed_message(1, ZlibSender(9).payload(data), "server-to-client"), 3) == [
        msg(1, data)
    ]
    server = impl.PerMessageDeflate(DeflateParams(client_max_window_bits=8))  # sends with 15 bits, receives with 8
    assert ZlibReceiver(15).message(server.compress(data)) == data


def test_deflate_made_for_the_other_side_is_refused(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="other side"):
        impl.MessageDecoder(client=True, deflate=impl.PerMessageDeflate(DeflateParams()))
    with pytest.raises(ValueError, match="other side"):
        impl.MessageDecoder(deflate=impl.PerMessageDeflate(DeflateParams(), client=True))


def test_deflate_must_be_this_implementations(impls: list[ModuleType]) -> None:
    for impl in impls:
        for other in impls:
            deflate = other.PerMessageDeflate(DeflateParams())
            if other is impl:
                impl.MessageDecoder(deflate=deflate)
                continue
            with pytest.raises(TypeError):
                impl.MessageDecoder(deflate=deflate)
            with pytest.raises(TypeError):
                impl.encode_message(1, b"x", deflate=deflate)
        with pytest.raises(TypeError):
            impl.MessageDecoder(deflate=object())


# ---------------------------------------------------------------- memory: nothing until used


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _malloc_in_use() -> Callable[[], int] | None:
    """glibc's count of bytes malloc has handed out (zlib allocates with malloc in the compiled module), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2

    def in_use() -> int:
        info = mallinfo2()
        return int(info.uordblks + info.hblkhd)

    return in_use


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="reads CPython's and glibc's allocator statistics")
def test_nothing_is_allocated_until_a_direction_is_used(impl: ModuleType, backend: str) -> None:
    in_use = _malloc_in_use()
    if in_use is None and impl.NAME != "python":
        pytest.skip("needs glibc's mallinfo2 to see zlib's own allocations")
    measure = in_use or traced  # tracemalloc sees CPython's zlib (and the others' modules) allocate
    params = DeflateParams()
    impl.PerMessageDeflate(params, backend=backend).compress(b"warm up")
    wire = compressed_message(1, _HELLO, "client-to-server")
    gc.collect()
    with tracing() if in_use is None else contextlib.nullcontext():
        before = measure()
        idle = [impl.PerMessageDeflate(params, backend=backend) for _ in range(1000)]
        created = measure() - before
        for deflate in idle[:100]:
            deflate.compress(b"used once")
        compressing = measure() - before - created
        decoders = [impl.MessageDecoder(deflate=deflate) for deflate in idle[100:200]]
        for decoder in decoders:
            assert decoder.feed(wire)[0].payload == b"Hello"
        inflating = measure() - before - created - compressing
    assert created < 1000 * 2048, created  # the objects themselves, no deflate state
    # A compressor holds its window and hash tables (this measure sees them); receiving allocates an inflater,
    # far smaller, and no compressor.
    assert compressing > 100 * 16384, compressing
    assert 100 * 4096 < inflating < 100 * 120 * 1024, inflating


# ---------------------------------------------------------------- threads


def _big_text(seed: int, n: int) -> bytes:
    rng = random.Random(seed)
    vocabulary = [rng.randbytes(rng.randrange(2, 9)).hex() for _ in range(5000)]
    return " ".join(rng.choice(vocabulary) for _ in range(n // 10)).encode()


def test_two_threads_compressing_with_one_deflate_get_runtime_error_not_corruption(
    impl: ModuleType, backend: str
) -> None:
    data = _big_text(1, 330_000)  # large enough for the compressor to run without the GIL
    params = DeflateParams()
    refused = 0
    for _ in range(20):
        shared = impl.PerMessageDeflate(params, backend=backend)
        done: list[bytes] = []

        def work(_: int, shared: Any = shared, done: list[bytes] = done) -> None:
            nonlocal refused
            for _ in range(3):
                try:
                    done.append(shared.compress(data))
                except RuntimeError:
                    refused += 1

        in_threads(work, 2)
        # Refused calls did not touch the compressor: what went through is what one thread alone gives.
        twin = impl.PerMessageDeflate(params, backend=backend)
        assert sorted(done) == sorted(twin.compress(data) for _ in done)
        assert shared.compress(b"after") == twin.compress(b"after")
        if refused:
            break
    assert refused, "the two threads never overlapped"


def test_two_threads_feeding_one_decoder_get_runtime_error_not_corruption(impl: ModuleType) -> None:
    # One compressed frame whose payload is a run of whole deflate blocks, each ending with a sync flush:
    # any order of those blocks is valid, so both threads feed the same block. A refused feed must take
    # nothing: once the threads are done, the blocks they did not deliver are fed, and the message is whole.
    data = _big_text(2, 660_000)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    block = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(block) > 1 << 16  # inflated without the GIL by the compiled decoder
    reads = 3
    count = 2 * reads + 1
    refused = 0
    for _ in range(20):
        decoder = receiver(impl, DeflateParams(), "server-to-client", max_message_size=1 << 30)
        assert decoder.feed(build_frame(FrameSpec(2, b"", rsv=4, declared=count * len(block) - 4))[:10]) == []
        taken = [0]

        def work(_: int, decoder: Any = decoder, taken: list[int] = taken) -> None:
            nonlocal refused
            for _ in range(reads):
                try:
                    assert decoder.feed(block) == []
                    taken[0] += 1
                except RuntimeError:
                    refused += 1

        in_threads(work, 2)
        rest = block * (count - 1 - taken[0]) + block[:-4]
        assert receive(impl, decoder, rest) == [msg(2, data * count)]
        if refused:
            break
    assert refused, "the two threads never overlapped"


# ---------------------------------------------------------------- differential: both implementations and zlib


@st.composite
def conversations(draw: st.DrawFn) -> dict[str, Any]:
    """A direction, its agreed settings, the sender's level and memory level, and messages to send."""
    messages = []
    for _ in range(draw(st.integers(1, 6))):
        opcode = draw(st.sampled_from((1, 2)))
        kind = draw(st.sampled_from(("plain", "repeat", "repeat")))
        if opcode == 1:
            body = draw(utf8_payloads(max_small=300, big=False))
        else:
            body = draw(payloads(max_small=300, big=False))
        if kind == "repeat":  # compressible, with references that reach across messages
            body = body * draw(st.integers(1, 40))
        messages.append(
            (
                opcode,
                body,
                draw(st.booleans()),  # compressed, or sent plain
                draw(st.one_of(st.none(), st.integers(1, 400))),  # fragment size
                draw(st.integers(0, 2)),  # pings after each fragment but the last
            )
        )
    return {
        "direction": draw(st.sampled_from(DIRECTIONS)),
        "bits": draw(st.integers(9, 15)),
        "takeover": draw(st.booleans()),
        "level": draw(st.integers(0, 9)),
        "mem_level": draw(st.integers(1, 9)),
        "messages": messages,
        "reads": draw(st.one_of(st.just(None), st.integers(1, 64), st.just("random"))),
    }


@frame_settings(60)
@given(conversation=conversations())
def test_both_implementations_send_the_same_bytes_and_decode_alike(
    impls: list[ModuleType], conversation: dict[str, Any]
) -> None:
    direction = conversation["direction"]
    params = deflate_params(direction, conversation["bits"], conversation["takeover"])
    wires = []
    wanted: list[Item] = []
    for impl in impls:
        deflate = sender(impl, params, direction, level=conversation["level"], mem_level=conversation["mem_level"])
        wire = b""
        wanted = []
        for opcode, body, compressed, fragment_size, pings in conversation["messages"]:
            sent = impl.encode_message(
                opcode,
                body,
                mask=key_for(direction),
                deflate=deflate if compressed else None,
                fragment_size=fragment_size,
            )
            # pings between the fragments
            parts = parse_frames(sent)
            for i, item in enumerate(parts):
                wire += build_frame(
                    FrameSpec(
                        item.opcode, item.payload, fin=item.fin, rsv=4 if item.rsv1 else 0, mask=key_for(direction)
                    )
                )
                if i < len(parts) - 1:
                    wire += frame(9, b"%d" % i, direction) * pings
                    wanted += [ctl(9, b"%d" % i)] * pings
            wanted.append(msg(opcode, body))
        wires.append(wire)
    assert len(set(wires)) == 1
    wire = wires[0]
    peer = ZlibReceiver(conversation["bits"], conversation["takeover"])
    for (_, compressed, payload), (_, body, was_compressed, _, _) in zip(
        message_payloads(parse_frames(wire)), conversation["messages"], strict=True
    ):
        assert compressed == was_compressed
        if compressed:
            assert peer.message(payload) == body
    for impl in impls:
        assert receive(impl, receiver(impl, params, direction), wire, conversation["reads"]) == wanted


@st.composite
def hostile_payloads(draw: st.DrawFn) -> bytes:
    """Compressed payloads a peer could send: random bytes, or a valid payload cut, extended or flipped."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=64))
    body = draw(st.one_of(utf8_payloads(max_small=400, big=False), payloads(max_small=400, big=False)))
    payload = bytearray(ZlibSender(15, level=draw(st.integers(0, 9))).payload(body * draw(st.integers(1, 20))))
    how = draw(st.sampled_from(("flip", "cut", "extend", "none")))
    if how == "flip" and payload:
        for _ in range(draw(st.integers(1, 3))):
            payload[draw(st.integers(0, len(payload) - 1))] ^= 1 << draw(st.integers(0, 7))
    elif how == "cut":
        del payload[draw(st.integers(0, len(payload))) :]
    elif how == "extend":
        payload += draw(st.binary(max_size=16))
    return bytes(payload)


@frame_settings(150)
# One literal, then a corrupt block in the same inflate call: corrupt (1007) wins over the limit (1009).
@example(items=[(1, b":\x00\x00\x00", True, 1)], takeover=False, limit=0, reads=None)
@given(
    items=st.lists(
        st.tuples(st.sampled_from((1, 2)), hostile_payloads(), st.booleans(), st.integers(1, 4)), min_size=1, max_size=4
    ),
    takeover=st.booleans(),
    limit=st.sampled_from((None, 0, 10, 1000, 1 << 20)),
    reads=st.one_of(st.just(None), st.integers(1, 16)),
)
def test_both_implementations_judge_any_compressed_payload_alike(
    impls: list[ModuleType],
    items: list[tuple[int, bytes, bool, int]],
    takeover: bool,
    limit: int | None,
    reads: int | None,
) -> None:
    direction = "client-to-server"
    params = deflate_params(direction, 15, takeover)
    wire = b"".join(
        compressed_message(opcode, payload, direction, pieces) if compressed else frame(opcode, payload, direction)
        for opcode, payload, compressed, pieces in items
    )
    limit_options: dict[str, Any] = {"max_message_size": 1 << 30 if limit is None else limit, "max_frame_size": 1 << 20}
    outcomes = [outcome_of(impl, receiver(impl, params, direction, **limit_options), wire, reads) for impl in impls]
    for outcome in outcomes[1:]:
        assert (outcome.feeds, outcome.error, outcome.failed_at) == (
            outcomes[0].feeds,
            outcomes[0].error,
            outcomes[0].failed_at,
        )


def test_max_message_size_none_with_deflate(impl: ModuleType) -> None:
    # No limit: the budget is "whatever comes" (the pure decoder must not pass an overflowing size to zlib).
    for limit in (None, (1 << 63) - 1):
        decoder = receiver(impl, DeflateParams(), "server-to-client", max_message_size=limit)
        wire = compressed_message(1, _HELLO, "server-to-client") + compressed_message(1, b"\x00", "server-to-client")
        assert receive(impl, decoder, wire) == [msg(1, b"Hello"), msg(1, b"")]


# ---------------------------------------------------------------- what the object says about itself


@pytest.mark.parametrize("client", [True, False])
def test_repr_names_the_parameters_the_side_and_the_backend(impl: ModuleType, client: bool) -> None:
    params = DeflateParams(server_max_window_bits=10)
    deflate = impl.PerMessageDeflate(params, client=client)
    side = "client" if client else "server"
    assert repr(deflate) == f"PerMessageDeflate({params!r}, {side}, backend={deflate.backend!r})"


@pytest.mark.parametrize("name", ["zlib-ng", "isal"])
def test_a_backend_that_is_not_installed_says_how_to_install_it(
    impl: ModuleType, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wscodec.deflate_py import BACKENDS, available_backends

    monkeypatch.setitem(sys.modules, BACKENDS[name], None)  # its import now fails, as when it is absent
    assert name not in available_backends()
    with pytest.raises(ImportError, match=rf"the '{name}' backend is not installed: pip install 'wscodec\[{name}\]'"):
        impl.PerMessageDeflate(DeflateParams(), backend=name)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_invalid_utf8_in_a_one_frame_compressed_text_message_is_1007(impl: ModuleType, direction: str) -> None:
    wire = frame(1, ZlibSender(15).payload(b"valid, then not: \xff"), direction, rsv1=True)
    outcome = outcome_of(impl, receiver(impl, DeflateParams(), direction), wire)
    assert outcome.error == (1007, "invalid UTF-8 in text message")
    assert outcome.delivered == []
