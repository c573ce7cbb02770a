"""Message reassembly on top of the frame loop (RFC 6455 §5.4, §5.5, §8.1), pure Python."""

from __future__ import annotations

import copy
import operator
from typing import Any, cast

from ._buffers import mask_key, readable
from ._rules import (
    DATA_INSIDE_FRAGMENTED,
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    FRAME_TOO_BIG,
    INVALID_UTF8_TEXT,
    MESSAGE_TOO_BIG,
    ORPHAN_CONTINUATION,
    RSV1_ON_CONTINUATION,
    RSV1_ON_CONTROL,
    SEND_DATA_ONLY,
    check_deflate,
    check_fragment_size,
    check_size_limit,
    compressed_frame_limit,
)
from ._values import Frame, Message
from .close import parse_close
from .deflate_py import PerMessageDeflate
from .enums import Opcode
from .errors import ProtocolError
from .frames_py import (
    _FrameFields,
    _FrameReader,
    _header_size,
    _resolve_mask,
    encode_frame,
)
from .mask_py import _xor
from .utf8_py import Utf8Validator, validate_utf8

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "MessageDecoder", "decode_text", "encode_message"]


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
        raise ProtocolError(1007, INVALID_UTF8_TEXT) from None


class _MessageFields(Message):
    """A :class:`Message` whose fields are writable: the decoder fills one, then makes it a Message (see frames_py)."""

    __slots__ = ()
    # the plain slots' setters (no Python call per write), not the base's refusal
    __setattr__ = object.__setattr__  # type: ignore[assignment]  # mypy: object.__setattr__ takes Any
    __delattr__ = object.__delattr__  # type: ignore[assignment, unused-ignore]  # (as mypy runs: stubtest flags it)

    def __init__(self, opcode: int, payload: bytes) -> None:
        self.opcode = opcode
        self.payload = payload


