"""Frame headers, frame encoding and the streaming frame decoder (RFC 6455 §5), pure Python.

Policies both implementations share:

* Non-minimal length encodings (a 16-bit length under 126, a 64-bit length
  under 65536) are rejected with 1002, as RFC 6455 §5.2 says they MUST NOT
  be sent.
* Every rule checkable from a header is checked as soon as the header bytes
  are there, in this order: RSV bits, reserved opcode, control-frame FIN and
  length, mask direction, 64-bit length top bit, minimal length, size limit.
  No payload byte is buffered for a frame that breaks one.
"""

from __future__ import annotations

import operator
import os
from typing import Any

from ._buffers import readable
from ._rules import (
    DEFAULT_MAX_FRAME_SIZE,
    FEED_IN_ANOTHER_THREAD,
    FRAME_TOO_BIG,
    LENGTH_NEGATIVE,
    LENGTH_TOO_BIG,
    MASK_NOT_4_BYTES,
    MASKED_FROM_SERVER,
    OFFSET_NEGATIVE,
    OPCODES,
    RSV_NOT_NEGOTIATED,
    UNMASKED_FROM_CLIENT,
    check_extended_length,
    check_rsv_allowed,
    check_send_start,
    check_size_limit,
    check_start,
)
from ._values import Frame, FrameHeader
from .enums import Opcode
from .errors import ProtocolError
from .mask_py import _tables, _xor

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "parse_header",
    "encode_header",
    "encode_frame",
    "FrameDecoder",
]


class _HeaderFields(FrameHeader):
    """A :class:`FrameHeader` whose fields are writable: a decoder fills one, then makes it a FrameHeader.

    Assigning ``__class__`` (to the base: the same layout) costs far less than
    FrameHeader's own __init__, which writes each field through its setter.
    """

    __slots__ = ()
    # the plain slots' setters (no Python call per write), not the base's refusal
    __setattr__ = object.__setattr__  # type: ignore[assignment]  # mypy: object.__setattr__ takes Any
    __delattr__ = object.__delattr__  # type: ignore[assignment, unused-ignore]  # (as mypy runs: stubtest flags it)

    def __init__(
        self,
        fin: bool,
        rsv1: bool,
        rsv2: bool,
        rsv3: bool,
        opcode: Opcode,
        masked: bool,
        length: int,
        mask: bytes | None,
        header_size: int,
    ) -> None:
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.masked = masked
        self.length = length
        self.mask = mask
        self.header_size = header_size


class _FrameFields(Frame):
    """A :class:`Frame` whose fields are writable: a decoder fills one, then makes it a Frame (as for headers)."""

    __slots__ = ()
    # the plain slots' setters (no Python call per write), not the base's refusal
    __setattr__ = object.__setattr__  # type: ignore[assignment]  # mypy: object.__setattr__ takes Any
    __delattr__ = object.__delattr__  # type: ignore[assignment, unused-ignore]  # (as mypy runs: stubtest flags it)

    def __init__(
        self, fin: bool, opcode: int, payload: bytes, rsv1: bool = False, rsv2: bool = False, rsv3: bool = False
    ) -> None:
        self.fin = fin
        self.opcode = opcode
        self.payload = payload
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3


def _header_size(b1: int) -> int:
    size = (2, 4, 10)[((b1 & 0x7F) > 125) + ((b1 & 0x7F) == 127)]
    return size + 4 if b1 & 0x80 else size


def _extended_length(buf: Any, pos: int, b1: int) -> int:
    """The payload length of a header known to be complete; checks the 64-bit and minimal-length rules."""
    code = b1 & 0x7F
    if code < 126:
        return code
    n = int((buf[pos + 2] << 8) | buf[pos + 3]) if code == 126 else int.from_bytes(buf[pos + 2 : pos + 10], "big")
    check_extended_length(code, n)
    return n


def parse_header(data: object, offset: int = 0) -> FrameHeader | None:
    """Parse the frame header at ``offset``; ``None`` if more bytes are needed.

    Raises :class:`ProtocolError` (1002) for what no header may contain: a
    reserved opcode, a fragmented or over-long control frame, a 64-bit length
    with the top bit set, a non-minimal length. RSV bits and masking are
    reported, not judged: which are allowed depends on the connection.
    """
    buf = readable(data)
    if offset < 0:
        raise ValueError(OFFSET_NEGATIVE)
    avail = len(buf) - offset
    if avail < 2:
        return None
    b0 = buf[offset]
    b1 = buf[offset + 1]
    check_start(b0, b1)
    opcode: Opcode = OPCODES[b0 & 0x0F]  # type: ignore[assignment]  # check_start let only defined ones by
    size = _header_size(b1)
    if avail < size:
        return None
    length = _extended_length(buf, offset, b1)
    masked = bool(b1 & 0x80)
    header = _HeaderFields(
        bool(b0 & 0x80),
        bool(b0 & 0x40),
        bool(b0 & 0x20),
        bool(b0 & 0x10),
        opcode,
        masked,
        length,
        bytes(buf[offset + size - 4 : offset + size]) if masked else None,
        size,
    )
    header.__class__ = FrameHeader  # type: ignore[assignment]  # to the base class: read-only from here on
    return header


