"""Live ``python -m wscodec serve`` processes, and the real clients that drive them.

One server process per implementation ("python", "cython": the ``impl``
fixture's) and per set of command-line options (``serve_with``), started on an
ephemeral port on first use and stopped with SIGTERM at the end of the session,
where it must exit 0 without a traceback. Each connection's log line tells
what the server agreed to and how many bytes it sent (:meth:`ServerProcess.connection`).
The Node.js and Chromium tests find their tools through the variables that
``.ci/setup-e2e`` prints (WSCODEC_E2E_NODE_PATH, WSCODEC_E2E_CHROMIUM), or on
PATH and in this folder's node_modules; without them they skip (needs.missing).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import needs
import pytest

import wscodec

#: --max-message-size of the test servers: a 1 MiB message passes, one byte over 2 MiB is refused.
MAX_MESSAGE_SIZE = 2 << 20
#: Generous bound on any wait for a server or a browser (never reached when things work).
DEADLINE = 60.0
#: Signals and descriptor passing as this suite uses them exist on POSIX systems only.
POSIX = os.name == "posix"


@dataclass
class ServerProcess:
    """A running ``python -m wscodec serve`` and where it listens."""

    implementation: str
    process: subprocess.Popen[bytes]
    log: Path
    host: str
    port: int
    max_message_size: int

    @property
    def url(self) -> str:
        """The WebSocket URL."""
        return f"ws://{self.host}:{self.port}/"

    def log_text(self) -> str:
        """Everything the server logged so far."""
        return self.log.read_text("utf-8", "replace")

    def log_mark(self) -> int:
        """Where the log ends now: :meth:`connection` only looks at the lines written after it."""
        return len(self.log_text())

    def connection(self, mark: int, port: int | None = None) -> ConnectionLog:
        """The log line of the connection from ``port`` (of the one connection when None) closed since ``mark``.

        Waits for it: the server writes it when the connection is gone, which may be a moment after
        the client saw the close.
        """
        deadline = time.monotonic() + DEADLINE
        while True:
            lines = [
                match
                for line in self.log_text()[mark:].splitlines()
                if (match := _CONNECTION_LINE.search(line)) and (port is None or int(match["port"]) == port)
            ]
            if lines or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert len(lines) == 1, (port, self.log_text()[mark:])
        match = lines[0]
        return ConnectionLog(
            deflate="(permessage-deflate)" in match["what"],
            messages_in=int(match["messages_in"]),
            bytes_in=int(match["bytes_in"]),
            messages_out=int(match["messages_out"]),
            bytes_out=int(match["bytes_out"]),
            close=int(match["close"]),
        )

    def stop(self) -> tuple[int, str]:
        """Send SIGTERM; return the exit status and the whole log."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self) -> tuple[int, str]:
        """Wait for the process to end; return its exit status and the whole log."""
        try:
            status = self.process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        return status, self.log_text()


#: The server's line for a WebSocket connection: "HOST:PORT websocket[ (permessage-deflate)] in=N msgs/N B ...".
_CONNECTION_LINE = re.compile(
    r":(?P<port>\d+) (?P<what>websocket[^=]*) in=(?P<messages_in>\d+) msgs/(?P<bytes_in>\d+) B"
    r" out=(?P<messages_out>\d+) msgs/(?P<bytes_out>\d+) B close=(?P<close>\d+) "
)


@dataclass(frozen=True)
class ConnectionLog:
    """What the server logged about one WebSocket connection."""

    deflate: bool  #: permessage-deflate was agreed
    messages_in: int
    bytes_in: int  #: everything read, the request head included
    messages_out: int
    bytes_out: int  #: everything written, the 101 response, pongs and the close frame included
    close: int


def server_command(*args: str) -> list[str]:
    """The command line of the server under test."""
    return [sys.executable, "-m", "wscodec", "serve", *args]


