"""The autobahn shim: what it patches, exact validator and masker behaviour, and loopback echo.

autobahn's own tests run with the shim installed through
tools/host_tests/run_autobahn.sh. Here the replacements are compared with
both of autobahn's own implementations (NVX and pure Python; 24.4 has no NVX) on random input
in odd-sized chunks, and autobahn's asyncio client and server exchange every
message with each other (shim on both ends) and with websockets' (shim on
one end only, so that a bug both ends share cannot hide), through a relay
that re-cuts the byte stream into odd-sized chunks.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import needs
import pytest

# autobahn and websockets need Python >= 3.11 (the test extra leaves them out before)
needs.module("autobahn", python=(3, 11))
needs.module("websockets", python=(3, 11))

import autobahn.websocket
from autobahn.asyncio.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from autobahn.exception import PayloadExceededError
from autobahn.websocket import compress, compress_deflate, protocol, utf8validator, xormasker
from autobahn.websocket.compress import (
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
    PerMessageDeflateResponseAccept,
)
from hypothesis import given
from hypothesis import strategies as st
from impls import IMPL_NAMES, load_impl
from shim_cases import CASES, Case, Relay, install_as_newer, installed_originals, odd_chunks, subprocess_env
from strategies import chunked, frame_settings, utf8_payloads
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

import wscodec.integrations.autobahn as shim
from wscodec.integrations import UnsupportedHostError, Versions

#: the autobahn release installed (the shim supports a range of them)
HOST_VERSION = importlib.metadata.version("autobahn")
#: autobahn's own validator and maskers here: its compiled NVX code (by default from 25.9), wsaccel's
#: (24.4 with wsaccel installed) or its pure Python (24.4 without)
HOST_CODE = shim._host_code()
#: before 26.7 the protocol gives the extension no budget: the shim also replaces its onFrameData
LEGACY_PROTOCOL = not shim._takes_budget(compress_deflate.PerMessageDeflate)
#: autobahn's own validator class and masker factory (the compiled ones when it has them)
HostValidator: Any = utf8validator.Utf8Validator
host_masker: Any = xormasker.create_xor_masker
if HOST_CODE == "NVX":
    HostValidator = importlib.import_module("autobahn.nvx._utf8validator").Utf8Validator
    host_masker = importlib.import_module("autobahn.nvx._xormasker").create_xor_masker
#: every name the shim replaces in autobahn's default configuration
PATCHED = [
    (protocol, "Utf8Validator"),
    (utf8validator, "Utf8Validator"),
    (protocol, "create_xor_masker"),
    (xormasker, "create_xor_masker"),
    *([(xormasker, "XorMaskerSimple"), (xormasker, "XorMaskerShifted1")] if HOST_CODE == "pure-Python" else []),
]
#: the names of autobahn's permessage-deflate the shim replaces (with either implementation)
DEFLATE_PATCHED: list[tuple[Any, str]] = [
    (protocol, "PERMESSAGE_COMPRESSION_EXTENSION"),
    (compress_deflate, "PerMessageDeflate"),
    (compress, "PerMessageDeflate"),
    *([(protocol.WebSocketProtocol, "onFrameData")] if LEGACY_PROTOCOL else []),
]


def dotted(owner: Any, name: str) -> str:
    """The name the shim's report gives ``owner.name`` (a module's attribute or a class's)."""
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{name}"
    return f"{owner.__name__}.{name}"


def pure_autobahn_validator() -> type:
    """autobahn's pure-Python validator, which its module defines only without NVX (or wsaccel, in 24.4)."""
    if HOST_CODE == "pure-Python":
        return utf8validator.Utf8Validator  # type: ignore[no-any-return]
    spec = importlib.util.find_spec("autobahn.websocket.utf8validator")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(autobahn.websocket, "USES_NVX", False, raising=False)
        patch.setitem(sys.modules, "wsaccel.utf8validator", None)  # its import fails: autobahn 24.4 falls back
        spec.loader.exec_module(module)
    return module.Utf8Validator  # type: ignore[no-any-return]


PureValidator = pure_autobahn_validator()


# ---------------------------------------------------------------- install


