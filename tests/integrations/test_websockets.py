"""The websockets shim: what it patches, exact behaviour, and loopback echo with the shim on both ends.

websockets' source distribution ships no tests, so this module and
test_websockets_peers.py are its suite: the sans-I/O protocol with the shim
on the sending side, the receiving side or both, fed in odd-sized chunks;
and websockets' asyncio and sync servers and clients echoing every message.
"""

from __future__ import annotations

import array
import asyncio
import importlib.metadata
import subprocess
import sys
import threading
import warnings
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import needs
import pytest

# websockets needs Python >= 3.11 (the test extra leaves it out before)
needs.module("websockets", python=(3, 11))

from shim_cases import CASES, Case, Relay, odd_chunks, outcome, pure_host, split3, subprocess_env
from websockets import exceptions, frames
from websockets.extensions import permessage_deflate
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import Protocol, Side, State

import wscodec.integrations.websockets as shim
from wscodec.integrations import HostVersionWarning, UnsupportedHostError, Versions

HOST_DEFLATE = permessage_deflate.PerMessageDeflate
#: where websockets.frames.apply_mask comes from: its C speedups, else its pure utils
SOURCES = ("websockets.speedups", "websockets.utils")
#: the release of websockets under test, as numbers (the shim supports several)
HOST_RELEASE = tuple(int(part) for part in importlib.metadata.version("websockets").split(".")[:2])
DEFLATE_NAME = "websockets.extensions.permessage_deflate.PerMessageDeflate"


@pytest.fixture
def build(host_build: str) -> Iterator[str]:
    """The host as built (compiled speedups) or as its pure fallback, restored afterwards."""
    undo = pure_host("websockets", host_build)
    yield host_build
    shim.uninstall()
    undo()


def test_install_reports_and_restores_exactly(impl: ModuleType, build: str) -> None:
    original = frames.apply_mask
    source = "websockets.utils" if build == "pure" else "websockets.speedups"
    report = shim.install(impl)
    assert shim.is_installed()
    assert (
        report.host == "websockets"
        and report.version == importlib.metadata.version("websockets")
        and report.implementation == impl.NAME
    )
    names = {"websockets.frames.apply_mask", f"{source}.apply_mask"}
    assert DEFLATE_NAME in report.replaced  # every implementation inflates, and fixes the BFINAL bug
    assert permessage_deflate.PerMessageDeflate is not HOST_DEFLATE
    assert issubclass(permessage_deflate.PerMessageDeflate, HOST_DEFLATE)
    if impl.NAME == "python" and build == "native":
        assert set(report.replaced) == {DEFLATE_NAME}
        assert names <= set(report.left_alone)
        assert frames.apply_mask is original
    else:
        assert set(report.replaced) >= names
        assert frames.apply_mask is not original
        assert sys.modules[source].apply_mask is frames.apply_mask
    assert shim.install(impl) is report  # idempotent
    shim.uninstall()
    assert not shim.is_installed()
    assert frames.apply_mask is original
    assert sys.modules[source].apply_mask is original
    assert permessage_deflate.PerMessageDeflate is HOST_DEFLATE
    shim.uninstall()  # a second uninstall is a no-op


def test_describe_matches_install(impl: ModuleType, build: str) -> None:
    lines = shim.describe(impl)
    assert not shim.is_installed()
    assert lines == shim.install(impl).lines()


def test_switching_implementation_restores_first(impls: list[ModuleType], build: str) -> None:
    original = frames.apply_mask
    for impl in impls:
        shim.install(impl)
    assert shim.install(impls[-1]).implementation == impls[-1].NAME
    assert permessage_deflate.PerMessageDeflate.decode.__module__ == shim.__name__
    shim.uninstall()
    assert frames.apply_mask is original
    assert permessage_deflate.PerMessageDeflate is HOST_DEFLATE


DATA = [b"", b"x", b"hello world, masked!", bytes(range(256)) * 40 + b"tail"]


