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
import importlib.metadata
import inspect
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import needs
import pytest

needs.module("aiohttp")

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.base_protocol import BaseProtocol
from shim_cases import CASES, Case, Relay, odd_chunks, pure_host, split3

import wscodec.integrations.aiohttp as shim
from wscodec.benchmark.inputs import json_text
from wscodec.integrations import HostVersionWarning, Versions

#: where this aiohttp keeps its mask, writer and readers (3.10: all in aiohttp.http_websocket)
LAYOUT = shim._layout()
writer_module: Any = importlib.import_module(LAYOUT.writer)
#: the readers: the pure-Python one, and the compiled one where aiohttp has one (from 3.11)
READERS = {"reader_py": importlib.import_module(LAYOUT.readers[0])}
if LAYOUT.reader_c is not None:
    READERS["reader_c"] = importlib.import_module(LAYOUT.reader_c)
#: the modules holding aiohttp's mask, by dotted name, and the name they give it
MODULES = {name: importlib.import_module(name) for name in (LAYOUT.mask_module, *LAYOUT.mask_followers)}
MASK = LAYOUT.mask_name
helpers = MODULES[LAYOUT.mask_module]
HOST_WRITER = writer_module.WebSocketWriter
#: aiohttp before 3.13.2: send_frame() compresses with what _make_compress_obj() gives it (see the shim)
LEGACY_WRITER = not hasattr(HOST_WRITER, "_send_compressed_frame_sync")
#: aiohttp before 3.12 compresses with zlib alone (no set_zlib_backend)
HAS_BACKENDS = hasattr(importlib.import_module("aiohttp.compression_utils"), "set_zlib_backend")
#: the readers' decode_text argument where they take it (aiohttp 3.14; before, they always decode text)
_TAKES_DECODE_TEXT = "decode_text" in inspect.signature(READERS["reader_py"].WebSocketReader).parameters
DECODE_TEXT = {"decode_text": True} if _TAKES_DECODE_TEXT else {}
NO_DECODE_TEXT = {"decode_text": False} if _TAKES_DECODE_TEXT else {}


def mask_of(module: ModuleType) -> Any:
    """The mask ``module`` holds."""
    return getattr(module, MASK)


def masks() -> dict[str, Any]:
    """The mask each of :data:`MODULES` holds now."""
    return {name: mask_of(module) for name, module in MODULES.items()}


def new_reader(reader: ModuleType, loop: asyncio.AbstractEventLoop, **options: Any) -> tuple[Any, Any]:
    """A queue and ``reader``'s WebSocketReader feeding it (``options``: the reader's)."""
    if hasattr(reader, "WebSocketDataQueue"):
        queue = reader.WebSocketDataQueue(BaseProtocol(loop), 2**30, loop=loop)
    else:  # aiohttp 3.10
        queue = aiohttp.streams.FlowControlDataQueue(BaseProtocol(loop), 2**30, loop=loop)
    return queue, reader.WebSocketReader(queue, **options)


def new_writer(loop: asyncio.AbstractEventLoop, transport: Any, **options: Any) -> Any:
    """The WebSocketWriter aiohttp's modules hold now, writing to ``transport`` (``options``: the writer's).

    Its flow-control limit is out of reach: with no connection behind it, its
    protocol would refuse to wait for a drain (aiohttp 3.10's limit is 64 KiB).
    """
    return writer_module.WebSocketWriter(BaseProtocol(loop), transport, limit=2**30, **options)


async def send_frame(writer: Any, message: bytes, opcode: int, compress: int | None = None) -> None:
    """The writer's method that sends one frame (``_send_frame`` in aiohttp 3.10)."""
    await getattr(writer, LAYOUT.send)(message, opcode, compress=compress)


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


def writer_holders() -> dict[str, ModuleType]:
    """The modules holding ``WebSocketWriter`` that are imported now."""
    return {name: sys.modules[name] for name in [LAYOUT.writer, *LAYOUT.writer_followers] if name in sys.modules}