# ---------------------------------------------------------------- encoding

_POOL_SIZE = 4096  # bytes of CSPRNG output drawn per system call (1024 mask keys)


class _MaskPool:
    """Mask keys from the OS CSPRNG, drawn a block at a time so a small frame costs no system call."""

    __slots__ = ("_block", "_pos")

    def __init__(self) -> None:
        self._block = b""
        self._pos = 0

    def forget(self) -> None:
        """After fork(): the child must not reuse the keys left in its parent's pool."""
        self._block = b""
        self._pos = 0

    def key(self) -> bytes:
        pos = self._pos
        if pos + 4 > len(self._block):
            self._block = os.urandom(_POOL_SIZE)
            pos = 0
        self._pos = pos + 4
        return self._block[pos : pos + 4]


_mask_pool = _MaskPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mask_pool.forget)


def _resolve_mask(mask: object) -> bytes | None:
    if mask is None or mask is False:
        return None
    if mask is True:
        return _mask_pool.key()
    key = readable(mask)
    if len(key) != 4:
        raise ValueError(MASK_NOT_4_BYTES)
    return bytes(key)


def _first_byte(opcode: int, length: int, fin: bool, rsv1: bool, rsv2: bool, rsv3: bool) -> int:
    op = operator.index(opcode)
    check_send_start(opcode, op, fin, length)
    return (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | op


def _pack_header(b0: int, length: int, key: bytes | None) -> bytes:
    mbit = 0x80 if key is not None else 0
    if length < 126:
        head = bytes((b0, mbit | length))
    elif length < 0x10000:
        head = bytes((b0, mbit | 126)) + length.to_bytes(2, "big")
    elif length < 1 << 63:
        head = bytes((b0, mbit | 127)) + length.to_bytes(8, "big")
    else:
        raise ValueError(LENGTH_TOO_BIG)
    return head + key if key is not None else head


def encode_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: object = None,
) -> bytes:
    """Return the header of a frame whose payload is ``length`` bytes, for vectored writes.

    With ``mask=True`` a fresh key is drawn and is the header's last 4 bytes;
    the caller masks the payload with it (``apply_mask``). ``ValueError`` for
    a reserved opcode, a fragmented or over-long control frame, a negative or
    ≥ 2**63 length, or a key that is not 4 bytes; ``TypeError`` for a
    non-integer opcode or length.
    """
    length = operator.index(length)
    if length < 0:
        raise ValueError(LENGTH_NEGATIVE)
    b0 = _first_byte(opcode, length, fin, rsv1, rsv2, rsv3)
    return _pack_header(b0, length, _resolve_mask(mask))


def encode_frame(
    opcode: int,
    payload: object,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: object = None,
) -> bytes:
    """Return a whole frame: header, then ``payload`` masked if asked.

    ``payload``: any bytes-like object, or a ``str``, which is sent as its
    UTF-8 encoding (``UnicodeEncodeError`` for a lone surrogate).
    ``mask``: ``None``/``False`` unmasked (server side); ``True`` a fresh key
    from the OS CSPRNG (client side); 4 bytes: that key. ``TypeError`` for
    any other payload, ``ValueError`` as for :func:`encode_header`.
    """
    data = payload.encode("utf-8") if isinstance(payload, str) else readable(payload)
    length = len(data)
    b0 = _first_byte(opcode, length, fin, rsv1, rsv2, rsv3)
    key = _resolve_mask(mask)
    head = _pack_header(b0, length, key)
    if key is None:
        return head + data
    return head + _xor(data, key)


# ---------------------------------------------------------------- decoding