def test_autobahn_runs_with_nvx_by_default() -> None:
    # What "the default" means in these tests; AUTOBAHN_USE_NVX=0 is tested in a subprocess below.
    if hasattr(autobahn.websocket, "USES_NVX"):
        assert autobahn.websocket.HAS_NVX and autobahn.websocket.USES_NVX
    else:  # autobahn 24.4: no NVX; wsaccel's code when installed, else its pure Python
        wsaccel = importlib.util.find_spec("wsaccel") is not None
        assert HOST_CODE == ("wsaccel" if wsaccel else "pure-Python")
        assert utf8validator.Utf8Validator.__module__.startswith("wsaccel" if wsaccel else "autobahn")


def test_install_reports_and_restores_exactly(impl: ModuleType) -> None:
    originals = [getattr(module, name) for module, name in PATCHED]
    deflate_originals = [getattr(module, name) for module, name in DEFLATE_PATCHED]
    report = shim.install(impl)
    assert (report.host, report.version, report.implementation) == ("autobahn", HOST_VERSION, impl.NAME)
    names = {dotted(module, name) for module, name in PATCHED}
    deflate_names = {dotted(module, name) for module, name in DEFLATE_PATCHED}
    assert deflate_names <= set(report.replaced)
    ours = compress_deflate.PerMessageDeflate
    assert (
        compress.PerMessageDeflate is ours
        and issubclass(ours, deflate_originals[1])
        and ours is not deflate_originals[1]
    )
    registry = protocol.PERMESSAGE_COMPRESSION_EXTENSION
    assert registry["permessage-deflate"]["PMCE"] is ours and set(registry) == set(deflate_originals[0])
    assert registry["permessage-bzip2"] is deflate_originals[0]["permessage-bzip2"]
    if impl.NAME == "python" and HOST_CODE != "pure-Python":  # compiled: pure-Python wscodec leaves it alone
        assert set(report.replaced) == deflate_names and set(report.left_alone) == names
        assert all(
            getattr(module, name) is original for (module, name), original in zip(PATCHED, originals, strict=True)
        )
    else:
        assert set(report.replaced) == names | deflate_names
        assert report.left_alone == {
            "autobahn.websocket.protocol.XorMaskerNull": report.left_alone["autobahn.websocket.protocol.XorMaskerNull"]
        }
        assert protocol.Utf8Validator is utf8validator.Utf8Validator is not originals[0]
        assert protocol.create_xor_masker is xormasker.create_xor_masker is not originals[2]
    assert shim.install(impl) is report  # idempotent
    shim.uninstall()
    assert not shim.is_installed()
    assert all(getattr(module, name) is original for (module, name), original in zip(PATCHED, originals, strict=True))
    assert all(
        getattr(module, name) is original
        for (module, name), original in zip(DEFLATE_PATCHED, deflate_originals, strict=True)
    )
    shim.uninstall()


def test_describe_matches_install(impl: ModuleType) -> None:
    lines = shim.describe(impl)
    assert lines == shim.install(impl).lines()
    assert shim.describe(impl) == lines  # also while installed


def test_switching_implementation_restores_first(impls: list[ModuleType]) -> None:
    originals = [getattr(module, name) for module, name in PATCHED]
    for impl in impls:
        assert shim.install(impl).implementation == impl.NAME
    shim.uninstall()
    assert all(getattr(module, name) is original for (module, name), original in zip(PATCHED, originals, strict=True))


def test_refuses_an_older_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shim._SHIM, "versions", Versions("99.0", "99.0"))
    with pytest.raises(UnsupportedHostError, match=r"supports autobahn 99\.0 to 99\.0\.x; .* is installed, older"):
        shim.install()
    assert not shim.is_installed()


def test_refuses_an_unexpected_per_message_deflate(monkeypatch: pytest.MonkeyPatch) -> None:
    def decompress_message_data(self: Any, data: bytes, limit: int | None = None) -> bytes:
        return data

    monkeypatch.setattr(compress_deflate.PerMessageDeflate, "decompress_message_data", decompress_message_data)
    with pytest.raises(UnsupportedHostError, match=r"decompress_message_data takes \(self, data, limit\)"):
        shim.install("python")
    assert not shim.is_installed()
    monkeypatch.undo()
    monkeypatch.setattr(protocol, "PERMESSAGE_COMPRESSION_EXTENSION", {})
    with pytest.raises(UnsupportedHostError, match="does not find"):
        shim.install("python")
    assert not shim.is_installed()


