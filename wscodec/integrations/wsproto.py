"""Shim for wsproto: wscodec's header parsing, framing and masking under wsproto's connection.

wsproto is Python throughout. A received frame goes through its ``Buffer``
(a copy per read and per field), ``FrameDecoder.parse_header``,
``XorMaskerSimple`` (four ``bytes.translate`` passes), ``MessageDecoder`` (a
new incremental UTF-8 decoder per text message), two generators and the
``Connection`` event dispatch; a sent frame through ``send_data``,
``_serialize_frame`` (``XorMaskerSimple`` again) and three more copies.

The shim replaces, where wsproto looks them up at call time (the globals of
``wsproto.frame_protocol``, ``wsproto.connection``'s ``FrameProtocol``, and
the ``Connection`` that ``wsproto.handshake`` instantiates):

* ``XorMaskerSimple`` with a masker on wscodec's kernel (same phase-keeping
  ``process(data) -> bytearray``) — with the compiled implementation only:
  the pure one masks a bytearray no faster than wsproto's ``bytes.translate``;
* ``FrameDecoder`` with a subclass whose ``process_buffer`` parses headers
  with wscodec's ``parse_header`` and unmasks with its ``apply_mask``,
  straight from the bytes received (no copy into the buffer unless a frame
  straddles two reads); a text message arriving as one whole frame becomes
  its ``str`` there, through ``decode_text`` (an ASCII payload is unmasked
  straight into the ``str``: one pass instead of unmask, copy and decode);
* ``MessageDecoder`` with a subclass that passes such a ``str`` on, and
  decodes any other whole-frame text message in one ``bytes.decode`` call;
* ``FrameProtocol`` with a subclass that frames with wscodec's
  ``encode_frame`` (header, copy and mask in one pass; a ``str`` is framed
  from its own data when ASCII, so text is not encoded into a copy first);
* ``Connection`` with a subclass whose ``send``, ``receive_data`` and
  ``events`` take the direct route for data messages on an open connection.

Behaviour is wsproto's, event for event: partial frames of large messages,
``frame_finished``/``message_finished``, close codes, the exact
``ParseFailed`` messages and codes, ``LocalProtocolError``. Every unusual
case — an incomplete or invalid header, RSV bits, a wrong masking direction,
extensions other than wsproto's PerMessageDeflate, closing states, payload
types other than bytes/bytearray/memoryview — is handed to wsproto's own
code. Connections created before :func:`install` keep wsproto's classes;
those created while it is installed keep working after :func:`uninstall`.

permessage-deflate: when a connection's one extension is wsproto's own
``PerMessageDeflate`` (negotiated), the shim compresses and inflates with
wscodec's ``PerMessageDeflate``, with the parameters the extension agreed
(windows, context takeover) and wsproto's compressor settings (level 6, its
``Z_DEFAULT_COMPRESSION``, and zlib's memLevel 8), and the extension object
is left unused. Whole messages go on the wire as wsproto's own bytes; a
message sent in fragments has each fragment flushed (wsproto flushes only at
the end), which changes its compressed bytes, not what the peer inflates.
Events and errors are wsproto's (RSV1 on a control or continuation frame,
corrupt data: "error in extension", 1002 and 1007), except for wsproto's bugs,
which the shim fixes:

* inflation had no bound (65 KB on the wire became 64 MiB, 192 MiB at the
  peak): a compressed message may now inflate to ``max_message_size`` bytes
  (an :func:`install` argument, 16 MiB by default), past which ``events()``
  yields ``CloseConnection(1009)``, the excess never inflated;
* a control frame between the fragments of a compressed message made wsproto
  treat the rest of the message as uncompressed (a text message then failed
  as invalid UTF-8): the message is now delivered intact;
* a message whose deflate stream ends with a BFINAL block (RFC 7692
  §7.2.3.4) broke the next message (1007): it now goes on from the window.

Not reached: a ``PerMessageDeflate`` subclass, another extension next to it,
or a ``FrameDecoder`` built directly with the extension keep wsproto's own
code (and its bugs); so do connections created before :func:`install`.
Uncompressed messages have no size limit: wsproto delivers their bytes as
they arrive, so what they cost in memory is the application's to decide.

Supported releases (:data:`SUPPORTED_VERSIONS`): wsproto 1.2 to 1.3.x, tested
on 1.2.0 and 1.3.2. The floor is the oldest line checked. The classes the
shim subclasses have the same methods and state from 1.2 on; what 1.2 does
otherwise is found by running wsproto's own code at install (``_Shapes``)
and followed: its masker returns bytes, an unmasked (or empty) payload is
delivered as a bytearray, a payload neither bytes nor str raises ValueError,
and a server's memoryview payload is framed by wsproto itself (which fails on
a strided one). A newer release installs only if its self-check (``_self_check``) passes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any, NamedTuple

from ..deflate_params import DeflateParams
from ..errors import ProtocolError
from ._patch import Leave, Plan, Replace, Shim, UnsupportedHostError, Versions, check_size_limit, expect_function

__all__ = [
    "HOST",
    "SUPPORTED_VERSIONS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "describe",
    "install",
    "is_installed",
    "uninstall",
]

#: distribution name of the host library
HOST = "wsproto"
#: the host releases this shim supports (a newer one is installed only if it passes the checks at install)
SUPPORTED_VERSIONS = Versions(oldest="1.2", newest="1.3")
#: the default of ``install(max_message_size=)``: 16 MiB, wscodec's own default and uvicorn's ``ws_max_size``
DEFAULT_MAX_MESSAGE_SIZE = 1 << 24

# What a compressed message may inflate to on connections created from now on (None: no limit).
_max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
# wsproto's settings for its compressor: zlib.Z_DEFAULT_COMPRESSION (which is level 6) and zlib's default memLevel.
_LEVEL = 6
_MEM_LEVEL = 8
# A budget no message reaches, for max_message_size=None.
_UNLIMITED = 1 << 62
_TAIL = b"\x00\x00\xff\xff"

# The replacement classes of each wscodec implementation, built once so that
# installing twice installs the very same objects.
_BUILT: dict[str, dict[str, type]] = {}


def _build(impl: ModuleType) -> dict[str, type]:
    """Create the replacement classes on top of wscodec implementation ``impl``."""
    fp: Any = importlib.import_module("wsproto.frame_protocol")
    conn: Any = importlib.import_module("wsproto.connection")
    events: Any = importlib.import_module("wsproto.events")
    HostDeflate = importlib.import_module("wsproto.extensions").PerMessageDeflate
    PerMessageDeflate = impl.PerMessageDeflate
    apply_mask = impl.apply_mask
    apply_mask_inplace = impl.apply_mask_inplace
    parse_header = impl.parse_header
    encode_frame = impl.encode_frame
    decode_text = impl.decode_text
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
    # Frames and Headers are made with tuple.__new__, which skips the NamedTuple's
    # Python-level __new__ (a third of a small frame's cost); the tuples are the same.
    no_rsv = fp.RsvBits(False, False, False)
    # wsproto's Opcode member for each wire value (wscodec's parse_header rejects the others).
    opcodes = {int(op): op for op in Opcode}
    framable = (bytes, bytearray, memoryview)
    message_types = (BytesMessage, TextMessage)
    # The shapes of the wsproto release installed (they differ across the supported range; see _shapes).
    shapes = _shapes(fp)
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
            return apply_mask(chunk, key[phase:] + key[:phase] if phase else key)  # type: ignore[no-any-return]

    class FrameDecoder(fp.FrameDecoder):  # type: ignore[misc]
        """wsproto's FrameDecoder, parsing, unmasking (and decoding text) with wscodec straight from the bytes received.

        Bytes received while nothing is buffered are held as they are
        (``_held``, from offset ``_held_at``) instead of being copied into
        wsproto's ``Buffer``; they move there only when a frame straddles two
        reads or wsproto's own code is to run.
        """

        header: Any  # wsproto's attributes, set by its __init__
        masker: Any

        def __init__(self, client: bool, extensions: Any = None) -> None:
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

        def process_buffer(self) -> Any:
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
                return decode_text(_view(src, pos, stop), key)  # type: ignore[no-any-return]
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

        def frame_inbound_header(self, proto: Any, opcode: Any, rsv: Any, payload_length: int) -> Any:
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
            super().__init__(client, [RsvRules()])
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

        def _begin(self, opcode: Any, rsv1: bool) -> bool:
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

        def process_buffer(self) -> Any:
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

    class MessageDecoder(fp.MessageDecoder):  # type: ignore[misc]
        """wsproto's MessageDecoder; a message that is one whole frame is decoded in one call."""

        def process_frame(self, frame: Any) -> Any:
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

    class FrameProtocol(fp.FrameProtocol):  # type: ignore[misc]
        """wsproto's FrameProtocol, framing with wscodec and decoding without generator layers."""

        _outbound_opcode: Any  # wsproto's attributes, set by its __init__
        _frame_decoder: Any
        _message_decoder: Any

        def __init__(self, client: bool, extensions: Any) -> None:
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
                    self._frame_decoder = DeflateFrameDecoder(client, self._deflate, _max_message_size)
            if type(self._frame_decoder) is FrameDecoder and type(self._message_decoder) is MessageDecoder:
                self._frame_decoder._messages = self._message_decoder

        def received_frames(self) -> Any:
            """Yield every frame the bytes received so far complete (as wsproto does)."""
            if self.extensions and self._deflate is None:
                yield from super().received_frames()
                return
            next_frame = self._next_frame
            frame = next_frame()
            while frame is not None:
                yield frame
                frame = next_frame()

        def _next_frame(self) -> Any:
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
                return frame
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
                    return super()._serialize_frame(opcode, payload, fin)  # type: ignore[no-any-return]
            elif self.extensions or type(payload) not in self._framable or type(fin) is not bool:
                return super()._serialize_frame(opcode, payload, fin)  # type: ignore[no-any-return]
            if opcode >= 8 and len(payload) > 125:
                raise ValueError("payload too long for control frame")
            return bytearray(encode_frame(opcode, payload, fin=fin, mask=self.client))

        def _deflated(self, opcode: Any, payload: Any, fin: bool) -> bytes:
            """A data frame compressed with wscodec: RSV1 on a message's first frame, as wsproto's extension.

            Each frame's bytes are flushed (a frame before the last keeps the
            ``00 00 FF FF`` its flush ends with): the concatenation is one
            deflate stream that inflates to the message, as RFC 7692 asks.
            """
            data = self._deflate.compress(payload)
            if not fin:
                data += _TAIL
            return encode_frame(  # type: ignore[no-any-return]
                opcode, data, fin=fin, rsv1=opcode is not CONTINUATION, mask=self.client
            )

        def _data_frame(self, payload: Any, fin: bool) -> bytes:
            """``send_data`` as bytes, framed in one pass (wsproto's checks and messages)."""
            if isinstance(payload, framable):
                opcode = BINARY
                if self._deflate is None and type(payload) not in self._framable:  # (wsproto's own code)
                    return bytes(super().send_data(payload, fin))
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

    class Connection(conn.Connection):  # type: ignore[misc]
        """wsproto's Connection, with a direct route for data messages on an open connection."""

        _direct = False

        def __init__(self, connection_type: Any, extensions: Any = None, trailing_data: bytes = b"") -> None:
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
                return self._proto._data_frame(event.data, event.message_finished)  # type: ignore[no-any-return]
            return super().send(event)  # type: ignore[no-any-return]

        def receive_data(self, data: bytes | None) -> None:
            """Feed bytes received from the peer (``None``: the transport closed)."""
            if data is not None and self._state is OPEN:
                self._proto.receive_bytes(data)
            else:
                super().receive_data(data)

        def events(self) -> Any:
            """Yield the events the bytes received so far produce (as wsproto does)."""
            if not self._direct:
                yield from super().events()
                return
            queued = self._events
            while queued:
                yield queued.popleft()
            next_frame = self._proto._next_frame
            try:
                frame = next_frame()
                while frame is not None:
                    opcode, payload, frame_finished, message_finished = frame
                    if opcode is BINARY:
                        yield BytesMessage(
                            data=payload, frame_finished=frame_finished, message_finished=message_finished
                        )
                    elif opcode is TEXT:
                        yield TextMessage(
                            data=payload, frame_finished=frame_finished, message_finished=message_finished
                        )
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

    return {
        "XorMaskerSimple": XorMaskerSimple,
        "FrameDecoder": FrameDecoder,
        "MessageDecoder": MessageDecoder,
        "FrameProtocol": FrameProtocol,
        "Connection": Connection,
    }


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


