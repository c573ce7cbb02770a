"""The ``frames`` section: decoding streams of frames and encoding frames, wscodec against the peers.

Decoding: a stream of final frames of one payload size -- text (ASCII) up to
1 KiB, binary above, as chat and control traffic versus bulk data -- masked
(client to server, decoded by a server) or unmasked (server to client),
each frame with its own random key and distinct payload, fed in 64 KiB
chunks. One timed call decodes the whole stream with a fresh decoder and
hands every payload to the caller. Encoding: one masked binary frame per
call, as a client sends it. Every result is checked first against the frame
list the stream was built from, or by parsing the encoder's output.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import frame_peers, oracle
from .harness import Call, Cell, Column, Progress, Section, Settings, cpu_contention, measure, table
from .inputs import KiB, MiB, random_bytes, size_label, utf8_text
from .registry import Impl, load, ours

__all__ = [
    "CHUNK_SIZE",
    "FRAME_SIZES",
    "Stream",
    "checked_wire",
    "decoder_impls",
    "encoder_impls",
    "run",
    "stream",
]

FRAME_SIZES = (2, 125, KiB, 64 * KiB, MiB)
CHUNK_SIZE = 64 * KiB
_TEXT_UP_TO = KiB  # payloads up to this size are TEXT frames, larger ones BINARY
_SMALL = KiB
_WIRE_BUDGET = MiB  # a stream holds about this many payload bytes ...
_MAX_FRAMES = 2000  # ... but no more frames than this, and at least 4
_TEXT, _BINARY = 1, 2


@dataclass(frozen=True)
class Stream:
    """Frames of one payload size on the wire, cut into socket-read-sized chunks."""

    size: int
    masked: bool
    opcode: int
    payloads: tuple[bytes, ...]
    chunks: tuple[bytes, ...]

    @property
    def expected(self) -> list[tuple[int, bytes]]:
        """What a decoder must deliver: ``(opcode, payload)`` per frame."""
        return [(self.opcode, p) for p in self.payloads]


@functools.lru_cache(maxsize=2 * len(FRAME_SIZES))
def stream(size: int, masked: bool) -> Stream:
    """The seeded stream of ``size``-byte frames (see the module docstring)."""
    count = max(4, min(_MAX_FRAMES, _WIRE_BUDGET // size))
    opcode = _TEXT if size <= _TEXT_UP_TO else _BINARY
    source = utf8_text("ascii", 64 * KiB) if opcode == _TEXT else random_bytes(2 * MiB)
    rng = random.Random(f"frames-{size}-{masked}")
    payloads = []
    for _ in range(count):
        start = rng.randrange(len(source) - size + 1)
        payloads.append(source[start : start + size])
    wire = b"".join(oracle.encode_frame(opcode, p, rng.randbytes(4) if masked else None) for p in payloads)
    chunks = tuple(wire[i : i + CHUNK_SIZE] for i in range(0, len(wire), CHUNK_SIZE))
    return Stream(size, masked, opcode, tuple(payloads), chunks)


# ---------------------------------------------------------------- wscodec drivers


def _items(items: list[Any]) -> list[tuple[int, bytes]]:
    return [(int(item.opcode), bytes(item.payload)) for item in items]


def _decoder(cls: Callable[..., Any]) -> frame_peers.DecodeBinder:
    """wscodec's ``FrameDecoder`` or ``MessageDecoder``: ``feed()`` each chunk, collect what it returns."""

    def bind(chunks: Sequence[bytes], masked: bool) -> Call:
        client = not masked

        def decode(chunks: Sequence[bytes]) -> list[Any]:
            feed = cls(client=client).feed
            out: list[Any] = []
            for chunk in chunks:
                out += feed(chunk)
            return out

        return Call(decode, (chunks,), result=_items)

    return bind


def _encoder(encode_frame: Callable[..., bytes]) -> frame_peers.EncodeBinder:
    return lambda payload: Call(encode_frame, (_BINARY, payload), {"mask": True})


def decoder_impls() -> list[Impl]:
    """Stream decoders."""
    return [
        Impl(
            "websockets Frame.parse",
            "websockets",
            "pure Python + C mask; text as bytes",
            frame_peers.websockets_decoder,
        ),
        Impl("wsproto FrameProtocol", "wsproto", "pure Python; text -> str", frame_peers.wsproto_decoder),
        Impl(
            "aiohttp WebSocketReader (reader_c)",
            "aiohttp",
            "Cython; text -> str",
            frame_peers.aiohttp_decoder("reader_c"),
        ),
        Impl(
            "aiohttp WebSocketReader (reader_py)",
            "aiohttp",
            "pure Python + Cython mask; text -> str",
            frame_peers.aiohttp_decoder("reader_py"),
        ),
        Impl(
            "picows WSProtocol",
            "picows",
            "Cython + C, Python listener; text -> str",
            frame_peers.picows_decoder,
        ),
        *ours(
            "FrameDecoder",
            "wscodec FrameDecoder",
            ("Cython + C; text not validated", "pure Python; text not validated"),
            _decoder,
        ),
        *ours(
            "MessageDecoder",
            "wscodec MessageDecoder",
            ("Cython + C; text validated, bytes", "pure Python; text validated, bytes"),
            _decoder,
        ),
    ]


