"""The wsproto shim: what it patches, event-for-event equality with wsproto, and loopback echo.

wsproto's own test suite runs with the shim installed through
tools/host_tests/run_wsproto.sh. Here, every stream is received twice — by
wsproto as it is and by wsproto with the shim — in the same chunks, and the
events after every chunk must be equal (partial frames, close codes and
error messages included). Bytes come from a shimmed sender to an unshimmed
receiver and the other way round, so a bug both ends share cannot hide.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import ModuleType
from typing import Any

import needs
import pytest

needs.module("wsproto")

import wsproto
import wsproto.frame_protocol as fp
from hypothesis import given
from hypothesis import strategies as st
from impls import IMPL_NAMES, load_impl
from shim_cases import CASES, Case, Relay, install_as_newer, installed_originals, odd_chunks, outcome, split3, utf8_text
from strategies import any_streams, chunked, frame_settings, garbage, valid_streams, wire
from tracing import tracing
from wsproto import connection, handshake
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import LocalProtocolError

import wscodec.integrations.wsproto as shim
from wscodec.integrations import UnsupportedHostError, Versions

CLIENT, SERVER = ConnectionType.CLIENT, ConnectionType.SERVER
#: every name the shim replaces
#: the wsproto release installed (the shim supports a range of them)
HOST_VERSION = importlib.metadata.version("wsproto")
PATCHED = [
    (fp, "XorMaskerSimple"),
    (fp, "FrameDecoder"),
    (fp, "MessageDecoder"),
    (fp, "FrameProtocol"),
    (connection, "FrameProtocol"),
    (connection, "Connection"),
    (handshake, "Connection"),
    (wsproto, "Connection"),
]


def under(impl: ModuleType | None, work: Callable[[], Any]) -> Any:
    """Run ``work`` with the shim installed on ``impl`` (None: wsproto as it is), then uninstall."""
    if impl is not None:
        shim.install(impl)
    try:
        return work()
    finally:
        shim.uninstall()


# ---------------------------------------------------------------- install


def test_install_reports_and_restores_exactly(impl: ModuleType) -> None:
    originals = [getattr(module, name) for module, name in PATCHED]
    report = shim.install(impl)
    assert shim.is_installed()
    assert (report.host, report.version, report.implementation) == ("wsproto", HOST_VERSION, impl.NAME)
    names = {f"{module.__name__}.{name}" for module, name in PATCHED}
    if impl.NAME == "python":  # its masker is no faster than wsproto's: left alone
        assert set(report.left_alone) == {"wsproto.frame_protocol.XorMaskerSimple"}
        names -= set(report.left_alone)
        assert fp.XorMaskerSimple is originals[0]
    assert set(report.replaced) == names
    for (module, name), original in zip(PATCHED, originals, strict=True):
        replacement = getattr(module, name)
        if name != "XorMaskerSimple":
            assert replacement is not original and issubclass(replacement, original)
        elif impl.NAME != "python":
            assert replacement is not original
    assert shim.install(impl) is report  # idempotent
    shim.uninstall()
    assert not shim.is_installed()
    assert [getattr(module, name) for module, name in PATCHED] == originals
    assert all(getattr(module, name) is original for (module, name), original in zip(PATCHED, originals, strict=True))
    shim.uninstall()  # a second uninstall is a no-op


def test_describe_matches_install(impl: ModuleType) -> None:
    lines = shim.describe(impl)
    assert not shim.is_installed()
    assert lines == shim.install(impl).lines()
    assert shim.describe(impl) == lines  # also while installed


def test_switching_implementation_restores_first(impls: list[ModuleType]) -> None:
    originals = [getattr(module, name) for module, name in PATCHED]
    for impl in impls:
        shim.install(impl)
        assert shim.install(impl).implementation == impl.NAME
    shim.uninstall()
    assert all(getattr(module, name) is original for (module, name), original in zip(PATCHED, originals, strict=True))


def test_refuses_an_older_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shim._SHIM, "versions", Versions("99.0", "99.0"))
    with pytest.raises(UnsupportedHostError, match=r"supports wsproto 99\.0 to 99\.0\.x; .* is installed, older"):
        shim.install()
    assert not shim.is_installed()


def test_refuses_unexpected_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    original = fp.FrameDecoder

    class Renamed(original):  # type: ignore[misc,valid-type]
        def process_buffer(self, limit: int = 0) -> Any:
            return super().process_buffer()

    monkeypatch.setattr(fp, "FrameDecoder", Renamed)
    with pytest.raises(UnsupportedHostError, match=r"process_buffer takes \(self, limit\)"):
        shim.install("python")
    assert not shim.is_installed() and fp.FrameDecoder is Renamed


def test_refuses_unexpected_state(monkeypatch: pytest.MonkeyPatch) -> None:
    original_init = fp.FrameDecoder.__init__

    def init(self: Any, client: bool, extensions: Any = None) -> None:
        original_init(self, client, extensions)
        del self.payload_consumed  # as if a new version kept its state elsewhere

    monkeypatch.setattr(fp.FrameDecoder, "__init__", init)
    with pytest.raises(UnsupportedHostError, match="frame protocol state differs"):
        shim.install("python")
    assert not shim.is_installed()


def test_connections_keep_their_classes_across_install_and_uninstall(impl: ModuleType) -> None:
    before = connection.Connection(SERVER)
    shim.install(impl)
    during = connection.Connection(CLIENT)
    shim.uninstall()
    assert type(before) is connection.Connection and type(during) is not connection.Connection
    for sender, receiver in ((during, before), (before, during)):
        receiver.receive_data(sender.send(TextMessage(data="héllo")))
        assert list(receiver.events()) == [TextMessage(data="héllo")]


# ---------------------------------------------------------------- masker


def test_each_implementation_gets_its_own_classes(impl: ModuleType) -> None:
    classes = shim._classes(impl)
    assert classes.IMPL is impl and shim._classes(impl) is classes  # built once: installs the same objects
    assert classes.parse_header is impl.parse_header and classes.encode_frame is impl.encode_frame
    assert issubclass(classes.FrameProtocol, fp.FrameProtocol) and issubclass(classes.Connection, connection.Connection)
    other = shim._classes(importlib.import_module("wscodec._impl_py")) if impl.NAME != "python" else None
    assert other is None or (other.FrameDecoder is not classes.FrameDecoder and other.IMPL.NAME == "python")


@pytest.mark.parametrize("size", [0, 1, 5, 125, 1021, 70001])
def test_masker_keeps_the_phase_across_odd_chunks(impl: ModuleType, size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    original = fp.XorMaskerSimple(b"\x01\x82\x33\xf4")
    expected = [original.process(bytearray(chunk)) for chunk in odd_chunks(data)]
    masker = shim._classes(impl).XorMaskerSimple(bytearray(b"\x01\x82\x33\xf4"))  # (left alone on pure)
    got = [masker.process(chunk) for chunk in odd_chunks(data)]
    # (the type wsproto's masker returns: bytearray, bytes before wsproto 1.3)
    assert got == expected and all(type(chunk) is type(want) for chunk, want in zip(got, expected, strict=True))
    assert masker.process(b"") == original.process(b"") == bytearray()


# ---------------------------------------------------------------- receiving


def typed(events: Iterable[Any]) -> list[tuple[Any, type]]:
    """Each event with the type of its payload (``==`` takes bytes and bytearray as equal; wsproto does not)."""
    return [(event, type(getattr(event, "data", getattr(event, "payload", None)))) for event in events]


def receive(side: ConnectionType, chunks: Sequence[bytes], extensions: list[Any] | None = None) -> list[Any]:
    """The events (with their payload types) after each chunk fed to a new ``side`` connection (an error
    ends the list)."""
    conn = connection.Connection(side, extensions)
    out: list[Any] = []
    for chunk in chunks:
        try:
            conn.receive_data(chunk)
        except LocalProtocolError as exc:
            out.append(("LocalProtocolError", str(exc)))
            break
        out.append(typed(conn.events()))
    out.append(conn.state)
    return out


def decode_frames(client: bool, chunks: Sequence[bytes]) -> list[Any]:
    """What a bare FrameDecoder returns after each chunk, until it raises."""
    decoder = fp.FrameDecoder(client=client)
    out: list[Any] = []
    for chunk in chunks:
        decoder.receive_bytes(chunk)
        frames = []
        try:
            while (frame := decoder.process_buffer()) is not None:
                frames.append((frame, type(frame.payload)))
        except fp.ParseFailed as exc:
            out.append((frames, str(exc), exc.code))
            break
        out.append(frames)
    return out


def assert_same_reception(impl: ModuleType, side: ConnectionType, chunks: Sequence[bytes]) -> None:
    """Events (and bare FrameDecoder frames) are the same with the shim as without, chunk by chunk."""
    expected = under(None, lambda: receive(side, chunks))
    assert under(impl, lambda: receive(side, chunks)) == expected
    client = side is CLIENT
    assert under(impl, lambda: decode_frames(client, chunks)) == under(None, lambda: decode_frames(client, chunks))


def messages_of(case: Case) -> list[Message[Any]]:
    """The events that send ``case``: one message, or three fragments."""
    kind = TextMessage if case.text else BytesMessage
    if not case.fragmented:
        return [kind(data=case.payload)]
    parts = split3(case.payload)
    return [kind(data=part, message_finished=i == 2) for i, part in enumerate(parts)]


def sent(impl: ModuleType | None, side: ConnectionType, events: Sequence[Any]) -> bytes:
    """The bytes a new ``side`` connection sends for ``events`` (shim on ``impl``, or none)."""

    def send() -> bytes:
        conn = connection.Connection(side)
        return b"".join(conn.send(event) for event in events)

    return under(impl, send)  # type: ignore[no-any-return]


CONVERSATION = [
    TextMessage(data=utf8_text(200), message_finished=False),
    Ping(payload=b"ping"),
    TextMessage(data=utf8_text(70001), message_finished=False),
    Pong(payload=b""),
    TextMessage(data="é"),
    BytesMessage(data=b""),
    Ping(payload=bytes(125)),
    BytesMessage(data=bytes(range(256)) * 300),
    CloseConnection(code=1000, reason="bye ✓"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("sender", ["wsproto", "shim"])
@pytest.mark.parametrize("receiver_side", [CLIENT, SERVER], ids=["client", "server"])
def test_messages_received_in_odd_chunks(
    impl: ModuleType, case: Case, sender: str, receiver_side: ConnectionType
) -> None:
    sender_side = SERVER if receiver_side is CLIENT else CLIENT
    data = sent(impl if sender == "shim" else None, sender_side, [*messages_of(case), Ping(payload=b"!")])
    chunks = list(odd_chunks(data))
    assert_same_reception(impl, receiver_side, chunks)
    events = [event for event, _ in under(impl, lambda: receive(receiver_side, [data]))[0]]
    assembled = events[0].data[:0].join(event.data for event in events[:-1])
    assert assembled == case.payload and events[-2].message_finished and events[-1] == Ping(payload=b"!")


@pytest.mark.parametrize("receiver_side", [CLIENT, SERVER], ids=["client", "server"])
def test_a_conversation_received_whole_bytewise_and_in_odd_chunks(
    impl: ModuleType, receiver_side: ConnectionType
) -> None:
    sender_side = SERVER if receiver_side is CLIENT else CLIENT
    for sender in (None, impl):
        data = sent(sender, sender_side, CONVERSATION)
        assert_same_reception(impl, receiver_side, [data])
        assert_same_reception(impl, receiver_side, list(odd_chunks(data)))
        assert_same_reception(impl, receiver_side, [data[i : i + 1] for i in range(300)] + [data[300:]])


@pytest.mark.parametrize(
    "frame",
    [
        b"\x83\x00",  # reserved opcode
        b"\x09\x00",  # fragmented PING
        b"\x89\x7e\x00\x80" + bytes(128),  # PING over 125 bytes
        b"\xc1\x00",  # RSV1 without an extension
        b"\x81\x7e\x00\x05hello",  # 16-bit length for 5 bytes
        b"\x82\x7f" + (5).to_bytes(8, "big") + b"hello",  # 64-bit length for 5 bytes
        b"\x82\x7f" + (1 << 63).to_bytes(8, "big"),  # 64-bit length with the top bit set
        b"\x80\x01x",  # continuation without a start
        b"\x01\x01x\x01\x01y",  # a new message inside a fragmented one
        b"\x81\x02\xc3\x28",  # invalid UTF-8
        b"\x01\x01\xed\x01\x01\xa0\x80\x01\xbf",  # invalid UTF-8 across fragments
        b"\x81\x7e\x02\x58" + b"a" * 599 + b"\xff",  # invalid UTF-8 at the end of a 600-byte text
        b"\x81\x03\xe2\x82\xac\x81\x04a\xed\xa0\x80",  # a valid text, then a surrogate
        b"\x01\x01x\x81\x02\xc3\x28",  # invalid UTF-8 in a new message inside a fragmented one
        b"\x88\x01\x03",  # 1-byte CLOSE payload
        b"\x88\x02\x03\xed",  # CLOSE code 1005
        b"\x88\x02\x0b\xb7",  # CLOSE code 2999
        b"\x88\x04\x03\xe8\xff\xfe",  # CLOSE reason not UTF-8
        b"\x88\x02\x03\xe8\x81\x00",  # data after CLOSE
    ],
)
def test_violations_fail_with_the_same_event(impl: ModuleType, frame: bytes) -> None:
    for mask in (None, b"\x0f\xf0\x5a\xa5"):  # as a client receives it, then as a server does
        data = frame if mask is None else mask_all(frame, mask)
        side = CLIENT if mask is None else SERVER
        for chunks in ([data], [data[i : i + 1] for i in range(len(data))], list(odd_chunks(data))):
            assert_same_reception(impl, side, chunks)
        for wrong_side in ((SERVER if mask is None else CLIENT),):  # the wrong masking direction
            assert_same_reception(impl, wrong_side, [data])


def mask_all(data: bytes, key: bytes) -> bytes:
    """``data`` (unmasked frames) with every frame masked with ``key``."""
    out = bytearray()
    while data:
        n = data[1] & 0x7F
        size = 2 + (2 if n == 126 else 8 if n == 127 else 0)
        length = n if n < 126 else int.from_bytes(data[2:size], "big")
        payload = data[size : size + length]
        stream = (key * (len(payload) // 4 + 1))[: len(payload)]
        out += (
            bytes((data[0], data[1] | 0x80))
            + data[2:size]
            + key
            + bytes(a ^ b for a, b in zip(payload, stream, strict=True))
        )
        data = data[size + length :]
    return bytes(out)


@frame_settings(150)
@given(data=st.data(), client=st.booleans())
def test_any_stream_is_received_as_wsproto_receives_it(impl: ModuleType, data: st.DataObject, client: bool) -> None:
    specs = data.draw(any_streams(masked=not client))
    chunks = data.draw(chunked(wire(specs)))
    assert_same_reception(impl, CLIENT if client else SERVER, chunks)


@frame_settings(60)
@given(data=st.data(), client=st.booleans())
def test_valid_streams_with_big_frames(impl: ModuleType, data: st.DataObject, client: bool) -> None:
    specs = data.draw(valid_streams(masked=not client, max_messages=3))
    chunks = data.draw(chunked(wire(specs), max_chunks=8))
    assert_same_reception(impl, CLIENT if client else SERVER, chunks)


@frame_settings(100)
@given(data=st.data(), blob=garbage())
def test_garbage_is_received_as_wsproto_receives_it(impl: ModuleType, data: st.DataObject, blob: bytes) -> None:
    chunks = data.draw(chunked(blob))
    for side in (CLIENT, SERVER):
        assert_same_reception(impl, side, chunks)


def test_closing_states_and_transport_loss(impl: ModuleType) -> None:
    def conversation() -> list[Any]:
        client, server = connection.Connection(CLIENT), connection.Connection(SERVER)
        out: list[Any] = []
        server.receive_data(client.send(CloseConnection(code=1000, reason="done")))
        out += list(server.events())
        out += [outcome(lambda: server.send(TextMessage(data="late"))), server.state]
        client.receive_data(server.send(CloseConnection(code=1000, reason="done")))
        out += [*client.events(), client.state, server.state]
        out.append(outcome(lambda: client.receive_data(b"\x81\x00")))
        other = connection.Connection(SERVER)
        other.receive_data(None)
        out += [*other.events(), other.state]
        return out

    assert under(impl, conversation) == under(None, conversation)
    assert under(impl, conversation)[-1] is ConnectionState.CLOSED


# ---------------------------------------------------------------- permessage-deflate

#: agreements to test: wsproto's defaults, no context takeover either way, small windows
DEFLATE_PARAMS = [
    {},
    {"client_no_context_takeover": True, "server_no_context_takeover": True},
    {"client_max_window_bits": 9, "server_max_window_bits": 10},
]
#: a conversation of compressed messages (no control frame inside a message: wsproto breaks on that)
DEFLATE_CONVERSATION = [
    TextMessage(data='{"op":"hello","id":1}'),
    BytesMessage(data=b""),
    TextMessage(data=utf8_text(300), message_finished=False),
    TextMessage(data="", message_finished=False),
    TextMessage(data=utf8_text(2000)),
    Ping(payload=b"ping"),
    BytesMessage(data=bytes(range(256)) * 300),
    TextMessage(data='{"op":"hello","id":2}'),
    BytesMessage(data=b"\x00" * 5000, message_finished=False),
    BytesMessage(data=bytes(range(251)) * 40),
    Pong(payload=b""),
    TextMessage(data="é" * 40000),
    TextMessage(data=""),
]


def deflate_pair(params: dict[str, Any]) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    """A client's and a server's PerMessageDeflate, negotiated as wsproto's handshake negotiates them."""
    client_ext, server_ext = PerMessageDeflate(**params), PerMessageDeflate()
    response = server_ext.accept(f"permessage-deflate; {client_ext.offer()}")
    assert isinstance(response, str)
    client_ext.finalize(f"permessage-deflate; {response}")
    return client_ext, server_ext