@pytest.mark.parametrize("data", DATA, ids=lambda d: f"{len(d)}B")
def test_same_results_for_every_payload_type(impl: ModuleType, build: str, data: bytes) -> None:
    original = frames.apply_mask
    shim.install(impl)
    mask = b"\x12\x34\x56\x78"
    as_ints = array.array("B", data)
    payloads = [data, bytearray(data), memoryview(data), memoryview(data * 2)[::2], memoryview(as_ints)]
    for payload in payloads:
        for key in (mask, bytearray(mask), memoryview(mask)):
            assert outcome(frames.apply_mask, payload, key) == outcome(original, payload, key)
    assert frames.apply_mask(data=data, mask=mask) == original(data, mask)


BAD_ARGS = [
    ("text", b"abcd"),
    (b"data", "abcd"),
    (12, b"abcd"),
    (None, b"abcd"),
    (b"data", b"abc"),
    (b"data", b"abcde"),
    (b"data", None),
    (array.array("i", [1, 2]), b"abcd"),
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=repr)
def test_same_errors_as_the_host(impl: ModuleType, build: str, args: tuple[object, object]) -> None:
    original = frames.apply_mask
    expected = outcome(original, *args)
    shim.install(impl)
    assert outcome(frames.apply_mask, *args) == expected


def test_refuses_an_older_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shim._SHIM, "versions", Versions("99.0", "99.0"))
    with pytest.raises(UnsupportedHostError, match=r"supports websockets 99\.0 to 99\.0\.x; .* is installed, older"):
        shim.install()
    assert not shim.is_installed()


def test_refuses_unexpected_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    def apply_mask(payload: bytes, key: bytes) -> bytes:
        return payload

    monkeypatch.setattr(frames, "apply_mask", apply_mask)
    with pytest.raises(UnsupportedHostError, match=r"takes \(payload, key\)"):
        shim.install("python")
    assert not shim.is_installed()


LEGACY_SCRIPT = """
import sys, warnings
if sys.argv[2] == "pure":
    sys.modules["websockets.speedups"] = None  # as if built without its C extension
import wscodec.integrations.websockets as shim
import websockets.frames
original = websockets.frames.apply_mask
report = shim.install(sys.argv[1])
assert "websockets.legacy.framing" not in sys.modules, "install() must not import the legacy API"
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import websockets.legacy.framing as legacy
bound = legacy.apply_mask is websockets.frames.apply_mask
replaced = legacy.apply_mask is not original
shim.uninstall()
print(bound, replaced, legacy.apply_mask is original and websockets.frames.apply_mask is original)
"""


def test_legacy_api_imported_later_binds_the_replacement_and_is_restored(impl: ModuleType, host_build: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", LEGACY_SCRIPT, impl.NAME, host_build],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
    ).stdout.split()
    replaced = not (impl.NAME == "python" and host_build == "native")
    assert out == ["True", str(replaced), "True"]


# --- sans-I/O protocol, shim on one side or both, bytes fed in odd-sized chunks ---


def client_frames(case: Case) -> list[Frame]:
    """The frames a client sends for ``case``; fragmented text is cut inside code points."""
    payload = case.payload
    data = payload.encode() if isinstance(payload, str) else payload
    opcode = Opcode.TEXT if case.text else Opcode.BINARY
    if not case.fragmented:
        return [Frame(opcode, data)]
    first, middle, last = split3(data)
    return [Frame(opcode, first, fin=False), Frame(Opcode.CONT, middle, fin=False), Frame(Opcode.CONT, last)]


