"""permessage-deflate (RFC 7692 §7): one connection's compressor and decompressor, pure Python.

The deflate itself is done by a real library (CPython's zlib, or zlib-ng or
isal when installed); this module keeps the RFC's rules around it:

* a message is compressed whole and sent without the ``00 00 FF FF`` tail
  its sync flush ends with; the receiver appends the tail again;
* with context takeover the window runs on from message to message, in
  each direction independently; without it every message starts afresh;
* inflation is bounded: it never produces more than the caller's budget
  plus one byte, so a bomb costs at most the limit in memory;
* a DEFLATE block with BFINAL set ends that message's stream but not the
  shared window (§7.2.3.4): the next message may still refer back into it.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType
from typing import Any

from ._buffers import readable
from ._rules import (
    COMPRESSED_INVALID,
    COMPRESSED_TRAILING,
    COMPRESSED_UNFINISHED,
    COMPRESSING_IN_ANOTHER_THREAD,
    INFLATED_TOO_BIG,
    INFLATING_IN_ANOTHER_THREAD,
)
from .errors import ProtocolError

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "PerMessageDeflate", "available_backends"]

#: The deflate implementations, by name: the module providing zlib's API for each.
BACKENDS = {"zlib": "zlib", "zlib-ng": "zlib_ng.zlib_ng", "isal": "isal.isal_zlib"}

#: The backend used when none is asked for. CPython's zlib: it is always there, it costs the least
#: memory per connection (zlib-ng's and isal's compressors allocate 4-7 times more at small windows),
#: and it is as fast as the others on the small messages most connections carry. isal is the choice
#: for throughput on large messages (several times faster to compress, output slightly larger).
DEFAULT_BACKEND = "zlib"

_TAIL = b"\x00\x00\xff\xff"
# A message's last compressed bytes up to this size are joined with the tail: one inflate call, not two.
_JOIN_MAX = 1 << 14
# Output of one inflate call at most (CPython's binding makes exactly one call for up to 32 KiB).
_CHUNK = 1 << 15
# A budget beyond any message: what "no limit" comes to (zlib's binding takes a C ssize_t).
_MAX_BUDGET = sys.maxsize - 1
_Z_SYNC_FLUSH = 2
_Z_FULL_FLUSH = 3

# Default compression settings: websockets' (zlib's level 6, memory level 5), which keep a compressor
# at about 38 KiB with a 12-bit window; isal only knows levels 0-3 and its own default is 2.
_DEFAULT_LEVEL = {"zlib": 6, "zlib-ng": 6, "isal": 2}
_MAX_LEVEL = {"zlib": 9, "zlib-ng": 9, "isal": 3}
DEFAULT_MEM_LEVEL = 5


def load_backend(name: str | None) -> tuple[str, ModuleType]:
    """The backend's name and module; ``ValueError`` for an unknown name, ``ImportError`` if not installed."""
    if name is None:
        name = DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"unknown deflate backend {name!r}; choose one of {', '.join(BACKENDS)}")
    try:
        return name, importlib.import_module(BACKENDS[name])
    except ImportError:
        extra = {"zlib-ng": "zlib-ng", "isal": "isal"}[name]
        raise ImportError(f"the {name!r} backend is not installed: pip install 'wscodec[{extra}]'") from None


def available_backends() -> list[str]:
    """The names of the backends installed here, in :data:`BACKENDS` order."""
    names = []
    for name, module in BACKENDS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        names.append(name)
    return names


def check_settings(
    params: Any, client: bool, backend: str, level: int | None, mem_level: int | None
) -> tuple[int, bool, int, bool, int, int]:
    """Validate the arguments of PerMessageDeflate; return (send bits, send reset, receive bits, receive reset,
    level, mem_level). ``ValueError`` for what cannot be honoured.
    """
    if client:
        send_bits, send_reset = params.client_max_window_bits, params.client_no_context_takeover
        recv_bits, recv_reset = params.server_max_window_bits, params.server_no_context_takeover
    else:
        send_bits, send_reset = params.server_max_window_bits, params.server_no_context_takeover
        recv_bits, recv_reset = params.client_max_window_bits, params.client_no_context_takeover
    if send_bits == 8:
        # zlib (and every backend) silently compresses with 9 bits instead, which the peer cannot follow.
        raise ValueError("cannot compress with an 8-bit window: negotiate 9 or more for this side's messages")
    if level is None:
        level = _DEFAULT_LEVEL[backend]
    elif not 0 <= level <= _MAX_LEVEL[backend]:
        raise ValueError(f"level must be 0-{_MAX_LEVEL[backend]} for the {backend} backend")
    if mem_level is None:
        mem_level = DEFAULT_MEM_LEVEL
    elif not 1 <= mem_level <= 9:
        raise ValueError("mem_level must be 1-9")
    return send_bits, send_reset, recv_bits, recv_reset, level, mem_level