def deflating(side: ConnectionType, params: dict[str, Any]) -> connection.Connection:
    """A new ``side`` connection with permessage-deflate agreed as ``params`` offer."""
    client_ext, server_ext = deflate_pair(params)
    return connection.Connection(side, [client_ext if side is CLIENT else server_ext])


def deflate_sent(impl: ModuleType | None, side: ConnectionType, params: dict[str, Any], events: Sequence[Any]) -> bytes:
    """The bytes a new deflating ``side`` connection sends for ``events`` (shim on ``impl``, or none)."""

    def send() -> bytes:
        conn = deflating(side, params)
        return b"".join(conn.send(event) for event in events)

    return under(impl, send)  # type: ignore[no-any-return]


def deflate_received(side: ConnectionType, params: dict[str, Any], chunks: Sequence[bytes]) -> list[Any]:
    """The events (with their payload types) after each chunk fed to a new deflating ``side`` connection."""
    conn = deflating(side, params)
    out: list[Any] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        out.append(typed(conn.events()))
    return out


def assembled(events: Sequence[Any]) -> list[Any]:
    """The whole messages and control events in ``events`` (a flat list), in order."""
    out: list[Any] = []
    parts: list[Any] = []
    for event in events:
        if isinstance(event, Message):
            parts.append(event.data)
            if event.message_finished:
                out.append(parts[0][:0].join(parts))
                parts.clear()
        else:
            out.append(event)
    return out