class _Shapes(NamedTuple):
    """What differs across the supported wsproto releases, found by running wsproto's own code."""

    #: the type of a payload wsproto unmasked (its ``XorMaskerSimple.process``): bytes before 1.3, then bytearray
    masked_type: type
    #: the type of an unmasked payload it delivers: bytearray before 1.3 (its buffer's slice), then bytes
    unmasked_type: type
    #: what ``send_data`` raises for a payload neither bytes nor str: ValueError before 1.3, then TypeError
    not_data_error: type[Exception]
    #: whether a server frames any memoryview (before 1.3 it concatenates it to the header, which fails for a
    #: strided one and counts elements, not bytes, for one of wider items: its own code runs for those)
    server_memoryview: bool


def _shapes(fp: Any) -> _Shapes:
    """The shapes of the installed wsproto (see ``_Shapes``); UnsupportedHostError for any other.

    Found once, on wsproto's own classes (the first call comes before any install).
    """
    global _found_shapes
    if _found_shapes is not None:
        return _found_shapes
    masked = fp.XorMaskerSimple(b"\x01\x02\x03\x04").process(bytearray(b"abcd"))
    decoder = fp.FrameDecoder(client=True)
    decoder.receive_bytes(b"\x82\x01x")
    frame = decoder.process_buffer()
    unmasked = type(getattr(frame, "payload", None))
    try:
        fp.FrameProtocol(True, []).send_data(0)
    except (TypeError, ValueError) as exc:
        error: type[Exception] = type(exc)
    else:
        error = Exception
    try:
        strided = memoryview(b"xyz")[::2]
        server_memoryview = bytes(fp.FrameProtocol(False, [])._serialize_frame(fp.Opcode.BINARY, strided))
    except TypeError:
        server_memoryview = b""
    if (
        bytes(masked) != b"````"
        or type(masked) not in (bytes, bytearray)
        or unmasked not in (bytes, bytearray)
        or frame.payload != b"x"
        or error not in (TypeError, ValueError)
        or server_memoryview not in (b"", b"\x82\x02xz")
    ):
        raise UnsupportedHostError("wsproto's frame payloads differ; this wsproto version is not supported")
    _found_shapes = _Shapes(type(masked), unmasked, error, bool(server_memoryview))
    return _found_shapes