def test_refuses_unexpected_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    def create_xor_masker(mask: bytes, size: int | None = None) -> object:
        return None

    monkeypatch.setattr(protocol, "create_xor_masker", create_xor_masker)
    with pytest.raises(UnsupportedHostError, match=r"takes \(mask, size\)"):
        shim.install("python")
    assert not shim.is_installed()


def test_refuses_a_protocol_that_stopped_using_these_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "Utf8Validator", type("Elsewhere", (HostValidator,), {}))
    with pytest.raises(UnsupportedHostError, match="does not use"):
        shim.install("python")
    assert not shim.is_installed()


# ---------------------------------------------------------------- validator


def replacement_validator(impl: ModuleType) -> Any:
    """A validator of the class the shim puts in autobahn's place on ``impl``."""
    return shim._build(impl)[0]()


def quads_until_invalid(validator: Any, chunks: list[bytes]) -> list[tuple[bool, bool, int, int]]:
    """``validate`` over the chunks, up to and including the first invalid answer."""
    validator.reset()
    out = []
    for chunk in chunks:
        out.append(tuple(validator.validate(chunk)))
        if not out[-1][0]:
            break
    return out


def with_errors(data: st.DataObject) -> bytes:
    """Valid UTF-8 with, often, bytes that break it somewhere."""
    text = data.draw(utf8_payloads(max_small=300, big=False))
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(text)))
        bad = data.draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80", b"\xf4\x90", b"\xe0"]))
        text = text[:at] + bad + text[at:]
    return text


@frame_settings(300)
@given(data=st.data())
def test_validator_answers_as_autobahn_does(impl: ModuleType, data: st.DataObject) -> None:
    blob = data.draw(st.binary(max_size=64)) if data.draw(st.booleans()) else with_errors(data)
    chunks = data.draw(chunked(blob, max_chunks=6))
    expected = quads_until_invalid(PureValidator(), chunks)
    assert quads_until_invalid(HostValidator(), chunks) == expected  # the two autobahns agree
    assert quads_until_invalid(replacement_validator(impl), chunks) == expected


def test_validator_stays_invalid_and_resets(impl: ModuleType) -> None:
    validator = replacement_validator(impl)
    assert validator.validate(b"ab\xffcd") == (False, False, 2, 2)
    assert validator.validate(b"ok") == (False, False, 0, 2)  # (autobahn's NVX would say valid here)
    validator.reset()
    assert validator.validate("é".encode()[:1]) == (True, False, 1, 1)
    assert validator.validate("é".encode()[1:]) == (True, True, 1, 2)


def test_validator_decodes_octet_by_octet(impl: ModuleType) -> None:
    validator = replacement_validator(impl)
    pure = PureValidator()
    for octet in "a€".encode() + b"\xff":
        state = pure.decode(octet)
        assert validator.decode(octet) == (state if state in (0, 1) else 2)


@pytest.mark.parametrize("size", [0, 16, 125, 65536])
def test_validator_on_autobahn_test_sizes(impl: ModuleType, size: int) -> None:
    text = ("aé€😀" * size).encode()[:size].decode("utf-8", "ignore").encode()
    for chunks in ([text], list(odd_chunks(text))):
        assert quads_until_invalid(replacement_validator(impl), chunks) == quads_until_invalid(PureValidator(), chunks)


# ---------------------------------------------------------------- masker


def replacement_masker_factory(impl: ModuleType) -> Callable[..., Any]:
    """The ``create_xor_masker`` the shim puts in autobahn's place on ``impl``."""
    return shim._build(impl)[2]  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", [0, 1, 3, 127, 128, 1021, 70001])
def test_masker_matches_autobahn_across_odd_chunks(impl: ModuleType, size: int) -> None:
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    key = b"\x9a\x01\xfe\x42"
    create = replacement_masker_factory(impl)
    for length in (None, size):
        ours, theirs = create(key, length), host_masker(key, length)
        for chunk in odd_chunks(data):
            assert ours.process(chunk) == theirs.process(chunk)
            assert ours.pointer() == theirs.pointer()
        ours.reset()
        theirs.reset()
        assert ours.pointer() == theirs.pointer() == 0
        assert ours.process(data) == theirs.process(data)


