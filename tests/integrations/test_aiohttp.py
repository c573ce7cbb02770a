"""The aiohttp shim: what it patches, exact behaviour, and loopback echo with the shim installed.

aiohttp's own websocket tests run with the shim through tools/host_tests/;
these cover what they cannot: the pure host (aiohttp without its extensions,
whose Python reader masks through the replaced name) against the compiled one
and vice versa, in odd-sized chunks, and the host's server and client echoing
every message.
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

needs.module("aiohttp")

import aiohttp
import aiohttp._websocket.writer as writer_module
from aiohttp import WSMsgType, web
from aiohttp._websocket import helpers, reader_c, reader_py
from aiohttp.base_protocol import BaseProtocol
from shim_cases import CASES, Case, Relay, odd_chunks, pure_host, split3

import wscodec.integrations.aiohttp as shim

NAMES = ["helpers", "writer", "reader_py"]
MODULES = {"helpers": helpers, "writer": writer_module, "reader_py": reader_py}


@pytest.fixture
def build(host_build: str) -> Iterator[str]:
    """The host as built (compiled mask) or with its pure fallback mask, restored afterwards."""
    undo = pure_host("aiohttp", host_build)
    yield host_build
    shim.uninstall()
    undo()


def replaces(impl: ModuleType) -> bool:
    """Whether the shim replaces aiohttp's mask: with compiled wscodec, whichever mask the host uses."""
    return impl.NAME == "cython"


def outcome(func: object, *args: object) -> object:
    """What ``func(*args)`` did: its result and the final arguments, or the error's type and message."""
    try:
        return func(*args), args  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001 - the host raises AssertionError
        return (type(exc), str(exc))


def test_install_reports_and_restores_exactly(impl: ModuleType, build: str) -> None:
    originals = {name: module.websocket_mask for name, module in MODULES.items()}
    report = shim.install(impl)
    assert report.host == "aiohttp" and report.version == "3.14.5" and report.implementation == impl.NAME
    assert "aiohttp._websocket.reader_c.websocket_mask" in report.left_alone
    dotted = {f"aiohttp._websocket.{name}.websocket_mask" for name in NAMES}
    if replaces(impl):
        assert set(report.replaced) == dotted
        replacement: Any = helpers.websocket_mask
        assert replacement is not originals["helpers"]
        assert all(module.websocket_mask is replacement for module in MODULES.values())
        # the key-first entry itself, bound to aiohttp's function for calls outside its fast path
        assert replacement.__self__.host is originals["helpers"]
        # compiled and called directly: no Python function between aiohttp and the kernel
        assert inspect.isbuiltin(replacement)
    else:
        assert report.replaced == {}
        assert dotted <= set(report.left_alone)
        assert all(module.websocket_mask is originals[name] for name, module in MODULES.items())
    assert shim.install(impl) is report  # idempotent
    shim.uninstall()
    assert all(module.websocket_mask is originals[name] for name, module in MODULES.items())
    assert not shim.is_installed()


def test_describe_matches_install(impl: ModuleType, build: str) -> None:
    lines = shim.describe(impl)
    assert lines == shim.install(impl).lines()


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7, 8, 125, 4099, 65536])
def test_masks_in_place_like_the_host(impl: ModuleType, build: str, size: int) -> None:
    original = helpers.websocket_mask
    shim.install(impl)
    data = bytes((i * 13 + 5) & 0xFF for i in range(size))
    mask = b"\x01\x80\xfe\x7f"
    expected, got = bytearray(data), bytearray(data)
    assert original(mask, expected) is None
    assert helpers.websocket_mask(mask, got) is None
    assert got == expected
    helpers.websocket_mask(mask, got)
    assert got == data


class BytesSubclass(bytes):
    pass


class BytearraySubclass(bytearray):
    pass


BAD_ARGS = [
    ("abcd", bytearray(b"x")),
    (BytesSubclass(b"abcd"), bytearray(b"subclass key")),
    (b"abcd", BytearraySubclass(b"subclass data")),
    (bytearray(b"abcd"), bytearray(b"x")),
    (b"abc", bytearray(b"x")),
    (b"abcde", bytearray(b"x")),
    (None, bytearray(b"x")),
    (b"abcd", b"immutable"),
    (b"abcd", memoryview(bytearray(b"view"))),
    (b"abcd", array.array("B", b"arr")),
    (b"abcd", None),
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=repr)
def test_same_errors_as_the_host(impl: ModuleType, build: str, args: tuple[object, object]) -> None:
    original = helpers.websocket_mask
    expected = outcome(original, *args)
    shim.install(impl)
    assert outcome(helpers.websocket_mask, *args) == expected


# --- aiohttp's writer and readers, shim on one side or both, bytes fed in odd-sized chunks ---


