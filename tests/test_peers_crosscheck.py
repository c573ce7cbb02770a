"""Cross-checks against real peers: websockets' Frame.parse/serialize and wsproto's frame protocol.

Frames wscodec encodes must decode identically with each peer, and frames
each peer encodes must decode identically with wscodec; where the peers
judge a frame, their verdict must match wscodec's.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import needs
import pytest

# websockets needs Python >= 3.11 (the test extra leaves it out before)
needs.module("websockets", python=(3, 11))
needs.module("wsproto")

from hypothesis import assume, given
from hypothesis import strategies as st
from outcomes import Item, frame_item, normalise
from strategies import FrameSpec, frame_settings, valid_streams, wire
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode as WsOpcode
from websockets.streams import StreamReader
from wsproto.frame_protocol import FrameDecoder as WsprotoFrameDecoder
from wsproto.frame_protocol import FrameProtocol, ParseFailed
from wsproto.frame_protocol import Opcode as WsprotoOpcode

from wscodec import parse_close
from wscodec.errors import ProtocolError

KEY = b"\xaa\x55\x01\xfe"


def _no_1014(specs: list[FrameSpec]) -> bool:
    """wsproto 1.3.2 refuses close code 1014 (IANA "Bad Gateway"); see test_close_codes_agree_with_wsproto."""
    return not any(spec.opcode == 8 and spec.payload[:2] == b"\x03\xf6" for spec in specs)


# ---------------------------------------------------------------- peer drivers


def _websockets_frames(data: bytes, masked: bool) -> list[Item]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    out: list[Item] = []
    while reader.buffer:
        parser = WsFrame.parse(reader.read_exact, mask=masked, max_size=None)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        else:
            raise AssertionError("websockets wanted more bytes than the stream holds")
        out.append(("frame", frame.fin, int(frame.opcode), bytes(frame.data), frame.rsv1, frame.rsv2, frame.rsv3))
    return out


def _wsproto_frames(data: bytes, masked: bool) -> list[Item]:
    decoder = WsprotoFrameDecoder(client=not masked)
    decoder.receive_bytes(data)
    out: list[Item] = []
    while (frame := decoder.process_buffer()) is not None:
        assert frame.frame_finished and isinstance(frame.payload, bytes)
        out.append(("frame", frame.message_finished, int(frame.opcode), frame.payload, False, False, False))
    return out


def _wsproto_messages(data: bytes, masked: bool) -> list[Item]:
    """wsproto's reassembly, in wscodec's normal form (a CLOSE as ("close", code, reason))."""
    protocol = FrameProtocol(client=not masked, extensions=[])
    protocol.receive_bytes(data)
    out: list[Item] = []
    parts: list[Any] = []
    for frame in protocol.received_frames():
        if frame.opcode == WsprotoOpcode.CLOSE:
            out.append(("close", int(frame.payload[0]), frame.payload[1]))
        elif frame.opcode.iscontrol():
            assert isinstance(frame.payload, bytes)
            out.append(_control(frame.opcode, frame.payload))
        else:
            parts.append(frame.payload)
            if frame.message_finished:
                joined = "".join(parts).encode() if frame.opcode == WsprotoOpcode.TEXT else b"".join(parts)
                out.append(("message", int(frame.opcode), joined))
                parts = []
    return out


def _control(opcode: int, payload: bytes) -> Item:
    return ("frame", True, int(opcode), payload, False, False, False)


def _ours_as_messages(impl: ModuleType, data: bytes, masked: bool) -> list[Item]:
    out = []
    for item in impl.MessageDecoder(client=not masked).feed(data):
        norm = normalise(impl, item)
        out.append(("close", *parse_close(item.payload)) if norm[:3] == ("frame", True, 8) else norm)
    return out


def _encode(impl: ModuleType, spec: FrameSpec, fresh_key: bool) -> bytes:
    mask: object = spec.mask
    if spec.mask is not None and fresh_key:
        mask = True
    return impl.encode_frame(spec.opcode, spec.payload, fin=spec.fin, mask=mask)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- wscodec -> peers


@frame_settings(40)
@given(data=st.data())
def test_wscodec_frames_decode_alike_with_websockets_and_wsproto(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    specs = data.draw(valid_streams(masked), "specs")
    fresh_key = data.draw(st.booleans(), "fresh_key")
    stream = b"".join(_encode(impl, spec, fresh_key) for spec in specs)
    want = [frame_item(spec) for spec in specs]
    assert _websockets_frames(stream, masked) == want
    assert _wsproto_frames(stream, masked) == want
    if not fresh_key:
        assert stream == wire(specs)


@frame_settings(40)
@given(data=st.data())
def test_messages_reassemble_alike_with_wsproto(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    specs = data.draw(valid_streams(masked), "specs")
    assume(_no_1014(specs))
    stream = b"".join(_encode(impl, spec, True) for spec in specs)
    assert _ours_as_messages(impl, stream, masked) == _wsproto_messages(stream, masked)


def test_unmasked_frames_are_byte_identical_to_the_peers(impl: ModuleType) -> None:
    server = FrameProtocol(client=False, extensions=[])
    for size in (0, 1, 125, 126, 65535, 65536, 70000):
        payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        ours = impl.encode_frame(2, payload)
        assert ours == WsFrame(WsOpcode.BINARY, payload).serialize(mask=False)
        assert ours == bytes(server.send_data(payload))
    assert impl.encode_frame(9, b"ping") == WsFrame(WsOpcode.PING, b"ping").serialize(mask=False)
    assert impl.encode_frame(9, b"ping") == bytes(server.ping(b"ping"))
    assert impl.encode_frame(8, b"\x03\xe8bye") == bytes(server.close(1000, "bye"))


# ---------------------------------------------------------------- peers -> wscodec


@frame_settings(40)
@given(data=st.data())
def test_websockets_frames_decode_alike_with_wscodec(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    specs = data.draw(valid_streams(masked), "specs")
    stream = b"".join(WsFrame(WsOpcode(spec.opcode), spec.payload, spec.fin).serialize(mask=masked) for spec in specs)
    got = impl.FrameDecoder(client=not masked).feed(stream)
    assert [normalise(impl, frame) for frame in got] == [frame_item(spec) for spec in specs]
    assert _ours_as_messages(impl, stream, masked) == _ours_as_messages(impl, wire(specs), masked)


@frame_settings(40)
@given(data=st.data())
def test_wsproto_frames_decode_alike_with_wscodec(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    specs = data.draw(valid_streams(masked), "specs")
    sender = FrameProtocol(client=masked, extensions=[])
    # wsproto's public senders cannot cut a text message inside a code point; its serialiser can.
    stream = b"".join(
        bytes(sender._serialize_frame(WsprotoOpcode(spec.opcode), spec.payload, spec.fin)) for spec in specs
    )
    got = impl.FrameDecoder(client=not masked).feed(stream)
    assert [normalise(impl, frame) for frame in got] == [frame_item(spec) for spec in specs]


def test_wsproto_public_api_frames_decode_with_wscodec(impl: ModuleType) -> None:
    client = FrameProtocol(client=True, extensions=[])
    stream = b"".join(
        bytes(chunk)
        for chunk in (
            client.send_data("héllo ", fin=False),
            client.ping(b"are you there"),
            client.send_data("wörld"),
            client.send_data(b"\x00\x01" * 40000),
            client.pong(b""),
            client.close(4000, "done"),
        )
    )
    got = [normalise(impl, item) for item in impl.MessageDecoder().feed(stream)]
    assert got == [
        _control(9, b"are you there"),
        ("message", 1, "héllo wörld".encode()),
        ("message", 2, b"\x00\x01" * 40000),
        _control(10, b""),
        _control(8, b"\x0f\xa0done"),
    ]


# ---------------------------------------------------------------- verdicts


BROKEN = [
    *(FrameSpec(op, mask=KEY) for op in (*range(3, 8), *range(11, 16))),
    *(FrameSpec(2, b"x", rsv=rsv, mask=KEY) for rsv in range(1, 8)),
    FrameSpec(9, b"x", fin=False, mask=KEY),
    FrameSpec(10, bytes(126), mask=KEY),
    FrameSpec(2, b"unmasked"),
    FrameSpec(2, bytes(125), length_form="16", mask=KEY),
    FrameSpec(2, bytes(65535), length_form="64", mask=KEY),
    FrameSpec(2, declared=1 << 63, length_form="64", mask=KEY),
]


@pytest.mark.parametrize("spec", BROKEN, ids=repr)
def test_broken_frames_are_refused_like_wsproto_does(impl: ModuleType, spec: FrameSpec) -> None:
    data = spec.encode()
    with pytest.raises(ParseFailed) as theirs:
        decoder = WsprotoFrameDecoder(client=False)
        decoder.receive_bytes(data)
        decoder.process_buffer()
    with pytest.raises(ProtocolError) as ours:
        impl.FrameDecoder().feed(data)
    assert ours.value.code == theirs.value.code == 1002


def test_close_codes_agree_with_wsproto(impl: ModuleType) -> None:
    """Every close code from 0 to 5999, judged by both; wsproto 1.3.2 alone refuses 1014 (IANA: Bad Gateway)."""
    disagree = []
    for code in range(6000):
        data = FrameSpec(8, code.to_bytes(2, "big"), mask=KEY).encode()
        protocol = FrameProtocol(client=False, extensions=[])
        protocol.receive_bytes(data)
        try:
            list(protocol.received_frames())
            theirs = True
        except ParseFailed:
            theirs = False
        try:
            impl.MessageDecoder().feed(data)
            ours = True
        except ProtocolError:
            ours = False
        if ours != theirs:
            disagree.append(code)
    assert disagree == [1014]