_found_shapes: _Shapes | None = None


def _check_internals(fp: Any, conn: Any) -> None:
    """Raise UnsupportedHostError unless wsproto's internals are the ones the subclasses build on."""
    for owner, name, params in (
        (fp.XorMaskerSimple, "process", ("self", "data")),
        (fp.FrameDecoder, "__init__", ("self", "client", "extensions")),
        (fp.FrameDecoder, "receive_bytes", ("self", "data")),
        (fp.FrameDecoder, "process_buffer", ("self",)),
        (fp.FrameDecoder, "parse_header", ("self",)),
        (fp.MessageDecoder, "process_frame", ("self", "frame")),
        (fp.FrameProtocol, "__init__", ("self", "client", "extensions")),
        (fp.FrameProtocol, "received_frames", ("self",)),
        (fp.FrameProtocol, "send_data", ("self", "payload", "fin")),
        (fp.FrameProtocol, "_serialize_frame", ("self", "opcode", "payload", "fin")),
        (fp.FrameProtocol, "_process_close", ("self", "frame")),
        (conn.Connection, "__init__", ("self", "connection_type", "extensions", "trailing_data")),
        (conn.Connection, "send", ("self", "event")),
        (conn.Connection, "receive_data", ("self", "data")),
        (conn.Connection, "events", ("self",)),
    ):
        expect_function(owner, name, params)
    if fp.Frame._fields != (
        "opcode",
        "payload",
        "frame_finished",
        "message_finished",
    ) or fp.Header._fields != (
        "fin",
        "rsv",
        "opcode",
        "payload_len",
        "masking_key",
    ):
        raise UnsupportedHostError("wsproto's Frame or Header fields differ; this wsproto version is not supported")
    proto = conn.Connection(conn.ConnectionType.SERVER)._proto
    decoder: Any = getattr(proto, "_frame_decoder", None)
    state = (
        "_message_decoder",
        "_outbound_opcode",
        "extensions",
    )
    if (
        not all(hasattr(proto, name) for name in state)
        or type(getattr(decoder, "buffer", None)) is not fp.Buffer
        or type(decoder.buffer.buffer) is not bytearray
        or not all(hasattr(decoder, name) for name in ("header", "masker", "payload_required", "payload_consumed"))
    ):
        raise UnsupportedHostError("wsproto's frame protocol state differs; this wsproto version is not supported")
    # What the shim reads of a negotiated PerMessageDeflate to compress as it would.
    extension = importlib.import_module("wsproto.extensions").PerMessageDeflate()
    agreed = ("server_no_context_takeover", "client_no_context_takeover")
    if not all(type(getattr(extension, name, None)) is bool for name in agreed) or not all(
        getattr(extension, f"{side}_max_window_bits", None) == 15 for side in ("server", "client")
    ):
        raise UnsupportedHostError("wsproto's PerMessageDeflate differs; this wsproto version is not supported")


