"""The ``deflate`` section: permessage-deflate (RFC 7692), wscodec against websockets and aiohttp.

Every row works at the same settings, websockets' server defaults: context
takeover both ways, 12-bit windows, zlib level 6, memLevel 5 (isal only has
levels 0-3: its rows run at its default, 2). The messages are JSON-like text
(:func:`~wscodec.benchmark.inputs.json_messages`): a batch of distinct
messages of one size, which one timed call handles in order, on state that
runs on from call to call like one long-lived connection's. Figures are per
message. Four tables:

* round trip: a client compresses, frames and masks a message, a server
  receives it (wscodec: ``encode_message(..., mask=True, deflate=client)``
  then ``MessageDecoder(deflate=server).feed()``, UTF-8 validation
  included), against websockets' extension alone (``encode`` + ``decode``
  on ``Frame`` objects), websockets with its framing, and aiohttp's writer
  into its reader;
* compress: ``PerMessageDeflate.compress()`` against websockets' ``encode``
  and what aiohttp's writer does before framing;
* inflate: compressed server frames received by a client
  (``MessageDecoder(client=True, deflate=)``), against websockets'
  ``decode`` of parsed frames and aiohttp's reader;
* receive: compressed masked client frames received by a server, fed in
  64 KiB reads, against websockets' parser with its extension and
  aiohttp's reader.

Every call is checked first: the messages delivered must equal the ones
sent, and compressed payloads must inflate (CPython's zlib, the agreed
window) to them.
"""

from __future__ import annotations

import functools
import importlib
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import deflate_py
from . import deflate_peers, oracle
from .harness import Call, Cell, Column, Progress, Section, Settings, cpu_contention, measure, table
from .inputs import KiB, MiB, json_messages, size_label
from .registry import Impl, Unavailable, load, version

__all__ = [
    "BACKENDS",
    "CHUNK_SIZE",
    "DEFLATE_SIZES",
    "LEVEL",
    "MEM_LEVEL",
    "WINDOW_BITS",
    "Batch",
    "agreement",
    "batch",
    "compress_impls",
    "inflate_impls",
    "receive_impls",
    "round_trip_impls",
    "TABLES",
    "batch_count",
    "bind_compress",
    "bind_inflate",
    "bind_receive",
    "bind_round_trip",
    "expected",
    "run",
    "window_before",
]

DEFLATE_SIZES = (64, KiB, 64 * KiB, MiB)
BACKENDS = tuple(deflate_py.BACKENDS)
WINDOW_BITS = 12
LEVEL = 6
MEM_LEVEL = 5
CHUNK_SIZE = 64 * KiB
_BATCH_BYTES = 256 * KiB  # a batch holds about this many message bytes ...
_MAX_BATCH = 256  # ... but no more messages than this, and at least 2
_TEXT = 1

_NAMESPACES = (("compiled", "wscodec._impl_c"), ("pure", "wscodec._impl_py"))
_BACKEND_DISTS = {"zlib-ng": "zlib-ng", "isal": "isal"}


@dataclass(frozen=True)
class Batch:
    """The messages of one size a timed call handles, and their compressed forms on the wire.

    ``compressed``: each message's payload as CPython's zlib compresses the
    batch from a fresh stream (the shared settings, tail removed). Since that
    stream refers to nothing before its first message, a receiver may be fed
    it again and again: what it refers back to is always the batch's own
    earlier messages. ``masked`` / ``unmasked``: those payloads as final TEXT
    frames with RSV1 (client frames with a fresh key each, server frames), in
    64 KiB reads.
    """

    size: int
    messages: tuple[bytes, ...]
    compressed: tuple[bytes, ...]
    masked: tuple[bytes, ...]
    unmasked: tuple[bytes, ...]

    @property
    def expected(self) -> list[tuple[int, bytes]]:
        """What a receiver must deliver: ``(TEXT, message)`` each."""
        return [(_TEXT, m) for m in self.messages]


def _chunks(wire: bytes) -> tuple[bytes, ...]:
    return tuple(wire[i : i + CHUNK_SIZE] for i in range(0, len(wire), CHUNK_SIZE))


