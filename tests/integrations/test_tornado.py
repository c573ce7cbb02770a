"""The tornado shim: what it patches, exact behaviour, and loopback echo with the shim installed.

tornado's own tests (``tornado.test.websocket_test``, ``tornado.test.web_test``)
run with the shim through tools/host_tests/; test_tornado_peers.py runs the
shim against an unshimmed tornado in another process.
"""

from __future__ import annotations

import array
import asyncio
import importlib.metadata
import inspect
import zlib
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
from impls import IMPL_NAMES, load_impl
from shim_cases import CASES, Case, Relay, install_as_newer, installed_originals, outcome, pure_host, split3
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import WebSocketClientConnection, WebSocketHandler, websocket_connect

import wscodec.integrations.tornado as shim
from wscodec.integrations import UnsupportedHostError

#: the tornado release installed (the shim supports a range of them)
HOST_VERSION = importlib.metadata.version("tornado")
MODULES = {"util": tornado.util, "websocket": tornado.websocket, "web": tornado.web}


@pytest.fixture
def build(host_build: str) -> Iterator[str]:
    """The host as built (compiled speedups) or with its pure fallback mask, restored afterwards."""
    undo = pure_host("tornado", host_build)
    yield host_build
    shim.uninstall()
    undo()


#: the compression classes the shim replaces in tornado.websocket (the first two with compiled wscodec only)
CLASSES = ["_PerMessageDeflateCompressor", "_PerMessageDeflateDecompressor", "WebSocketProtocol13"]


def test_install_reports_and_restores_exactly(impl: ModuleType, build: str) -> None:
    original = tornado.util._websocket_mask
    classes = {name: getattr(tornado.websocket, name) for name in CLASSES}
    report = shim.install(impl)
    assert report.host == "tornado" and report.version == HOST_VERSION and report.implementation == impl.NAME
    dotted = {f"tornado.{name}._websocket_mask" for name in MODULES}
    compression = {f"tornado.websocket.{name}" for name in CLASSES}
    kept = set()
    if impl.NAME == "python":  # tornado's own compressor and decompressor are thinner than pure wscodec's
        kept = {f"tornado.websocket.{name}" for name in CLASSES[:2]}
        compression -= kept
        assert set(report.left_alone) >= kept
    for name, host_class in classes.items():
        replaced = getattr(tornado.websocket, name)
        if f"tornado.websocket.{name}" in compression:
            assert replaced is not host_class and issubclass(replaced, host_class)
        else:
            assert replaced is host_class
    if impl.NAME == "python" and build == "native":
        assert set(report.replaced) == compression
        assert set(report.left_alone) == dotted | kept
        assert all(module._websocket_mask is original for module in MODULES.values())
    else:
        assert set(report.replaced) == dotted | compression
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
    assert all(getattr(tornado.websocket, name) is host_class for name, host_class in classes.items())


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


# --- permessage-deflate: tornado's compressor and decompressor on wscodec, and tornado's bugs ---

COMPRESSION_OPTIONS = [
    (True, 15, {}),
    (False, 15, {}),
    (True, 9, {"compression_level": 1, "mem_level": 3}),
    (False, 12, {"compression_level": 9, "mem_level": 9}),
    (True, 15, {"compression_level": -1}),
    (True, 10, None),
]


def built(impl: ModuleType) -> dict[str, Any]:
    """The shim's classes on ``impl`` (installed with the compiled implementation; the pure one leaves
    tornado's compressor and decompressor in place, but its classes must work all the same)."""
    return shim._build(impl)


def texts() -> list[bytes]:
    """JSON-like messages of a few sizes, and an empty one."""
    record = '{"id":%d,"sym":"BTC-USD","px":%d.%02d}'
    return [",".join(record % (i, i * 7 % 5000, i % 100) for i in range(n)).encode() for n in (1, 30, 0, 900, 5, 3000)]


@pytest.mark.parametrize(("persistent", "wbits", "options"), COMPRESSION_OPTIONS)
def test_compressor_gives_tornados_bytes(impl: ModuleType, persistent: bool, wbits: int, options: Any) -> None:
    # Same window, level and memLevel as tornado's zlib compressor: the same bytes, message after message.
    host = tornado.websocket._PerMessageDeflateCompressor(persistent, wbits, options)
    ours = built(impl)["Compressor"](persistent, wbits, options)
    assert ours._deflate is not None  # (wscodec's, not a fallback)
    assert [ours.compress(m) for m in texts()] == [host.compress(m) for m in texts()]


@pytest.mark.parametrize(("persistent", "wbits", "options"), COMPRESSION_OPTIONS)
def test_decompressor_reads_tornados_bytes(impl: ModuleType, persistent: bool, wbits: int, options: Any) -> None:
    host = tornado.websocket._PerMessageDeflateCompressor(persistent, wbits, options)
    wire = [host.compress(m) for m in texts()]
    ours = built(impl)["Decompressor"](persistent, wbits, 1 << 20, options)
    assert [ours.decompress(m) for m in wire] == texts()