def _plan(impl: ModuleType) -> Plan:
    package = importlib.import_module("wsproto")
    fp = importlib.import_module("wsproto.frame_protocol")
    conn = importlib.import_module("wsproto.connection")
    handshake = importlib.import_module("wsproto.handshake")
    _check_internals(fp, conn)
    _shapes(fp)
    classes = _BUILT.get(impl.NAME)
    if classes is None:
        classes = _BUILT[impl.NAME] = _build(impl)
    on = f"wscodec ({impl.NAME})"
    direct = "a subclass with a direct route for data messages"
    framing = (
        f"a subclass framing with {on}, and compressing and inflating with its PerMessageDeflate "
        f"(bounded: max_message_size) where wsproto's PerMessageDeflate is negotiated"
    )
    plan: Plan = [
        Replace(
            fp,
            "FrameDecoder",
            classes["FrameDecoder"],
            f"a subclass parsing, unmasking and decoding whole-frame text with {on}",
        ),
        Replace(
            fp,
            "MessageDecoder",
            classes["MessageDecoder"],
            "a subclass decoding whole-frame text in one call",
        ),
        Replace(fp, "FrameProtocol", classes["FrameProtocol"], framing),
        Replace(conn, "FrameProtocol", classes["FrameProtocol"], framing),
        Replace(conn, "Connection", classes["Connection"], direct),
        Replace(handshake, "Connection", classes["Connection"], direct),
        Replace(package, "Connection", classes["Connection"], direct),
    ]
    if impl.NAME == "python":
        # Measured: the same bytes.translate technique, a little slower at 125 B-1 KiB for the extra checks.
        why = "pure-Python wscodec masks a bytearray no faster than wsproto's own bytes.translate masker"
        plan.append(Leave("wsproto.frame_protocol.XorMaskerSimple", why))
    else:
        plan.insert(0, Replace(fp, "XorMaskerSimple", classes["XorMaskerSimple"], f"a masker on {on}"))
    return plan


