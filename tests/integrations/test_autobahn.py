"""The autobahn shim: what it patches, exact validator and masker behaviour, and loopback echo.

autobahn's own tests run with the shim installed through
tools/host_tests/run_autobahn.sh. Here the replacements are compared with
both of autobahn's own implementations (NVX and pure Python) on random input
in odd-sized chunks, and autobahn's asyncio client and server exchange every
message with each other (shim on both ends) and with websockets' (shim on
one end only, so that a bug both ends share cannot hide), through a relay
that re-cuts the byte stream into odd-sized chunks.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import needs
import pytest

# autobahn and websockets need Python >= 3.11 (the test extra leaves them out before)
needs.module("autobahn", python=(3, 11))
needs.module("websockets", python=(3, 11))

import autobahn.nvx._utf8validator as nvx_validator
import autobahn.nvx._xormasker as nvx_masker
import autobahn.websocket
from autobahn.asyncio.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from autobahn.websocket import protocol, utf8validator, xormasker
from hypothesis import given
from hypothesis import strategies as st
from shim_cases import CASES, Case, Relay, odd_chunks, subprocess_env
from strategies import chunked, frame_settings, utf8_payloads
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

import wscodec.integrations.autobahn as shim
from wscodec.integrations import UnsupportedHostError

#: every name the shim replaces in autobahn's default (NVX) configuration
PATCHED = [
    (protocol, "Utf8Validator"),
    (utf8validator, "Utf8Validator"),
    (protocol, "create_xor_masker"),
    (xormasker, "create_xor_masker"),
]


def pure_autobahn_validator() -> type:
    """autobahn's pure-Python validator, which its module defines only when NVX is off."""
    spec = importlib.util.find_spec("autobahn.websocket.utf8validator")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = autobahn.websocket.USES_NVX
    autobahn.websocket.USES_NVX = False
    try:
        spec.loader.exec_module(module)
    finally:
        autobahn.websocket.USES_NVX = saved
    return module.Utf8Validator  # type: ignore[no-any-return]


PureValidator = pure_autobahn_validator()


# ---------------------------------------------------------------- install


def test_autobahn_runs_with_nvx_by_default() -> None:
    # What "the default" means in these tests; AUTOBAHN_USE_NVX=0 is tested in a subprocess below.
    assert autobahn.websocket.HAS_NVX and autobahn.websocket.USES_NVX


def test_install_reports_and_restores_exactly(impl: ModuleType) -> None:
    originals = [getattr(module, name) for module, name in PATCHED]
    report = shim.install(impl)
    assert (report.host, report.version, report.implementation) == ("autobahn", "26.10.2", impl.NAME)
    names = {f"{module.__name__}.{name}" for module, name in PATCHED}
    if impl.NAME == "python":  # NVX is compiled: pure-Python wscodec leaves it alone
        assert report.replaced == {} and set(report.left_alone) == names
        assert all(
            getattr(module, name) is original for (module, name), original in zip(PATCHED, originals, strict=True)
        )
    else:
        assert set(report.replaced) == names
        assert report.left_alone == {
            "autobahn.websocket.protocol.XorMaskerNull": report.left_alone["autobahn.websocket.protocol.XorMaskerNull"]
        }
        assert protocol.Utf8Validator is utf8validator.Utf8Validator is not originals[0]
        assert protocol.create_xor_masker is xormasker.create_xor_masker is not originals[2]
    assert shim.install(impl) is report  # idempotent
    shim.uninstall()
    assert not shim.is_installed()
    assert all(getattr(module, name) is original for (module, name), original in zip(PATCHED, originals, strict=True))
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


def test_refuses_an_untested_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shim._SHIM, "tested", ("0.0",))
    with pytest.raises(UnsupportedHostError, match=r"autobahn 0\.0.*26\.10\.2 is installed"):
        shim.install()
    assert not shim.is_installed()


def test_refuses_unexpected_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    def create_xor_masker(mask: bytes, size: int | None = None) -> object:
        return None

    monkeypatch.setattr(protocol, "create_xor_masker", create_xor_masker)
    with pytest.raises(UnsupportedHostError, match=r"takes \(mask, size\)"):
        shim.install("python")
    assert not shim.is_installed()


def test_refuses_a_protocol_that_stopped_using_these_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "Utf8Validator", PureValidator)
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
    assert quads_until_invalid(nvx_validator.Utf8Validator(), chunks) == expected  # the two autobahns agree
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
        ours, theirs = create(key, length), nvx_masker.create_xor_masker(key, length)
        for chunk in odd_chunks(data):
            assert ours.process(chunk) == theirs.process(chunk)
            assert ours.pointer() == theirs.pointer()
        ours.reset()
        theirs.reset()
        assert ours.pointer() == theirs.pointer() == 0
        assert ours.process(data) == theirs.process(data)


def test_masker_rejects_a_bad_key_as_autobahn_does(impl: ModuleType) -> None:
    for key in (b"abc", b"abcde"):
        if not sys.flags.optimize:  # autobahn checks the key with an assert, which -O strips
            with pytest.raises(AssertionError):
                nvx_masker.create_xor_masker(key)
        with pytest.raises(AssertionError):
            replacement_masker_factory(impl)(key)


def test_pure_autobahn_is_accelerated_by_either_implementation(impls: list[ModuleType]) -> None:
    script = """
import sys
import autobahn.websocket.protocol as protocol, autobahn.websocket.xormasker as xormasker
import wscodec.integrations.autobahn as shim
assert not __import__("autobahn.websocket").websocket.USES_NVX
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


async def autobahn_client(port: int) -> tuple[Any, Any]:
    """An open autobahn client to ``port`` and its factory (with opened/received/closed)."""
    loop = asyncio.get_running_loop()
    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}")
    factory.protocol = _Received
    factory.opened, factory.closed, factory.received = (
        loop.create_future(),
        loop.create_future(),
        asyncio.Queue(),
    )
    await loop.create_connection(factory, "127.0.0.1", port)
    return await asyncio.wait_for(factory.opened, 30), factory


async def converse_with_autobahn_client(port: int) -> None:
    """Every case sent and echoed back, then a clean close with 1000."""
    client, factory = await autobahn_client(port)
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