def test_decompressor_limit_and_errors_are_tornados(impl: ModuleType) -> None:
    TooLarge = tornado.websocket._DecompressTooLargeError
    compressor = tornado.websocket._PerMessageDeflateCompressor(False, 15)
    Decompressor = built(impl)["Decompressor"]
    decompressor = Decompressor(False, 15, 1000)
    assert decompressor.decompress(compressor.compress(bytes(1000))) == bytes(1000)  # exactly the limit
    with pytest.raises(TooLarge):
        decompressor.decompress(compressor.compress(bytes(1001)))
    fresh_one = Decompressor(False, 15, 1000)  # (a connection ends there)
    with pytest.raises(zlib.error, match="invalid block type"):
        fresh_one.decompress(b"\xff\xff")


@pytest.mark.parametrize("args", [(True, 7), (True, 16), (False, 0)])
def test_bad_windows_fail_as_in_tornado(impl: ModuleType, args: tuple[bool, int]) -> None:
    expected = [
        outcome(tornado.websocket._PerMessageDeflateCompressor, *args)[1:],
        outcome(tornado.websocket._PerMessageDeflateDecompressor, *args, 10)[1:],
    ]
    classes = built(impl)
    assert [
        outcome(classes["Compressor"], *args)[1:],
        outcome(classes["Decompressor"], *args, 10)[1:],
    ] == expected


def test_an_8_bit_window_keeps_tornados_compressor(impl: ModuleType) -> None:
    # zlib cannot compress with an 8-bit window: tornado fails when it compresses; so does the shim.
    expected = outcome(lambda: tornado.websocket._PerMessageDeflateCompressor(False, 8).compress(b"x"))
    classes = built(impl)
    compressor = classes["Compressor"](False, 8)
    assert compressor._deflate is None
    assert outcome(lambda: compressor.compress(b"x")) == expected
    decompressor = classes["Decompressor"](True, 8, 100)
    raw = zlib.compressobj(6, zlib.DEFLATED, -9)
    assert decompressor.decompress((raw.compress(b"abc" * 30) + raw.flush(zlib.Z_SYNC_FLUSH))[:-4]) == b"abc" * 30