def test_masker_rejects_a_bad_key_as_autobahn_does(impl: ModuleType) -> None:
    error = ValueError if HOST_CODE == "wsaccel" else AssertionError  # (wsaccel raises its own)
    for key in (b"abc", b"abcde"):
        if not sys.flags.optimize or error is ValueError:  # autobahn checks the key with an assert, which -O strips
            with pytest.raises(error):
                host_masker(key)
        with pytest.raises(error):
            replacement_masker_factory(impl)(key)


def test_pure_autobahn_is_accelerated_by_either_implementation(impls: list[ModuleType]) -> None:
    script = """
import sys
sys.modules["wsaccel"] = None  # autobahn 24.4 then runs its pure Python
import autobahn.websocket.protocol as protocol, autobahn.websocket.xormasker as xormasker
import wscodec.integrations.autobahn as shim
assert not getattr(__import__("autobahn.websocket").websocket, "USES_NVX", False)
def names():
    return (protocol.Utf8Validator, protocol.create_xor_masker, xormasker.XorMaskerSimple, xormasker.XorMaskerShifted1)
originals = names()
bad = b"\\xce\\xba\\xff"
pure = (xormasker.XorMaskerSimple(b"abcd").process(b"hello world"), originals[0]().validate(bad))
for impl in sys.argv[1:]:
    report = shim.install(impl)
    assert set(report.replaced) >= {"autobahn.websocket.xormasker.XorMaskerSimple",
        "autobahn.websocket.xormasker.XorMaskerShifted1", "autobahn.websocket.protocol.Utf8Validator",
        "autobahn.websocket.protocol.create_xor_masker"}, report
    masker = xormasker.XorMaskerShifted1(b"abcd")
    assert (masker.process(b"hello") + masker.process(b" world"), protocol.Utf8Validator().validate(bad)) == pure
    assert all(new is not old for new, old in zip(names(), originals))
    shim.uninstall()
    assert names() == originals
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", script, *(impl.NAME for impl in impls)],
        env=subprocess_env(AUTOBAHN_USE_NVX="0"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------- end to end


class _Received(WebSocketClientProtocol):  # type: ignore[misc]
    """An autobahn client that queues what it receives and reports its close."""

    def onOpen(self) -> None:
        self.factory.opened.set_result(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.received.put_nowait((payload, isBinary))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.closed.done():
            self.factory.closed.set_result((wasClean, code))


class _Echo(WebSocketServerProtocol):  # type: ignore[misc]
    """An autobahn server that echoes every message, in three fragments."""

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.sendMessage(payload, isBinary, fragmentSize=len(payload) // 3 + 1 if payload else None)


def as_sent(case: Case) -> tuple[bytes, bool]:
    """The payload autobahn sends for ``case`` (text is UTF-8 bytes) and whether it is binary."""
    payload = case.payload
    return (payload.encode() if isinstance(payload, str) else payload), not case.text


async def autobahn_client(port: int, *, deflate: bool = False, **options: Any) -> tuple[Any, Any]:
    """An open autobahn client to ``port`` and its factory (with opened/received/closed);
    ``deflate``: permessage-deflate offered (autobahn's defaults) and any answer accepted."""
    loop = asyncio.get_running_loop()
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}")
    factory.protocol = _Received
    if deflate:
        factory.setProtocolOptions(
            perMessageCompressionOffers=[PerMessageDeflateOffer()],
            perMessageCompressionAccept=PerMessageDeflateResponseAccept,
        )
    # autobahn drops a connection whose closing handshake takes over 1 s (1006): far too short for a
    # loaded machine, where that flakes; the tests judge the close, not its speed.
    factory.setProtocolOptions(**{"closeHandshakeTimeout": 30, **options})
    factory.opened, factory.closed, factory.received = (
        loop.create_future(),
        loop.create_future(),
        asyncio.Queue(),
    )
    await loop.create_connection(factory, "127.0.0.1", port)
    return await asyncio.wait_for(factory.opened, 30), factory