def flat(per_chunk: Sequence[Sequence[Any]]) -> list[Any]:
    """The events of every chunk, in one list."""
    return [event for events in per_chunk for event in events]


@pytest.mark.parametrize("params", DEFLATE_PARAMS, ids=["defaults", "no-takeover", "small-windows"])
@pytest.mark.parametrize("sender", ["wsproto", "shim"])
@pytest.mark.parametrize("receiver_side", [CLIENT, SERVER], ids=["client", "server"])
def test_compressed_messages_are_received_as_wsproto_receives_them(
    impl: ModuleType, params: dict[str, Any], sender: str, receiver_side: ConnectionType
) -> None:
    sender_side = SERVER if receiver_side is CLIENT else CLIENT
    data = deflate_sent(impl if sender == "shim" else None, sender_side, params, DEFLATE_CONVERSATION)
    for chunks in ([data], list(odd_chunks(data))):
        expected = under(None, lambda chunks=chunks: deflate_received(receiver_side, params, chunks))
        got = under(impl, lambda chunks=chunks: deflate_received(receiver_side, params, chunks))
        assert got == expected  # event for event, partial frames included
        assert assembled([event for event, _ in flat(got)]) == assembled(DEFLATE_CONVERSATION)


@pytest.mark.parametrize("params", DEFLATE_PARAMS, ids=["defaults", "no-takeover", "small-windows"])
def test_whole_messages_are_compressed_to_the_same_bytes(impl: ModuleType, params: dict[str, Any]) -> None:
    # Same window, level 6 and memLevel 8 as wsproto's compressor: the server's unmasked frames are equal.
    whole = [event for event in DEFLATE_CONVERSATION if not isinstance(event, Message) or event.message_finished]
    whole = whole[whole.index(DEFLATE_CONVERSATION[4]) + 1 :]  # (after the fragmented message)
    assert deflate_sent(impl, SERVER, params, whole) == deflate_sent(None, SERVER, params, whole)


