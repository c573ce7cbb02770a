"""The websockets shim: what it patches, exact behaviour, and loopback echo with the shim on both ends.

websockets' source distribution ships no tests, so this module and
test_websockets_peers.py are its suite: the sans-I/O protocol with the shim
on the sending side, the receiving side or both, fed in odd-sized chunks;
and websockets' asyncio and sync servers and clients echoing every message.
"""

from __future__ import annotations

import array
import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType

import needs
import pytest

# websockets needs Python >= 3.11 (the test extra leaves it out before)
needs.module("websockets", python=(3, 11))

from shim_cases import CASES, Case, Relay, odd_chunks, pure_host, split3, subprocess_env
from websockets import frames
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import Protocol, Side, State

import wscodec.integrations.websockets as shim
from wscodec.integrations import UnsupportedHostError


@pytest.fixture
def build(host_build: str) -> Iterator[str]:
    """The host as built (compiled speedups) or as its pure fallback, restored afterwards."""
    undo = pure_host("websockets", host_build)
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
    original = frames.apply_mask
    source = "websockets.utils" if build == "pure" else "websockets.speedups"
    report = shim.install(impl)
    assert shim.is_installed()
    assert report.host == "websockets" and report.version == "17.4" and report.implementation == impl.NAME
    names = {"websockets.frames.apply_mask", f"{source}.apply_mask"}
    if impl.NAME == "python" and build == "native":
        assert report.replaced == {}
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
    shim.uninstall()
    assert frames.apply_mask is original


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


def test_refuses_an_untested_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shim, "TESTED_VERSIONS", ("0.0",))
    monkeypatch.setattr(shim._SHIM, "tested", ("0.0",))
    with pytest.raises(UnsupportedHostError, match=r"websockets 0\.0.*17\.4 is installed"):
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


async def asyncio_exchange(uri: str) -> list[str | bytes]:
    from websockets.asyncio.client import connect

    echoed: list[str | bytes] = []
    async with connect(uri, compression=None, max_size=None) as ws:
        for case in CASES:
            payload = case.payload
            await ws.send(split3(payload) if case.fragmented else payload)
            echoed.append(await ws.recv())
        await ws.close(1000)
    assert ws.close_code == 1000
    return echoed


def sync_exchange(uri: str) -> list[str | bytes]:
    from websockets.sync.client import connect

    echoed: list[str | bytes] = []
    with connect(uri, compression=None, max_size=None) as ws:
        for case in CASES:
            payload = case.payload
            ws.send(split3(payload) if case.fragmented else payload)
            echoed.append(ws.recv())
        ws.close(1000)
    assert ws.close_code == 1000
    return echoed


def check_echo(echoed: list[str | bytes]) -> None:
    assert len(echoed) == len(CASES)
    for case, message in zip(CASES, echoed, strict=True):
        assert message == case.payload, case


def test_asyncio_echo_with_the_shim_installed(impl: ModuleType, build: str) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    shim.install(impl)
    close_codes: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)
        close_codes.append(ws.close_code)

    async def main() -> list[str | bytes]:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            return await asyncio_exchange(f"ws://127.0.0.1:{port}")

    check_echo(asyncio.run(main()))
    assert close_codes == [1000]


def test_sync_echo_with_the_shim_installed(impl: ModuleType, build: str) -> None:
    from websockets.sync.server import ServerConnection, serve

    shim.install(impl)
    close_codes: list[int | None] = []

    def handler(ws: ServerConnection) -> None:
        for message in ws:
            ws.send(message)
        close_codes.append(ws.close_code)

    with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            echoed = sync_exchange(f"ws://127.0.0.1:{server.socket.getsockname()[1]}")
        finally:
            server.shutdown()
            thread.join()
    check_echo(echoed)
    assert close_codes == [1000]


# --- against websockets in another process, through a relay that re-chunks the bytes ---


@pytest.mark.parametrize("placement", ["client", "server", "both"])
@pytest.mark.parametrize("server_kind", ["asyncio", "sync"])
@pytest.mark.parametrize("client_kind", ["asyncio", "sync"])
def test_against_a_peer_process(
    impl: ModuleType,
    build: str,
    placement: str,
    server_kind: str,
    client_kind: str,
    peers: Callable[..., Relay],
) -> None:
    """The shim on the client, on the server or on both; the other end runs websockets' own code."""
    server_shim = impl.NAME if placement in ("server", "both") else "none"
    relay = peers("websockets", server_kind, server_shim, build == "pure")
    if placement in ("client", "both"):
        shim.install(impl)
    uri = f"ws://127.0.0.1:{relay.port}"
    check_echo(asyncio.run(asyncio_exchange(uri)) if client_kind == "asyncio" else sync_exchange(uri))