def server_env(implementation: str) -> dict[str, str]:
    """Environment for a server subprocess that imports this very wscodec with ``implementation``."""
    env = dict(os.environ)
    env.pop("WSCODEC_NO_EXTENSIONS", None)
    if implementation == "python":
        env["WSCODEC_NO_EXTENSIONS"] = "1"
    # The package the tests import (installed or in place), not whatever the working directory holds.
    package_parent = str(Path(wscodec.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return env


def _interruptible() -> None:
    """In the server's process before it starts: Ctrl-C (SIGINT) acts, as from a terminal, even when the
    tests run as a background job, whose children a shell starts with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_server(implementation: str, folder: Path, *options: str) -> ServerProcess:
    """Start a server (with these extra ``options``) on an ephemeral port and wait for its banner
    (which names the implementation)."""
    log = folder / f"server-{implementation}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            server_command("--port", "0", "--max-message-size", str(MAX_MESSAGE_SIZE), *options),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(implementation),
            cwd=folder,
            preexec_fn=_interruptible if os.name == "posix" else None,
        )
    deadline = time.monotonic() + DEADLINE
    while "ws://" not in (text := log.read_text("utf-8", "replace")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start:\n{text}")
        time.sleep(0.05)
    banner = text[: text.index("\n", text.index("ws://"))]
    assert f"({implementation})" in banner, f"the server runs another implementation than {implementation}: {banner}"
    host, _, port = banner.split("ws://", 1)[1].split("/", 1)[0].rpartition(":")
    return ServerProcess(implementation, process, log, host.strip("[]"), int(port), MAX_MESSAGE_SIZE)


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[tuple[str, tuple[str, ...]], ServerProcess]]:
    servers: dict[tuple[str, tuple[str, ...]], ServerProcess] = {}
    yield servers
    for server in servers.values():
        status, log = server.stop()
        if POSIX:  # elsewhere SIGTERM cannot be caught: stop() ends the process outright
            assert status == 0 and "Traceback" not in log and log.rstrip().endswith("stopped"), log


@pytest.fixture
def serve_with(
    impl: ModuleType,
    _servers: dict[tuple[str, tuple[str, ...]], ServerProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., ServerProcess]:
    """``serve_with(*options)``: the server of this implementation started with these extra command-line
    options, shared by the whole session."""

    def get(*options: str) -> ServerProcess:
        key = (impl.NAME, options)
        if key not in _servers:
            _servers[key] = start_server(impl.NAME, tmp_path_factory.mktemp("server"), *options)
        return _servers[key]

    return get


@pytest.fixture
def server(serve_with: Callable[..., ServerProcess]) -> ServerProcess:
    """The server process of this implementation, default options, that the whole session shares."""
    return serve_with()


@pytest.fixture
def own_server(impl: ModuleType, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this implementation for one test alone (which may stop it); killed if still running."""
    server = start_server(impl.NAME, tmp_path)
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


# ---------------------------------------------------------------- Node.js


#: The npm ws release echo_client.js was written against (.ci/setup-e2e installs the same).
WS_VERSION = "8.23.0"
#: Where ``npm install`` run in this folder puts ws; node finds it from echo_client.js without NODE_PATH.
LOCAL_NODE_MODULES = Path(__file__).resolve().parent / "node_modules"


@pytest.fixture(scope="session")
def node() -> tuple[str, str]:
    """``(node binary, NODE_PATH)``: WSCODEC_E2E_NODE_PATH's ws package, or one installed beside the tests."""
    install_ws = f"`npm install --no-save ws@{WS_VERSION}` in {LOCAL_NODE_MODULES.parent} (or `source .ci/setup-e2e`)"
    binary = shutil.which("node")
    if binary is None:
        needs.missing(f"node is not installed: install Node.js and npm, then run {install_ws}")
    node_path = os.environ.get("WSCODEC_E2E_NODE_PATH", "")
    for folder in filter(None, [node_path, str(LOCAL_NODE_MODULES)]):
        if (Path(folder) / "ws" / "package.json").is_file():
            return binary, folder
    needs.missing(f"the npm ws package is missing: run {install_ws}")


# ---------------------------------------------------------------- Chromium through the DevTools protocol

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; skipped when there is none (or no POSIX pipes to drive it)."""
    if not POSIX:
        pytest.skip("the DevTools pipe driver needs POSIX file descriptors")
    binary = os.environ.get("WSCODEC_E2E_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        needs.missing(
            "chromium is not installed: install it (e.g. `apt-get install chromium`) or set WSCODEC_E2E_CHROMIUM"
            " to a Chromium or Chrome binary (`source .ci/setup-e2e` does both)"
        )
    return binary


class DevTools:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe``.

    Chromium reads NUL-terminated JSON commands from its file descriptor 3
    and writes replies and events to descriptor 4.
    """

    def __init__(self, binary: str, profile: str, stderr: Any) -> None:
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()

        def as_fds_3_and_4() -> None:  # runs in the child: place the pipe ends where Chromium expects them
            read_end = os.dup(to_browser) if to_browser == 4 else to_browser
            os.dup2(from_browser, 4)
            os.dup2(read_end, 3)

        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            pass_fds=(3, 4),
            preexec_fn=as_fds_3_and_4,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events that arrive meanwhile go to :attr:`events`)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + DEADLINE
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply["result"]
                return result
            self.events.append(reply)

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._replies, 1 << 16) if ready else b""
            if not chunk:
                raise RuntimeError("Chromium stopped answering")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        reply: dict[str, Any] = json.loads(message)
        return reply

    def close(self) -> None:
        """Close the browser and the pipes."""
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)


