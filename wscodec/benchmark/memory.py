"""``python -m wscodec bench --memory``: memory per connection with permessage-deflate, next to websockets.

Each figure comes from a fresh interpreter (``python -m
wscodec.benchmark.memory '<spec>'``) that builds many server-side
connections -- wscodec: a ``PerMessageDeflate`` and the ``MessageDecoder``
using it; websockets: its ``PerMessageDeflate`` extension alone, or a whole
sans-I/O ``ServerProtocol`` with it -- keeps them all alive, and has each
receive one compressed masked message from its client and send one
compressed message back (or only one of the two, or neither). What the
process's resident set grew by, divided by the number of connections, is
the figure: it counts what was really touched (zlib's windows and tables
are allocated whole but paged in as they fill), every allocator included.
A second, smaller set of connections is then built under ``tracemalloc``,
which counts what Python's allocators hand out (CPython's ``zlib`` module
allocates through them; zlib called from C, as the compiled implementation
does, allocates with ``malloc`` and is not seen).

Every connection checks what it received against what was sent, and the
first one's reply is inflated by CPython's zlib and compared; a failed
check is an error row (the command then exits with status 1).

The settings compared are websockets' table of window bits / memLevel
(``docs/topics/memory.rst``), its documented figures beside them; each
setting applies to both directions.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import deflate_py
from .harness import ERROR, Progress, Section, Value
from .inputs import KiB, json_messages, size_label
from .registry import version

__all__ = ["DOCUMENTED", "SETTINGS", "Spec", "measure_connections", "run"]

#: (window bits, memLevel) per column: websockets' table, its default (12, 5) in the middle.
SETTINGS = ((15, 8), (14, 7), (13, 6), (12, 5), (11, 4), (10, 3), (9, 2))
DEFAULT = (12, 5)

#: websockets' documented memory per connection (KiB) at each setting, and with compression off.
DOCUMENTED = {(15, 8): 316, (14, 7): 172, (13, 6): 100, (12, 5): 64, (11, 4): 46, (10, 3): 37, (9, 2): 33, None: 14}

BACKENDS = tuple(deflate_py.BACKENDS)
PHASES = ("constructed", "received", "sent", "both")
CONNECTIONS = 1000
TRACED_CONNECTIONS = 200  # tracemalloc counts bytes exactly: fewer connections do
WARM_UP = 20
LEVEL = 6
_TEXT = 1
_MASK_KEY = bytes.fromhex("37fa213d")


@dataclass(frozen=True)
class Spec:
    """One measurement: what a connection is made of, its settings, and what it did.

    ``kind``: ``"compiled"`` or ``"pure"`` (wscodec), ``"websockets-extension"``
    or ``"websockets-protocol"``. ``bits`` None: compression off. ``phase``:
    one of :data:`PHASES` (``"both"``: one message each way).
    """

    kind: str
    backend: str = "zlib"
    bits: int | None = 12
    mem_level: int = 5
    phase: str = "both"
    size: int = KiB
    count: int = CONNECTIONS
    traced: int = TRACED_CONNECTIONS


# ---------------------------------------------------------------- the child process


def _rss() -> int:
    """The resident set size of this process in bytes (Linux: now; elsewhere: the peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _wire(spec: Spec, message: bytes) -> tuple[bytes, bytes | None]:
    """The client's first message as the server receives it (masked, compressed unless off), and its payload."""
    from . import oracle

    if spec.bits is None:
        return oracle.encode_frame(_TEXT, message, _MASK_KEY), None
    (payload,) = oracle.deflate_messages([message], spec.bits, LEVEL, spec.mem_level)
    return oracle.encode_frame(_TEXT, payload, _MASK_KEY, rsv1=True), payload


def _check_reply(spec: Spec, wire: bytes, message: bytes) -> None:
    """The server's first reply, parsed and inflated by the oracle, must be the message."""
    from . import oracle

    ((fin, opcode, masked, payload),) = oracle.parse_frames(wire)
    if spec.bits is not None:
        (payload,) = oracle.inflate_messages([payload], spec.bits)
    if not fin or opcode != _TEXT or masked or payload != message:
        raise AssertionError("the server's reply does not decode to the message sent")


def _wscodec_connection(spec: Spec, message: bytes) -> Callable[[], Any]:
    import importlib

    from ..deflate_params import DeflateParams

    ns = importlib.import_module("wscodec._impl_c" if spec.kind == "compiled" else "wscodec._impl_py")
    wire, _ = _wire(spec, message)
    receive = spec.phase in ("received", "both")
    send = spec.phase in ("sent", "both")
    params = None
    options: dict[str, Any] = {}
    if spec.bits is not None:
        params = DeflateParams(server_max_window_bits=spec.bits, client_max_window_bits=spec.bits)
        options = {"mem_level": spec.mem_level, "backend": spec.backend}
        if spec.backend != "isal":
            options["level"] = LEVEL
    checked = False

    def connect() -> Any:
        nonlocal checked
        deflate = None if params is None else ns.PerMessageDeflate(params, client=False, **options)
        decoder = ns.MessageDecoder(client=False, deflate=deflate)
        if receive:
            (got,) = decoder.feed(wire)
            if got.payload != message:
                raise AssertionError("a connection received something else than the message sent")
        if send:
            reply = ns.encode_message(_TEXT, message, deflate=deflate)
            if not checked:
                _check_reply(spec, reply, message)
                checked = True
        return deflate, decoder

    return connect


def _websockets_extension(spec: Spec, message: bytes) -> Callable[[], Any]:
    """websockets' ``PerMessageDeflate`` as its server factory builds it for this setting."""
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.frames import Frame, Opcode

    _, compressed = _wire(spec, message)
    payload = compressed or b""  # the extension is only measured with compression on
    receive = spec.phase in ("received", "both")
    send = spec.phase in ("sent", "both")
    bits = spec.bits or 15
    checked = False

    def connect() -> Any:
        nonlocal checked
        extension = PerMessageDeflate(False, False, bits, bits, {"memLevel": spec.mem_level})
        if receive:
            got = extension.decode(Frame(Opcode.TEXT, payload, rsv1=True), max_size=1 << 20)
            if got.data != message:
                raise AssertionError("a connection received something else than the message sent")
        if send:
            frame = extension.encode(Frame(Opcode.TEXT, message))
            if not checked:
                from . import oracle

                if oracle.inflate_messages([bytes(frame.data)], bits) != [message]:
                    raise AssertionError("the server's reply does not decode to the message sent")
                checked = True
        return extension

    return connect


def _websockets_protocol(spec: Spec, message: bytes) -> Callable[[], Any]:
    """A sans-I/O ``ServerProtocol`` past its handshake (with permessage-deflate unless off)."""
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
    from websockets.server import ServerProtocol

    wire, _ = _wire(spec, message)
    receive = spec.phase in ("received", "both")
    send = spec.phase in ("sent", "both")
    request = (
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    )
    factories = []
    if spec.bits is not None:
        request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        factories = [
            ServerPerMessageDeflateFactory(
                server_max_window_bits=spec.bits,
                client_max_window_bits=spec.bits,
                compress_settings={"memLevel": spec.mem_level},
            )
        ]
    handshake = (request + "\r\n").encode("ascii")
    checked = False

    def connect() -> Any:
        nonlocal checked
        protocol = ServerProtocol(extensions=factories)
        protocol.receive_data(handshake)
        (request,) = protocol.events_received()
        response = protocol.accept(request)  # type: ignore[arg-type]  # the one event of a handshake is its Request
        if response.status_code != 101:
            raise AssertionError(f"websockets refused the handshake: {response.status_code}")
        protocol.send_response(response)
        protocol.data_to_send()
        if receive:
            protocol.receive_data(wire)
            (event,) = protocol.events_received()
            if getattr(event, "data", None) != message:
                raise AssertionError("a connection received something else than the message sent")
        if send:
            protocol.send_text(message)
            reply = b"".join(protocol.data_to_send())
            if not checked:
                _check_reply(spec, reply, message)
                checked = True
        return protocol

    return connect


def measure_connections(spec: Spec) -> dict[str, float]:
    """Build ``spec.count`` connections (then ``spec.traced`` under tracemalloc): bytes per connection.

    Returns ``{"rss": ..., "traced": ...}`` (``traced`` absent when
    ``spec.traced`` is 0). Meant for a fresh process: the resident set of a
    process that has already freed memory may not grow at all.
    """
    message = json_messages(spec.size, 1)[0]
    factory = {
        "compiled": _wscodec_connection,
        "pure": _wscodec_connection,
        "websockets-extension": _websockets_extension,
        "websockets-protocol": _websockets_protocol,
    }[spec.kind]
    connect = factory(spec, message)
    warm = [connect() for _ in range(WARM_UP)]  # imports, caches and interned names settle before measuring
    del warm
    gc.collect()
    kept: list[Any] = [None] * spec.count  # allocated before the first reading
    before = _rss()
    for i in range(spec.count):
        kept[i] = connect()
    gc.collect()
    result = {"rss": (_rss() - before) / spec.count}
    if spec.traced:
        traced: list[Any] = [None] * spec.traced
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            for i in range(spec.traced):
                traced[i] = connect()
            gc.collect()
            result["traced"] = (tracemalloc.get_traced_memory()[0] - start) / spec.traced
        finally:
            tracemalloc.stop()
    return result


def _child(argv: Sequence[str]) -> int:
    spec = Spec(**json.loads(argv[0]))
    json.dump(measure_connections(spec), sys.stdout)
    return 0


# ---------------------------------------------------------------- the parent: one process per figure


def _measure(spec: Spec) -> dict[str, float] | str:
    """Run :func:`measure_connections` in a fresh interpreter; the figures, or why there are none."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")])
    )
    done = subprocess.run(
        [sys.executable, "-m", "wscodec.benchmark.memory", json.dumps(asdict(spec))],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit status {done.returncode}"
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _available(kind: str, backend: str) -> str | None:
    """Why a row cannot be measured here (None: it can)."""
    import importlib

    modules = {
        "compiled": "wscodec._impl_c",
        "pure": "wscodec._impl_py",
        "websockets-extension": "websockets",
        "websockets-protocol": "websockets",
    }
    try:
        module = importlib.import_module(modules[kind])
        if kind in ("compiled", "pure"):
            module.PerMessageDeflate  # noqa: B018 - the compiled namespace loads lazily: a missing build shows here
    except ImportError:
        return "not built" if kind == "compiled" else "not installed"
    if kind in ("compiled", "pure"):
        try:
            importlib.import_module(deflate_py.BACKENDS[backend])
        except ImportError:
            return f"{backend} not installed"
    return None


@dataclass(frozen=True)
class _Row:
    label: str
    kind: str
    backend: str = "zlib"
    dist: str | None = "wscodec"
    off_only: bool = False  # the compression-off measurement only


def _rows() -> list[_Row]:
    rows = [
        _Row("websockets ServerProtocol + PerMessageDeflate", "websockets-protocol", dist="websockets"),
        _Row("websockets PerMessageDeflate (extension alone)", "websockets-extension", dist="websockets"),
    ]
    for kind in ("compiled", "pure"):
        rows += [_Row(f"wscodec PerMessageDeflate + MessageDecoder {b} ({kind})", kind, b) for b in BACKENDS]
        rows.append(_Row(f"wscodec MessageDecoder, compression off ({kind})", kind, off_only=True))
    return rows


def _wants(row: _Row, setting: tuple[int, int] | None) -> bool:
    """Whether ``row`` is measured at ``setting`` (None: compression off)."""
    if row.off_only:
        return setting is None
    if row.kind == "websockets-protocol":  # its "off" figure: a ServerProtocol without the extension
        return True
    return setting is not None


def _default_comparison(results: dict[tuple[str, int, str, str], dict[str, float]], size: int) -> list[str]:
    """A sentence comparing wscodec's default (compiled, zlib) with websockets' at the default setting, if measured."""
    setting = _setting(DEFAULT)

    def rss(label: str) -> float | None:
        figures = results.get((label, size, setting, "both"))
        return None if figures is None else _kib(figures["rss"])

    ours = rss("wscodec PerMessageDeflate + MessageDecoder zlib (compiled)") or rss(
        "wscodec PerMessageDeflate + MessageDecoder zlib (pure)"
    )
    extension = rss("websockets PerMessageDeflate (extension alone)")
    protocol = rss("websockets ServerProtocol + PerMessageDeflate")
    if ours is None or extension is None or protocol is None:
        return []
    return [
        f"at {setting}, the default: wscodec {ours} KiB per connection; websockets' extension {extension} KiB, "
        f"its ServerProtocol with it {protocol} KiB"
        + (f", documented {DOCUMENTED[DEFAULT]} KiB" if size == KiB else "")
    ]


def _kib(value: float) -> float:
    return round(value / KiB, 1)


def _setting(bits_mem: tuple[int, int] | None) -> str:
    return "off" if bits_mem is None else f"{bits_mem[0]}/{bits_mem[1]}"


def run(args: Any, progress: Progress) -> list[Section]:
    """Measure memory per connection (``args.quick``: fewer connections, the default setting only)."""
    quick = bool(getattr(args, "quick", False))
    count, traced = (50, 20) if quick else (CONNECTIONS, TRACED_CONNECTIONS)
    settings: list[tuple[int, int] | None] = [DEFAULT] if quick else list(SETTINGS)
    settings.append(None)
    sizes = (KiB,) if quick else (KiB, 64 * KiB)
    rows = _rows()
    errors: list[list[Value]] = []
    results: dict[tuple[str, int, str, str], dict[str, float]] = {}  # (label, size, setting, phase) -> figures
    jobs: list[tuple[_Row, int, tuple[int, int] | None, str]] = []
    for size in sizes:
        jobs += [(row, size, setting, "both") for row in rows for setting in settings if _wants(row, setting)]
    for row in rows:  # nothing allocated until used: each direction alone, and neither
        if not row.off_only and row.kind != "websockets-protocol":
            jobs += [(row, KiB, DEFAULT, phase) for phase in PHASES if phase != "both"]
    missing = {row.label: _available(row.kind, row.backend) for row in rows}
    for i, (row, size, setting, phase) in enumerate(jobs, 1):
        if missing[row.label] is not None:
            continue
        progress(f"memory: {i}/{len(jobs)} {row.label}, {_setting(setting)}, {size_label(size)} {phase}")
        bits, mem_level = setting if setting is not None else (None, 8)
        spec = Spec(
            row.kind,
            row.backend,
            bits,
            mem_level,
            phase,
            size,
            count,
            traced if size == KiB else 0,
        )
        outcome = _measure(spec)
        key = (row.label, size, _setting(setting), phase)
        if isinstance(outcome, str):
            where = f"{row.label} @ {_setting(setting)}, {size_label(size)} {phase}"
            errors.append([f"{ERROR}: {where}", outcome])
        else:
            results[key] = outcome
    columns = [_setting(s) for s in settings]

    def line(row: _Row, size: int, what: str) -> list[Value]:
        shown = version(row.dist) or "?"
        cells: list[Value] = [row.label, shown if missing[row.label] is None else missing[row.label]]
        for setting in columns:
            figures = results.get((row.label, size, setting, "both"))
            cells.append(_kib(figures[what]) if figures and what in figures else None)
        return cells

    def documented() -> list[Value]:
        cells: list[Value] = ["websockets, documented (docs/topics/memory.rst)", "-"]
        cells += [DOCUMENTED.get(s) for s in settings]
        return cells

    header = ["connection", "version", *columns]
    method = [
        (
            f"{count:,} server connections in a fresh process, each kept alive after one {{size}} JSON-like message "
            "received (compressed, masked) and one sent; the resident set's growth / connections, in KiB"
        ),
        (
            "columns: window bits / memLevel, both directions (context takeover, level 6; isal at its level 2, "
            "it has no memLevel); 'off': no compression"
        ),
        (
            "wscodec: the server's PerMessageDeflate and MessageDecoder; websockets: its sans-I/O ServerProtocol "
            "past the handshake (its documented figures are for a whole asyncio connection), and its "
            "PerMessageDeflate extension alone"
        ),
    ]
    sections: list[Section] = []
    for size in sizes:
        label = size_label(size)
        body = [documented()] if size == KiB else []
        body += [line(row, size, "rss") for row in rows if missing[row.label] is None or size == KiB]
        notes = [method[0].format(size=label), *method[1:]] if size == sizes[0] else []
        if size > KiB:
            notes.append(f"{label} messages touch every page of the windows and tables: a busy connection's figure")
        notes += _default_comparison(results, size)
        sections.append(
            {
                "title": f"memory: resident KiB per connection after one {label} message each way",
                "columns": header,
                "rows": body,
                "notes": notes,
            }
        )
    sections.append(
        {
            "title": "memory: KiB per connection that tracemalloc sees (one 1 KiB message each way)",
            "columns": header,
            "rows": [line(row, KiB, "traced") for row in rows],
            "notes": [
                f"{traced:,} more connections built under tracemalloc in the same process",
                (
                    "tracemalloc counts what Python's allocators hand out: CPython's zlib module allocates through "
                    "them, zlib called from C (wscodec compiled, zlib backend) does not, so those rows show only "
                    "the Python objects"
                ),
            ],
        }
    )
    phase_rows: list[list[Value]] = []
    for row in rows:
        if row.off_only or row.kind == "websockets-protocol":
            continue
        cells: list[Value] = [row.label, version(row.dist) or "?" if missing[row.label] is None else missing[row.label]]
        for what in ("rss", "traced"):
            for phase in PHASES:
                figures = results.get((row.label, KiB, _setting(DEFAULT), phase))
                cells.append(_kib(figures[what]) if figures and what in figures else None)
        phase_rows.append(cells)
    sections.append(
        {
            "title": "memory: KiB per connection by what it has done (12/5, 1 KiB messages)",
            "columns": [
                "connection",
                "version",
                *(f"{phase} RSS" for phase in PHASES),
                *(f"{phase} traced" for phase in PHASES),
            ],
            "rows": phase_rows,
            "notes": [
                (
                    "constructed: never used; received: one message received (inflater only); sent: one message "
                    "sent (compressor only); both: one each way"
                ),
                "websockets' extension creates its compressor and decompressor when it is constructed",
            ],
        }
    )
    if errors:
        for section in sections[:1]:
            width = len(section["columns"])
            section["rows"] += [row + [None] * (width - len(row)) for row in errors]
    return sections


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