@pytest.mark.parametrize("placement", ["sender", "receiver", "both"])
def test_sans_io_against_unshimmed_peer_in_odd_chunks(impl: ModuleType, build: str, placement: str) -> None:
    client = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
    server = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    expected = [frame for case in CASES for frame in client_frames(case)]
    if placement in ("sender", "both"):
        shim.install(impl)
    for frame in expected:
        client.send_frame(frame)
    client.send_close(1000, "bye")
    wire = b"".join(client.data_to_send())
    if placement == "sender":
        shim.uninstall()
    elif placement == "receiver":
        shim.install(impl)
    for piece in odd_chunks(wire):
        server.receive_data(piece)
    received = server.events_received()
    assert [(f.opcode, f.data, f.fin) for f in received[:-1]] == [(f.opcode, f.data, f.fin) for f in expected]
    assert received[-1].opcode is Opcode.CLOSE
    assert Close.parse(received[-1].data) == Close(1000, "bye")


# --- asyncio and sync servers and clients in this process, shim on both ends ---


async def asyncio_exchange(uri: str, compression: str | None = None) -> list[str | bytes]:
    from websockets.asyncio.client import connect

    echoed: list[str | bytes] = []
    async with connect(uri, compression=compression, max_size=None) as ws:
        assert bool(ws.protocol.extensions) == (compression is not None)
        for case in CASES:
            payload = case.payload
            await ws.send(split3(payload) if case.fragmented else payload)
            echoed.append(await ws.recv())
        await ws.close(1000)
    assert ws.protocol.close_code == 1000  # (ws.close_code from websockets 13.1)
    return echoed


def sync_exchange(uri: str, compression: str | None = None) -> list[str | bytes]:
    from websockets.sync.client import connect

    echoed: list[str | bytes] = []
    with connect(uri, compression=compression, max_size=None) as ws:
        assert bool(ws.protocol.extensions) == (compression is not None)
        for case in CASES:
            payload = case.payload
            ws.send(split3(payload) if case.fragmented else payload)
            echoed.append(ws.recv())
        ws.close(1000)
    assert ws.protocol.close_code == 1000  # (ws.close_code from websockets 13.1)
    return echoed