class _FrameReader:
    """The streaming header/payload loop shared by FrameDecoder and MessageDecoder.

    Subclasses judge each header in :meth:`_accept` (before any of its
    payload is buffered) and consume each complete frame in :meth:`_deliver`.

    Small frames split across reads wait in one bytearray until complete. A
    large one (``_STREAM_MIN``) is "streamed": from its header on, each read's
    share of its payload is kept as a piece, joined once at the end — growing
    one bytearray read after read would copy it again at every resize.
    """

    def __init__(self, client: bool, max_frame_size: int | None, rsv_allowed: int) -> None:
        check_size_limit("max_frame_size", max_frame_size)
        rsv_allowed = check_rsv_allowed(rsv_allowed)
        self._client = bool(client)
        self._max_frame = (1 << 63) - 1 if max_frame_size is None else max_frame_size
        self._rsv_refused = (~rsv_allowed & 7) << 4
        self._buf = bytearray()
        self._error: tuple[int, str] | None = None
        self._closed = False  # set by MessageDecoder after a CLOSE frame: ignore all that follows
        self._busy = False  # a feed() is running
        # The streamed frame: its first byte, opcode, mask key and header size; the pieces of
        # its payload received so far and how many bytes of it are still to come.
        self._stream: tuple[int, Opcode, bytes | None, int] | None = None
        self._pieces: list[bytes | bytearray] = []
        self._missing = 0

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        if self._stream is not None:
            return self._stream[3] + sum(map(len, self._pieces))
        return len(self._buf)

    def _accept(self, opcode: Opcode, b0: int, length: int) -> None:
        if length > self._max_frame:
            raise ProtocolError(1009, FRAME_TOO_BIG.format(length, self._max_frame))

    def _deliver(self, b0: int, opcode: Opcode, payload: bytes, out: list[Any]) -> None:
        raise NotImplementedError

    def _arrived(self, b0: int, piece: Any) -> None:
        """Hook: payload bytes of an incomplete frame arrived (still masked); ``b0``: its first byte.

        MessageDecoder judges them at once (fail fast); a frame decoder has nothing to judge.
        """

    def _fail(self, exc: ProtocolError, out: list[Any]) -> ProtocolError:
        exc.frames = out
        self._error = (exc.code, exc.reason)
        self._buf = bytearray()  # drop what was buffered: a failed decoder holds nothing
        self._stream = None
        self._pieces = []
        return exc

    def _feed(self, data: object) -> list[Any]:
        # A second thread feeding the same decoder is refused, as the compiled decoder does.
        if self._busy:
            raise RuntimeError(FEED_IN_ANOTHER_THREAD)
        self._busy = True
        try:
            return self._feed_locked(data)
        finally:
            self._busy = False

    def _feed_locked(self, data: object) -> list[Any]:
        if self._error is not None:
            readable(data)
            raise ProtocolError(*self._error)
        out: list[Any] = []
        chunk: Any = readable(data)
        if self._closed:
            return out
        try:
            if self._stream is not None:
                taken = self._continue_stream(chunk, out)
                if taken < len(chunk):
                    self._feed_frames(memoryview(chunk)[taken:], out)
            else:
                self._feed_frames(chunk, out)
            if self._stream is not None:
                self._streaming()
        except ProtocolError as exc:
            raise self._fail(exc, out) from None
        return out

    def _feed_frames(self, chunk: Any, out: list[Any]) -> None:
        buf = self._buf
        if not buf:
            pos = self._parse(chunk, out, None)
            if pos < len(chunk) and self._stream is None:
                self._buf = buf = bytearray(chunk[pos:])
                self._pending(buf)
            return
        buf += chunk
        with memoryview(buf) as view:
            pos = self._parse(view, out, buf)
        del buf[:pos]
        if buf and self._stream is None:
            self._pending(buf)

    def _pending(self, buf: bytearray) -> None:
        """Hook: a feed left ``buf`` holding an incomplete frame (MessageDecoder judges its payload)."""

    def _streaming(self) -> None:
        """Hook: a feed ended with a frame streaming (MessageDecoder judges what :meth:`_arrived` got)."""

    def _start_stream(self, view: Any, pos: int, size: int, opcode: Opcode, length: int) -> None:
        """Begin streaming the large frame whose header is at ``pos``, with the rest of ``view``."""
        start = pos + size
        key = bytes(view[start - 4 : start]) if view[pos + 1] & 0x80 else None
        self._stream = (view[pos], opcode, key, size)
        self._pieces = []
        self._keep(view[start:])
        self._missing = length - (len(view) - start)
        self._arrived(view[pos], view[start:])

    def _keep(self, piece: Any) -> None:
        """Add a piece of the streamed payload: large ones as they are, small ones merged.

        Merging keeps a dribble of 1-byte reads from costing a Python object per byte.
        """
        pieces = self._pieces
        if len(piece) >= _PIECE_MIN:
            pieces.append(piece if type(piece) is bytes else bytes(piece))
        elif pieces and type(pieces[-1]) is bytearray:
            pieces[-1] += piece
        else:
            pieces.append(bytearray(piece))

    def _continue_stream(self, chunk: Any, out: list[Any]) -> int:
        """Take the streamed frame's next bytes from ``chunk``; deliver it when complete."""
        take = min(self._missing, len(chunk))
        piece = chunk if take == len(chunk) else chunk[:take]
        self._keep(piece)
        self._missing -= take
        head = self._stream
        if self._missing and head is not None:
            self._arrived(head[0], piece)
        elif head is not None:
            b0, opcode, key, _ = head
            pieces, self._stream, self._pieces = self._pieces, None, []
            if key is None:
                payload = b"".join(pieces)
            else:
                joined = bytearray().join(pieces)
                payload = _unmask_in_place(joined, 0, len(joined), key)
            self._deliver(b0, opcode, payload, out)
        return take

    def _parse(self, view: Any, out: list[Any], own: bytearray | None) -> int:
        """Consume every complete frame in ``view``; return the offset of the first unconsumed byte.

        ``own`` is the decoder's own buffer when ``view`` shows it: it may be unmasked in place.
        """
        end = len(view)
        pos = 0
        client = self._client
        refused = self._rsv_refused
        while end - pos >= 2 and not self._closed:
            b0 = view[pos]
            b1 = view[pos + 1]
            if b0 & refused:
                raise ProtocolError(1002, RSV_NOT_NEGOTIATED)
            check_start(b0, b1)
            opcode = OPCODES[b0 & 0x0F]
            if client:
                if b1 & 0x80:
                    raise ProtocolError(1002, MASKED_FROM_SERVER)
            elif not b1 & 0x80:
                raise ProtocolError(1002, UNMASKED_FROM_CLIENT)
            size = _header_size(b1)
            if end - pos < size:
                break
            length = _extended_length(view, pos, b1)
            self._accept(opcode, b0, length)
            start = pos + size
            if end - start < length:
                if length >= _STREAM_MIN:
                    self._start_stream(view, pos, size, opcode, length)
                    return end
                break
            stop = start + length
            if client:
                payload = bytes(view[start:stop])
            elif own is not None and length > _UNMASK_IN_PLACE_MIN:
                payload = _unmask_in_place(own, start, stop, bytes(view[start - 4 : start]))
            else:
                payload = _xor(view[start:stop], bytes(view[start - 4 : start]))
            self._deliver(b0, opcode, payload, out)
            pos = stop
        return end if self._closed else pos


