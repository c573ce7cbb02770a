"""The wsproto shim's replacement classes, on one wscodec implementation.

They subclass wsproto's own classes, so this module imports wsproto: the shim
(:mod:`wscodec.integrations.wsproto`) loads it only when it installs, once per
wscodec implementation, as a module of its own each time, with
``IMPL`` set to that implementation's namespace before the body runs. The
codec functions are then module globals of that copy, looked up as fast as
locals of a closure, and the classes are plain module-level classes, typed.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from types import ModuleType
from typing import Any

from wsproto import connection as conn
from wsproto import events
from wsproto import frame_protocol as fp
from wsproto.extensions import Extension
from wsproto.extensions import PerMessageDeflate as HostDeflate

from ..deflate_params import DeflateParams
from ..errors import ProtocolError
from . import wsproto as shim
from ._patch import resolve_impl

__all__ = [
    "IMPL",
    "Connection",
    "DeflateFrameDecoder",
    "FrameDecoder",
    "FrameProtocol",
    "MessageDecoder",
    "RsvRules",
    "XorMaskerSimple",
]

# The wscodec implementation namespace this copy of the module is built on: set by the shim before the
# body runs; imported by name (as tools that import every module do), the active implementation.
IMPL: ModuleType = globals().get("IMPL") or resolve_impl(None)

# wsproto's settings for its compressor: zlib.Z_DEFAULT_COMPRESSION (which is level 6) and zlib's default memLevel.
_LEVEL = 6
_MEM_LEVEL = 8
# A budget no message reaches, for max_message_size=None.
_UNLIMITED = 1 << 62
_TAIL = b"\x00\x00\xff\xff"

PerMessageDeflate = IMPL.PerMessageDeflate
apply_mask: Callable[..., bytes] = IMPL.apply_mask
apply_mask_inplace: Callable[..., None] = IMPL.apply_mask_inplace
parse_header: Callable[..., Any] = IMPL.parse_header
encode_frame: Callable[..., bytes] = IMPL.encode_frame
decode_text: Callable[..., str] = IMPL.decode_text
Frame = fp.Frame
Header = fp.Header
ParseFailed = fp.ParseFailed
XorMaskerNull = fp.XorMaskerNull
Opcode = fp.Opcode
TEXT, BINARY, CONTINUATION = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION
CLOSE, PING, PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG
INVALID_PAYLOAD = fp.CloseReason.INVALID_FRAME_PAYLOAD_DATA
PROTOCOL_ERROR = fp.CloseReason.PROTOCOL_ERROR
TOO_BIG = fp.CloseReason.MESSAGE_TOO_BIG
RsvBits = fp.RsvBits
wsproto_parse_header = fp.FrameDecoder.parse_header
OPEN = conn.ConnectionState.OPEN
CLOSED = conn.ConnectionState.CLOSED
LOCAL_CLOSING = conn.ConnectionState.LOCAL_CLOSING
REMOTE_CLOSING = conn.ConnectionState.REMOTE_CLOSING
TextMessage, BytesMessage = events.TextMessage, events.BytesMessage
Ping, Pong, CloseConnection = events.Ping, events.Pong, events.CloseConnection
# Below this size a copy costs less than making a memoryview.
_VIEW_MIN = 512


def _view(src: bytes | bytearray, pos: int, stop: int) -> bytes | memoryview:
    """``src[pos:stop]`` for a reader that copies it anyway: a view if large (released when dropped)."""
    if stop - pos < _VIEW_MIN and type(src) is bytes:
        return src[pos:stop]
    return memoryview(src)[pos:stop]


def _copy(src: bytes | bytearray, pos: int, stop: int) -> bytes:
    """``src[pos:stop]`` as bytes, in one copy (none if it is all of ``src``)."""
    if type(src) is bytes:
        return src[pos:stop]
    return bytes(memoryview(src)[pos:stop])


def _copy_bytearray(src: bytes | bytearray, pos: int, stop: int) -> bytearray:
    """``src[pos:stop]`` as a bytearray: what wsproto before 1.3 delivers of an unmasked payload."""
    return bytearray(memoryview(src)[pos:stop])


# Frames and Headers are made with tuple.__new__, which skips the NamedTuple's
# Python-level __new__ (a third of a small frame's cost); the tuples are the same.
no_rsv = fp.RsvBits(False, False, False)
# wsproto's Opcode member for each wire value (wscodec's parse_header rejects the others).
opcodes = {int(op): op for op in Opcode}
framable = (bytes, bytearray, memoryview)
message_types = (BytesMessage, TextMessage)
# The shapes of the wsproto release installed (they differ across the supported range; see _shapes).
shapes = shim._shapes(fp)
masked_type: type = shapes.masked_type
copy: Any = _copy if shapes.unmasked_type is bytes else _copy_bytearray
# The type of an empty payload, masked or not (before 1.3 wsproto hands its empty bytearray on).
empty: Any = shapes.unmasked_type
not_data_error: type[Exception] = shapes.not_data_error
# What a server frames itself: a memoryview before wsproto 1.3 is framed by wsproto (see _Shapes).
server_framable = framable if shapes.server_memoryview else (bytes, bytearray)


class XorMaskerSimple:
    """wsproto's stateful masker on wscodec's kernel: ``process`` keeps the mask phase across chunks."""

    __slots__ = ("_key", "_phase")

    def __init__(self, masking_key: bytes | bytearray) -> None:
        self._key = bytes(masking_key)
        self._phase = 0

    def process(self, data: bytearray) -> Any:
        """Return a masked copy of ``data``, continuing the phase of the previous chunk: a bytearray
        (bytes before wsproto 1.3, as its own masker)."""
        out = bytearray(data)
        if out:
            apply_mask_inplace(out, self._key, self._phase)
            self._phase = (self._phase + len(out)) & 3
        elif masked_type is not bytearray:
            return data  # wsproto before 1.3 hands an empty chunk back as it came
        return out if masked_type is bytearray else masked_type(out)

    def unmask(self, chunk: Any) -> bytes:
        """Like :meth:`process`, but straight to ``bytes`` (one copy), for the frame decoder."""
        phase = self._phase
        key = self._key
        self._phase = (phase + len(chunk)) & 3
        return apply_mask(chunk, key[phase:] + key[:phase] if phase else key)


class FrameDecoder(fp.FrameDecoder):
    """wsproto's FrameDecoder, parsing, unmasking (and decoding text) with wscodec straight from the bytes received.

    Bytes received while nothing is buffered are held as they are
    (``_held``, from offset ``_held_at``) instead of being copied into
    wsproto's ``Buffer``; they move there only when a frame straddles two
    reads or wsproto's own code is to run.
    """

    header: Any  # wsproto's attributes, set by its __init__
    masker: Any

    def __init__(self, client: bool, extensions: list[Extension] | None = None) -> None:
        super().__init__(client, extensions)
        self._held = b""
        self._held_at = 0
        # The MessageDecoder its FrameProtocol feeds, if any: while that has no
        # message under way, a whole-message text frame is decoded here, in one pass.
        self._messages: Any = None

    def receive_bytes(self, data: bytes) -> None:
        """Take the next bytes from the peer."""
        if self._held:
            self._spill()
        if type(data) is bytes and not self.buffer.buffer and not self.extensions:
            self._held = data
            self._held_at = 0
        else:
            super().receive_bytes(data)

    def process_buffer(self) -> fp.Frame | None:
        """Return the next (possibly partial) frame, or None if more bytes are needed (as wsproto does)."""
        src: Any = self._held
        if src:  # (never with extensions or a half-consumed Buffer: receive_bytes sees to that)
            pos = self._held_at
        elif self.extensions or self.buffer.bytes_used:
            return super().process_buffer()
        else:
            src = self.buffer.buffer
            pos = 0
        end = len(src)
        header = self.header
        if header is None:
            if end - pos < 2:
                return None  # no header is shorter than two bytes
            try:
                found = parse_header(src, pos)
            except ProtocolError:
                found = None
            if found is None or found.rsv1 or found.rsv2 or found.rsv3 or found.masked == self.client:
                # Incomplete or invalid header: wsproto's parser decides when and how to fail.
                self._spill()
                return super().process_buffer()
            opcode = opcodes[found.opcode]
            length = found.length
            pos += found.header_size
            if end - pos >= length:  # the whole frame is here: no state to keep
                stop = pos + length
                key = found.mask
                messages = self._messages
                payload: str | bytes
                if opcode is TEXT and found.fin and messages is not None and messages.opcode is None:
                    payload = self._text(src, pos, stop, key)
                elif length:
                    payload = apply_mask(_view(src, pos, stop), key) if key else copy(src, pos, stop)
                else:
                    payload = empty()
                self._consume(src, stop)
                return tuple.__new__(Frame, (opcode, payload, True, found.fin))
            header = self.header = tuple.__new__(Header, (found.fin, no_rsv, opcode, length, None))
            self.effective_opcode = opcode
            masker = self.masker = XorMaskerSimple(found.mask) if found.masked else XorMaskerNull()
            self.payload_required = length if opcode >= 8 else 0
            self.payload_consumed = 0
        else:
            masker = self.masker
            if type(masker) is not XorMaskerSimple and type(masker) is not XorMaskerNull:
                # A masker made by wsproto's own parse_header after uninstall(): its code goes on.
                self._spill()
                return super().process_buffer()
        length = header.payload_len
        n = min(length - self.payload_consumed, end - pos)
        if end - pos < self.payload_required or (not n and length):
            self._consume(src, pos)
            return None  # (a control frame is delivered whole)
        stop = pos + n
        if type(masker) is XorMaskerSimple and n:
            payload = masker.unmask(_view(src, pos, stop))
        else:
            payload = copy(src, pos, stop)  # (an empty payload too: the type wsproto gives it)
        self._consume(src, stop)
        self.payload_consumed += n
        finished = self.payload_consumed == length
        frame = tuple.__new__(Frame, (self.effective_opcode, payload, finished, header.fin))
        if finished:
            self.header = None
            self.effective_opcode = None
            self.masker = None
        else:
            self.effective_opcode = CONTINUATION
        return frame

    def _text(self, src: Any, pos: int, stop: int, key: bytes | None) -> str:
        """The payload ``src[pos:stop]`` of a whole text message, as the ``str`` wsproto delivers.

        Invalid UTF-8 raises wsproto's ParseFailed, with the message of the
        decoder wsproto uses (CPython's), which has the last word.
        """
        try:
            return decode_text(_view(src, pos, stop), key)
        except ProtocolError:
            raw = apply_mask(_view(src, pos, stop), key) if key else _copy(src, pos, stop)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._consume(src, stop)
            raise ParseFailed(str(exc), INVALID_PAYLOAD) from exc

    def _consume(self, src: Any, stop: int) -> None:
        """Forget the bytes of ``src`` (held bytes or the Buffer's bytearray) before ``stop``."""
        if type(src) is bytes:
            if stop == len(src):
                self._held = b""
                self._held_at = 0
            else:
                self._held_at = stop
        elif stop:
            del src[:stop]

    def _spill(self) -> None:
        """Move the held bytes into wsproto's Buffer, for wsproto's own code."""
        if self._held:
            self.buffer.feed(self._held[self._held_at :])
            self._held = b""
            self._held_at = 0


class RsvRules:
    """The RSV rules of wsproto's PerMessageDeflate, without its state, for wsproto's own header
    parser when it runs on a connection whose compression the shim does (only ever to fail, or to
    wait for more bytes): RSV1 is refused on control and continuation frames."""

    def frame_inbound_header(
        self, proto: fp.FrameDecoder, opcode: fp.Opcode, rsv: fp.RsvBits, payload_length: int
    ) -> fp.CloseReason | fp.RsvBits:
        """wsproto's verdict on a header: the RSV bits the extension uses, or a close reason."""
        if rsv.rsv1 and (opcode.iscontrol() or opcode is CONTINUATION):
            return PROTOCOL_ERROR
        return RsvBits(True, False, False)


class DeflateFrameDecoder(FrameDecoder):
    """The frame decoder of a connection with permessage-deflate, inflating with wscodec.

    It delivers what wsproto's FrameDecoder with its PerMessageDeflate
    delivers (the inflated bytes of each piece of a frame as it arrives,
    with wsproto's close reasons and messages), except for wsproto's bugs:
    inflation is bounded by ``limit`` (the excess is never produced: 1009),
    a control frame between the fragments of a compressed message leaves
    the message alone, and a message whose deflate stream ends with a
    BFINAL block does not break the next one.
    """

    def __init__(self, client: bool, deflate: Any, limit: int | None) -> None:
        super().__init__(client, [RsvRules()])  # type: ignore[list-item]  # (wsproto's parser calls only this)
        self._deflate = deflate
        self._limit = _UNLIMITED if limit is None else limit
        # The data message under way: compressed or not (None: no message under way, as wsproto's
        # extension keeps it), and how much more it may inflate to.
        self._compressed: bool | None = None
        self._room = 0
        # The frame under way (delivered in pieces) carries compressed bytes.
        self._frame_compressed = False

    def receive_bytes(self, data: bytes) -> None:
        """Take the next bytes from the peer."""
        if self._held:
            self._spill()
        if type(data) is bytes and not self.buffer.buffer:
            self._held = data
            self._held_at = 0
        else:
            self.buffer.feed(data)

    def _begin(self, opcode: fp.Opcode, rsv1: bool) -> bool:
        """A data frame starts: is its payload compressed? (RSV1 on a continuation: wsproto's error.)"""
        if rsv1 and opcode is CONTINUATION:
            raise ParseFailed("error in extension", PROTOCOL_ERROR)
        compressed = self._compressed
        if compressed is None:  # the first frame of a message says it for the whole message
            compressed = self._compressed = rsv1
            self._room = self._limit
        return compressed

    def _inflate(self, data: Any, end: bool) -> bytes:
        """The next compressed bytes of the message, inflated within its budget (``end``: its last)."""
        try:
            out: bytes = self._deflate._inflate(data, self._room, end)
        except ProtocolError as exc:
            if exc.code == TOO_BIG:
                raise ParseFailed(
                    f"message exceeds max_message_size ({self._limit} bytes) once inflated", TOO_BIG
                ) from None
            raise ParseFailed("error in extension", INVALID_PAYLOAD) from None
        self._room -= len(out)
        return out

    def process_buffer(self) -> fp.Frame | None:
        """Return the next (possibly partial) frame, inflated, or None if more bytes are needed."""
        src: Any = self._held
        if src:
            pos = self._held_at
        else:
            src = self.buffer.buffer
            pos = 0
        end = len(src)
        header = self.header
        if header is None:
            if end - pos < 2:
                return None
            try:
                found = parse_header(src, pos)
            except ProtocolError:
                found = None
            if found is None or found.rsv2 or found.rsv3 or found.masked == self.client:
                # Incomplete or invalid: wsproto's parser (with the extension's RSV rules) decides when
                # and how to fail. It accepts no header that parse_header does not, but if it did, the
                # frame would go on from the header it set.
                self._spill()
                if not wsproto_parse_header(self):
                    return None
                header = self.header
                self._frame_compressed = header.opcode < 8 and self._begin(header.opcode, header.rsv.rsv1)
                src = self.buffer.buffer
                pos = 0
                end = len(src)
            else:
                opcode = opcodes[found.opcode]
                fin = found.fin
                if opcode >= 8:
                    if found.rsv1:
                        raise ParseFailed("error in extension", PROTOCOL_ERROR)
                    compressed = False
                else:
                    compressed = self._begin(opcode, found.rsv1)
                length = found.length
                pos += found.header_size
                if end - pos >= length:  # the whole frame is here: no state to keep
                    stop = pos + length
                    key = found.mask
                    if compressed:
                        payload = self._inflate(
                            apply_mask(_view(src, pos, stop), key) if key else _view(src, pos, stop), fin
                        )
                    elif length:
                        payload = apply_mask(_view(src, pos, stop), key) if key else copy(src, pos, stop)
                    else:
                        payload = empty()
                    self._consume(src, stop)
                    if fin and opcode < 8:
                        self._compressed = None
                    return tuple.__new__(Frame, (opcode, payload, True, fin))
                header = self.header = tuple.__new__(Header, (fin, no_rsv, opcode, length, None))
                self.effective_opcode = opcode
                self.masker = XorMaskerSimple(found.mask) if found.masked else XorMaskerNull()
                self.payload_required = length if opcode >= 8 else 0
                self.payload_consumed = 0
                self._frame_compressed = compressed
        masker = self.masker
        length = header.payload_len
        n = min(length - self.payload_consumed, end - pos)
        if end - pos < self.payload_required or (not n and length):
            self._consume(src, pos)
            return None  # (a control frame is delivered whole)
        stop = pos + n
        if not n:
            payload = empty()
        elif type(masker) is XorMaskerSimple:
            payload = masker.unmask(_view(src, pos, stop))
        elif type(masker) is XorMaskerNull:
            payload = copy(src, pos, stop)
        else:  # a masker of wsproto's own parser
            payload = bytes(masker.process(bytearray(_view(src, pos, stop))))
        self._consume(src, stop)
        self.payload_consumed += n
        finished = self.payload_consumed == length
        fin = header.fin
        if self._frame_compressed:
            payload = self._inflate(payload, finished and fin)
        frame = tuple.__new__(Frame, (self.effective_opcode, payload, finished, fin))
        if finished:
            if fin and header.opcode < 8:
                self._compressed = None
            self.header = None
            self.effective_opcode = None
            self.masker = None
        else:
            self.effective_opcode = CONTINUATION
        return frame


def deflate_for(extension: Any, client: bool) -> Any:
    """wscodec's PerMessageDeflate with what ``extension`` (wsproto's, negotiated) agreed, at
    wsproto's level and memory level; None for settings wscodec refuses (wsproto's code runs then)."""
    try:
        params = DeflateParams(
            server_no_context_takeover=bool(extension.server_no_context_takeover),
            client_no_context_takeover=bool(extension.client_no_context_takeover),
            server_max_window_bits=extension.server_max_window_bits,
            client_max_window_bits=extension.client_max_window_bits,
        )
        return PerMessageDeflate(params, client=client, level=_LEVEL, mem_level=_MEM_LEVEL)
    except (TypeError, ValueError):
        return None


class MessageDecoder(fp.MessageDecoder):
    """wsproto's MessageDecoder; a message that is one whole frame is decoded in one call."""

    def process_frame(self, frame: fp.Frame) -> fp.Frame:
        """Turn a frame into a message frame (text decoded), raising ParseFailed as wsproto does."""
        if self.opcode is None and frame.frame_finished is True and frame.message_finished is True:
            opcode = frame.opcode
            if opcode is BINARY:
                return frame
            payload = frame.payload
            if opcode is TEXT:
                if type(payload) is str:  # decoded by the FrameDecoder above
                    return frame
                if type(payload) is bytes:
                    try:
                        text = payload.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise ParseFailed(str(exc), INVALID_PAYLOAD) from exc
                    return tuple.__new__(Frame, (TEXT, text, True, True))
        return super().process_frame(frame)


class FrameProtocol(fp.FrameProtocol):
    """wsproto's FrameProtocol, framing with wscodec and decoding without generator layers."""

    _outbound_opcode: Any  # wsproto's attributes, set by its __init__
    _frame_decoder: Any
    _message_decoder: fp.MessageDecoder

    def __init__(self, client: bool, extensions: list[Extension]) -> None:
        super().__init__(client, extensions)
        # The payload types this side frames itself (others: wsproto's code, and its errors).
        self._framable = framable if client else server_framable
        # What wsproto's _parse_more generator keeps in its frame: it ends
        # after delivering a CLOSE frame or raising.
        self._parse_done = False
        # wscodec's compression state, when the one extension is wsproto's PerMessageDeflate (negotiated):
        # the shim then compresses and inflates, and the extension object is left unused.
        self._deflate: Any = None
        found = self.extensions
        if len(found) == 1 and type(found[0]) is HostDeflate and type(self._frame_decoder) is FrameDecoder:
            self._deflate = deflate_for(found[0], client)
            if self._deflate is not None:
                self._frame_decoder = DeflateFrameDecoder(client, self._deflate, shim._max_message_size)
        if type(self._frame_decoder) is FrameDecoder and type(self._message_decoder) is MessageDecoder:
            self._frame_decoder._messages = self._message_decoder

    def received_frames(self) -> Generator[fp.Frame, None, None]:
        """Yield every frame the bytes received so far complete (as wsproto does)."""
        if self.extensions and self._deflate is None:
            yield from super().received_frames()
            return
        next_frame = self._next_frame
        frame = next_frame()
        while frame is not None:
            yield frame
            frame = next_frame()

    def _next_frame(self) -> fp.Frame | None:
        """The next message frame, or None if more bytes are needed or parsing has ended."""
        if self._parse_done:
            return None
        try:
            frame = self._frame_decoder.process_buffer()
            if frame is None:
                return None
            opcode = frame.opcode
            if opcode < 8:
                return self._message_decoder.process_frame(frame)
            if opcode is CLOSE:
                self._parse_done = True
                return self._process_close(frame)
            return frame  # type: ignore[no-any-return]  # (the frame decoder: wsproto's or the shim's)
        except BaseException:
            self._parse_done = True
            raise

    def _serialize_frame(self, opcode: Any, payload: Any = b"", fin: bool = True) -> bytearray:
        if self._deflate is not None:
            if type(payload) not in framable:
                payload = bytearray(payload)  # (raises as wsproto does)
            if type(fin) is not bool:
                fin = bool(int(fin))
            if opcode < 8:
                return bytearray(self._deflated(opcode, payload, fin))
            if type(payload) not in self._framable:  # (wsproto's own code)
                return super()._serialize_frame(opcode, payload, fin)
        elif self.extensions or type(payload) not in self._framable or type(fin) is not bool:
            return super()._serialize_frame(opcode, payload, fin)
        if opcode >= 8 and len(payload) > 125:
            raise ValueError("payload too long for control frame")
        return bytearray(encode_frame(opcode, payload, fin=fin, mask=self.client))

    def _deflated(self, opcode: fp.Opcode, payload: Any, fin: bool) -> bytes:
        """A data frame compressed with wscodec: RSV1 on a message's first frame, as wsproto's extension.

        Each frame's bytes are flushed (a frame before the last keeps the
        ``00 00 FF FF`` its flush ends with): the concatenation is one
        deflate stream that inflates to the message, as RFC 7692 asks.
        """
        data = self._deflate.compress(payload)
        if not fin:
            data += _TAIL
        return encode_frame(opcode, data, fin=fin, rsv1=opcode is not CONTINUATION, mask=self.client)

    def _data_frame(self, payload: Any, fin: bool) -> bytes:
        """``send_data`` as bytes, framed in one pass (wsproto's checks and messages)."""
        if isinstance(payload, framable):
            opcode = BINARY
            if self._deflate is None and type(payload) not in self._framable:  # (wsproto's own code)
                return bytes(super().send_data(payload, fin))  # type: ignore[arg-type]  # (wsproto's own errors)
        elif isinstance(payload, str):
            opcode = TEXT  # encode_frame takes the str itself: an ASCII one is framed from its own data
        else:
            raise not_data_error("Must provide bytes or text")  # (ValueError before wsproto 1.3)
        outbound = self._outbound_opcode
        if outbound is None:
            first = opcode
        elif outbound is not opcode:
            raise TypeError("Data type mismatch inside message")
        else:
            first = outbound
            opcode = CONTINUATION
        frame: bytes
        if self._deflate is not None:
            frame = self._deflated(opcode, payload, fin)  # (a str that cannot be encoded changes nothing)
        else:
            frame = encode_frame(opcode, payload, fin=fin, mask=self.client)
        self._outbound_opcode = None if fin else first
        return frame


class Connection(conn.Connection):
    """wsproto's Connection, with a direct route for data messages on an open connection."""

    _direct = False
    _proto: FrameProtocol  # (when _direct: else wsproto's, and only wsproto's own code touches it)

    def __init__(
        self,
        connection_type: conn.ConnectionType,
        extensions: list[Extension] | None = None,
        trailing_data: bytes = b"",
    ) -> None:
        super().__init__(connection_type, extensions, trailing_data)
        proto = self._proto
        self._direct = type(proto) is FrameProtocol and (not proto.extensions or proto._deflate is not None)

    def send(self, event: Any) -> bytes:
        """Return the bytes that send ``event`` to the peer (as wsproto does)."""
        if (
            self._direct
            and self._state is OPEN
            and type(event) in message_types
            and type(event.message_finished) is bool
        ):
            return self._proto._data_frame(event.data, event.message_finished)
        return super().send(event)

    def receive_data(self, data: bytes | None) -> None:
        """Feed bytes received from the peer (``None``: the transport closed)."""
        if data is not None and self._state is OPEN:
            self._proto.receive_bytes(data)
        else:
            super().receive_data(data)

    def events(self) -> Generator[events.Event, None, None]:
        """Yield the events the bytes received so far produce (as wsproto does)."""
        if not self._direct:
            yield from super().events()
            return
        queued = self._events
        while queued:
            yield queued.popleft()
        # (a frame's fields are a union in wsproto's types; each branch below takes its own)
        next_frame: Callable[[], Any] = self._proto._next_frame
        try:
            frame = next_frame()
            while frame is not None:
                opcode, payload, frame_finished, message_finished = frame
                if opcode is BINARY:
                    yield BytesMessage(data=payload, frame_finished=frame_finished, message_finished=message_finished)
                elif opcode is TEXT:
                    yield TextMessage(data=payload, frame_finished=frame_finished, message_finished=message_finished)
                elif opcode is PING:
                    yield Ping(payload=payload)
                elif opcode is PONG:
                    yield Pong(payload=payload)
                elif opcode is CLOSE:
                    self._state = CLOSED if self.state is LOCAL_CLOSING else REMOTE_CLOSING
                    yield CloseConnection(code=payload[0], reason=payload[1])
                frame = next_frame()
        except ParseFailed as exc:
            yield CloseConnection(code=exc.code, reason=str(exc))