@dataclass
class PageOutcome:
    """What the echo page showed: its status element, the extensions it reported, its log, the console lines."""

    result: str
    status: str
    extensions: str
    log: str
    console: list[str]


class Browser:
    """One headless Chromium for the whole session, with one tab that each test navigates to a page."""

    def __init__(self, binary: str, profile: str, stderr: Any) -> None:
        self.devtools = DevTools(binary, profile, stderr)
        try:
            page = next(t for t in self.devtools.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
            self.session = self.devtools.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
                "sessionId"
            ]
            self.devtools.call("Runtime.enable", self.session)
        except BaseException:
            self.devtools.close()
            raise
        self._loads = 0

    def evaluate(self, expression: str) -> str:
        """The value of a JavaScript expression in the tab, as a string."""
        reply = self.devtools.call("Runtime.evaluate", self.session, expression=expression, returnByValue=True)
        return str(reply["result"].get("value", ""))

    def open_echo_page(self, url: str) -> PageOutcome:
        """Load the server's test page and wait until it reports a result."""
        # A query parameter unique to this load, so that the previous page's result is never taken for this one's.
        self._loads += 1
        load = str(self._loads)
        self.devtools.events.clear()
        self.devtools.call("Page.navigate", self.session, url=f"{url}?load={load}")
        this_page = f"new URLSearchParams(location.search).get('load') === {json.dumps(load)}"
        deadline = time.monotonic() + DEADLINE
        result = ""
        while not result and time.monotonic() < deadline:
            time.sleep(0.05)
            result = self.evaluate(f"{this_page} ? document.getElementById('status')?.dataset.result ?? '' : ''")
        return PageOutcome(
            result,
            self.evaluate("document.getElementById('status')?.textContent ?? ''"),
            self.evaluate("document.getElementById('status')?.dataset.extensions ?? '(not reported)'"),
            self.evaluate("document.getElementById('log')?.textContent ?? ''"),
            [
                str(arg.get("value"))
                for event in self.devtools.events
                if event.get("method") == "Runtime.consoleAPICalled"
                for arg in event["params"]["args"]
            ],
        )

    def close(self) -> None:
        """Close the browser."""
        self.devtools.close()


@pytest.fixture(scope="session")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """The session's headless Chromium (starting one costs seconds; a page load, a fraction of one)."""
    log = tmp_path_factory.mktemp("chromium") / "chromium.log"
    with log.open("wb") as noise, tempfile.TemporaryDirectory(prefix="wscodec-chromium-") as profile:
        instance = Browser(chromium, profile, noise)
        try:
            yield instance
        finally:
            instance.close()