def _self_check(impl: ModuleType, originals: Mapping[str, object]) -> None:
    """Raise unless the replacements, installed, give wsproto's own results (for a release newer than the range).

    wsproto's own code is run from ``originals`` where it looks up none of the
    patched names (its server-side framing, its client-side decoder), the
    shim's through the patched names, on a few frames: whole and in odd chunks,
    text, binary, fragmented, control, invalid UTF-8, and compressed.
    """
    fp: Any = importlib.import_module("wsproto.frame_protocol")
    conn: Any = importlib.import_module("wsproto.connection")
    extensions: Any = importlib.import_module("wsproto.extensions")
    events: Any = importlib.import_module("wsproto.events")
    HostProtocol: Any = originals["wsproto.frame_protocol.FrameProtocol"]
    HostDecoder: Any = originals["wsproto.frame_protocol.FrameDecoder"]
    HostMessages: Any = originals["wsproto.frame_protocol.MessageDecoder"]
    Opcode = fp.Opcode
    HostMasker: Any = originals.get("wsproto.frame_protocol.XorMaskerSimple")
    if HostMasker is not None:
        for chunks in ([b"", b"a", b"bcdefg"], [bytes(range(256)) * 9, b"xyz"]):
            theirs, ours = HostMasker(b"\x01\x82\x33\xf4"), fp.XorMaskerSimple(b"\x01\x82\x33\xf4")
            for chunk in chunks:
                expected, got = theirs.process(bytearray(chunk)), ours.process(bytearray(chunk))
                if got != expected or type(got) is not type(expected):
                    raise UnsupportedHostError("XorMaskerSimple masks differently")

    def host_frame(opcode: Any, payload: Any, fin: bool = True, extensions: Any = ()) -> bytes:
        reference = object.__new__(HostProtocol)
        reference.client, reference.extensions = False, list(extensions)
        return bytes(HostProtocol._serialize_frame(reference, opcode, payload, fin))

    server = conn.Connection(conn.ConnectionType.SERVER)
    wire = b""
    for payload, fin in ((b"", True), (b"abc", True), ("h\u00e9llo", True), (bytes(200), False), (bytes(70000), True)):
        kind = events.TextMessage if isinstance(payload, str) else events.BytesMessage
        ours = bytes(server.send(kind(data=payload, message_finished=fin)))
        # (the last one continues the message the one before left unfinished)
        opcode = (
            Opcode.CONTINUATION if len(payload) == 70000 else Opcode.TEXT if isinstance(payload, str) else Opcode.BINARY
        )
        data = payload.encode() if isinstance(payload, str) else payload
        if ours != host_frame(opcode, data, fin):
            raise UnsupportedHostError("frames are serialized differently")
        wire += ours
    wire += host_frame(Opcode.PING, b"!") + host_frame(Opcode.TEXT, b"\xff") + host_frame(Opcode.CLOSE, b"\x03\xe8")

    def frames(decoder: Any, messages: Any, chunks: list[bytes]) -> list[Any]:
        out: list[Any] = []
        try:
            for chunk in chunks:
                decoder.receive_bytes(chunk)
                while (frame := decoder.process_buffer()) is not None:
                    if frame.opcode < 8:
                        frame = messages.process_frame(frame)
                    out.append((*frame, type(frame.payload)))
        except fp.ParseFailed as exc:
            out.append((str(exc), exc.code))
        return out

    for chunks in ([wire], [wire[i : i + 7] for i in range(0, len(wire), 7)]):
        expected = frames(HostDecoder(client=True), HostMessages(), chunks)
        if frames(fp.FrameDecoder(client=True), fp.MessageDecoder(), chunks) != expected:
            raise UnsupportedHostError("frames are received differently")
    # Compression: the same bytes as wsproto's extension for a whole message, and inflated back.
    Extension = extensions.PerMessageDeflate
    client_ext, server_ext, reference_ext = Extension(), Extension(), Extension()
    offer = client_ext.offer()
    reference_ext.accept(offer)
    client_ext.finalize(f"permessage-deflate; {server_ext.accept(offer)}")
    client = conn.Connection(conn.ConnectionType.CLIENT, [client_ext])
    server = conn.Connection(conn.ConnectionType.SERVER, [server_ext])
    text = '{"op": "update", "items": [1, 2, 3], "name": "wscodec"}' * 3
    for _ in range(2):
        data = bytes(server.send(events.TextMessage(data=text)))
        if data != host_frame(Opcode.TEXT, text.encode(), True, [reference_ext]):
            raise UnsupportedHostError("messages are compressed differently")
        client.receive_data(data)
        if [event.data for event in client.events()] != [text]:
            raise UnsupportedHostError("compressed messages are received differently")