def test_the_shim_compresses_and_inflates_not_the_extension(impl: ModuleType) -> None:
    shim.install(impl)
    client_ext, server_ext = deflate_pair({})
    client, server = connection.Connection(CLIENT, [client_ext]), connection.Connection(SERVER, [server_ext])
    server.receive_data(client.send(TextMessage(data="x" * 1000)))
    client.receive_data(server.send(TextMessage(data=next(iter(server.events())).data)))
    assert list(client.events()) == [TextMessage(data="x" * 1000)]
    for ext in (client_ext, server_ext):
        assert ext._compressor is None and ext._decompressor is None
    assert len(server.send(TextMessage(data="x" * 1000))) < 20  # the window carries on: a back-reference


@pytest.mark.parametrize(
    "frames",
    [
        [(0x89, b"p")],  # no RSV1 on a PING
        [(0xC9, b"p")],  # RSV1 on a PING
        [(0xCA, b"")],  # RSV1 on a PONG
        [(0x41, b"\x00"), (0xC0, b"\x00")],  # RSV1 on a continuation
        [(0xE1, b"")],  # RSV2 too
        [(0xD1, b"")],  # RSV3 too
        [(0xC1, b"\xff\xff\xff")],  # corrupt deflate data
        [(0x41, b"\x4a\x04\x00"), (0xC1, b"\x00")],  # a new compressed message inside one
        [(0x01, b"a"), (0xC1, b"\x00")],  # the same, uncompressed first
        [(0x80, b"")],  # a continuation without a start
        [(0xC1, b"\xf2\x48\xcd\xc9\xc9\x07\x00"), (0x81, b"hello")],  # compressed, then uncompressed
        [(0xC2, b"\x02\x00"), (0xC2, b"\x00")],  # two empty compressed messages
        [(0xC8, b"\x03\xe8")],  # RSV1 on a CLOSE
    ],
)
def test_deflate_violations_and_oddities_are_received_as_wsproto_receives_them(
    impl: ModuleType, frames: list[tuple[int, bytes]]
) -> None:
    for side, key in ((CLIENT, None), (SERVER, b"\x0f\xf0\x5a\xa5")):
        data = b"".join(
            impl.encode_frame(
                b0 & 0x0F,
                payload,
                fin=bool(b0 & 0x80),
                rsv1=bool(b0 & 0x40),
                rsv2=bool(b0 & 0x20),
                rsv3=bool(b0 & 0x10),
                mask=key,
            )
            for b0, payload in frames
        )
        for chunks in ([data], [data[i : i + 1] for i in range(len(data))]):
            expected = under(None, lambda side=side, chunks=chunks: deflate_received(side, {}, chunks))
            assert under(impl, lambda side=side, chunks=chunks: deflate_received(side, {}, chunks)) == expected