def test_install_reports_and_restores_exactly(impl: ModuleType, build: str) -> None:
    originals = masks()
    writers = writer_holders()
    assert all(module.WebSocketWriter is HOST_WRITER for module in writers.values())
    report = shim.install(impl)
    assert (
        report.host == "aiohttp"
        and report.version == importlib.metadata.version("aiohttp")
        and report.implementation == impl.NAME
    )
    if LAYOUT.reader_c is not None:
        assert f"{LAYOUT.reader_c}.websocket_mask" in report.left_alone
    # aiohttp's own inflater stays (see the shim's docstring), its writer is replaced
    assert {f"{name}.ZLibDecompressor" for name in LAYOUT.readers} <= set(report.left_alone)
    assert {f"{name}.WebSocketWriter" for name in writers} <= set(report.replaced)
    replacement_writer = writers[LAYOUT.writer].WebSocketWriter
    assert replacement_writer is not HOST_WRITER and issubclass(replacement_writer, HOST_WRITER)
    assert all(module.WebSocketWriter is replacement_writer for module in writers.values())
    dotted = {f"{name}.{MASK}" for name in MODULES}
    if replaces(impl):
        assert {name for name in report.replaced if name.endswith(f".{MASK}")} == dotted
        replacement: Any = mask_of(helpers)
        assert replacement is not originals[LAYOUT.mask_module]
        assert all(mask is replacement for mask in masks().values())
        # the key-first entry itself, bound to aiohttp's function for calls outside its fast path
        assert replacement.__self__.host is originals[LAYOUT.mask_module]
        # compiled and called directly: no Python function between aiohttp and the kernel
        assert inspect.isbuiltin(replacement)
    else:
        assert not any(name.endswith(f".{MASK}") for name in report.replaced)
        assert dotted <= set(report.left_alone)
        assert masks() == originals
    assert shim.install(impl) is report  # idempotent
    shim.uninstall()
    assert masks() == originals
    assert all(module.WebSocketWriter is HOST_WRITER for module in writer_holders().values())
    assert not shim.is_installed()


def test_describe_matches_install(impl: ModuleType, build: str) -> None:
    lines = shim.describe(impl)
    assert lines == shim.install(impl).lines()


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7, 8, 125, 4099, 65536])
def test_masks_in_place_like_the_host(impl: ModuleType, build: str, size: int) -> None:
    original = mask_of(helpers)
    shim.install(impl)
    data = bytes((i * 13 + 5) & 0xFF for i in range(size))
    mask = b"\x01\x80\xfe\x7f"
    expected, got = bytearray(data), bytearray(data)
    assert original(mask, expected) is None
    assert mask_of(helpers)(mask, got) is None
    assert got == expected
    mask_of(helpers)(mask, got)
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
    original = mask_of(helpers)
    expected = outcome(original, *args)
    shim.install(impl)
    assert outcome(mask_of(helpers), *args) == expected


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
    writer = new_writer(loop, transport, use_mask=True)
    payload = case.payload
    data = payload.encode() if isinstance(payload, str) else payload
    opcode = WSMsgType.TEXT if case.text else WSMsgType.BINARY
    pieces = split3(data) if case.fragmented else [data]
    frames = []
    for index, piece in enumerate(pieces):
        shim._send_now(writer, piece, opcode)  # (a loop may be running: send_message's)
        frame = bytearray(b"".join(transport.chunks))
        transport.chunks.clear()
        fin = 0x80 if index == len(pieces) - 1 else 0
        frame[0] = fin | (opcode if index == 0 else WSMsgType.CONTINUATION)
        frames.append(bytes(frame))
    return b"".join(frames)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A private event loop for the readers' queues."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize("reader", list(READERS.values()), ids=list(READERS))
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
    queue, parser = new_reader(reader, loop, max_msg_size=0, compress=False, **DECODE_TEXT)
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


async def exchange(url: str, compress: int = 0) -> tuple[list[object], int | None]:
    """Every case sent and echoed back by the server at ``url``; then a clean close. ``compress``:
    the client's offer of permessage-deflate (aiohttp's servers here accept it)."""
    echoed: list[object] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, max_msg_size=0, compress=compress) as ws,
    ):
        assert ws.compress == compress
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


@pytest.mark.parametrize("compress", [0, 15])
def test_echo_with_the_shim_installed(impl: ModuleType, build: str, compress: int) -> None:
    shim.install(impl)
    close_codes: list[int | None] = []

    async def main() -> tuple[list[object], int | None]:
        runner = await serve_echo(close_codes)
        try:
            return await exchange(f"http://127.0.0.1:{runner.addresses[0][1]}/", compress)
        finally:
            await runner.cleanup()

    echoed, client_close = asyncio.run(main())
    check_echo(echoed)
    assert client_close == 1000
    assert close_codes == [1000]


