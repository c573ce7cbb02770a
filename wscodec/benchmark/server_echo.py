"""``python -m wscodec bench --server``: round trips per second through ``python -m wscodec serve``.

Each server runs in its own process (so that client and server have a core
each): wscodec's echo server with the compiled and with the pure codec, and,
as peers, an echo server written the usual way on websockets and on aiohttp
(this module's ``__main__`` runs those: ``python -m
wscodec.benchmark.server_echo websockets|aiohttp``). One client, the same for
every server, sends a binary message of 16 B, 1 KiB or 64 KiB and waits for
its echo before sending the next: a blocking socket and pre-encoded frames, so
that it costs as little as possible and the servers make the difference. The
servers alternate within every pass, and the median of the passes is
reported, beside the CPU time each server used per round trip (Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .harness import ERROR, RATIO, Progress, Section, Value
from .registry import version

__all__ = ["SERVERS", "SIZES", "run"]

#: message sizes of the echo, in bytes
SIZES = (16, 1024, 65536)
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Server:
    """A table row: a server command, and the implementation its banner must name (wscodec's)."""

    label: str
    dist: str
    kind: str
    args: tuple[str, ...]
    implementation: str | None = None  # "cython" or "python" for wscodec's rows
    ours: bool = False


SERVERS = (
    Server(
        "wscodec serve (compiled)",
        "wscodec",
        "asyncio.Protocol + compiled codec",
        ("-m", "wscodec", "serve"),
        "cython",
        True,
    ),
    Server(
        "wscodec serve (pure)",
        "wscodec",
        "asyncio.Protocol + pure codec",
        ("-m", "wscodec", "serve"),
        "python",
        True,
    ),
    Server("websockets", "websockets", "asyncio server, `async for` echo", ("-m", __name__, "websockets")),
    Server("aiohttp", "aiohttp", "web.WebSocketResponse echo", ("-m", __name__, "aiohttp")),
)


def _label(size: int) -> str:
    return f"{size >> 10} KiB" if size >= 1024 else f"{size} B"


# ---------------------------------------------------------------- server processes


@contextmanager
def _server_process(server: Server, folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start ``server`` on a free loopback port; yield the process and the port; stop it."""
    env = dict(os.environ)
    env.pop("WSCODEC_NO_EXTENSIONS", None)
    if server.implementation == "python":
        env["WSCODEC_NO_EXTENSIONS"] = "1"
    # The children import the wscodec this process runs, wherever it lies.
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    log = folder / f"{server.label.split()[0]}-{server.implementation}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *server.args, "--host", HOST, "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while "ws://" not in (text := log.read_text("utf-8", "replace")):
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
            process.wait(STARTUP_TIMEOUT)
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


# ---------------------------------------------------------------- the client


class EchoClient:
    """A blocking WebSocket client that sends one pre-encoded message at a time and reads its echo."""

    def __init__(self, port: int, size: int) -> None:
        import wscodec

        self.sock = socket.create_connection((HOST, port), timeout=STARTUP_TIMEOUT)
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


def _start(server: Server, shown: str, folder: Path, stack: ExitStack, seconds: float) -> _Running:
    process, port = stack.enter_context(_server_process(server, folder))
    clients: dict[int, EchoClient] = {}
    for size in SIZES:
        clients[size] = stack.enter_context(closing(EchoClient(port, size)))
    running = _Running(server, shown, process, clients)
    # Calibrate: as many round trips as fit in about ``seconds`` (at least 20).
    running.counts = {size: max(20, int(seconds * 200 / clients[size].round_trips(200))) for size in SIZES}
    return running


def _ratios(values: list[Value], peers: list[list[Value]]) -> list[Value]:
    """Each value against the best peer's: above 1 is better (more messages/s, less CPU per message)."""
    out: list[Value] = []
    for i, value in enumerate(values):
        known = [v for peer in peers if isinstance(v := peer[i], float) and v]
        if not isinstance(value, float) or not value or not known:
            out.append(None)
        elif i < len(SIZES):  # messages/s
            out.append(round(value / max(known), 2))
        else:  # CPU per message
            out.append(round(min(known) / value, 2))
    return out


def run(args: argparse.Namespace, progress: Progress) -> list[Section]:
    """Measure every server, all running at once and interleaved within each pass; one section."""
    quick = bool(getattr(args, "quick", False))
    passes, seconds = (1, 0.05) if quick else (9, 0.15)
    columns = [f"{_label(s)} msg/s" for s in SIZES] + [f"{_label(s)} server CPU µs/msg" for s in SIZES]
    absent: dict[str, str] = {}  # label -> "not installed" / "not built"
    running: list[_Running] = []
    with tempfile.TemporaryDirectory(prefix="wscodec-bench-server-") as tmp, ExitStack() as stack:
        for server in SERVERS:
            progress(f"server: starting {server.label}")
            shown = version(server.dist)
            if shown is None:
                absent[server.label] = "not installed"
                continue
            try:
                running.append(_start(server, shown, Path(tmp), stack, seconds))
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
    measured = {one.server.label: one for one in running if one.error is None}
    peers = [one.values() for one in measured.values() if not one.server.ours]
    rows: list[list[Value]] = []
    errors: list[list[Value]] = []
    for server in SERVERS:
        if server.label in measured:
            values = measured[server.label].values()
            rows.append([server.label, measured[server.label].version, server.kind, *values])
            if server.ours and peers:
                rows.append([RATIO, "", "", *_ratios(values, peers)])
        elif absent[server.label].startswith(ERROR):
            errors.append([f"{absent[server.label]} ({server.label})", *[None] * (len(columns) + 2)])
        else:
            rows.append([server.label, absent[server.label], server.kind, *[None] * len(columns)])
    notes = [
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
            "statistics); ratios above 1 mean faster (msg/s) or cheaper (CPU) than the best peer"
        ),
        f"Python {sys.version.split()[0]}, asyncio's default event loop in every server",
    ]
    return [
        {
            "title": "Echo server: round trips per second over one connection, and server CPU per round trip",
            "columns": ["server", "version", "kind", *columns],
            "rows": rows + errors,
            "notes": notes,
        }
    ]


# ---------------------------------------------------------------- the peers' echo servers


def _serve_websockets(sock: socket.socket) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
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

    app = web.Application()
    app.router.add_get("/", echo)
    web.run_app(app, sock=sock, print=None, access_log=None)


def main(argv: list[str] | None = None) -> None:
    """Run a peer's echo server: ``python -m wscodec.benchmark.server_echo websockets|aiohttp``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("peer", choices=["websockets", "aiohttp"])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = socket.create_server((args.host, args.port))
    host, port = sock.getsockname()[:2]
    print(f"{args.peer} echo server on ws://{host}:{port}/", file=sys.stderr, flush=True)
    try:
        (_serve_websockets if args.peer == "websockets" else _serve_aiohttp)(sock)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