# Payloads above this size are unmasked inside the receive buffer (measured crossover).
_UNMASK_IN_PLACE_MIN = 4096
# A frame at least this large that arrives over several reads is streamed (see _FrameReader).
_STREAM_MIN = 1 << 15
# Pieces of a streamed payload smaller than this are merged into one bytearray.
_PIECE_MIN = 4096


def _unmask_in_place(buf: bytearray, start: int, stop: int, key: bytes) -> bytes:
    """Unmask a large payload inside the receive buffer, then copy it out once.

    Four stride-4 ``translate`` passes run at C speed and save the two
    copies a separate masking step would make. Same-length slice assignment
    does not resize ``buf``, so it is allowed while a memoryview of it lives.
    """
    tables = _tables()
    for i in range(4):
        buf[start + i : stop : 4] = buf[start + i : stop : 4].translate(tables[key[i]])
    with memoryview(buf) as view:
        return view[start:stop].tobytes()


class FrameDecoder(_FrameReader):
    """Streaming frame decoder: feed it bytes in any chunking, get back every frame they complete.

    ``client=True`` for a decoder on the client side (frames must arrive
    unmasked); a server's decoder requires masked frames. ``max_frame_size``
    bounds one frame's payload (``None``: no limit but the RFC's 2**63 - 1);
    ``rsv_allowed`` is the set of RSV bits an extension negotiated (RSV1=4,
    RSV2=2, RSV3=1).
    """

    def __init__(
        self,
        *,
        client: bool = False,
        max_frame_size: int | None = DEFAULT_MAX_FRAME_SIZE,
        rsv_allowed: int = 0,
    ) -> None:
        super().__init__(client, max_frame_size, rsv_allowed)

    def _deliver(self, b0: int, opcode: Opcode, payload: bytes, out: list[Any]) -> None:
        frame = _FrameFields(bool(b0 & 0x80), opcode, payload, bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10))
        frame.__class__ = Frame  # type: ignore[assignment]  # to the base class: read-only from here on
        out.append(frame)

    def feed(self, data: object) -> list[Frame]:
        """Return every frame completed by ``data``, payloads unmasked.

        Raises :class:`ProtocolError` on a violation, with the frames completed
        before it in this call on ``.frames``; every later call raises again.
        """
        return self._feed(data)