# --- against aiohttp in another process, through a relay that re-chunks the bytes ---


@pytest.mark.parametrize("compress", [0, 15])
@pytest.mark.parametrize("placement", ["client", "server", "both"])
def test_against_a_peer_process(
    impl: ModuleType, build: str, placement: str, compress: int, peers: Callable[..., Relay]
) -> None:
    """The shim on the client, on the server or on both; the other end runs aiohttp's own code.

    A "pure" peer process runs aiohttp without its extensions (its Python
    reader, whose mask the shim replaces).
    """
    server_shim = impl.NAME if placement in ("server", "both") else "none"
    relay = peers("aiohttp", "asyncio", server_shim, build == "pure")
    if placement in ("client", "both"):
        shim.install(impl)
    echoed, close_code = asyncio.run(exchange(f"http://127.0.0.1:{relay.port}/", compress))
    check_echo(echoed)
    assert close_code == 1000


# --- permessage-deflate: aiohttp's writer compressing with wscodec's PerMessageDeflate ---


BACKENDS = ["zlib", "zlib_ng.zlib_ng", "isal.isal_zlib"]


@pytest.fixture(params=BACKENDS)
def zlib_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """aiohttp's zlib backend (``set_zlib_backend``), put back to zlib afterwards."""
    if not HAS_BACKENDS:
        if request.param != "zlib":
            pytest.skip("aiohttp before 3.12 compresses with zlib alone (it has no set_zlib_backend)")
        yield zlib
        return
    from aiohttp.compression_utils import set_zlib_backend

    module = pytest.importorskip(request.param)
    set_zlib_backend(module)
    yield module
    set_zlib_backend(zlib)


def sent_frames(
    loop: asyncio.AbstractEventLoop, messages: list[tuple[bytes, int | None]], **writer_options: Any
) -> list[bytes]:
    """The frames a server's ``WebSocketWriter`` (the class aiohttp's modules hold now) writes for
    ``messages``: (payload, per-message ``compress``) pairs, sent one after the other."""
    transport = CapturingTransport()
    writer = new_writer(loop, transport, **writer_options)

    async def send() -> None:
        for payload, compress in messages:
            await send_frame(writer, payload, WSMsgType.BINARY, compress=compress)

    loop.run_until_complete(send())
    return transport.chunks


def inflated(loop: asyncio.AbstractEventLoop, wire: list[bytes]) -> list[object]:
    """What aiohttp's own reader (the compiled one where it has one) makes of a server's frames: payloads,
    or the error."""
    reader = READERS.get("reader_c", READERS["reader_py"])
    queue, parser = new_reader(reader, loop, max_msg_size=0, compress=True, **NO_DECODE_TEXT)
    for frame in wire:
        if parser.feed_data(frame)[0]:
            return [message.data for message, _ in queue._buffer] + [queue.exception()]
    return [message.data for message, _ in queue._buffer]