def _options(*, max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE) -> None:
    """install()'s own keyword argument: check it and keep it for the connections created from now on."""
    global _max_message_size
    check_size_limit("max_message_size", max_message_size)
    _max_message_size = max_message_size


_SHIM = Shim(HOST, SUPPORTED_VERSIONS, _plan, _self_check, options=_options)

# The public functions come from the Shim; what is this host's own is what install() puts in place.
install, uninstall, is_installed, describe = _SHIM.functions(
    __name__,
    install="""Put wscodec under wsproto's connections (``impl``: default the active implementation).

    ``max_message_size``: how many bytes a compressed message may inflate to
    (default :data:`DEFAULT_MAX_MESSAGE_SIZE`, 16 MiB; ``None``: no limit, as
    wsproto). wsproto has no limit of its own, so a peer could make it inflate
    a few KiB into GiB; past this one the connection's ``events()`` yield a
    ``CloseConnection`` with code 1009 (as for wsproto's other ``ParseFailed``),
    and the excess is never inflated. Uncompressed messages are not limited:
    wsproto delivers their bytes as they arrive, so memory follows what the
    application reads. The limit applies to connections created after the call
    (calling again changes it for the next ones).

    Connections created before the call keep wsproto's own classes.""",
    uninstall="""Restore wsproto's own classes everywhere the shim replaced them.""",
)
