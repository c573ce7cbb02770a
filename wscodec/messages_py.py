"""Message reassembly on top of the frame loop (RFC 6455 §5.4, §5.5, §8.1), pure Python."""

from __future__ import annotations

import copy
from typing import Any, cast

from ._buffers import mask_key, readable
from .close import parse_close
from .enums import Opcode
from .errors import ProtocolError
from .frames_py import DEFAULT_MAX_FRAME_SIZE, Frame, _FrameReader, _header_size
from .mask_py import _xor
from .utf8_py import Utf8Validator

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "Message", "MessageDecoder", "decode_text"]

#: Default largest message (all fragments together) a MessageDecoder accepts (16 MiB).
DEFAULT_MAX_MESSAGE_SIZE = 1 << 24


def decode_text(payload: object, mask: object = None) -> str:
    """Return a whole text payload (any bytes-like object) as ``str``.

    ``mask``: the 4-byte key the payload is masked with (``ValueError`` if it
    is not 4 bytes), or ``None`` if it is not masked. Decoding is strict, as
    :func:`validate_utf8` judges: ``ProtocolError`` 1007 if the payload is not
    valid UTF-8. The compiled version unmasks an ASCII payload straight into
    its ``str`` (one pass); this one unmasks, then decodes.
    """
    data = readable(payload)
    if mask is not None:
        data = _xor(data, mask_key(mask))
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(1007, "invalid UTF-8 in text message") from None


class Message:
    """A whole data message: ``opcode`` (TEXT or BINARY) and ``payload`` bytes.

    A TEXT payload has already been validated as UTF-8; it stays bytes (for
    orjson, msgspec and the like) until :attr:`text` decodes it.
    """

    __slots__ = ("opcode", "payload")

    def __init__(self, opcode: int, payload: bytes) -> None:
        self.opcode = opcode
        self.payload = payload

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8."""
        return self.payload.decode("utf-8")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.opcode == other.opcode and self.payload == other.payload

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        more = "..." if len(self.payload) > 32 else ""
        return f"Message(opcode={self.opcode!r}, payload={self.payload[:32]!r}{more} ({len(self.payload)} bytes))"


class MessageDecoder(_FrameReader):
    """Streaming message decoder: whole messages out, control frames where they arrive.

    ``max_message_size`` bounds a whole message, all fragments counted, and
    is checked from each header before its payload is buffered (1009).
    After a CLOSE frame nothing more is delivered.
    """

    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: int | None = None,
    ) -> None:
        if max_message_size is not None and max_message_size < 0:
            raise ValueError("max_message_size must be >= 0 or None")
        if max_frame_size is None:
            max_frame_size = DEFAULT_MAX_FRAME_SIZE if max_message_size is None else max_message_size
        super().__init__(client, max_frame_size, 0)
        self._max_message = (1 << 63) - 1 if max_message_size is None else max_message_size
        self._opcode: Opcode | None = None  # of the message being reassembled
        self._parts = bytearray()
        self._size = 0
        self._utf8 = Utf8Validator()
        # Fail fast inside a frame: the text of an incomplete frame is judged as it arrives, on a copy
        # of _utf8 (the frame is validated again once complete).
        self._peek = self._utf8
        self._peeked = 0  # payload bytes of the incomplete frame judged so far

    def _is_text(self, opcode: int) -> bool:
        """True if a data frame with this opcode carries text (a TEXT frame or a text message's continuation)."""
        return opcode == Opcode.TEXT or (opcode == 0 and self._opcode == Opcode.TEXT)

    def _judge(self, data: Any, key: bytes | None) -> None:
        """Validate more payload bytes of the incomplete text frame (masked with ``key``, if given)."""
        if key is not None:
            phase = self._peeked & 3
            data = _xor(data, key[phase:] + key[:phase])
        if not self._peeked:
            self._peek = copy.copy(self._utf8)
        self._peeked += len(data)
        if not self._peek.feed(data):
            raise ProtocolError(1007, "invalid UTF-8 in text message")

    def _arrived(self, opcode: Opcode, key: bytes | None, piece: Any, offset: int) -> None:
        if offset == 0:
            self._peeked = 0
        if self._is_text(opcode):
            self._judge(piece, key)

    def _pending(self, buf: bytearray) -> None:
        if len(buf) < 2 or not self._is_text(buf[0] & 0x0F):
            return
        size = _header_size(buf[1])  # its rules were checked when the header was read
        start = size + self._peeked
        if len(buf) > start:
            self._judge(buf[start:], bytes(buf[size - 4 : size]) if buf[1] & 0x80 else None)

    def _accept(self, opcode: Opcode, fin: bool, length: int) -> None:
        if opcode < 8:
            if opcode == 0:
                if self._opcode is None:
                    raise ProtocolError(1002, "continuation frame without a message to continue")
            elif self._opcode is not None:
                raise ProtocolError(1002, "new data frame inside a fragmented message")
            if length > self._max_frame:
                raise ProtocolError(1009, f"frame payload of {length} bytes exceeds the limit of {self._max_frame}")
            if self._size + length > self._max_message:
                raise ProtocolError(
                    1009, f"message of {self._size + length} bytes or more exceeds the limit of {self._max_message}"
                )

    def _fail(self, exc: ProtocolError, out: list[Any]) -> ProtocolError:
        self._parts = bytearray()  # a failed decoder holds nothing
        return super()._fail(exc, out)

    def _deliver(self, b0: int, opcode: Opcode, payload: bytes, out: list[Any]) -> None:
        fin = b0 & 0x80
        if opcode >= 8:
            if opcode == Opcode.CLOSE:
                parse_close(payload)
                self._closed = True
            out.append(Frame(True, opcode, payload))
            return
        self._peeked = 0
        if opcode:  # TEXT or BINARY starts a message
            self._opcode = opcode
        started = cast(Opcode, self._opcode)  # _accept refused a continuation without a start
        if started == Opcode.TEXT:
            utf8 = self._utf8
            if not utf8.feed(payload) or (fin and not utf8.complete):
                raise ProtocolError(1007, "invalid UTF-8 in text message")
        if fin:
            if self._parts:
                self._parts += payload
                payload = bytes(self._parts)
                self._parts = bytearray()
            out.append(Message(started, payload))
            self._opcode = None
            self._size = 0
            self._utf8.reset()
        else:
            self._parts += payload
            self._size += len(payload)

    def feed(self, data: object) -> list[Message | Frame]:
        """Return the messages and control frames completed by ``data``, in order.

        Raises :class:`ProtocolError` (1002, 1007, 1009) on a violation, with
        everything completed before it in this call on ``.frames``.
        """
        return self._feed(data)