def encoder_impls() -> list[Impl]:
    """Masked frame encoders."""
    return [
        Impl("websockets Frame.serialize", "websockets", "pure Python + C mask", frame_peers.websockets_encoder),
        Impl("wsproto FrameProtocol.send_data", "wsproto", "pure Python", frame_peers.wsproto_encoder),
        Impl(
            "aiohttp _write_websocket_frame",
            "aiohttp",
            "pure Python + Cython mask",
            frame_peers.aiohttp_encoder,
        ),
        Impl("picows WSTransport.send", "picows", "Cython + C", frame_peers.picows_encoder),
        *ours("encode_frame", "wscodec encode_frame", ("Cython + C", "pure Python"), _encoder),
    ]


def checked_wire(bind: Callable[[], Call]) -> Call:
    """``bind()`` of an encoder, its output parsed by the oracle: ``[(fin, opcode, masked, payload)]``."""
    call = bind()
    native = call.result
    return Call(call.fn, call.args, call.kwargs, result=lambda value: oracle.parse_frames(native(value)))


# ---------------------------------------------------------------- section


def _direction(masked: bool) -> str:
    return "masked" if masked else "unmasked"


def _decode_columns(masked: bool) -> list[Column]:
    columns = []
    for size in FRAME_SIZES:
        key = f"{_direction(masked)} {size_label(size)}"
        frames = len(stream(size, masked).payloads)
        columns.append(Column(key, "frames/s", frames=frames, title=size_label(size)))
        if size > _SMALL:
            columns.append(Column(key, "GB/s", nbytes=frames * size, title=size_label(size)))
    return columns


def run(settings: Settings, progress: Progress) -> list[Section]:
    """Time decoding (masked and unmasked streams) and masked encoding at every size in :data:`FRAME_SIZES`."""
    decoders = load(decoder_impls())
    encoders = load(encoder_impls())
    cells = []
    for size in FRAME_SIZES:
        for masked in (True, False):
            s = stream(size, masked)
            for row, binder in decoders:
                if binder is not None:
                    cells.append(
                        Cell(
                            row.label,
                            f"{_direction(masked)} {size_label(size)}",
                            functools.partial(binder, s.chunks, masked),
                            s.expected,
                        )
                    )
        payload = random_bytes(size)
        for row, binder in encoders:
            if binder is not None:
                bind = functools.partial(binder, payload)
                cells.append(
                    Cell(
                        row.label,
                        f"encode {size_label(size)}",
                        functools.partial(checked_wire, bind),
                        [(True, _BINARY, True, payload)],
                    )
                )
    with cpu_contention() as busy:
        results = measure("frames", cells, settings, progress)
    method = [
        (
            f"payload {size_label(_TEXT_UP_TO)} or less: TEXT frames (ASCII), larger: BINARY; each stream holds "
            f"min({_MAX_FRAMES}, {size_label(_WIRE_BUDGET)} / size) frames, at least 4, fed in "
            f"{size_label(CHUNK_SIZE)} chunks; GB/s counts payload bytes"
        ),
        (
            "picows has no standalone parser: its asyncio BufferedProtocol is fed through "
            "get_buffer()/buffer_updated() (its figures include copying each chunk into its buffer) "
            "and reused across streams"
        ),
        "'vs best peer' = best peer's time / wscodec's time (above 1: wscodec is faster)",
        settings.describe(),
        *filter(None, [busy.note()]),
    ]
    decode_rows = [r for r, _ in decoders]
    encode_columns = [
        Column(
            f"encode {size_label(size)}",
            "ns" if size <= _SMALL else "GB/s",
            nbytes=size,
            title=size_label(size),
        )
        for size in FRAME_SIZES
    ]
    encode_note = "a fresh random key per frame; aiohttp's writer and picows write to a fake transport"
    return [
        table(
            "frames: decode masked client frames (server side)",
            decode_rows,
            _decode_columns(True),
            results,
            method,
        ),
        table(
            "frames: decode unmasked server frames (client side)",
            decode_rows,
            _decode_columns(False),
            results,
        ),
        table(
            "frames: encode one masked binary frame (client side)",
            [r for r, _ in encoders],
            encode_columns,
            results,
            [encode_note],
        ),
    ]