def batch_count(size: int) -> int:
    """How many messages of ``size`` bytes one call handles."""
    return max(2, min(_MAX_BATCH, _BATCH_BYTES // size))


@functools.lru_cache(maxsize=2 * len(DEFLATE_SIZES))
def batch(size: int, count: int | None = None) -> Batch:
    """The seeded batch of ``size``-byte messages (``count`` of them; default :func:`batch_count`)."""
    messages = json_messages(size, batch_count(size) if count is None else count)
    compressed = tuple(oracle.deflate_messages(messages, WINDOW_BITS, LEVEL, MEM_LEVEL))
    rng = random.Random(f"deflate-{size}")
    masked = b"".join(oracle.encode_frame(_TEXT, p, rng.randbytes(4), rsv1=True) for p in compressed)
    unmasked = b"".join(oracle.encode_frame(_TEXT, p, None, rsv1=True) for p in compressed)
    return Batch(size, messages, compressed, _chunks(masked), _chunks(unmasked))


def window_before(messages: Sequence[bytes]) -> bytes:
    """What a compressor's window holds after it has compressed ``messages`` over and over (the last 2^12 bytes)."""
    joined = b"".join(messages)
    window = 1 << WINDOW_BITS
    return (joined * (window // max(len(joined), 1) + 1))[-window:]


def agreement() -> Any:
    """The :class:`DeflateParams` a wscodec client offering the defaults and a server asking for 12-bit windows agree.

    The same agreement websockets' default client and server reach
    (:func:`~wscodec.benchmark.deflate_peers.websockets_extensions`).
    """
    from ..deflate_params import accept_deflate_response, deflate_offer, negotiate_deflate

    offer = deflate_offer()
    server = negotiate_deflate(offer, server_max_window_bits=WINDOW_BITS, client_max_window_bits=WINDOW_BITS)
    if server is None:  # pragma: no cover - the offer is wscodec's own
        raise RuntimeError("negotiate_deflate declined wscodec's own offer")
    return accept_deflate_response(server.header(), offer)


# ---------------------------------------------------------------- wscodec drivers


def _messages(items: list[Any]) -> list[tuple[int, bytes]]:
    return [(int(item.opcode), bytes(item.payload)) for item in items]


def _ours(label: str, kinds: tuple[str, str], make: Callable[[Any, str], Any]) -> list[Impl]:
    """A row per implementation and backend; ``make(namespace module, backend)`` returns the binder."""

    def loader(namespace: str, backend: str) -> Callable[[], Any]:
        def load() -> Any:
            module = importlib.import_module(namespace)  # ImportError: not built
            module.PerMessageDeflate  # noqa: B018 - the compiled namespace loads lazily: a missing build shows here
            try:
                importlib.import_module(deflate_py.BACKENDS[backend])
            except ImportError:
                raise Unavailable(f"{backend} not installed") from None
            return make(module, backend)

        return load

    rows = []
    for (name, namespace), kind in zip(_NAMESPACES, kinds):
        for backend in BACKENDS:
            rows.append(Impl(f"{label} {backend} ({name})", "wscodec", kind, loader(namespace, backend), ours=True))
    return rows


def _pair(ns: Any, backend: str) -> tuple[Any, Any]:
    """A connection's ``(client, server)`` PerMessageDeflate with ``backend``, at the shared settings."""
    params = agreement()
    level = None if backend == "isal" else LEVEL
    return (
        ns.PerMessageDeflate(params, client=True, level=level, mem_level=MEM_LEVEL, backend=backend),
        ns.PerMessageDeflate(params, client=False, level=level, mem_level=MEM_LEVEL, backend=backend),
    )


def _round_trip(ns: Any, backend: str) -> Callable[[Batch], Call]:
    encode = ns.encode_message

    def bind(b: Batch) -> Call:
        client, server = _pair(ns, backend)
        feed = ns.MessageDecoder(client=False, deflate=server).feed

        def round_trip(messages: Sequence[bytes]) -> list[Any]:
            out: list[Any] = []
            for m in messages:
                out += feed(encode(_TEXT, m, mask=True, deflate=client))
            return out

        return Call(round_trip, (b.messages,), result=_messages)

    return bind


def _compressor(ns: Any, backend: str) -> Callable[[Batch], Call]:
    def bind(b: Batch) -> Call:
        compress = _pair(ns, backend)[0].compress

        def compress_all(messages: Sequence[bytes]) -> list[bytes]:
            return [compress(m) for m in messages]

        return Call(compress_all, (b.messages,))

    return bind


def _decoder(ns: Any, backend: str) -> Callable[[Batch, bool], Call]:
    """A ``MessageDecoder(deflate=)`` on one side of a connection, fed every call."""

    def bind(b: Batch, masked: bool) -> Call:
        client, server = _pair(ns, backend)
        feed = ns.MessageDecoder(client=not masked, deflate=server if masked else client).feed

        def receive(chunks: Sequence[bytes]) -> list[Any]:
            out: list[Any] = []
            for chunk in chunks:
                out += feed(chunk)
            return out

        return Call(receive, (b.masked if masked else b.unmasked,), result=_messages)

    return bind


# ---------------------------------------------------------------- rows

_COMPILED_KIND = "Cython; zlib: C API, others: Python module"
_PURE_KIND = "pure Python + backend module"


def round_trip_impls() -> list[Impl]:
    """Client sends, server receives."""
    return [
        Impl(
            "websockets PerMessageDeflate encode+decode",
            "websockets",
            "extension alone: no framing, masking or UTF-8",
            deflate_peers.websockets_round_trip,
        ),
        Impl(
            "websockets Frame.serialize+parse",
            "websockets",
            "framing, masking; text as bytes",
            deflate_peers.websockets_framed_round_trip,
        ),
        Impl(
            "aiohttp WebSocketWriter+Reader (reader_c)",
            "aiohttp",
            "framing, masking; text -> str",
            deflate_peers.aiohttp_round_trip("reader_c", WINDOW_BITS, LEVEL, MEM_LEVEL),
        ),
        *_ours(
            "wscodec encode_message+MessageDecoder",
            (f"{_COMPILED_KIND}; text validated", f"{_PURE_KIND}; text validated"),
            _round_trip,
        ),
    ]


def compress_impls() -> list[Impl]:
    """One message to its compressed payload (client side)."""
    return [
        Impl(
            "websockets PerMessageDeflate.encode",
            "websockets",
            "Python zlib",
            deflate_peers.websockets_compressor,
        ),
        Impl(
            "aiohttp writer's compressor",
            "aiohttp",
            "Python zlib",
            deflate_peers.aiohttp_compressor(WINDOW_BITS, LEVEL, MEM_LEVEL),
        ),
        *_ours("wscodec PerMessageDeflate.compress", (_COMPILED_KIND, _PURE_KIND), _compressor),
    ]


def _receivers(side: str) -> list[Impl]:
    return [
        Impl(
            "aiohttp WebSocketReader (reader_c)",
            "aiohttp",
            "Cython + Python zlib; text -> str",
            deflate_peers.aiohttp_decoder("reader_c"),
        ),
        Impl(
            "aiohttp WebSocketReader (reader_py)",
            "aiohttp",
            "pure Python + Python zlib; text -> str",
            deflate_peers.aiohttp_decoder("reader_py"),
        ),
        *_ours(
            f"wscodec MessageDecoder ({side})",
            (f"{_COMPILED_KIND}; text validated", f"{_PURE_KIND}; text validated"),
            _decoder,
        ),
    ]


def inflate_impls() -> list[Impl]:
    """Compressed server frames to messages (client side); websockets' row inflates frames already parsed."""
    return [
        Impl(
            "websockets PerMessageDeflate.decode",
            "websockets",
            "extension alone: frames already parsed",
            deflate_peers.websockets_inflater,
        ),
        *_receivers("client"),
    ]


def receive_impls() -> list[Impl]:
    """Compressed masked client frames to messages (server side)."""
    return [
        Impl(
            "websockets Frame.parse + extension",
            "websockets",
            "pure Python + C mask; text as bytes",
            deflate_peers.websockets_receiver,
        ),
        *_receivers("server"),
    ]


def bind_round_trip(binder: Any, b: Batch) -> Call:
    """A round-trip row's call on ``b``: its result the messages the server received."""
    call: Call = binder(b)
    return call


def bind_compress(binder: Any, b: Batch) -> Call:
    """A compressor row's call on ``b``: its result the payloads inflated by zlib (to compare with the messages).

    Each call's payloads may refer back into the previous call's messages
    (context takeover), so zlib is given the window that call left behind.
    """
    call: Call = binder(b)
    native = call.result
    window = window_before(b.messages)
    return Call(
        call.fn,
        call.args,
        call.kwargs,
        result=lambda value: oracle.inflate_messages(native(value), WINDOW_BITS, window),
    )


def bind_inflate(binder: Any, b: Batch) -> Call:
    """An inflate row's call on ``b``: server frames received by a client."""
    call: Call = binder(b, False)
    return call


def bind_receive(binder: Any, b: Batch) -> Call:
    """A receive row's call on ``b``: masked client frames received by a server, in 64 KiB reads."""
    call: Call = binder(b, True)
    return call


# ---------------------------------------------------------------- section


@dataclass(frozen=True)
class _Table:
    key: str
    title: str
    impls: Callable[[], list[Impl]]
    bind: Callable[[Any, Batch], Call]  # (row's binder, batch) -> Call
    versus: tuple[tuple[str, str], ...]  # (peer row label, name) for the ratio rows


TABLES = (
    _Table(
        "round trip",
        "deflate: round trip of one message, client encode + server receive",
        round_trip_impls,
        bind_round_trip,
        (
            ("websockets PerMessageDeflate encode+decode", "websockets encode+decode"),
            ("aiohttp WebSocketWriter+Reader (reader_c)", "aiohttp writer+reader_c"),
        ),
    ),
    _Table(
        "compress",
        "deflate: compress one message",
        compress_impls,
        bind_compress,
        (
            ("websockets PerMessageDeflate.encode", "websockets encode"),
            ("aiohttp writer's compressor", "aiohttp compressor"),
        ),
    ),
    _Table(
        "inflate",
        "deflate: receive one compressed server message (client side)",
        inflate_impls,
        bind_inflate,
        (
            ("websockets PerMessageDeflate.decode", "websockets decode"),
            ("aiohttp WebSocketReader (reader_c)", "aiohttp reader_c"),
        ),
    ),
    _Table(
        "receive",
        "deflate: receive compressed masked client frames (server side)",
        receive_impls,
        bind_receive,
        (
            ("aiohttp WebSocketReader (reader_c)", "aiohttp reader_c"),
            ("websockets Frame.parse + extension", "websockets parse"),
        ),
    ),
)


def expected(key: str, b: Batch) -> Any:
    """What a row of table ``key`` must return for ``b``: the messages (compressors: inflated back)."""
    return list(b.messages) if key == "compress" else b.expected


def _backend_versions() -> str:
    shown = [f"zlib {zlib.ZLIB_RUNTIME_VERSION} (CPython's zlib module)"]
    for backend, dist in _BACKEND_DISTS.items():
        shown.append(f"{backend} {version(dist) or 'not installed'}")
    return "backends: " + ", ".join(shown)


def run(settings: Settings, progress: Progress, sizes: Sequence[int] | None = None) -> list[Section]:
    """Time the four tables at every size in ``sizes`` (default: :data:`DEFLATE_SIZES`)."""
    loaded = {t.key: load(t.impls()) for t in TABLES}
    batches = {size: batch(size) for size in (DEFLATE_SIZES if sizes is None else sizes)}
    cells = []
    for t in TABLES:
        for row, binder in loaded[t.key]:
            if binder is None:
                continue
            for size, b in batches.items():
                bind = functools.partial(t.bind, binder, b)
                cells.append(Cell(row.label, f"{t.key} {size_label(size)}", bind, expected(t.key, b)))
    with cpu_contention() as busy:
        results = measure("deflate", cells, settings, progress)
    counts = ", ".join(f"{size_label(s)} x{len(b.messages)}" for s, b in batches.items())
    method = [
        (
            f"every row: context takeover, {WINDOW_BITS}-bit windows both ways, level {LEVEL}, memLevel {MEM_LEVEL} "
            "(websockets' server defaults); isal rows at isal's level 2 (it has levels 0-3 only)"
        ),
        (
            "JSON-like text; one call handles a batch of distinct messages in order on one connection's state "
            f"({counts}); figures are microseconds per message, including the Python loop"
        ),
        (
            "wscodec compiled with zlib calls zlib's C API; with zlib-ng or isal, both implementations call the "
            "backend's Python module"
        ),
        (
            "aiohttp: its writer's compressor (level 1, memLevel 8 by default) replaced by one at the shared "
            "settings; its reader inflates with a 15-bit window (not settable); messages read off its queue "
            "with read(); its writer's synchronous path is timed (above 16 KiB it compresses in an executor)"
        ),
        _backend_versions(),
        "'vs X' = X's time / wscodec's time (above 1: wscodec is faster)",
        settings.describe(),
        *filter(None, [busy.note()]),
    ]
    sections = []
    for i, t in enumerate(TABLES):
        columns = [
            Column(f"{t.key} {size_label(s)}", "us/msg", frames=len(b.messages), title=size_label(s))
            for s, b in batches.items()
        ]
        rows = [row for row, _ in loaded[t.key]]
        sections.append(table(t.title, rows, columns, results, method if i == 0 else [], versus=t.versus))
    return sections