class MessageDecoder(_FrameReader):
    """Streaming message decoder: whole messages out, control frames where they arrive.

    ``max_message_size`` bounds a whole message, all fragments counted, and
    is checked from each header before its payload is buffered (1009); a
    compressed message is bounded as it is inflated. ``deflate``: the
    connection's :class:`PerMessageDeflate` when permessage-deflate was
    negotiated — RSV1 is then accepted on the first frame of a data message
    (1002 anywhere else), and corrupt compressed data is 1007. Text is
    validated as it arrives, inside a frame too. After a CLOSE frame nothing
    more is delivered.
    """

    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: int | None = None,
        deflate: Any = None,
    ) -> None:
        check_size_limit("max_message_size", max_message_size)
        check_deflate(deflate, client, PerMessageDeflate)
        self._max_compressed = compressed_frame_limit(max_message_size, max_frame_size)
        if max_frame_size is None:
            max_frame_size = DEFAULT_MAX_FRAME_SIZE if max_message_size is None else max_message_size
        super().__init__(client, max_frame_size, 4 if deflate is not None else 0)
        self._max_message = (1 << 63) - 1 if max_message_size is None else max_message_size
        self._deflate = deflate
        self._opcode: Opcode | None = None  # of the message being reassembled
        self._compressed = False  # whether that message is
        self._parts = bytearray()
        self._size = 0
        self._utf8 = Utf8Validator()
        # Fail fast inside a frame: the payload of an incomplete frame is judged as it arrives — text
        # on a copy of _utf8 (the frame is validated again once complete), compressed data inflated.
        self._peek = self._utf8
        self._peeked = 0  # payload bytes of the incomplete frame judged or inflated so far
        self._fresh: list[bytes] = []  # the streamed frame's pieces that arrived in this feed, masked

    def _accept(self, opcode: Opcode, b0: int, length: int) -> None:
        if b0 & 0x40:  # only when permessage-deflate was negotiated: the reader refuses it otherwise
            if opcode >= 8:
                raise ProtocolError(1002, RSV1_ON_CONTROL)
            if opcode == 0:
                raise ProtocolError(1002, RSV1_ON_CONTINUATION)
        if opcode < 8:
            if opcode == 0:
                if self._opcode is None:
                    raise ProtocolError(1002, ORPHAN_CONTINUATION)
            elif self._opcode is not None:
                raise ProtocolError(1002, DATA_INSIDE_FRAGMENTED)
            compressed = b0 & 0x40 if opcode else self._compressed
            limit = self._max_compressed if compressed else self._max_frame
            if length > limit:
                raise ProtocolError(1009, FRAME_TOO_BIG.format(length, limit))
            # A compressed message is bounded by what it inflates to, as it inflates.
            if not compressed and self._size + length > self._max_message:
                raise ProtocolError(1009, MESSAGE_TOO_BIG.format(self._size + length, self._max_message))

    def _fail(self, exc: ProtocolError, out: list[Any]) -> ProtocolError:
        self._parts = bytearray()  # a failed decoder holds nothing
        return super()._fail(exc, out)

    def _inflated(self, data: bytes, text: bool) -> None:
        """Add inflated bytes to the message, validating text as it is produced."""
        if text and not self._utf8.feed(data):
            raise ProtocolError(1007, INVALID_UTF8_TEXT)
        self._parts += data
        self._size += len(data)

    def _take(self, b0: int, key: bytes | None, data: Any, end: bool) -> None:
        """Judge text, or inflate, more payload bytes of the current data frame at once (fail fast);
        ``end``: they end the message. ``key``: the mask key while ``data`` is still masked. Only
        frames that :meth:`_judged` says are compressed or text come here.
        """
        compressed, text = self._judged(b0)
        if key is not None:
            phase = self._peeked & 3
            data = _xor(data, key[phase:] + key[:phase])
        if compressed:
            self._inflated(self._deflate._inflate(data, self._max_message - self._size, end), text)
        else:
            if not self._peeked:
                self._peek = copy.copy(self._utf8)
            if not self._peek.feed(data):
                raise ProtocolError(1007, INVALID_UTF8_TEXT)
        self._peeked += len(data)

    def _judged(self, b0: int) -> tuple[int, bool]:
        """Whether the payload of the data frame starting with ``b0`` is inflated, and whether it is text."""
        opcode = b0 & 0x0F
        return (b0 & 0x40 if opcode else self._compressed), (opcode or self._opcode) == Opcode.TEXT

    def _arrived(self, b0: int, piece: Any) -> None:
        # Taken at the end of the feed, in one piece (the compiled decoder's schedule); the pieces of
        # an uncompressed binary frame are not (nothing to judge): no copy of them.
        if any(self._judged(b0)):
            self._fresh.append(bytes(piece))

    def _streaming(self) -> None:
        fresh, self._fresh = self._fresh, []
        head = self._stream
        if head is None or not fresh:
            return
        data = fresh[0] if len(fresh) == 1 else b"".join(fresh)
        received = sum(map(len, self._pieces))
        skip = self._peeked - (received - len(data))  # bytes of these already taken (from the buffer)
        if skip < len(data):
            self._take(head[0], head[2], data[skip:] if skip > 0 else data, False)

    def _pending(self, buf: bytearray) -> None:
        if len(buf) < 2 or buf[0] & 0x0F >= 8:
            return
        size = _header_size(buf[1])  # its rules were checked when the header was read
        start = size + self._peeked
        if len(buf) > start and any(self._judged(buf[0])):  # binary, uncompressed: nothing to judge
            self._take(buf[0], bytes(buf[size - 4 : size]) if buf[1] & 0x80 else None, buf[start:], False)

    def _deliver(self, b0: int, opcode: Opcode, payload: bytes, out: list[Any]) -> None:
        fin = b0 & 0x80
        if opcode >= 8:
            if opcode == Opcode.CLOSE:
                parse_close(payload)
                self._closed = True
            frame = _FrameFields(True, opcode, payload)
            frame.__class__ = Frame  # type: ignore[assignment]  # to the base class: read-only from here on
            out.append(frame)
            return
        done, self._peeked = self._peeked, 0
        if opcode:  # TEXT or BINARY starts a message
            self._opcode = opcode
            self._compressed = bool(b0 & 0x40)
        started = cast(Opcode, self._opcode)  # _accept refused a continuation without a start
        utf8 = self._utf8
        if self._compressed:
            text = started == Opcode.TEXT
            if fin and not self._size:
                # The whole message inflates in this one call: validated whole, no reassembly.
                payload = self._deflate._inflate(payload[done:] if done else payload, self._max_message, True)
                if text and not validate_utf8(payload):
                    raise ProtocolError(1007, INVALID_UTF8_TEXT)
            else:
                self._peeked = done
                self._take(b0, None, payload[done:] if done else payload, bool(fin))
                self._peeked = 0
                if not fin:
                    return
                if text and not utf8.complete:
                    raise ProtocolError(1007, INVALID_UTF8_TEXT)
                payload = bytes(self._parts)
                self._parts = bytearray()
        else:
            if started == Opcode.TEXT and (not utf8.feed(payload) or (fin and not utf8.complete)):
                raise ProtocolError(1007, INVALID_UTF8_TEXT)
            if not fin:
                self._parts += payload
                self._size += len(payload)
                return
            if self._parts:
                self._parts += payload
                payload = bytes(self._parts)
                self._parts = bytearray()
        message = _MessageFields(started, payload)
        message.__class__ = Message  # type: ignore[assignment]  # to the base class: read-only from here on
        out.append(message)
        self._opcode = None
        self._size = 0
        utf8.reset()

    def feed(self, data: object) -> list[Message | Frame]:
        """Return the messages and control frames completed by ``data``, in order.

        Raises :class:`ProtocolError` (1002, 1007, 1009) on a violation, with
        everything completed before it in this call on ``.frames``.
        """
        return self._feed(data)