@pytest.mark.parametrize("params", DEFLATE_PARAMS, ids=["defaults", "no-takeover", "small-windows"])
def test_deflate_conversation_with_the_shim_on_both_ends(impl: ModuleType, params: dict[str, Any]) -> None:
    def talk() -> list[Any]:
        client, server = deflating(CLIENT, params), deflating(SERVER, params)
        for event in DEFLATE_CONVERSATION:
            for chunk in odd_chunks(client.send(event)):
                server.receive_data(chunk)
        received = flat([list(server.events())])
        for event in received:
            client.receive_data(server.send(event.response() if isinstance(event, Ping) else event))
        return [received, list(client.events())]

    received, echoed = under(impl, talk)
    expected = assembled(DEFLATE_CONVERSATION)
    assert assembled(received) == expected
    assert assembled(echoed) == [
        event if not isinstance(event, Ping) else Pong(payload=event.payload) for event in expected
    ]


def test_connections_with_deflate_keep_working_after_uninstall(impl: ModuleType) -> None:
    shim.install(impl)
    client, server = deflating(CLIENT, {}), deflating(SERVER, {})
    shim.uninstall()
    for text in ("first message", "first message again", "x" * 70000):
        server.receive_data(client.send(TextMessage(data=text)))
        assert assembled(list(server.events())) == [text]
        client.receive_data(server.send(TextMessage(data=text)))
        assert assembled(list(client.events())) == [text]