async def converse_with_autobahn_client(port: int, *, deflate: bool = False) -> None:
    """Every case sent and echoed back, then a clean close with 1000 (``deflate``: compressed both ways)."""
    client, factory = await autobahn_client(port, deflate=deflate)
    assert (client._perMessageCompress is not None) is deflate
    for case in CASES:
        payload, binary = as_sent(case)
        client.sendMessage(payload, binary, fragmentSize=len(payload) // 3 + 1 if case.fragmented and payload else None)
        assert await asyncio.wait_for(factory.received.get(), 60) == (payload, binary), case
    client.sendClose(1000)
    assert await asyncio.wait_for(factory.closed, 30) == (True, 1000)


@pytest.fixture
def relay_to() -> Iterator[Callable[[int], int]]:
    """Start relays that re-cut the byte stream into odd-sized chunks; returns their ports."""
    relays: list[Relay] = []

    def start(port: int) -> int:
        relays.append(Relay(port))
        return relays[-1].port

    yield start
    for relay in relays:
        relay.close()


@pytest.mark.parametrize("chunking", ["direct", "odd-chunks"])
def test_loopback_echo_with_the_shim_on_both_ends(
    impl: ModuleType, chunking: str, relay_to: Callable[[int], int]
) -> None:
    shim.install(impl)

    async def main() -> None:
        factory = WebSocketServerFactory()
        factory.protocol = _Echo
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        await converse_with_autobahn_client(relay_to(port) if chunking == "odd-chunks" else port)
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_shimmed_client_with_an_unshimmed_websockets_server(impl: ModuleType, relay_to: Callable[[int], int]) -> None:
    shim.install(impl)

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=None, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            await converse_with_autobahn_client(relay_to(port))

    asyncio.run(main())


def test_unshimmed_websockets_client_with_a_shimmed_server(impl: ModuleType, relay_to: Callable[[int], int]) -> None:
    shim.install(impl)

    async def main() -> None:
        factory = WebSocketServerFactory()
        factory.protocol = _Echo
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port = relay_to(server.sockets[0].getsockname()[1])
        async with connect(f"ws://127.0.0.1:{port}", max_size=None, compression=None) as client:
            for case in CASES:
                if case.fragmented:
                    await client.send(iter([case.payload[: case.size // 2], case.payload[case.size // 2 :]]))
                else:
                    await client.send(case.payload)
                assert await client.recv() == case.payload, case
            await client.close(1000)
            assert client.close_code == 1000
        server.close()
        await server.wait_closed()

    asyncio.run(main())


# ---------------------------------------------------------------- permessage-deflate


def accept_deflate(offers: list[Any]) -> Any:
    """A server's perMessageCompressionAccept: permessage-deflate as offered, at autobahn's defaults."""
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None


def deflate_server_factory(**options: Any) -> WebSocketServerFactory:
    """An echo server's factory accepting permessage-deflate (and ``options``)."""
    factory = WebSocketServerFactory()
    factory.protocol = _Echo
    factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate, **options)
    return factory


#: (is_server, server_no_context_takeover, client_no_context_takeover, server bits, client bits, mem_level)
DEFLATE_SETTINGS = [
    (False, False, False, 15, 15, 8),
    (True, False, False, 15, 15, 8),
    (False, True, True, 9, 10, 4),
    (True, True, False, 12, 9, 9),
]
MESSAGES = [b'{"op":"hello"}', b"", b"abc" * 1000, bytes(range(256)) * 40, b'{"op":"hello"}', b"x"]


def sent_compressed(deflate: Any, messages: list[bytes]) -> list[bytes]:
    """What autobahn's sendMessage sends for each message (start, data, end)."""
    out = []
    for message in messages:
        deflate.start_compress_message()
        out.append(deflate.compress_message_data(message) + deflate.end_compress_message())
    return out


def inflated(deflate: Any, bodies: list[list[bytes]], max_output_len: int | None = None) -> list[bytes]:
    """What autobahn's receiving side inflates each message (given as its frames' bytes) to.

    ``max_output_len``: the budget autobahn's protocol passes from 26.7 (before, it passes none).
    """
    budget = () if max_output_len is None else (max_output_len,)
    out = []
    for frames in bodies:
        deflate.start_decompress_message()
        out.append(b"".join(deflate.decompress_message_data(frame, *budget) for frame in frames))
        deflate.end_decompress_message()
    return out


def peer_of(settings: tuple[Any, ...]) -> tuple[Any, ...]:
    """The same agreement, on the other end."""
    return (not settings[0], *settings[1:])


@pytest.mark.parametrize("settings", DEFLATE_SETTINGS)
def test_compression_gives_autobahns_bytes_and_reads_them(impl: ModuleType, settings: tuple[Any, ...]) -> None:
    host_class = compress_deflate.PerMessageDeflate
    theirs = sent_compressed(host_class(*settings), MESSAGES)
    shim.install(impl)
    ours_class = compress_deflate.PerMessageDeflate
    assert ours_class is not host_class
    if impl.NAME != "python":  # (the pure implementation keeps autobahn's own zlib calls)
        assert ours_class(*settings)._wscodec is not None
    assert sent_compressed(ours_class(*settings), MESSAGES) == theirs  # level 6, the same window and memLevel
    assert inflated(ours_class(*peer_of(settings)), [[body] for body in theirs]) == MESSAGES
    split = [[body[: len(body) // 3], body[len(body) // 3 :]] for body in theirs]
    assert inflated(ours_class(*peer_of(settings)), split, 1 << 20) == MESSAGES


def test_streamed_messages_are_one_deflate_stream(impl: ModuleType) -> None:
    # beginMessage/sendMessageFrame: each frame's bytes are flushed, the message inflates as sent.
    shim.install(impl)
    sender = compress_deflate.PerMessageDeflate(False, False, False, 15, 15, 8)
    receiver = compress_deflate.PerMessageDeflate(True, False, False, 15, 15, 8)
    for pieces in ([b"abc", b"", b"def" * 100], [b""], [b"x" * 5000, b"y"]):
        sender.start_compress_message()
        frames = [sender.compress_message_data(piece) for piece in pieces] + [sender.end_compress_message()]
        assert inflated(receiver, [frames]) == [b"".join(pieces)]


def test_limits_and_errors_are_autobahns(impl: ModuleType) -> None:
    make = compress_deflate.PerMessageDeflate
    with pytest.raises(Exception) as host_error:  # (zlib.error before autobahn 26.10, then PayloadCorruptError)
        inflated(make(True, False, False, 15, 15, 8), [[b"\xff" * 64]])
    shim.install(impl)
    make = compress_deflate.PerMessageDeflate
    (body,) = sent_compressed(make(False, False, False, 15, 15, 8), [bytes(1000)])
    assert inflated(make(True, False, False, 15, 15, 8), [[body]], 1000) == [bytes(1000)]
    with pytest.raises(PayloadExceededError):
        inflated(make(True, False, False, 15, 15, 8), [[body]], 999)
    with pytest.raises(PayloadExceededError):  # the extension's own limit
        inflated(make(True, False, False, 15, 15, 8, 999), [[body]])
    with pytest.raises(host_error.type) as error:
        inflated(make(True, False, False, 15, 15, 8), [[b"\xff" * 64]])
    assert error.type is host_error.type and str(error.value) == str(host_error.value)


def test_the_bound_applies_only_without_a_limit_of_the_application(impl: ModuleType) -> None:
    make = compress_deflate.PerMessageDeflate
    (body,) = sent_compressed(make(False, False, False, 15, 15, 8), [bytes(5000)])
    shim.install(impl, max_message_size=1000)
    with pytest.raises(PayloadExceededError):
        inflated(compress_deflate.PerMessageDeflate(True, False, False, 15, 15, 8), [[body]])
    assert inflated(compress_deflate.PerMessageDeflate(True, False, False, 15, 15, 8), [[body]], 5000) == [bytes(5000)]
    extension_limit = compress_deflate.PerMessageDeflate(True, False, False, 15, 15, 8, 6000)
    assert inflated(extension_limit, [[body]]) == [bytes(5000)]
    shim.install(impl, max_message_size=None)
    assert inflated(compress_deflate.PerMessageDeflate(True, False, False, 15, 15, 8), [[body]]) == [bytes(5000)]
    for bad in (-1, 2.0, False, "1"):
        with pytest.raises(ValueError, match="max_message_size"):
            shim.install(impl, max_message_size=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunking", ["direct", "odd-chunks"])
def test_compressed_loopback_echo_with_the_shim_on_both_ends(
    impl: ModuleType, chunking: str, relay_to: Callable[[int], int]
) -> None:
    shim.install(impl)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(deflate_server_factory(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        await converse_with_autobahn_client(relay_to(port) if chunking == "odd-chunks" else port, deflate=True)
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_compressed_echo_for_an_unshimmed_websockets_client(impl: ModuleType, relay_to: Callable[[int], int]) -> None:
    shim.install(impl)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(deflate_server_factory(), "127.0.0.1", 0)
        port = relay_to(server.sockets[0].getsockname()[1])
        async with connect(f"ws://127.0.0.1:{port}", max_size=None, compression="deflate") as client:
            assert client.protocol.extensions  # permessage-deflate agreed
            for case in CASES:
                await client.send(case.payload)
                assert await client.recv() == case.payload, case
            await client.close(1000)
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_compressed_shimmed_client_with_an_unshimmed_websockets_server(
    impl: ModuleType, relay_to: Callable[[int], int]
) -> None:
    shim.install(impl)

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=None, compression="deflate") as server:
            await converse_with_autobahn_client(relay_to(server.sockets[0].getsockname()[1]), deflate=True)

    asyncio.run(main())


# The host's bugs: each test fails with autobahn alone ("host", expected to fail) and passes with the shim.

HOST_FAILS = pytest.param(None, id="host", marks=pytest.mark.xfail(strict=True, reason="autobahn's own bug"))


def alone_or_shimmed(name: str | None, **options: Any) -> Iterator[ModuleType | None]:
    """autobahn alone (``name`` None), or with the shim on implementation ``name`` (``options``:
    install()'s), uninstalled afterwards; yields the implementation."""
    impl = None if name is None else load_impl(name)
    if impl is not None:
        shim.install(impl, **options)
    yield impl
    shim.uninstall()


@pytest.fixture(params=[HOST_FAILS, *IMPL_NAMES])
def shimmed(request: pytest.FixtureRequest) -> Iterator[ModuleType | None]:
    """autobahn alone (None), then autobahn with the shim on each implementation."""
    yield from alone_or_shimmed(request.param, max_message_size=1 << 20)


async def compressed_exchange(
    send: Callable[[Any], None], replies: int, limit: int = 0
) -> tuple[list[bytes], tuple[bool, int | None]]:
    """A deflate echo server and client (``limit``: both ends' maxMessagePayloadSize, 0 for none; the
    server fails a connection with a close frame, not by dropping it); ``send(client)``, then up to
    ``replies`` echoed messages, and how the connection closed (clean, code)."""
    server = await asyncio.get_running_loop().create_server(
        deflate_server_factory(failByDrop=False, maxMessagePayloadSize=limit), "127.0.0.1", 0
    )
    try:
        port = server.sockets[0].getsockname()[1]
        client, factory = await autobahn_client(port, deflate=True, maxMessagePayloadSize=limit)
        send(client)
        got: list[bytes] = []
        while len(got) < replies:
            received = asyncio.ensure_future(factory.received.get())
            done, _ = await asyncio.wait([received, factory.closed], timeout=60, return_when=asyncio.FIRST_COMPLETED)
            if received not in done:
                received.cancel()
                break
            got.append(received.result()[0])
        if not factory.closed.done():
            client.sendClose(1000)
        return got, await asyncio.wait_for(factory.closed, 30)
    finally:
        server.close()
        await server.wait_closed()


def test_a_bomb_fails_the_connection_with_1009(shimmed: ModuleType | None) -> None:
    # autobahn's maxMessagePayloadSize is 0 (no limit) by default: 4 MiB inflated from 4 KiB went through.
    def send(client: Any) -> None:
        client.sendMessage(bytes(4 << 20), True)

    assert asyncio.run(compressed_exchange(send, 1)) == ([], (True, 1009))


@pytest.fixture(
    params=[
        pytest.param(
            None,
            id="host",
            marks=pytest.mark.xfail(LEGACY_PROTOCOL, strict=True, reason="autobahn's own bug before 26.7"),
        ),
        *IMPL_NAMES,
    ]
)
def shimmed_or_fixed(request: pytest.FixtureRequest) -> Iterator[ModuleType | None]:
    """autobahn alone (None: its bug before 26.7, fixed in 26.7), then with the shim on each implementation."""
    yield from alone_or_shimmed(request.param)


def test_the_applications_limit_bounds_the_inflated_message(shimmed_or_fixed: ModuleType | None) -> None:
    # Before 26.7 maxMessagePayloadSize bounded the compressed bytes only (GHSA-hxp9-w8x3-p566): 4 MiB
    # inflated from 4 KiB went through a limit of 2 MiB.
    def send(client: Any) -> None:
        client.sendMessage(bytes(4 << 20), True)

    assert asyncio.run(compressed_exchange(send, 1, limit=2 << 20)) == ([], (True, 1009))


def test_the_extensions_limit_is_no_silent_cut(shimmed_or_fixed: ModuleType | None) -> None:
    # Before 26.7 an extension's max_message_size cut the inflated message to that size, silently.
    make = compress_deflate.PerMessageDeflate
    (body,) = sent_compressed(make(False, False, False, 15, 15, 8), [bytes(1000)])
    assert inflated(make(True, False, False, 15, 15, 8, 1000), [[body]]) == [bytes(1000)]
    with pytest.raises(PayloadExceededError):
        inflated(make(True, False, False, 15, 15, 8, 999), [[body]])


def test_a_limit_of_the_application_wins_over_the_bound(impl: ModuleType) -> None:
    shim.install(impl, max_message_size=1 << 20)

    def send(client: Any) -> None:
        client.sendMessage(bytes(4 << 20), True)

    assert asyncio.run(compressed_exchange(send, 1, limit=8 << 20)) == ([bytes(4 << 20)], (True, 1000))
    assert asyncio.run(compressed_exchange(send, 1, limit=2 << 20)) == ([], (True, 1009))


@pytest.fixture(params=[HOST_FAILS, *(name for name in IMPL_NAMES if name != "python")])
def shimmed_compiled(request: pytest.FixtureRequest) -> Iterator[ModuleType | None]:
    """autobahn alone (None), then with the shim on the compiled implementation (which inflates for it)."""
    yield from alone_or_shimmed(request.param)


def test_a_message_after_a_bfinal_block_is_received(shimmed_compiled: ModuleType | None) -> None:
    # RFC 7692 7.2.3.4: autobahn delivered the next message as empty bytes, silently.
    def fresh(data: bytes, finish: bool) -> bytes:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        if finish:
            return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)
        return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]

    def send(client: Any) -> None:
        client.sendFrame(opcode=2, payload=fresh(b"first", True), rsv=4)
        client.sendFrame(opcode=2, payload=fresh(b"second", False), rsv=4)

    assert asyncio.run(compressed_exchange(send, 2)) == ([b"first", b"second"], (True, 1000))


def test_an_empty_streamed_message_keeps_the_stream_intact(shimmed_compiled: ModuleType | None) -> None:
    # beginMessage then endMessage, no frame between: autobahn sent an empty payload, which inflates as the
    # start of a stored block and garbles the messages after it (RFC 7692 7.2.3.6: send 0x00).
    sender = compress_deflate.PerMessageDeflate(False, False, False, 15, 15, 8)
    receiver = compress_deflate.PerMessageDeflate(True, False, False, 15, 15, 8)
    messages = [b"first" * 10, b"", b"third" * 10]
    frames = []
    for message in messages:
        sender.start_compress_message()
        frames.append(([sender.compress_message_data(message)] if message else []) + [sender.end_compress_message()])
    assert inflated(receiver, frames) == messages


# ---------------------------------------------------------------- self-check (for releases newer than the range)


def test_the_self_check_passes_on_this_release(impl: ModuleType) -> None:
    shim.install(impl)
    shim._self_check(impl, installed_originals(shim))


def test_the_self_check_fails_when_a_replacement_differs(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    shim.install(impl)
    monkeypatch.setattr(compress_deflate.PerMessageDeflate, "end_compress_message", lambda self: b"\x00")
    with pytest.raises(UnsupportedHostError, match="compresses differently"):
        shim._self_check(impl, installed_originals(shim))


def test_a_newer_release_with_these_internals_installs(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # This release taken as newer than the range: it installs, after the self-check, not left alone.
    report = install_as_newer(shim, impl, monkeypatch)
    assert report.newer and not report.reason and report.replaced and shim.is_installed()