class PerMessageDeflate:
    """One connection's permessage-deflate state, both directions, as agreed in ``params``.

    ``params``: the :class:`DeflateParams` both sides agreed. ``client``: this
    end is the client (it compresses with the client's window and inflates
    with the server's). ``level`` and ``mem_level``: the compressor's settings
    (``None``: level 6 and memory level 5, isal's level 2). ``backend``:
    ``"zlib"`` (the default), ``"zlib-ng"`` or ``"isal"``. Nothing is
    allocated for a direction until it is first used.

    Give it to :class:`MessageDecoder` (``deflate=``) and to
    :func:`encode_message`; :meth:`compress` is for callers that frame
    messages themselves, and what it returns must be sent: the peer's window
    follows every message that went through it. One object serves one
    connection; compressing (or inflating) from two threads at once raises ``RuntimeError``.
    """

    def __init__(
        self,
        params: Any,
        *,
        client: bool = False,
        level: int | None = None,
        mem_level: int | None = None,
        backend: str | None = None,
    ) -> None:
        self._backend, self._zlib = load_backend(backend)
        (self._send_bits, self._send_reset, self._recv_bits, self._recv_reset, self._level, self._mem_level) = (
            check_settings(params, client, self._backend, level, mem_level)
        )
        self.params = params
        self.client = bool(client)
        self._compressor: Any = None
        self._inflater: Any = None
        # One lock per direction: a sending thread and a receiving thread may share the object.
        self._send_lock = threading.Lock()
        self._receive_lock = threading.Lock()
        # Inflated output kept for the window (context takeover only): newest last, trimmed to the window.
        self._recent: list[bytes] = []
        self._recent_len = 0

    @property
    def backend(self) -> str:
        """The deflate implementation in use: ``"zlib"``, ``"zlib-ng"`` or ``"isal"``."""
        return self._backend

    def __repr__(self) -> str:
        side = "client" if self.client else "server"
        return f"PerMessageDeflate({self.params!r}, {side}, backend={self._backend!r})"

    def _sending(self) -> None:
        if not self._send_lock.acquire(blocking=False):
            raise RuntimeError(COMPRESSING_IN_ANOTHER_THREAD)

    def _receiving(self) -> None:
        if not self._receive_lock.acquire(blocking=False):
            raise RuntimeError(INFLATING_IN_ANOTHER_THREAD)

    # ---------------------------------------------------------------- sending

    def compress(self, payload: object) -> bytes:
        """Compress one whole message; return its payload to send (RSV1 set), the tail removed.

        ``payload``: any bytes-like object, or a ``str`` (sent as UTF-8).
        """
        data = payload.encode("utf-8") if isinstance(payload, str) else readable(payload)
        self._sending()
        try:
            compressor = self._compressor
            if compressor is None:
                compressor = self._compressor = self._zlib.compressobj(
                    self._level, self._zlib.DEFLATED, -self._send_bits, self._mem_level
                )
            # Without context takeover a full flush also empties the window: the next message
            # refers to nothing before it, whatever the receiver keeps.
            out: bytes = compressor.compress(data) + compressor.flush(
                _Z_FULL_FLUSH if self._send_reset else _Z_SYNC_FLUSH
            )
        finally:
            self._send_lock.release()
        if not out:
            # An empty message right after another flush: zlib adds no second empty block. Send the
            # one-byte form of one (the receiver's 00 00 FF FF completes it; RFC 7692 §7.2.3.6).
            return b"\x00"
        if not out.endswith(_TAIL):  # pragma: no cover - every backend's flush ends with it
            raise RuntimeError("the deflate backend did not end its flush with 00 00 FF FF")
        return out[:-4]

    # ---------------------------------------------------------------- receiving (MessageDecoder's side)
    #
    # Both implementations call the inflater on the same schedule — each piece of input whole, output
    # at most _CHUNK bytes a call — because zlib judges a back-reference against the window plus what
    # the current call has produced: the same calls give the same verdicts (and the same 1007s).

    def _new_inflater(self) -> Any:
        bits = -self._recv_bits
        if self._recent and not self._recv_reset:
            zdict = b"".join(self._recent)[-(1 << self._recv_bits) :]
            return self._zlib.decompressobj(bits, zdict=zdict)
        return self._zlib.decompressobj(bits)

    def _keep(self, piece: bytes) -> None:
        """Remember inflated output for the window (context takeover only), at most the window's size."""
        if self._recv_reset or not piece:
            return
        window = 1 << self._recv_bits
        if len(piece) >= window:
            self._recent = [piece[-window:]]
            self._recent_len = window
            return
        recent = self._recent
        recent.append(piece)
        self._recent_len += len(piece)
        while self._recent_len - len(recent[0]) >= window:
            self._recent_len -= len(recent.pop(0))

    def _run(self, data: Any, budget: int, tail: int = 0) -> bytes:
        """Inflate ``data`` (whose last ``tail`` bytes are the 00 00 FF FF we appended) into at most
        ``budget`` bytes: 1009 past that, 1007 for corrupt data.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = self._new_inflater()
        if inflater.eof:
            _after_final(data, tail)
            return b""
        budget = min(budget, _MAX_BUDGET)
        pieces = []
        produced = 0
        try:
            while True:
                room = min(_CHUNK, budget + 1 - produced)
                piece = inflater.decompress(data, room)
                produced += len(piece)
                if produced > budget:
                    raise ProtocolError(1009, INFLATED_TOO_BIG)
                pieces.append(piece)
                if inflater.eof:
                    _after_final(inflater.unused_data, tail)
                    break
                data = inflater.unconsumed_tail
                if len(piece) < room and not data:
                    break  # every input byte taken, and room left: nothing more to come
        except self._zlib.error as exc:
            # zlib's own words, without the module's "Error -3 while decompressing data: " prefix.
            raise ProtocolError(1007, COMPRESSED_INVALID.format(str(exc).rpartition(": ")[2])) from None
        out = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._keep(out)
        return out

    def _inflate(self, data: Any, budget: int, end: bool = False) -> bytes:
        """Inflate the next compressed bytes of the message being received; with ``end`` they are its
        last, and its tail follows. ``budget``: how many bytes the message may still grow by.
        """
        self._receiving()
        try:
            if not end:
                return self._run(data, budget)
            if len(data) <= _JOIN_MAX:
                out = self._run(bytes(data) + _TAIL, budget, 4)
            else:
                out = self._run(data, budget)
                out += self._run(_TAIL, budget - len(out), 4)
            inflater = self._inflater
            if not inflater.eof and not _at_block_boundary(inflater, self._zlib.error):
                raise ProtocolError(1007, COMPRESSED_UNFINISHED)
            if inflater.eof or self._recv_reset:
                # A new stream for the next message: afresh, or (after BFINAL) primed with the window.
                self._inflater = None
                if self._recv_reset:
                    self._recent = []
                    self._recent_len = 0
            return out
        finally:
            self._receive_lock.release()


def _after_final(data: Any, tail: int) -> None:
    """What follows a BFINAL block in the same message may only be zero padding (and our own tail, whole: a
    final block that ends inside it was cut short, its end made of our bytes)."""
    if len(data) < tail:
        raise ProtocolError(1007, COMPRESSED_UNFINISHED)
    rest = bytes(data)[: len(data) - tail]
    if rest.count(0) != len(rest):
        raise ProtocolError(1007, COMPRESSED_TRAILING)


# Two empty blocks: a stored one, its padding bits set, then a final fixed-Huffman one. From a block
# boundary with no bit pending they end the stream at their last byte, producing nothing. From inside a
# Huffman-coded block their bits are codes of that block, and a block's end-of-block code may begin as
# they do: in a final block the stream then ends within their first 15 bits, bytes of them unused; in
# another one the bits after that code make no valid block that ends the stream at their last byte (the
# set padding bits see to it). A single empty final block (03 00) is fooled by the first case.
_PROBE = b"\xf8\x00\x00\xff\xff\x03\x00"


def _at_block_boundary(inflater: Any, error: type[Exception]) -> bool:
    """Whether the inflater stopped between blocks, no bit pending (a truncated message leaves it inside one).

    Python's zlib binding does not expose zlib's data_type; a copy of the inflater is offered empty blocks
    instead. A backend whose inflater cannot be copied (isal) is not checked.
    """
    copy = getattr(inflater, "copy", None)
    if copy is None:
        return True
    probe = copy()
    try:
        # (room for 1 byte: enough to see output, and no 32 KiB buffer made)
        return probe.decompress(_PROBE, 1) == b"" and bool(probe.eof) and not probe.unused_data
    except error:  # not a block header there: not a boundary
        return False
