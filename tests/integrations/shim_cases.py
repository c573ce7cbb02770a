"""Shared helpers of the integration tests: messages, odd-sized chunking, peers in another process.

Every test leaves the hosts as it found them: the autouse fixture uninstalls
every shim afterwards, so a failing test cannot leak a patch into the next.
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from echo_peers import simulate_pure_host  # this directory is on sys.path, as for conftest

import wscodec
from wscodec.integrations import InstallReport, Versions, uninstall_all
from wscodec.integrations._patch import Replace

HERE = Path(__file__).resolve().parent

#: payload sizes of the end-to-end echo tests
SIZES = (0, 125, 65536, 1 << 20)
#: chunk sizes cycled through when bytes are fed or relayed "in odd-sized chunks"
ODD_CHUNKS = (1, 3, 7, 13, 127, 1021, 4093, 65521)
_UTF8_PATTERN = "aé€😀"  # 1-, 2-, 3- and 4-byte code points


def outcome(func: Callable[..., Any], *args: object) -> Any:
    """What ``func(*args)`` returns, or the type and message of what it raises (to compare with the host's)."""
    try:
        return func(*args)
    except Exception as exc:  # noqa: BLE001 - comparing any error
        return (type(exc), str(exc))


def utf8_text(size: int) -> str:
    """A string whose UTF-8 encoding is exactly ``size`` bytes, mostly multi-byte code points."""
    width = len(_UTF8_PATTERN.encode())
    return _UTF8_PATTERN * (size // width) + "a" * (size % width)


def binary(size: int) -> bytes:
    """``size`` bytes of a pattern whose period (251) is no multiple of the mask's 4."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def odd_chunks(data: bytes) -> Iterator[bytes]:
    """``data`` cut into pieces of the :data:`ODD_CHUNKS` sizes, in turn."""
    pos = 0
    for step in itertools.cycle(ODD_CHUNKS):
        if pos >= len(data):
            return
        yield data[pos : pos + step]
        pos += step


def split3(data: bytes | str) -> list[bytes | str]:
    """Three uneven fragments of ``data`` (some may be empty for tiny messages)."""
    n = len(data)
    a, b = n // 3 + 1, (2 * n) // 3 + 1
    return [data[:a], data[a:b], data[b:]]


@dataclass(frozen=True, eq=False)
class Case:
    """One message of an echo exchange."""

    text: bool
    size: int
    fragmented: bool

    @functools.cached_property
    def payload(self) -> str | bytes:
        """The message: multi-byte UTF-8 text or binary bytes of ``size`` bytes."""
        return utf8_text(self.size) if self.text else binary(self.size)

    def __str__(self) -> str:
        return f"{'text' if self.text else 'binary'}-{self.size}{'-fragmented' if self.fragmented else ''}"


#: every message of the end-to-end echo: text and binary, each size, whole and fragmented
CASES = [Case(text, size, frag) for text in (True, False) for size in SIZES for frag in (False, True)]


@pytest.fixture(autouse=True)
def _restore_hosts() -> Iterator[None]:
    yield
    uninstall_all()


@pytest.fixture(params=["native", "pure"])
def host_build(request: pytest.FixtureRequest) -> str:
    """How the host runs: "native" (its compiled speedups, as installed) or "pure" (its fallback)."""
    return str(request.param)


def pure_host(host: str, build: str) -> Callable[[], None]:
    """Make the already-imported ``host`` use its pure fallback if ``build`` is "pure"; returns the undo."""
    if build == "pure":
        return simulate_pure_host(host)
    return lambda: None


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a Python subprocess that must import the wscodec under test."""
    env = {**os.environ, **extra}
    package_root = str(Path(wscodec.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


class Relay:
    """A TCP relay that forwards each read in :data:`ODD_CHUNKS`-sized writes, both ways.

    It sits between a client and a peer so that neither end receives frames
    in the sizes the other wrote them (TCP may still merge pieces in flight).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._sockets.append(sock)
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                for piece in odd_chunks(data):
                    dst.sendall(piece)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the other direction closed the connection

    def close(self) -> None:
        """Stop accepting and close every relayed connection."""
        for sock in (self._listener, *self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept() or recv(); close() does not
            except OSError:
                pass  # already disconnected
            sock.close()
        for thread in self._threads:
            thread.join(timeout=10)


class Peer:
    """An echo server of a host library in a separate process (see echo_peers.py)."""

    def __init__(self, host: str, kind: str, shim: str, pure_host: bool) -> None:
        args = [sys.executable, str(HERE / "echo_peers.py"), host, kind, shim]
        if pure_host:
            args.append("--pure-host")
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=subprocess_env(), text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"peer {args[2:]} did not start (exit status {self.process.wait()})")
        self.port = int(line.split()[1])

    def close(self) -> None:
        """Stop the server and wait for the process to exit."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def peers() -> Iterator[Callable[[str, str, str, bool], Relay]]:
    """Start (once per module and configuration) a peer behind a chunking relay; returns its relay."""
    started: dict[tuple[str, str, str, bool], tuple[Peer, Relay]] = {}

    def get(host: str, kind: str, shim: str, pure: bool) -> Relay:
        key = (host, kind, shim, pure)
        if key not in started:
            peer = Peer(host, kind, shim, pure)
            started[key] = (peer, Relay(peer.port))
        return started[key][1]

    yield get
    for peer, relay in started.values():
        relay.close()
        peer.close()


def installed_originals(shim: ModuleType) -> dict[str, object]:
    """The host's own objects the installed ``shim`` replaced, by dotted name (what install() gives its self-check)."""
    return {
        Replace(patch.module, patch.attribute, patch.replacement, "").where: patch.original
        for patch in shim._SHIM._patches
    }


def install_as_newer(shim: ModuleType, impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> InstallReport:
    """Install ``shim`` with the installed host release taken as newer than its range (the self-check decides)."""
    monkeypatch.setattr(shim._SHIM, "versions", Versions("0.1", "0.1"))
    return shim.install(impl)
