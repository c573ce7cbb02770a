"""The tornado shim: what it patches, exact behaviour, and loopback echo with the shim installed.

tornado's own tests (``tornado.test.websocket_test``, ``tornado.test.web_test``)
run with the shim through tools/host_tests/; test_tornado_peers.py runs the
shim against an unshimmed tornado in another process.
"""

from __future__ import annotations

import array
import asyncio
import inspect
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import needs
import pytest

# tornado needs Python >= 3.11 (the test extra leaves it out before)
needs.module("tornado", python=(3, 11))

import tornado.util
import tornado.web
import tornado.websocket
from shim_cases import CASES, Case, Relay, pure_host, split3
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import WebSocketClientConnection, WebSocketHandler, websocket_connect

import wscodec.integrations.tornado as shim

MODULES = {"util": tornado.util, "websocket": tornado.websocket, "web": tornado.web}


@pytest.fixture
def build(host_build: str) -> Iterator[str]:
    """The host as built (compiled speedups) or with its pure fallback mask, restored afterwards."""
    undo = pure_host("tornado", host_build)
    yield host_build
    shim.uninstall()
    undo()


def outcome(func: object, *args: object) -> object:
    """The result of ``func(*args)``, or the type and message of what it raised."""
    try:
        return func(*args)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - comparing any error
        return (type(exc), str(exc))


def test_install_reports_and_restores_exactly(impl: ModuleType, build: str) -> None:
    original = tornado.util._websocket_mask
    report = shim.install(impl)
    assert report.host == "tornado" and report.version == "6.6.1" and report.implementation == impl.NAME
    dotted = {f"tornado.{name}._websocket_mask" for name in MODULES}
    if impl.NAME == "python" and build == "native":
        assert report.replaced == {}
        assert set(report.left_alone) == dotted
        assert all(module._websocket_mask is original for module in MODULES.values())
    else:
        assert set(report.replaced) == dotted
        replacement: Any = tornado.util._websocket_mask
        assert replacement is not original
        assert all(module._websocket_mask is replacement for module in MODULES.values())
        # the key-first entry itself, bound to tornado's function for calls outside its fast path
        assert replacement.__self__.host is original
        # compiled wscodec leaves no Python function between tornado and the kernel
        assert inspect.isbuiltin(replacement) == (impl.NAME == "cython")
    assert shim.install(impl) is report  # idempotent
    shim.uninstall()
    assert all(module._websocket_mask is original for module in MODULES.values())


def test_describe_matches_install(impl: ModuleType, build: str) -> None:
    lines = shim.describe(impl)
    assert lines == shim.install(impl).lines()


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7, 8, 9, 125, 4099, 65536])
def test_masks_like_the_host(impl: ModuleType, build: str, size: int) -> None:
    original = tornado.util._websocket_mask
    shim.install(impl)
    data = bytes((i * 13 + 5) & 0xFF for i in range(size))
    mask = b"\x01\x80\xfe\x7f"
    for module in MODULES.values():
        assert module._websocket_mask(mask, data) == original(mask, data)


class BytesSubclass(bytes):
    pass


BAD_ARGS = [
    (b"abcd", "text is UTF-8 encoded by tornado's C function"),
    (BytesSubclass(b"abcd"), b"subclass key"),
    (b"abcd", BytesSubclass(b"subclass data")),
    (b"abcd", None),
    ("abcd", b"str mask"),
    (b"abc", b"short mask"),
    (b"abcde", b"long mask"),
    (bytearray(b"abcd"), b"x"),
    (b"abcd", bytearray(b"writable")),
    (b"abcd", memoryview(b"view")),
    (b"abcd", array.array("B", b"arr")),
    (b"abcd", 5),
    (None, b"x"),
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=repr)
def test_same_results_and_errors_as_the_host(impl: ModuleType, build: str, args: tuple[object, object]) -> None:
    original = tornado.util._websocket_mask
    expected = outcome(original, *args)
    shim.install(impl)
    assert outcome(tornado.websocket._websocket_mask, *args) == expected


def test_xsrf_token_round_trip(impl: ModuleType, build: str) -> None:
    """tornado.web masks XSRF tokens with the same function: a token made by the host must still verify."""
    shim.install(impl)
    original = tornado.util._websocket_mask_python
    mask, token = b"\x0f\xf0\x55\xaa", bytes(range(16))
    assert tornado.web._websocket_mask(mask, token) == original(mask, token)


# --- tornado's server and client in this process, shim installed ---


async def send_message(client: WebSocketClientConnection, case: Case) -> None:
    """Send ``case``; fragmented messages go frame by frame (text cut inside code points)."""
    payload = case.payload
    if not case.fragmented:
        await client.write_message(payload, binary=not case.text)
        return
    data = payload.encode() if isinstance(payload, str) else payload
    pieces = split3(data)
    protocol = client.protocol
    assert protocol is not None
    for index, piece in enumerate(pieces):
        opcode = (0x1 if case.text else 0x2) if index == 0 else 0x0
        await protocol._write_frame(index == len(pieces) - 1, opcode, piece)  # type: ignore[attr-defined]


async def exchange(url: str) -> tuple[list[str | bytes | None], int | None]:
    """Every case sent and echoed back by the server at ``url``; then a clean close."""
    client = await websocket_connect(url, max_message_size=2**31)
    echoed: list[str | bytes | None] = []
    for case in CASES:
        await send_message(client, case)
        echoed.append(await client.read_message())
    client.close(1000)
    assert await client.read_message() is None  # the server's close frame arrived
    return echoed, client.close_code


def check_echo(echoed: list[str | bytes | None]) -> None:
    assert len(echoed) == len(CASES)
    for case, message in zip(CASES, echoed, strict=True):
        assert message == case.payload, case


def test_echo_with_the_shim_installed(impl: ModuleType, build: str) -> None:
    shim.install(impl)
    close_codes: list[int | None] = []
    closed = asyncio.Event()

    class Echo(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

        def on_close(self) -> None:
            close_codes.append(self.close_code)
            closed.set()

    async def main() -> tuple[list[str | bytes | None], int | None]:
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(Application([("/", Echo)], websocket_max_message_size=2**31))
        server.add_sockets(sockets)
        try:
            result = await exchange(f"ws://127.0.0.1:{sockets[0].getsockname()[1]}/")
            await closed.wait()
            return result
        finally:
            server.stop()

    echoed, client_close = asyncio.run(main())
    check_echo(echoed)
    assert client_close == 1000
    assert close_codes == [1000]


# --- against tornado in another process, through a relay that re-chunks the bytes ---


@pytest.mark.parametrize("placement", ["client", "server", "both"])
def test_against_a_peer_process(impl: ModuleType, build: str, placement: str, peers: Callable[..., Relay]) -> None:
    """The shim on the client, on the server or on both; the other end runs tornado's own code."""
    server_shim = impl.NAME if placement in ("server", "both") else "none"
    relay = peers("tornado", "asyncio", server_shim, build == "pure")
    if placement in ("client", "both"):
        shim.install(impl)
    echoed, close_code = asyncio.run(exchange(f"ws://127.0.0.1:{relay.port}/"))
    check_echo(echoed)
    assert close_code == 1000