def payload(size: int, index: int) -> bytes:
    """Compressible, and different from message to message."""
    return (b'{"seq": %d, "items": ["alpha", "beta", "gamma"]} ' % index * (size // 40 + 1))[:size]


SIZES_SENT = [0, 1, 100, 2000, 20000, 70000]  # 20000 and 70000: compressed in the executor


@pytest.mark.parametrize(("compress", "notakeover"), [(15, False), (9, False), (12, True), (15, True)])
def test_writer_sends_aiohttp_bytes(
    impl: ModuleType, loop: asyncio.AbstractEventLoop, zlib_backend: Any, compress: int, notakeover: bool
) -> None:
    """Frame for frame what aiohttp's writer sends: its level (Z_BEST_SPEED of the backend), memory
    level, window and flush, on every backend, on the event loop and in the executor."""
    messages: list[tuple[bytes, int | None]] = [(payload(size, i), None) for i, size in enumerate(SIZES_SENT * 2)]
    options = {"compress": compress, "notakeover": notakeover}
    expected = sent_frames(loop, messages, **options)
    shim.install(impl)
    assert sent_frames(loop, messages, **options) == expected
    assert inflated(loop, expected) == [data for data, _ in messages]


def test_writer_without_negotiation_compresses_per_message_as_aiohttp(
    impl: ModuleType, loop: asyncio.AbstractEventLoop, zlib_backend: Any
) -> None:
    """No compression negotiated, ``compress=N`` on some messages: aiohttp sends those alone
    compressed, each by a compressor of its own; so does the shim."""
    messages: list[tuple[bytes, int | None]] = [(payload(100, i), (None, 15, 9)[i % 3]) for i in range(9)]
    expected = sent_frames(loop, messages)
    shim.install(impl)
    assert sent_frames(loop, messages) == expected


# Negotiated compression, a message sent with compress=N, then ordinary ones: messages sharing keys,
# not values (a message referring back into the window lands elsewhere in a window that drifted).
DRIFT: list[tuple[bytes, int | None]] = [
    (json_text(300, i).encode(), 15 if i == 1 else 9 if i == 3 else None) for i in range(8)
]


def test_per_message_compress_drift_of_aiohttp_alone(loop: asyncio.AbstractEventLoop) -> None:
    """The host's bug, as fixed below: the message after a ``compress=N`` one refers to a window the
    peer does not have, and is inflated into other bytes (or fails)."""
    received = inflated(loop, sent_frames(loop, DRIFT, compress=15))
    assert received[:2] == [DRIFT[0][0], DRIFT[1][0]]
    assert received[2] != DRIFT[2][0]


@pytest.mark.parametrize("notakeover", [False, True])
def test_per_message_compress_keeps_the_peer_in_step_with_the_shim(
    impl: ModuleType, loop: asyncio.AbstractEventLoop, zlib_backend: Any, notakeover: bool
) -> None:
    shim.install(impl)
    wire = sent_frames(loop, DRIFT, compress=15, notakeover=notakeover)
    assert inflated(loop, wire) == [data for data, _ in DRIFT]
    # every message went through the connection's compressor: what it sends without compress=N
    assert wire == sent_frames(loop, [(data, None) for data, _ in DRIFT], compress=15, notakeover=notakeover)


def test_per_message_compress_between_real_server_and_client(impl: ModuleType) -> None:
    """``send_str(..., compress=15)`` on aiohttp's server, its client reading: the shim on the server."""
    texts = [f"message {i}: " + "hello, hello, " * (i + 3) for i in range(6)]

    async def main() -> list[str]:
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()  # compress=True: aiohttp's default
            await ws.prepare(request)
            for i, text in enumerate(texts):
                await ws.send_str(text, compress=15 if i % 2 else None)
            await ws.close()
            return ws

        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
            async with aiohttp.ClientSession() as session, session.ws_connect(url, compress=15) as ws:
                return [message.data async for message in ws]
        finally:
            await runner.cleanup()

    shim.install(impl)
    assert asyncio.run(main()) == texts


@pytest.mark.skipif(not HAS_BACKENDS, reason="aiohttp before 3.12 compresses with zlib alone (no set_zlib_backend)")
def test_writer_on_another_zlib_backend_keeps_aiohttps_compressor(
    impl: ModuleType, loop: asyncio.AbstractEventLoop
) -> None:
    """A backend wscodec does not have (``set_zlib_backend`` takes any module with zlib's API):
    aiohttp's own compressor, with the ``compress=N`` fix all the same."""
    from aiohttp.compression_utils import set_zlib_backend

    custom = ModuleType("custom_zlib")
    custom.__dict__.update({name: getattr(zlib, name) for name in dir(zlib) if not name.startswith("__")})
    set_zlib_backend(custom)
    try:
        plain: list[tuple[bytes, int | None]] = [(data, None) for data, _ in DRIFT]
        expected = sent_frames(loop, plain, compress=15)
        shim.install(impl)
        assert sent_frames(loop, plain, compress=15) == expected
        assert inflated(loop, sent_frames(loop, DRIFT, compress=15)) == [data for data, _ in DRIFT]
    finally:
        set_zlib_backend(zlib)


@pytest.mark.skipif(
    LEGACY_WRITER,
    reason="aiohttp before 3.13.2 loses a send cancelled while it compresses in the executor (the compressor "
    "moved on, the frame is never sent): its own bug, out of the shim's reach (see the shim's docstring)",
)
def test_cancelled_large_send_keeps_the_stream(impl: ModuleType, loop: asyncio.AbstractEventLoop) -> None:
    """A send compressed in the executor, cancelled meanwhile, still goes out whole (aiohttp's
    shield and lock), so the next message inflates: as with aiohttp's own compressor."""
    shim.install(impl)
    transport = CapturingTransport()
    writer = new_writer(loop, transport, compress=15)
    big, small = payload(100000, 1), payload(50, 2)

    async def run() -> None:
        task = asyncio.ensure_future(writer.send_frame(big, WSMsgType.BINARY))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(*writer._background_tasks, return_exceptions=True)
        await writer.send_frame(small, WSMsgType.BINARY)

    loop.run_until_complete(run())
    assert inflated(loop, transport.chunks) == [big, small]


@pytest.mark.parametrize("sync_limit", [16, 40])  # every message in the executor; every other one
def test_concurrent_sends_keep_the_stream(
    impl: ModuleType,
    loop: asyncio.AbstractEventLoop,
    zlib_backend: Any,
    monkeypatch: pytest.MonkeyPatch,
    sync_limit: int,
) -> None:
    """Sends started together, some compressed in the executor: each message is compressed whole and
    written before the next compressed one, so every one inflates (aiohttp writes the small ones
    first; before 3.13.2 only the compressor serializes them)."""
    monkeypatch.setattr(writer_module, "WEBSOCKET_MAX_SYNC_CHUNK_SIZE", sync_limit)
    shim.install(impl)
    transport = CapturingTransport()
    writer = new_writer(loop, transport, compress=15)
    payloads = [bytes((n,)) * (n if n % 2 else 64 + n) for n in range(1, 49)]

    async def run() -> list[object]:
        return await asyncio.gather(
            *(send_frame(writer, data, WSMsgType.BINARY) for data in payloads), return_exceptions=True
        )

    errors = [repr(outcome) for outcome in loop.run_until_complete(run()) if outcome is not None]
    assert not errors, errors[:3]
    received = inflated(loop, transport.chunks)
    assert all(type(data) is bytes for data in received), received[-1]
    assert sorted(received) == sorted(payloads)  # type: ignore[type-var]


# --- an aiohttp release newer than the supported range ---


def test_a_newer_release_installs_when_its_results_are_aiohttps(
    impl: ModuleType, build: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The self-check passes on this release, as if it were newer than the range: the shim installs."""
    monkeypatch.setattr(shim._SHIM, "versions", Versions("0.1", "0.1"))
    expected = shim.describe(impl)[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = shim.install(impl)
    assert report.newer and not report.reason and shim.is_installed()
    assert report.lines() == expected and report.replaced


def test_a_newer_release_whose_results_differ_is_left_alone(
    impl: ModuleType, build: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host whose compressor makes other bytes than the shim's writer: nothing patched, a warning."""

    def _send_compressed_frame_sync(self: Any, message: bytes, opcode: int, compress: int | None) -> None:
        self._write_websocket_frame(message, opcode, 0x40)  # "compresses" nothing

    class Verbatim:
        """A compressor that "compresses" nothing (aiohttp before 3.13.2 asks _make_compress_obj for it)."""

        async def compress(self, data: bytes) -> bytes:
            return data

        def flush(self, mode: int) -> bytes:
            return b""

    if LEGACY_WRITER:
        monkeypatch.setattr(HOST_WRITER, "_make_compress_obj", lambda self, compress: Verbatim())
    else:
        monkeypatch.setattr(HOST_WRITER, "_send_compressed_frame_sync", _send_compressed_frame_sync)
    monkeypatch.setattr(shim._SHIM, "versions", Versions("0.1", "0.1"))
    before = masks()
    if impl.NAME == "python":
        # pure wscodec replaces no mask, and its writer compresses with aiohttp's own code (the one
        # sabotaged here too): the results are aiohttp's, so the shim installs
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not shim.install(impl).reason
        return
    with pytest.warns(HostVersionWarning, match=r"is newer than the supported 0\.1 to 0\.1\.x and its results differ"):
        report = shim.install(impl)
    assert report.reason and report.replaced == {} and not shim.is_installed()
    assert all(module.WebSocketWriter is HOST_WRITER for module in writer_holders().values())
    assert masks() == before
