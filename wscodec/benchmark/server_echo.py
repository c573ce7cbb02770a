"""``python -m wscodec bench --server``: round trips through ``python -m wscodec serve`` and its peers.

Each server runs in its own process (so that client and server have a core
each): wscodec's echo server with the compiled and with the pure codec, and,
as peers, echo servers written the usual way on picows, websockets and
aiohttp (this module's ``__main__`` runs those: ``python -m
wscodec.benchmark.server_echo picows|websockets|aiohttp``). When uvloop is
installed, every server runs a second time on it (``--uvloop``), as its own
rows. One client, the same for every server, sends a binary message of 16 B,
1 KiB or 64 KiB and waits for its echo before sending the next: a blocking
socket and pre-encoded frames, so that it costs as little as possible and the
servers make the difference.

Two tables:

* **CPU time** (every run): all servers run at once, alternating within every
  pass; the median of the passes is reported, round trips per second and the
  CPU time each server used per round trip (Linux's scheduler statistics).
  The client and the servers are pinned to two different CPUs where there
  are two: which core a server shares decides its cost more than anything
  it runs. On a shared machine the figures still move by 10-15 % from run to run.
* **Instructions** (where valgrind is installed): user-space instructions the
  server executes per round trip, counted by valgrind's callgrind with
  ``PYTHONHASHSEED`` fixed. Each server process runs once with 1,000 round
  trips per size and once per size with 6,000 of that size; the difference,
  divided by 5,000, leaves out start-up and shutdown. Repeatable to within a
  few instructions, so it can decide a change the CPU time cannot; it counts
  no kernel work and no cache misses.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .harness import ERROR, RATIO, Progress, Section, Value
from .registry import version

__all__ = [
    "INSTRUCTION_COUNTS",
    "INSTRUCTION_SIZES",
    "SERVERS",
    "SIZES",
    "count_instructions",
    "instruction_table",
    "run",
]

#: message sizes of the echo, in bytes
SIZES = (16, 1024, 65536)
#: sizes of the instruction table: a 64 KiB message arrives in as many reads as the kernel splits it into,
#: which depends on timing, so its instruction count is not repeatable
INSTRUCTION_SIZES = (16, 1024)
#: round trips of the short and the long run of the instruction table (``--quick``: a tenth)
INSTRUCTION_COUNTS = (1000, 6000)
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
#: under valgrind a server starts and runs 20-100 times slower
VALGRIND_TIMEOUT = 900.0
PEERS = ("picows", "websockets", "aiohttp")


@dataclass(frozen=True)
class Server:
    """A table row: a server command, and the implementation its banner must name (wscodec's)."""

    label: str
    dist: str
    kind: str
    name: str  # "wscodec" or one of PEERS
    implementation: str | None = None  # "cython" or "python" for wscodec's rows
    ours: bool = False
    uvloop: bool = False

    @property
    def args(self) -> tuple[str, ...]:
        """The interpreter's arguments that start this server (``--host`` and ``--port`` follow)."""
        if self.name == "wscodec" and not self.uvloop:
            return ("-m", "wscodec", "serve")  # the command itself, nothing in between
        return ("-m", __name__, *(("--uvloop",) if self.uvloop else ()), self.name)


_BASE = (
    Server("wscodec serve (compiled)", "wscodec", "asyncio protocol + compiled codec", "wscodec", "cython", True),
    Server("wscodec serve (pure)", "wscodec", "asyncio protocol + pure codec", "wscodec", "python", True),
    Server("picows", "picows", "Cython protocol, WSListener.on_ws_frame echo", "picows"),
    Server("websockets", "websockets", "asyncio server, `async for` echo", "websockets"),
    Server("aiohttp", "aiohttp", "web.WebSocketResponse echo", "aiohttp"),
)

#: every row: each server on asyncio's default event loop, then each again on uvloop
SERVERS = _BASE + tuple(
    Server(f"{s.label} + uvloop", s.dist, s.kind, s.name, s.implementation, s.ours, uvloop=True) for s in _BASE
)


def _label(size: int) -> str:
    return f"{size >> 10} KiB" if size >= 1024 else f"{size} B"


def _uvloop_version() -> str | None:
    return version("uvloop")


def _shown_version(server: Server) -> str | None:
    """The version column: the server's library, and uvloop's on a uvloop row; None if either is missing."""
    shown = version(server.dist)
    if shown is None or not server.uvloop:
        return shown
    loop = _uvloop_version()
    return None if loop is None else f"{shown}, uvloop {loop}"


# ---------------------------------------------------------------- server processes


@contextmanager
def _server_process(
    server: Server,
    folder: Path,
    *,
    wrapper: Sequence[str] = (),
    env_extra: Mapping[str, str] | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start ``server`` on a free loopback port (under ``wrapper``); yield the process and the port; stop it.

    Stopping sends SIGTERM and waits for the process to exit (it is killed after ``timeout``).
    """
    env = dict(os.environ)
    env.pop("WSCODEC_NO_EXTENSIONS", None)
    if server.implementation == "python":
        env["WSCODEC_NO_EXTENSIONS"] = "1"
    # The children import the wscodec this process runs, wherever it lies.
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env.update(env_extra or {})
    tag = "-".join(filter(None, [server.name, server.implementation, "uvloop" if server.uvloop else ""]))
    log = Path(tempfile.mkstemp(prefix=f"{tag}-", suffix=".log", dir=folder)[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*wrapper, sys.executable, *server.args, "--host", HOST, "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    try:
        deadline = time.monotonic() + timeout
        # until the banner's line is whole (a write may land in two pieces)
        while "\n" not in (text := log.read_text("utf-8", "replace")).partition("ws://")[2]:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server.label} did not start: {text.strip()[-500:]}")
            time.sleep(0.05)
        banner = text[: text.index("\n", text.index("ws://"))]
        if server.implementation and f"({server.implementation})" not in banner:
            raise LookupError(f"not built ({banner.strip()})")
        yield process, int(banner.split("ws://", 1)[1].split("/", 1)[0].rpartition(":")[2])
    finally:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a process has run so far, all its threads (Linux's scheduler statistics), else None.

    /proc/PID/stat counts 10 ms clock ticks, far too coarse for a server that wakes up for a few
    microseconds per message; schedstat counts nanoseconds.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        total = 0
        for task in tasks:
            with open(f"/proc/{pid}/task/{task}/schedstat", encoding="ascii") as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total / 1e9


def placement() -> tuple[int, int] | None:
    """The CPUs the CPU-time table pins the client and the servers to: the first two this process may
    use, or None where there are fewer or no way to pin (not Linux).

    Pinned, a server costs the same from run to run. Left to the scheduler, a server process that
    happens to share the client's core costs about half the CPU time per round trip of one that does
    not (no wake-up of another core), and which one it is changes from run to run and from server to
    server.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else None


def _pin(pid: int, cpu: int) -> None:
    """Every thread of process ``pid`` onto ``cpu``."""
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(task), {cpu})
        except ProcessLookupError:  # a thread that has ended since
            continue


@contextmanager
def _client_on(cpu: int | None) -> Iterator[None]:
    """Run the calling thread (the client) on ``cpu`` (None: anywhere) until the block ends."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# ---------------------------------------------------------------- the client


class EchoClient:
    """A blocking WebSocket client that sends one pre-encoded message at a time and reads its echo."""

    def __init__(self, port: int, size: int, timeout: float = STARTUP_TIMEOUT) -> None:
        import wscodec

        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = wscodec.generate_key()
        self.sock.sendall(
            f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode("ascii")
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101 ") or wscodec.accept_key(key).encode() not in head:
            raise ConnectionError(f"handshake refused: {head[:200]!r}")
        payload = os.urandom(size)
        self.frame = wscodec.encode_frame(wscodec.Opcode.BINARY, payload, mask=True)
        self.echo = wscodec.encode_frame(wscodec.Opcode.BINARY, payload)  # what must come back
        self.buffer = bytearray(len(self.echo))
        if rest:
            raise ConnectionError("data before the first message")

    def round_trips(self, count: int) -> float:
        """Send ``count`` messages one at a time, each after the previous echo; return the seconds taken."""
        sock, frame, view, size = self.sock, self.frame, memoryview(self.buffer), len(self.buffer)
        start = time.perf_counter()
        for _ in range(count):
            sock.sendall(frame)
            got = 0
            while got < size:
                n = sock.recv_into(view[got:])
                if not n:
                    raise ConnectionError("the server closed the connection")
                got += n
        elapsed = time.perf_counter() - start
        if self.buffer != self.echo:
            raise ValueError("the echo differs from the message sent")
        return elapsed

    def close(self) -> None:
        """Close without a closing handshake: the servers treat it as the client going away."""
        self.sock.close()


# ---------------------------------------------------------------- the CPU-time table


@dataclass
class _Running:
    """A started server, its clients (one connection per size) and what was measured so far."""

    server: Server
    version: str
    process: subprocess.Popen[bytes]
    clients: dict[int, EchoClient]
    counts: dict[int, int] = field(default_factory=dict)
    rates: dict[int, list[float]] = field(default_factory=lambda: {size: [] for size in SIZES})
    cpu: dict[int, list[float]] = field(default_factory=lambda: {size: [] for size in SIZES})
    error: str | None = None

    def measure(self, size: int) -> None:
        """One timed run of ``size``-byte round trips."""
        before = _cpu_seconds(self.process.pid)
        elapsed = self.clients[size].round_trips(self.counts[size])
        after = _cpu_seconds(self.process.pid)
        self.rates[size].append(self.counts[size] / elapsed)
        if before is not None and after is not None:
            self.cpu[size].append((after - before) * 1e6 / self.counts[size])

    def values(self) -> list[Value]:
        """Median messages/s per size, then median server CPU µs per message per size."""
        values: list[Value] = [statistics.median(self.rates[s]) for s in SIZES]
        return values + [statistics.median(self.cpu[s]) if self.cpu[s] else None for s in SIZES]


def _start(server: Server, shown: str, folder: Path, stack: ExitStack, seconds: float, cpu: int | None) -> _Running:
    process, port = stack.enter_context(_server_process(server, folder))
    if cpu is not None:
        _pin(process.pid, cpu)
    clients: dict[int, EchoClient] = {}
    for size in SIZES:
        clients[size] = stack.enter_context(closing(EchoClient(port, size)))
    running = _Running(server, shown, process, clients)
    # Calibrate: as many round trips as fit in about ``seconds`` (at least 20).
    running.counts = {size: max(20, int(seconds * 200 / clients[size].round_trips(200))) for size in SIZES}
    return running


def _ratios(values: Sequence[Value], peers: Sequence[Sequence[Value]], higher_is_better: Sequence[bool]) -> list[Value]:
    """Each value against the best peer's: above 1 is better (more messages/s, less CPU or fewer instructions)."""
    out: list[Value] = []
    for i, value in enumerate(values):
        known = [v for peer in peers if isinstance(v := peer[i], (int, float)) and v]
        if not isinstance(value, (int, float)) or not value or not known:
            out.append(None)
        elif higher_is_better[i]:
            out.append(round(value / max(known), 2))
        else:
            out.append(round(min(known) / value, 2))
    return out


def _servers(selected: Sequence[Server] | None) -> tuple[list[Server], list[str]]:
    """The rows to measure (uvloop's only when it is installed) and a note on what was left out."""
    servers = list(SERVERS if selected is None else selected)
    if _uvloop_version() is None and any(s.uvloop for s in servers):
        return [s for s in servers if not s.uvloop], ["uvloop is not installed: its rows are left out"]
    return servers, []


def _table(
    servers: Sequence[Server],
    measured: Mapping[str, list[Value]],
    versions: Mapping[str, str],
    absent: Mapping[str, str],
    higher_is_better: Sequence[bool],
) -> list[list[Value]]:
    """Rows in ``servers`` order; each of ours followed by its ratios to the best peer on the same event loop."""
    rows: list[list[Value]] = []
    errors: list[list[Value]] = []
    width = len(higher_is_better)
    for server in servers:
        if server.label in measured:
            values = measured[server.label]
            rows.append([server.label, versions[server.label], server.kind, *values])
            peers = [
                measured[s.label] for s in servers if not s.ours and s.uvloop == server.uvloop and s.label in measured
            ]
            if server.ours and peers:
                rows.append([RATIO, "", "", *_ratios(values, peers, higher_is_better)])
        elif absent[server.label].startswith(ERROR):
            errors.append([f"{absent[server.label]} ({server.label})", *[None] * (width + 2)])
        else:
            rows.append([server.label, absent[server.label], server.kind, *[None] * width])
    return rows + errors


def cpu_table(
    servers: Sequence[Server], progress: Progress, *, passes: int, seconds: float, notes: Sequence[str] = ()
) -> Section:
    """Measure ``servers``, all running at once and interleaved within each pass: the CPU-time section."""
    columns = [f"{_label(s)} msg/s" for s in SIZES] + [f"{_label(s)} server CPU µs/msg" for s in SIZES]
    absent: dict[str, str] = {}  # label -> "not installed" / "not built" / an error
    running: list[_Running] = []
    cpus = placement()
    client_cpu, server_cpu = cpus if cpus is not None else (None, None)
    with (
        _client_on(client_cpu),
        tempfile.TemporaryDirectory(prefix="wscodec-bench-server-") as tmp,
        ExitStack() as stack,
    ):
        for server in servers:
            progress(f"server: starting {server.label}")
            shown = _shown_version(server)
            if shown is None:
                absent[server.label] = "not installed"
                continue
            try:
                running.append(_start(server, shown, Path(tmp), stack, seconds, server_cpu))
            except LookupError:
                absent[server.label] = "not built"
            except Exception as exc:  # noqa: BLE001 - one broken server must not hide the others
                absent[server.label] = f"{ERROR}: {type(exc).__name__}: {exc}"
        for index in range(passes):
            order = running[index % len(running) :] + running[: index % len(running)] if running else []
            for size in SIZES if index % 2 == 0 else SIZES[::-1]:
                progress(f"server: pass {index + 1}/{passes}, {_label(size)}")
                for one in order:
                    if one.error is None:
                        try:
                            one.measure(size)
                        except Exception as exc:  # noqa: BLE001
                            one.error = f"{ERROR}: {type(exc).__name__}: {exc}"
    for one in running:
        if one.error is not None:
            absent[one.server.label] = one.error
    good = [one for one in running if one.error is None]
    measured = {one.server.label: one.values() for one in good}
    versions = {one.server.label: one.version for one in good}
    higher_is_better = [True] * len(SIZES) + [False] * len(SIZES)
    return {
        "title": "Echo server: round trips per second over one connection, and server CPU per round trip",
        "columns": ["server", "version", "kind", *columns],
        "rows": _table(servers, measured, versions, absent, higher_is_better),
        "notes": [
            (
                "one binary message at a time (send, wait for its echo) from one client over loopback TCP "
                "(TCP_NODELAY), each server in its own process; compression off; the client is a blocking "
                "socket sending pre-encoded masked frames"
            ),
            (
                f"all servers run at once; median of {passes} pass(es), each timing every server for "
                f"~{seconds:g} s per size, the servers' order rotating between passes"
            ),
            (
                "server CPU µs/msg: the time the server process ran on a CPU per round trip (Linux scheduler "
                "statistics, kernel time included); ratios above 1 mean faster (msg/s) or cheaper (CPU) than "
                "the best peer on the same event loop"
            ),
            (
                f"the client runs on CPU {client_cpu}, every server on CPU {server_cpu} (pinned, so that no "
                "server shares the client's core in one run and not in the next)"
                if cpus is not None
                else "client and servers unpinned: fewer than two CPUs to pin them to"
            ),
            f"Python {sys.version.split()[0]}; rows without '+ uvloop' run on asyncio's default event loop",
            *notes,
        ],
    }


# ---------------------------------------------------------------- the instruction table


def _callgrind_total(path: Path) -> int:
    """The instruction total of a callgrind output file."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise ValueError(f"no instruction total in {path.name}")


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, again every 30 s while the process lives (a signal can be lost under valgrind), for ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        process.terminate()
        try:
            process.wait(min(30.0, max(0.0, deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise


def count_instructions(
    server: Server, counts: Mapping[int, int], folder: Path, valgrind: str, timeout: float = VALGRIND_TIMEOUT
) -> int:
    """User-space instructions one run of ``server`` under callgrind executes, start-up and shutdown included.

    One connection per size in ``counts`` is opened first; then each makes ``counts[size]`` round
    trips in turn, and the server is stopped with every connection still open, so that what it does
    after the last round trip is the same whatever the counts.
    """
    out = Path(tempfile.mkstemp(prefix="callgrind-", suffix=".out", dir=folder)[1])
    wrapper = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}"]
    with (
        _server_process(server, folder, wrapper=wrapper, env_extra={"PYTHONHASHSEED": "0"}, timeout=timeout) as (
            process,
            port,
        ),
        ExitStack() as stack,
    ):
        clients = {size: stack.enter_context(closing(EchoClient(port, size, timeout))) for size in counts}
        for size, count in counts.items():
            clients[size].round_trips(count)
        # Stop the server while the connections are open: closing them first would race with the SIGTERM.
        _stop(process, timeout)
    if process.returncode != 0:
        raise RuntimeError(f"{server.label} exited with status {process.returncode} under valgrind")
    return _callgrind_total(out)


def _instruction_runs(
    server: Server, sizes: Sequence[int], counts: tuple[int, int], folder: Path, valgrind: str, runs: ThreadPoolExecutor
) -> Callable[[], dict[int, float]]:
    """Start ``server``'s runs under callgrind; the function returned waits for them and gives per size
    ``(I(long) - I(short)) / (long - short)``: one run with ``short`` round trips of every size, and one
    per size with ``long`` round trips of that size."""
    short, long = counts
    base = runs.submit(count_instructions, server, dict.fromkeys(sizes, short), folder, valgrind)
    longer = {
        size: runs.submit(
            count_instructions, server, {s: long if s == size else short for s in sizes}, folder, valgrind
        )
        for size in sizes
    }

    def result() -> dict[int, float]:
        baseline = base.result()
        return {size: (future.result() - baseline) / (long - short) for size, future in longer.items()}

    return result


def instruction_table(
    servers: Sequence[Server],
    progress: Progress,
    *,
    counts: tuple[int, int] = INSTRUCTION_COUNTS,
    sizes: Sequence[int] = INSTRUCTION_SIZES,
    notes: Sequence[str] = (),
) -> Section:
    """Count each server's instructions per round trip under callgrind: the instruction section."""
    columns = [f"{_label(s)} instructions/msg" for s in sizes]
    title = "Echo server: user-space instructions per round trip (callgrind)"
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {
            "title": title,
            "columns": ["server"],
            "rows": [],
            "notes": ["valgrind is not installed (e.g. apt-get install valgrind): no instruction counts"],
        }
    absent: dict[str, str] = {}
    measured: dict[str, list[Value]] = {}
    versions: dict[str, str] = {}
    # Each count is exact whatever else runs, so the runs share the cores: all are queued at once.
    with (
        tempfile.TemporaryDirectory(prefix="wscodec-bench-callgrind-") as tmp,
        ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as runs,
    ):
        pending = {}
        for server in servers:
            shown = _shown_version(server)
            if shown is None:
                absent[server.label] = "not installed"
            else:
                versions[server.label] = shown
                pending[server.label] = _instruction_runs(server, sizes, counts, Path(tmp), valgrind, runs)
        for server in servers:
            if server.label not in pending:
                continue
            progress(f"server: counting instructions of {server.label}")
            try:
                per_size = pending[server.label]()
            except LookupError:
                absent[server.label] = "not built"
            except Exception as exc:  # noqa: BLE001 - one broken server must not hide the others
                absent[server.label] = f"{ERROR}: {type(exc).__name__}: {exc}"
            else:
                measured[server.label] = [round(per_size[s]) for s in sizes]
    return {
        "title": title,
        "columns": ["server", "version", "kind", *columns],
        "rows": _table(servers, measured, versions, absent, [False] * len(sizes)),
        "notes": [
            (
                f"the same client as above; the server runs under valgrind --tool=callgrind with PYTHONHASHSEED=0: "
                f"(instructions of a run with {counts[1]:,} round trips of a size - those of a run with "
                f"{counts[0]:,}) / {counts[1] - counts[0]:,}, so that start-up and shutdown cancel out"
            ),
            (
                "user space only (no kernel work, no cache or branch misses); repeatable to a few instructions; "
                "ratios above 1 mean fewer instructions than the best peer on the same event loop"
            ),
            *notes,
        ],
    }


# ---------------------------------------------------------------- the section runner


def run(args: argparse.Namespace, progress: Progress) -> list[Section]:
    """The CPU-time section and, where valgrind exists, the instruction section."""
    quick = bool(getattr(args, "quick", False))
    mode = getattr(args, "instructions", "auto")
    servers, notes = _servers(None)
    sections: list[Section] = []
    if mode != "only":
        passes, seconds = (1, 0.05) if quick else (9, 0.15)
        sections.append(cpu_table(servers, progress, passes=passes, seconds=seconds, notes=notes))
    if mode == "only" or (mode == "auto" and shutil.which("valgrind")):
        counts = (INSTRUCTION_COUNTS[0] // 10, INSTRUCTION_COUNTS[1] // 10) if quick else INSTRUCTION_COUNTS
        sections.append(instruction_table(servers, progress, counts=counts, notes=notes))
    return sections


# ---------------------------------------------------------------- the peers' echo servers


def _serve_picows(sock: socket.socket) -> None:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

    class Echo(WSListener):
        # picows' own echo server, as its README shows it
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            transport.send(frame.msg_type, frame.get_payload_as_bytes())
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()

    async def main() -> None:
        _exit_on_sigterm()
        server = await ws_create_server(lambda request: Echo(), sock=sock)
        await server.serve_forever()

    asyncio.run(main())


def _serve_websockets(sock: socket.socket) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
        _exit_on_sigterm()
        async with serve(echo, sock=sock, compression=None, max_size=None, ping_interval=None) as server:
            await server.serve_forever()

    asyncio.run(main())


def _serve_aiohttp(sock: socket.socket) -> None:
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False)
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    async def on_startup(app: web.Application) -> None:
        _exit_on_sigterm()

    app = web.Application()
    app.router.add_get("/", echo)
    app.on_startup.append(on_startup)
    web.run_app(app, sock=sock, print=None, access_log=None, handle_signals=False)


def _exit_on_sigterm() -> None:
    """SIGTERM ends a peer at once, with status 0 (under valgrind: with its counts written).

    aiohttp's graceful shutdown would wait for the open connections. The handler goes through the
    event loop's wake-up pipe: a plain signal.signal() handler can be missed while the loop sleeps
    in epoll_wait() under valgrind.
    """
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, os._exit, 0)


def _use_uvloop() -> None:
    import warnings

    import uvloop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # event loop policies are deprecated from 3.14
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: list[str] | None = None) -> int:
    """Run an echo server: ``python -m wscodec.benchmark.server_echo [--uvloop] wscodec|picows|websockets|aiohttp``.

    ``wscodec`` is ``python -m wscodec serve`` itself, here to run it on uvloop.
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("server", choices=["wscodec", *PEERS])
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if args.uvloop:
        _use_uvloop()
    if args.server == "wscodec":
        from ..__main__ import main as wscodec_main

        return wscodec_main(["serve", "--host", args.host, "--port", str(args.port)])
    sock = socket.create_server((args.host, args.port))
    host, port = sock.getsockname()[:2]
    loop = "uvloop" if args.uvloop else "asyncio"
    print(f"{args.server} echo server ({loop}) on ws://{host}:{port}/", file=sys.stderr, flush=True)
    serve = {"picows": _serve_picows, "websockets": _serve_websockets, "aiohttp": _serve_aiohttp}[args.server]
    try:
        serve(sock)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