def check_echo(echoed: list[str | bytes]) -> None:
    assert len(echoed) == len(CASES)
    for case, message in zip(CASES, echoed, strict=True):
        assert message == case.payload, case


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_asyncio_echo_with_the_shim_installed(impl: ModuleType, build: str, compression: str | None) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    shim.install(impl)
    close_codes: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)
        close_codes.append(ws.protocol.close_code)

    async def main() -> list[str | bytes]:
        async with serve(handler, "127.0.0.1", 0, compression=compression, max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            return await asyncio_exchange(f"ws://127.0.0.1:{port}", compression)

    check_echo(asyncio.run(main()))
    assert close_codes == [1000]


@pytest.mark.parametrize("compression", [None, "deflate"])
def test_sync_echo_with_the_shim_installed(impl: ModuleType, build: str, compression: str | None) -> None:
    from websockets.sync.server import ServerConnection, serve

    shim.install(impl)
    close_codes: list[int | None] = []
    handled = threading.Event()

    def handler(ws: ServerConnection) -> None:
        for message in ws:
            ws.send(message)
        close_codes.append(ws.protocol.close_code)
        handled.set()

    with serve(handler, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            echoed = sync_exchange(f"ws://127.0.0.1:{server.socket.getsockname()[1]}", compression)
            # websockets 13.0's shutdown() does not wait for the handler's thread (13.1's does)
            handled.wait(60)
        finally:
            server.shutdown()
            thread.join()
    check_echo(echoed)
    assert close_codes == [1000]


# --- against websockets in another process, through a relay that re-chunks the bytes ---


@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("placement", ["client", "server", "both"])
@pytest.mark.parametrize("server_kind", ["asyncio", "sync"])
@pytest.mark.parametrize("client_kind", ["asyncio", "sync"])
def test_against_a_peer_process(
    impl: ModuleType,
    build: str,
    placement: str,
    server_kind: str,
    client_kind: str,
    compression: str | None,
    peers: Callable[..., Relay],
) -> None:
    """The shim on the client, on the server or on both; the other end runs websockets' own code.

    The peer accepts permessage-deflate; the client asks for it or not.
    """
    server_shim = impl.NAME if placement in ("server", "both") else "none"
    relay = peers("websockets", server_kind, server_shim, build == "pure")
    if placement in ("client", "both"):
        shim.install(impl)
    uri = f"ws://127.0.0.1:{relay.port}"
    if client_kind == "asyncio":
        check_echo(asyncio.run(asyncio_exchange(uri, compression)))
    else:
        check_echo(sync_exchange(uri, compression))


# --- permessage-deflate: websockets' extension on wscodec's PerMessageDeflate ---


def tail_stripped(compressor: Any) -> Callable[[bytes], bytes]:
    """What a peer's compressor sends for a message: sync-flushed, the 00 00 FF FF tail removed."""
    return lambda data: (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def final_block(data: bytes, bits: int = 15) -> bytes:
    """A message compressed as one whole DEFLATE stream ending with a final block (BFINAL set,
    RFC 7692 §7.2.3.4), by a fresh compressor, as some peers send."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -bits)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


# (remote_no_context_takeover, local_no_context_takeover, remote_max_window_bits, local_max_window_bits, settings)
CONFIGS = [
    (False, False, 15, 15, None),
    (False, False, 12, 12, {"memLevel": 5}),  # websockets' own defaults (both ends)
    (True, False, 15, 9, {"level": 1}),
    (False, True, 9, 10, {"level": 9, "memLevel": 9}),
    (True, True, 15, 15, {"level": 0}),
    (False, False, 15, 15, {"level": -1, "method": zlib.DEFLATED, "strategy": zlib.Z_DEFAULT_STRATEGY}),
]


def frame_sequence() -> list[Frame]:
    """Messages of every shape: whole and fragmented, empty, large, with control frames between."""
    text = "wscodec ☃ κόσμε 😀 {json: [1, 2, 3]} ".encode() * 40
    big = bytes(range(251)) * 700
    return [
        Frame(Opcode.TEXT, b"tea"),
        Frame(Opcode.TEXT, text),
        Frame(Opcode.BINARY, b""),
        Frame(Opcode.BINARY, b""),
        Frame(Opcode.PING, b"ping"),
        Frame(Opcode.TEXT, text[:100], fin=False),
        Frame(Opcode.PONG, b""),
        Frame(Opcode.CONT, b"", fin=False),
        Frame(Opcode.CONT, text[100:]),
        Frame(Opcode.BINARY, big),
        Frame(Opcode.BINARY, big[:70000], fin=False),
        Frame(Opcode.CONT, big[70000:]),
        Frame(Opcode.TEXT, text),
        Frame(Opcode.CLOSE, Close(1000, "bye").serialize()),
    ]


def make(cls: type, config: tuple[Any, ...]) -> Any:
    *flags, settings = config
    return cls(*flags) if settings is None else cls(*flags, dict(settings))


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_deflate_sends_websockets_bytes_and_reads_them_back(impl: ModuleType, config: tuple[Any, ...]) -> None:
    """Frame for frame, the shim's extension sends what websockets' sends (same compressor
    settings, same flushes) and inflates it back the same: one instance encodes and decodes, as
    websockets' tests use it (the extension is symmetrical when both windows are equal)."""
    remote_nct, local_nct, remote_bits, local_bits, _ = config
    peer_config = (local_nct, remote_nct, local_bits, remote_bits, config[4])
    host_out, host_in = make(HOST_DEFLATE, config), make(HOST_DEFLATE, peer_config)
    shim.install(impl)
    ours_out, ours_in = (
        make(permessage_deflate.PerMessageDeflate, config),
        make(permessage_deflate.PerMessageDeflate, peer_config),
    )
    assert type(ours_out) is permessage_deflate.PerMessageDeflate
    assert repr(ours_out) == repr(host_out)
    assert ours_out.compress_settings == host_out.compress_settings
    stored = (config[4] or {}).get("level") == 0
    check_in = make(HOST_DEFLATE, peer_config)
    for frame in frame_sequence():
        sent = host_out.encode(frame)
        ours = ours_out.encode(frame)
        if not (stored and len(frame.data) > 16384):
            assert ours == sent
        # else: level 0 (no compression) cuts a large message into stored blocks where the output
        # buffer ends, and wscodec's buffer is not Python's: other cuts, the same content.
        checked = check_in.decode(ours, max_size=None)
        assert (checked.opcode, bytes(checked.data), checked.fin) == (frame.opcode, frame.data, frame.fin)
        # the peer's side: websockets' own extension and the shim's inflate it to the same frame
        assert ours_in.decode(sent, max_size=None) == host_in.decode(sent, max_size=None) == frame


@pytest.mark.parametrize("settings", [{"strategy": zlib.Z_FILTERED}, {"zdict": b"tea tea"}])
def test_deflate_settings_wscodec_cannot_reproduce_keep_websockets_compressor(
    impl: ModuleType, settings: dict[str, Any]
) -> None:
    shim.install(impl)
    extension = permessage_deflate.PerMessageDeflate(False, False, 15, 15, settings)
    if impl.NAME == "python":
        # with pure wscodec websockets' own encode() compresses anyway: only inflation is wscodec's
        assert type(extension) is permessage_deflate.PerMessageDeflate
    else:
        assert type(extension) is HOST_DEFLATE  # websockets' own extension, on its own zlib objects
    frame = Frame(Opcode.TEXT, b"tea tea tea")
    assert extension.encode(frame) == HOST_DEFLATE(False, False, 15, 15, settings).encode(frame)


@pytest.mark.parametrize("settings", [{"level": 10}, {"memLevel": 0}, {"wbits": 9}, {"nonsense": 1}])
def test_deflate_settings_refused_as_websockets_refuses_them(impl: ModuleType, settings: dict[str, Any]) -> None:
    expected = outcome_of(lambda: HOST_DEFLATE(False, False, 15, 15, settings))
    shim.install(impl)
    assert outcome_of(lambda: permessage_deflate.PerMessageDeflate(False, False, 15, 15, settings)) == expected
    assert isinstance(expected, tuple)  # an error: zlib's, or websockets' assert on wbits


def outcome_of(call: Callable[[], Any]) -> object:
    """What ``call()`` returned, or the type and message of what it raised and of its cause."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - comparing any error
        return (type(exc), str(exc), type(exc.__cause__), str(exc.__cause__))


ERROR_CASES = {
    "corrupt": [Frame(Opcode.TEXT, b"\xff\xff\xff\xff", rsv1=True)],
    "distance too far back": [Frame(Opcode.TEXT, b"J\x06\x11\x00\x00", rsv1=True)],
    "rsv1 on continuation": [
        Frame(Opcode.TEXT, b"*IMT\x00\x00\x00\x00\xff\xff", rsv1=True, fin=False),
        Frame(Opcode.CONT, b"*\xc9\xccM\x05\x00", rsv1=True),
    ],
}


@pytest.mark.parametrize("case", ERROR_CASES, ids=str)
def test_deflate_errors_are_websockets(impl: ModuleType, case: str) -> None:
    host = HOST_DEFLATE(False, False, 15, 15)
    expected = [outcome_of(lambda f=frame: host.decode(f)) for frame in ERROR_CASES[case]]
    shim.install(impl)
    ours = permessage_deflate.PerMessageDeflate(False, False, 15, 15)
    got = [outcome_of(lambda f=frame: ours.decode(f)) for frame in ERROR_CASES[case]]
    if case == "rsv1 on continuation" and HOST_RELEASE < (14, 0):
        # websockets 13 passes the bit on, for its frame check to refuse ("reserved bits must be 0")
        assert got == expected and isinstance(got[-1], Frame) and got[-1].rsv1
        return
    if case == "rsv1 on continuation" and HOST_RELEASE < (16, 1):
        # websockets 14.0 to 16.0 drop the bit and accept the frame (RFC 7692 §6.1: the first frame
        # only); the shim refuses it, as websockets does from 16.1
        assert isinstance(expected[-1], Frame) and not expected[-1].rsv1
        assert got[:-1] == expected[:-1]
        assert got[-1] == (exceptions.ProtocolError, "RSV1 bit set in continuation frame", type(None), "None")
        return
    assert got == expected
    assert isinstance(expected[-1], tuple) and expected[-1][0] is exceptions.ProtocolError


@pytest.mark.parametrize("limit", [0, 1, 999, 1000, 1001])
@pytest.mark.parametrize("fragmented", [False, True])
def test_deflate_max_size_is_websockets(impl: ModuleType, limit: int, fragmented: bool) -> None:
    """A message inflating to exactly ``max_size`` passes, one byte more is PayloadTooBig (1009),
    with websockets' own message; per frame, as websockets passes the budget left."""
    data = bytes(range(10)) * 100
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    flushed = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    if fragmented:
        half = len(flushed) // 2
        sent = [Frame(Opcode.BINARY, flushed[:half], fin=False, rsv1=True), Frame(Opcode.CONT, flushed[half:-4])]
    else:
        sent = [Frame(Opcode.BINARY, flushed[:-4], rsv1=True)]

    def run(extension: Any) -> list[object]:
        results: list[object] = []
        budget = limit
        for frame in sent:
            result = outcome_of(lambda f=frame, b=budget: extension.decode(f, max_size=b))
            results.append(result)
            if not isinstance(result, Frame):
                break
            budget -= len(result.data)
        return results

    expected = run(HOST_DEFLATE(False, False, 15, 15))
    shim.install(impl)
    got = run(permessage_deflate.PerMessageDeflate(False, False, 15, 15))
    if limit == 0:
        # websockets reads max_size=0 as "no limit" (zlib's max_length=0), wscodec as 0 bytes; its own
        # protocol never gets here (Frame.parse refuses a non-empty frame over max_size first)
        assert isinstance(expected[0], Frame) and len(expected[0].data) > 0
        # (websockets 13's PayloadTooBig takes a message, its own words)
        message = "over size limit (? > 0 bytes)" if HOST_RELEASE < (14, 0) else "frame exceeds limit of 0 bytes"
        assert got == [(exceptions.PayloadTooBig, message, type(None), "None")]
    else:
        assert got == expected
    if limit >= len(data):
        assert b"".join(r.data for r in got) == data  # type: ignore[union-attr]
    else:
        assert got[-1][0] is exceptions.PayloadTooBig  # type: ignore[index]


def bfinal_exchange(extension: Any) -> list[bytes]:
    """A message ending with a final block, then two ordinary ones, inflated by ``extension``."""
    peer = tail_stripped(zlib.compressobj(6, zlib.DEFLATED, -15))
    wire = [final_block(b"first message"), peer(b"second message"), peer(b"third, second message")]
    return [extension.decode(Frame(Opcode.TEXT, data, rsv1=True)).data for data in wire]


def test_bfinal_bug_of_websockets_alone() -> None:
    """The host's bug, as fixed below: after a message ending with a final block (BFINAL), every
    later compressed message is delivered as empty bytes, silently."""
    assert bfinal_exchange(HOST_DEFLATE(False, False, 15, 15)) == [b"first message", b"", b""]


def test_bfinal_message_then_the_next_ones_with_the_shim(impl: ModuleType) -> None:
    shim.install(impl)
    delivered = bfinal_exchange(permessage_deflate.PerMessageDeflate(False, False, 15, 15))
    assert delivered == [b"first message", b"second message", b"third, second message"]


def client_compressed_frame(data: bytes) -> bytes:
    """A client's whole compressed text frame (FIN, RSV1, masked) carrying ``data``."""
    key = b"\x12\x34\x56\x78"
    assert len(data) < 126
    return bytes([0xC1, 0x80 | len(data)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("installed", [False, True], ids=["websockets alone", "shim"])
def test_bfinal_through_the_protocol(impl: ModuleType, installed: bool) -> None:
    """The same on a server connection (websockets' sans-I/O protocol, masked frames in odd chunks):
    what the application receives. The next message refers back into the first one's window."""
    if installed:
        shim.install(impl)
    server = Protocol(Side.SERVER, state=State.OPEN, max_size=2**20)
    server.extensions = [permessage_deflate.PerMessageDeflate(False, False, 15, 15)]
    first = b"the window after a final block stays: " * 3
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=first)  # refers back into message 1
    messages = [final_block(first), tail_stripped(compressor)(first + b"(again)")]
    wire = b"".join(client_compressed_frame(data) for data in messages)
    for piece in odd_chunks(wire):
        server.receive_data(piece)
    received = [frame.data for frame in server.events_received()]
    if installed:
        assert received == [first, first + b"(again)"]
    else:
        assert received == [first, b""]  # websockets' bug: silently empty


def test_sync_send_and_receive_from_two_threads(impl: ModuleType) -> None:
    """websockets' sync API sends in one thread while another receives: the shim's extension uses
    one wscodec object per direction, never one object from both threads."""
    from websockets.sync.client import connect
    from websockets.sync.server import ServerConnection, serve

    shim.install(impl)
    count = 300
    messages = [f"message {i} " * (i % 50 + 1) for i in range(count)]

    def handler(ws: ServerConnection) -> None:
        received: list[str | bytes] = []
        sender = threading.Thread(target=lambda: [ws.send(m) for m in messages])
        sender.start()
        received.extend(ws.recv() for _ in range(count))
        sender.join()
        ws.send("ok" if received == messages else "corrupted")

    with serve(handler, "127.0.0.1", 0) as server:  # compression="deflate": websockets' default
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            with connect(f"ws://127.0.0.1:{server.socket.getsockname()[1]}") as ws:
                assert type(ws.protocol.extensions[0]) is permessage_deflate.PerMessageDeflate
                sender = threading.Thread(target=lambda: [ws.send(m) for m in messages])
                sender.start()
                echoed = [ws.recv() for _ in range(count)]
                sender.join()
                assert ws.recv() == "ok"
        finally:
            server.shutdown()
            thread.join()
    assert echoed == messages


# --- a websockets release newer than the supported range ---


def test_a_newer_release_installs_when_its_results_are_websockets(
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
    assert permessage_deflate.PerMessageDeflate is not HOST_DEFLATE


def test_a_newer_release_whose_results_differ_is_left_alone(
    impl: ModuleType, build: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host whose apply_mask gives other results than wscodec's mask: nothing patched, a warning."""

    def apply_mask(data: bytes, mask: bytes) -> bytes:
        return bytes(data)  # masks nothing

    original = frames.apply_mask
    (source,) = [
        sys.modules[name] for name in SOURCES if getattr(sys.modules.get(name), "apply_mask", None) is original
    ]
    monkeypatch.setattr(shim._SHIM, "versions", Versions("0.1", "0.1"))
    monkeypatch.setattr(frames, "apply_mask", apply_mask)
    monkeypatch.setattr(source, "apply_mask", apply_mask)
    with pytest.warns(HostVersionWarning, match=r"is newer than the supported 0\.1 to 0\.1\.x and its results differ"):
        report = shim.install(impl)
    assert report.reason and report.replaced == {} and not shim.is_installed()
    assert frames.apply_mask is apply_mask and source.apply_mask is apply_mask  # type: ignore[attr-defined]
    assert permessage_deflate.PerMessageDeflate is HOST_DEFLATE