class CapturingTransport:
    """The transport a WebSocketWriter writes to; keeps the bytes."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(bytes(data))

    def is_closing(self) -> bool:
        return False


def client_wire(loop: asyncio.AbstractEventLoop, case: Case) -> bytes:
    """The masked frames aiohttp's client writer sends for ``case`` (fragments patched in the header)."""
    transport = CapturingTransport()
    writer = writer_module.WebSocketWriter(BaseProtocol(loop), transport, use_mask=True)  # type: ignore[arg-type]
    payload = case.payload
    data = payload.encode() if isinstance(payload, str) else payload
    opcode = WSMsgType.TEXT if case.text else WSMsgType.BINARY
    pieces = split3(data) if case.fragmented else [data]
    for index, piece in enumerate(pieces):
        writer._write_websocket_frame(piece, opcode, 0)
        frame = bytearray(transport.chunks.pop())
        fin = 0x80 if index == len(pieces) - 1 else 0
        frame[0] = fin | (opcode if index == 0 else WSMsgType.CONTINUATION)
        transport.chunks.append(bytes(frame))
    return b"".join(transport.chunks)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop for the readers' queues."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize("reader", [reader_py, reader_c], ids=["reader_py", "reader_c"])
@pytest.mark.parametrize("placement", ["sender", "receiver", "both"])
def test_writer_to_reader_against_unshimmed_peer_in_odd_chunks(
    impl: ModuleType, build: str, placement: str, reader: ModuleType, loop: asyncio.AbstractEventLoop
) -> None:
    if placement in ("sender", "both"):
        shim.install(impl)
    wire = b"".join(client_wire(loop, case) for case in CASES)
    if placement == "sender":
        shim.uninstall()
    elif placement == "receiver":
        shim.install(impl)
    queue = reader.WebSocketDataQueue(BaseProtocol(loop), 2**30, loop=loop)
    parser = reader.WebSocketReader(queue, max_msg_size=0, compress=False, decode_text=True)
    for piece in odd_chunks(wire):
        parser.feed_data(piece)
    received = [message for message, _ in queue._buffer]
    assert [(m.type, m.data) for m in received] == [
        (WSMsgType.TEXT if case.text else WSMsgType.BINARY, case.payload) for case in CASES
    ]


# --- aiohttp's server and client in this process, shim installed ---


async def send_message(ws: aiohttp.ClientWebSocketResponse, case: Case) -> None:
    """Send ``case`` with aiohttp's client; fragmented messages go frame by frame on its transport."""
    if not case.fragmented:
        if case.text:
            await ws.send_str(case.payload)  # type: ignore[arg-type]
        else:
            await ws.send_bytes(case.payload)  # type: ignore[arg-type]
        return
    transport = ws._writer.transport
    transport.write(client_wire(asyncio.get_running_loop(), case))


async def exchange(url: str) -> tuple[list[object], int | None]:
    """Every case sent and echoed back by the server at ``url``; then a clean close."""
    echoed: list[object] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=0) as ws:
        for case in CASES:
            await send_message(ws, case)
            message = await ws.receive()
            assert message.type is (WSMsgType.TEXT if case.text else WSMsgType.BINARY), case
            echoed.append(message.data)
        await ws.close(code=1000)
        return echoed, ws.close_code


def check_echo(echoed: list[object]) -> None:
    assert len(echoed) == len(CASES)
    for case, data in zip(CASES, echoed, strict=True):
        assert data == case.payload, case


async def serve_echo(close_codes: list[int | None]) -> web.AppRunner:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
            else:
                await ws.send_bytes(message.data)
        close_codes.append(ws.close_code)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def test_echo_with_the_shim_installed(impl: ModuleType, build: str) -> None:
    shim.install(impl)
    close_codes: list[int | None] = []

    async def main() -> tuple[list[object], int | None]:
        runner = await serve_echo(close_codes)
        try:
            return await exchange(f"http://127.0.0.1:{runner.addresses[0][1]}/")
        finally:
            await runner.cleanup()

    echoed, client_close = asyncio.run(main())
    check_echo(echoed)
    assert client_close == 1000
    assert close_codes == [1000]


# --- against aiohttp in another process, through a relay that re-chunks the bytes ---


@pytest.mark.parametrize("placement", ["client", "server", "both"])
def test_against_a_peer_process(impl: ModuleType, build: str, placement: str, peers: Callable[..., Relay]) -> None:
    """The shim on the client, on the server or on both; the other end runs aiohttp's own code.

    A "pure" peer process runs aiohttp without its extensions (its Python
    reader, whose mask the shim replaces).
    """
    server_shim = impl.NAME if placement in ("server", "both") else "none"
    relay = peers("aiohttp", "asyncio", server_shim, build == "pure")
    if placement in ("client", "both"):
        shim.install(impl)
    echoed, close_code = asyncio.run(exchange(f"http://127.0.0.1:{relay.port}/"))
    check_echo(echoed)
    assert close_code == 1000