def encode_message(
    opcode: int,
    payload: object,
    *,
    mask: object = None,
    deflate: Any = None,
    fragment_size: int | None = None,
) -> bytes:
    """Return the wire bytes of one whole data message.

    ``opcode``: TEXT or BINARY (``ValueError`` otherwise: control frames are
    single frames, see :func:`encode_frame`). ``payload``: any bytes-like
    object, or a ``str`` (sent as UTF-8). ``deflate``: the connection's
    :class:`PerMessageDeflate` — the message is compressed and its first
    frame has RSV1 set. ``fragment_size``: split the (compressed) payload into
    frames of at most that many bytes (``None``: one frame). ``mask`` as for
    :func:`encode_frame`; ``True`` draws a fresh key for every frame. Every
    argument is checked before anything is compressed, so a call that raises
    leaves the compressor's window untouched.
    """
    op = operator.index(opcode)
    if op != Opcode.TEXT and op != Opcode.BINARY:
        raise ValueError(SEND_DATA_ONLY.format(opcode))
    data: Any = payload.encode("utf-8") if isinstance(payload, str) else readable(payload)
    fragment_size = check_fragment_size(fragment_size)
    if mask is not None and mask is not False and mask is not True:
        mask = _resolve_mask(mask)  # a bad key raises here, before the compressor sees the message
    if deflate is not None:
        check_deflate(deflate, None, PerMessageDeflate)
        data = deflate.compress(data)
    if fragment_size is None or len(data) <= fragment_size:
        return encode_frame(op, data, rsv1=deflate is not None, mask=mask)
    view = memoryview(data)
    last = len(data) - fragment_size
    frames = [
        encode_frame(
            0 if pos else op,
            view[pos : pos + fragment_size],
            fin=pos >= last,
            rsv1=not pos and deflate is not None,
            mask=mask,
        )
        for pos in range(0, len(data), fragment_size)
    ]
    return b"".join(frames)