def fresh(data: bytes, *, finish: bool = False) -> bytes:
    """``data`` compressed as a new raw deflate stream: flushed, its tail removed; ``finish``: ended by a
    BFINAL block instead."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    if finish:
        return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


async def deflate_talk(
    frames: list[tuple[bool, int, bytes, int]], expect: int, max_message_size: int = 1 << 20
) -> tuple[list[Any], int | None]:
    """A tornado server and client with compression on; the client writes ``frames`` (fin, opcode,
    payload, flags) as they are and reads up to ``expect`` echoed messages. The messages and the close
    code the client got (None: the connection was dropped without a close frame)."""

    class Echo(WebSocketHandler):
        def get_compression_options(self) -> dict[str, Any]:
            return {}

        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(Application([("/", Echo)], websocket_max_message_size=max_message_size))
    server.add_sockets(sockets)
    try:
        client = await websocket_connect(f"ws://127.0.0.1:{sockets[0].getsockname()[1]}/", compression_options={})
        protocol: Any = client.protocol
        for fin, opcode, payload, flags in frames:
            await protocol._write_frame(fin, opcode, payload, flags)
        got: list[Any] = []
        while len(got) < expect:
            message = await asyncio.wait_for(client.read_message(), 20)
            if message is None:
                break
            got.append(message)
        return got, client.close_code
    finally:
        server.stop()
        await server.close_all_connections()


# The host's bugs: each test fails with tornado alone ("host", expected to fail) and passes with the shim.

HOST_FAILS = pytest.param(None, id="host", marks=pytest.mark.xfail(strict=True, reason="tornado's own bug"))


@pytest.fixture(params=[HOST_FAILS, *IMPL_NAMES])
def shimmed(request: pytest.FixtureRequest) -> Iterator[ModuleType | None]:
    """tornado alone (None), then tornado with the shim on each implementation."""
    impl = None if request.param is None else load_impl(request.param)
    if impl is not None:
        shim.install(impl)
    yield impl
    shim.uninstall()


RSV1 = 0x40
TEXT = ('{"op":"update","items":[' + ",".join(f'{{"id":{i}}}' for i in range(200)) + "]}").encode()


def test_rsv1_on_a_ping_closes_with_1002(shimmed: ModuleType | None) -> None:
    # tornado inflated the ping and dropped the connection on an uncaught zlib.error.
    assert asyncio.run(deflate_talk([(True, 0x9, b"ping", RSV1)], 1)) == ([], 1002)


def test_a_ping_between_compressed_fragments_leaves_the_message_intact(shimmed: ModuleType | None) -> None:
    # tornado took the ping's clear RSV1 for the message's: the message was dropped with the connection.
    body = fresh(TEXT)
    frames = [(False, 0x1, body[:40], RSV1), (True, 0x9, b"!", 0), (True, 0x0, body[40:], 0)]
    assert asyncio.run(deflate_talk(frames, 1)) == ([TEXT.decode()], None)


def test_corrupt_compressed_data_closes_with_1007(shimmed: ModuleType | None) -> None:
    # tornado dropped the connection on an uncaught zlib.error.
    assert asyncio.run(deflate_talk([(True, 0x1, b"\xff\xff\xff", RSV1)], 1)) == ([], 1007)


@pytest.fixture(params=[HOST_FAILS, *(name for name in IMPL_NAMES if name != "python")])
def shimmed_compiled(request: pytest.FixtureRequest) -> Iterator[ModuleType | None]:
    """tornado alone (None), then with the shim on the compiled implementation (which inflates for it)."""
    impl = None if request.param is None else load_impl(request.param)
    if impl is not None:
        shim.install(impl)
    yield impl
    shim.uninstall()


def test_a_message_after_a_bfinal_block_is_received(shimmed_compiled: ModuleType | None) -> None:
    # RFC 7692 7.2.3.4: tornado delivered the next message as empty bytes, silently.
    frames = [(True, 0x2, fresh(b"first", finish=True), RSV1), (True, 0x2, fresh(b"second"), RSV1)]
    assert asyncio.run(deflate_talk(frames, 2)) == ([b"first", b"second"], None)


def test_the_inflated_size_limit_is_tornados(impl: ModuleType) -> None:
    shim.install(impl)
    frames = [(True, 0x2, fresh(bytes(1000)), RSV1), (True, 0x2, fresh(bytes(1001)), RSV1)]
    assert asyncio.run(deflate_talk(frames, 2, max_message_size=1000)) == ([bytes(1000)], 1009)


@pytest.mark.parametrize("options", [{}, {"compression_level": 1, "mem_level": 4}])
def test_compressed_echo_with_the_shim_installed(impl: ModuleType, options: dict[str, Any]) -> None:
    shim.install(impl)

    class Echo(WebSocketHandler):
        def get_compression_options(self) -> dict[str, Any]:
            return options

        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    async def main() -> tuple[list[Any], int, int]:
        sockets = bind_sockets(0, "127.0.0.1")
        server = HTTPServer(Application([("/", Echo)], websocket_max_message_size=2**31))
        server.add_sockets(sockets)
        try:
            url = f"ws://127.0.0.1:{sockets[0].getsockname()[1]}/"
            client = await websocket_connect(url, max_message_size=2**31, compression_options=options)
            protocol: Any = client.protocol
            assert type(protocol) is shim._BUILT[impl.NAME]["WebSocketProtocol13"]
            if impl.NAME == "python":  # tornado's own compressor (left alone)
                assert type(protocol._compressor) is tornado.websocket._PerMessageDeflateCompressor
                assert not hasattr(protocol._compressor, "_deflate")
            else:
                assert type(protocol._compressor._deflate).__module__.startswith("wscodec")
            echoed = []
            for case in CASES:
                await send_message(client, case)
                echoed.append(await client.read_message())
            return echoed, protocol._wire_bytes_in, protocol._message_bytes_in
        finally:
            server.stop()
            await server.close_all_connections()

    echoed, wire_in, message_in = asyncio.run(main())
    check_echo(echoed)
    assert wire_in < message_in  # compressed on the way back


# ---------------------------------------------------------------- self-check (for releases newer than the range)


def test_the_self_check_passes_on_this_release(impl: ModuleType) -> None:
    shim.install(impl)
    shim._self_check(impl, installed_originals(shim))


def test_the_self_check_refuses_another_receive_frame(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    shim.install(impl)
    monkeypatch.setattr(shim, "_RECEIVE_FRAME_AST", "0" * 16)
    with pytest.raises(UnsupportedHostError, match="_receive_frame"):
        shim._self_check(impl, installed_originals(shim))


def test_the_self_check_fails_when_compression_differs(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    shim.install(impl)
    if impl.NAME == "python":  # (tornado's own compressor is left in place: nothing to compare)
        assert f"tornado.websocket.{shim._COMPRESSION[0]}" not in installed_originals(shim)
        return
    monkeypatch.setattr(tornado.websocket._PerMessageDeflateCompressor, "compress", lambda self, data: b"")
    with pytest.raises(UnsupportedHostError, match="compressed differently"):
        shim._self_check(impl, installed_originals(shim))


def test_a_newer_release_with_these_internals_installs(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # This release taken as newer than the range: it installs, after the self-check, not left alone.
    report = install_as_newer(shim, impl, monkeypatch)
    assert report.newer and not report.reason and report.replaced and shim.is_installed()