# The host's bugs: each test fails with wsproto alone ("host", expected to fail) and passes with the shim.

HOST_FAILS = pytest.param(None, id="host", marks=pytest.mark.xfail(strict=True, reason="wsproto's own bug"))


@pytest.fixture(params=[HOST_FAILS, "python", "cython"][: 1 + len(IMPL_NAMES)])
def shimmed(request: pytest.FixtureRequest) -> Iterator[ModuleType | None]:
    """wsproto alone (None), then wsproto with the shim on each implementation."""
    impl = None if request.param is None else load_impl(request.param)
    if impl is not None:
        shim.install(impl)
    yield impl
    shim.uninstall()


def compressed(payload: bytes, *, finish: bool = False) -> bytes:
    """``payload`` as a message's compressed bytes (a fresh raw deflate stream, its 00 00 FF FF removed);
    ``finish``: ended by a BFINAL block instead of a flush."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    if finish:
        return compressor.compress(payload) + compressor.flush(zlib.Z_FINISH)
    return (compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """An unmasked frame, as a client receives it."""
    head = bytes([0x80 * fin | 0x40 * rsv1 | opcode])
    n = len(payload)
    if n < 126:
        return head + bytes([n]) + payload
    if n < 65536:
        return head + b"\x7e" + n.to_bytes(2, "big") + payload
    return head + b"\x7f" + n.to_bytes(8, "big") + payload


def test_a_ping_between_compressed_fragments_leaves_the_message_intact(shimmed: ModuleType | None) -> None:
    text = '{"op":"update","items":[' + ",".join(f'{{"id":{i}}}' for i in range(200)) + "]}"
    body = compressed(text.encode())
    data = frame(0x1, body[:40], fin=False, rsv1=True) + frame(0x9, b"!") + frame(0x0, body[40:])
    conn = deflating(CLIENT, {})
    conn.receive_data(data)
    assert assembled(list(conn.events())) == [Ping(payload=b"!"), text]


def test_a_compressed_message_cannot_inflate_past_max_message_size(shimmed: ModuleType | None) -> None:
    limit = shim.DEFAULT_MAX_MESSAGE_SIZE
    for size, fits in ((limit, True), (limit + 1, False)):
        conn = deflating(CLIENT, {})
        conn.receive_data(frame(0x2, compressed(bytes(size)), rsv1=True))
        events = list(conn.events())
        if fits:
            assert sum(len(event.data) for event in events) == size
        else:
            assert [type(event) for event in events] == [CloseConnection] and events[0].code == 1009


def test_a_bomb_is_stopped_before_it_inflates(shimmed: ModuleType | None) -> None:
    # 16 MiB of zeros arrive as 16 KiB: wsproto inflates all of it; the shim (limit 1 MiB) stops at the limit.
    if shimmed is not None:
        shim.install(shimmed, max_message_size=1 << 20)
    bomb = frame(0x2, compressed(bytes(16 << 20)), rsv1=True)
    assert len(bomb) < 20000
    conn = deflating(CLIENT, {})
    with tracing():
        conn.receive_data(bomb)
        events = list(conn.events())
        peak = tracemalloc.get_traced_memory()[1]
    assert [type(event) for event in events] == [CloseConnection] and events[0].code == 1009
    assert peak < 4 << 20


def test_a_message_after_a_bfinal_block_is_received(shimmed: ModuleType | None) -> None:
    # RFC 7692 7.2.3.4: a message may end its deflate stream with a BFINAL block; the next one goes on.
    first, second = b"first message", b"second message"
    data = frame(0x2, compressed(first, finish=True), rsv1=True) + frame(0x2, compressed(second), rsv1=True)
    conn = deflating(CLIENT, {})
    conn.receive_data(data)
    assert assembled(list(conn.events())) == [first, second]


def test_max_message_size_is_for_inflated_messages_only(impl: ModuleType) -> None:
    shim.install(impl, max_message_size=1000)
    conn = deflating(CLIENT, {})
    conn.receive_data(frame(0x2, bytes(5000)) + frame(0x2, compressed(bytes(1000)), rsv1=True))
    assert assembled(list(conn.events())) == [bytes(5000), bytes(1000)]
    body = compressed(bytes(1001))
    conn.receive_data(frame(0x2, body[:5], rsv1=True, fin=False) + frame(0x0, body[5:]))
    events = list(conn.events())
    assert type(events[-1]) is CloseConnection and events[-1].code == 1009


def test_max_message_size_none_means_no_limit_and_is_checked(impl: ModuleType) -> None:
    shim.install(impl, max_message_size=None)
    conn = deflating(CLIENT, {})
    conn.receive_data(frame(0x2, compressed(bytes(20 << 20)), rsv1=True))
    assert sum(len(event.data) for event in conn.events()) == 20 << 20
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_message_size"):
            shim.install(impl, max_message_size=bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- sending


SEND_EVENTS = [
    TextMessage(data=""),
    TextMessage(data=utf8_text(125)),
    BytesMessage(data=bytearray(b"\x00" * 126)),
    BytesMessage(data=memoryview(bytes(range(200)))[::2]),
    BytesMessage(data=bytes(65536)),
    Ping(payload=b"p"),
    Pong(payload=bytearray(b"p")),
    CloseConnection(code=1001, reason="going"),
]


def test_server_sends_the_same_bytes(impl: ModuleType) -> None:
    # (or fails as wsproto does: before 1.3 a server cannot send a memoryview)
    assert outcome(lambda: sent(impl, SERVER, SEND_EVENTS)) == outcome(lambda: sent(None, SERVER, SEND_EVENTS))
    for one in SEND_EVENTS + CONVERSATION:
        assert outcome(lambda one=one: sent(impl, SERVER, [one])) == outcome(lambda one=one: sent(None, SERVER, [one]))


def test_client_sends_frames_wsproto_reads_back(impl: ModuleType) -> None:
    for event in SEND_EVENTS + CONVERSATION:
        ours, theirs = sent(impl, CLIENT, [event]), sent(None, CLIENT, [event])
        received = [under(None, lambda data=data: receive(SERVER, list(odd_chunks(data)))) for data in (ours, theirs)]
        assert received[0] == received[1]


@pytest.mark.parametrize("side", [CLIENT, SERVER], ids=["client", "server"])
def test_sending_errors_are_wsproto_errors(impl: ModuleType, side: ConnectionType) -> None:
    def attempts() -> list[Any]:
        out = []
        conn = connection.Connection(side)
        proto = conn._proto
        for work in (
            lambda: conn.send(BytesMessage(data=12)),  # type: ignore[arg-type]
            lambda: conn.send(TextMessage(data="part", message_finished=False)),
            lambda: conn.send(BytesMessage(data=b"other kind")),
            lambda: conn.send(TextMessage(data="end")),
            lambda: conn.send(Ping(payload=bytes(126))),
            lambda: conn.send(Request(host="h", target="/")),
            lambda: proto.send_data({}),
            lambda: proto.ping("text"),
            lambda: proto.close(reason="no code"),
            lambda: conn.send(CloseConnection(code=1000)),
            lambda: conn.send(TextMessage(data="after close")),
        ):
            result = outcome(work)
            out.append(result if side is SERVER or isinstance(result, tuple) else len(result))
        return out

    assert under(impl, attempts) == under(None, attempts)


def test_frame_protocol_api_returns_wsproto_types(impl: ModuleType) -> None:
    def calls() -> list[Any]:
        proto = fp.FrameProtocol(client=False, extensions=[])
        results = [
            proto.send_data("é", fin=False),
            proto.send_data("x"),
            proto.ping(b"1"),
            proto.close(1000, "r"),
        ]
        return [(type(r), bytes(r)) for r in results]

    assert under(impl, calls) == under(None, calls)


# ---------------------------------------------------------------- end to end


def serve_echo(listener: socket.socket, deflate: bool) -> None:
    """A wsproto echo server for one connection: every message back as it came, then the close
    (``deflate``: permessage-deflate accepted if offered)."""
    sock, _ = listener.accept()
    ws = wsproto.WSConnection(SERVER)
    parts: list[Any] = []
    with sock:
        while True:
            data = sock.recv(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, Request):
                    sock.sendall(ws.send(AcceptConnection(extensions=[PerMessageDeflate()] if deflate else [])))
                elif isinstance(event, Message):
                    parts.append(event.data)
                    if event.message_finished:
                        kind = TextMessage if isinstance(event, TextMessage) else BytesMessage
                        whole = parts[0][:0].join(parts)
                        parts.clear()
                        for i, piece in enumerate(split3(whole)):  # echoed fragmented
                            sock.sendall(ws.send(kind(data=piece, message_finished=i == 2)))
                elif isinstance(event, CloseConnection):
                    sock.sendall(ws.send(event.response()))
                    return
            if not data:
                return


@pytest.fixture(params=[False, True], ids=["plain", "deflate"])
def deflate(request: pytest.FixtureRequest) -> bool:
    """Whether the loopback connection negotiates permessage-deflate (wsproto's, at its defaults)."""
    return bool(request.param)


@pytest.fixture
def echo_server(impl: ModuleType, deflate: bool) -> Iterator[int]:
    shim.install(impl)
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=serve_echo, args=(listener, deflate), daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    thread.join(timeout=30)
    listener.close()
    assert not thread.is_alive()


@pytest.mark.parametrize("relay", [False, True], ids=["direct", "odd-chunks"])
def test_loopback_echo_with_the_shim_on_both_ends(echo_server: int, relay: bool, deflate: bool) -> None:
    relayed = Relay(echo_server) if relay else None
    port = relayed.port if relayed else echo_server
    ws = wsproto.WSConnection(CLIENT)
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            offer = [PerMessageDeflate()] if deflate else []
            sock.sendall(ws.send(Request(host="localhost", target="/", extensions=offer)))
            events = exchange(sock, ws, None)
            assert isinstance(events[0], AcceptConnection)
            assert ws.connection is not None and (ws.connection._proto._deflate is not None) is deflate
            for case in CASES:
                for event in messages_of(case):
                    sock.sendall(ws.send(event))
                echoed = exchange(sock, ws, Message)
                assert echoed[0][:0].join(echoed) == case.payload, case
            sock.sendall(ws.send(CloseConnection(code=1000)))
            closing = exchange(sock, ws, CloseConnection)
            assert closing == [1000] and ws.state is ConnectionState.CLOSED
    finally:
        if relayed:
            relayed.close()


def exchange(sock: socket.socket, ws: wsproto.WSConnection, until: type | None) -> list[Any]:
    """Read until a whole message (its parts' data), a close (its code), or any event (the events)."""
    parts: list[Any] = []
    while True:
        ws.receive_data(sock.recv(65536) or None)
        for event in ws.events():
            if until is None:
                return [event]
            if until is CloseConnection and isinstance(event, CloseConnection):
                return [event.code]
            if until is Message and isinstance(event, Message):
                parts.append(event.data)
                if event.message_finished:
                    return parts


# ---------------------------------------------------------------- self-check (for releases newer than the range)


def test_the_self_check_passes_on_this_release(impl: ModuleType) -> None:
    shim.install(impl)
    shim._self_check(impl, installed_originals(shim))


def test_the_self_check_fails_when_a_replacement_differs(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    shim.install(impl)
    monkeypatch.setattr(fp.FrameProtocol, "_data_frame", lambda self, payload, fin: b"\x82\x00")
    with pytest.raises(UnsupportedHostError, match="serialized differently"):
        shim._self_check(impl, installed_originals(shim))


def test_a_newer_release_with_these_internals_installs(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # This release taken as newer than the range: it installs, after the self-check, not left alone.
    report = install_as_newer(shim, impl, monkeypatch)
    assert report.newer and not report.reason and report.replaced and shim.is_installed()
