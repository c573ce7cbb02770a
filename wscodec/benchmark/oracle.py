"""Reference answers the benchmarks, tests and fuzz targets check every implementation against.

Deliberately simple and independent of every implementation measured: the
mask is one big-integer XOR, frames are packed and parsed with ``struct``,
permessage-deflate payloads are made and read with CPython's ``zlib``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import Any

__all__ = ["ZlibReceiver", "deflate_messages", "encode_frame", "inflate_messages", "parse_frames", "xor_mask"]

_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: what every sync flush ends with, removed on the wire


def xor_mask(data: bytes, key: bytes, phase: int = 0) -> bytes:
    """``data`` XOR the 4-byte ``key`` repeated (RFC 6455 §5.3), from key byte ``phase % 4`` on."""
    n, start = len(data), phase % 4
    pattern = (key * (n // 4 + 2))[start : start + n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pattern, "big")).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes, key: bytes | None, rsv1: bool = False) -> bytes:
    """One final frame, masked with ``key`` unless it is None, with the minimal length encoding.

    ``rsv1``: set RSV1 (a permessage-deflate compressed message).
    """
    mask_bit = 0x80 if key is not None else 0
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, mask_bit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if key is None:
        return head + payload
    return head + key + xor_mask(payload, key)


def parse_frames(wire: bytes) -> list[tuple[bool, int, bool, bytes]]:
    """Split complete frames: ``(fin, opcode, masked, unmasked payload)`` each; ValueError if bytes are left over."""
    frames = []
    pos = 0
    while pos < len(wire):
        if len(wire) - pos < 2:
            raise ValueError("truncated frame header")
        b0, b1 = wire[pos], wire[pos + 1]
        n = b1 & 0x7F
        pos += 2
        if n == 126:
            (n,) = struct.unpack_from("!H", wire, pos)
            pos += 2
        elif n == 127:
            (n,) = struct.unpack_from("!Q", wire, pos)
            pos += 8
        key = None
        if b1 & 0x80:
            key = bytes(wire[pos : pos + 4])
            pos += 4
        payload = bytes(wire[pos : pos + n])
        if len(payload) != n:
            raise ValueError("truncated frame payload")
        pos += n
        frames.append((bool(b0 & 0x80), b0 & 0x0F, key is not None, xor_mask(payload, key) if key else payload))
    return frames


def deflate_messages(messages: Iterable[bytes], window_bits: int, level: int, mem_level: int) -> list[bytes]:
    """Compress messages in order as permessage-deflate does with context takeover (RFC 7692 §7.2.1).

    One raw deflate stream with a sync flush after each message; each
    compressed payload is returned without the ``00 00 FF FF`` its flush ends with.
    """
    compressor = zlib.compressobj(level, zlib.DEFLATED, -window_bits, mem_level)
    out = []
    for message in messages:
        data = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if not data.endswith(_TAIL):
            raise ValueError("zlib's sync flush did not end with 00 00 FF FF")
        out.append(data[:-4])
    return out


def inflate_messages(payloads: Iterable[bytes], window_bits: int, window: bytes = b"") -> list[bytes]:
    """Inflate compressed payloads in order, as a receiver with context takeover does (RFC 7692 §7.2.2).

    ``window``: what the sender's window held before the first payload (the
    end of what it compressed earlier), given to the inflater as its
    dictionary; a stream that refers to nothing before its start inflates
    the same with or without it. ``zlib.error`` for data that does not
    inflate, ``ValueError`` for data left over after a message.
    """
    size = 1 << window_bits
    inflater = zlib.decompressobj(-window_bits, zdict=window[-size:]) if window else zlib.decompressobj(-window_bits)
    out = []
    for payload in payloads:
        data = inflater.decompress(bytes(payload) + _TAIL)
        if inflater.unconsumed_tail or inflater.unused_data or inflater.eof:
            raise ValueError("a compressed message does not end where permessage-deflate says it does")
        out.append(data)
    return out


class ZlibReceiver:
    """A peer inflating one direction with CPython's zlib and exactly the agreed window (RFC 7692 §7.2.2).

    zlib checks a distance against the window it keeps only when the distance
    reaches back before the output of the current inflate call, so output is
    taken at most ``step`` bytes per call: any reference more than ``step``
    bytes beyond the window fails. A BFINAL block ends a stream; the next
    message then starts a new one primed with the window (§7.2.3.4).
    ``takeover=False``: every message starts a new stream with nothing before it.
    """

    def __init__(self, bits: int, takeover: bool = True, *, step: int = 256) -> None:
        self.bits, self.takeover, self.step = bits, takeover, step
        self._inflater: Any = None
        self._history = b""

    def message(self, payload: bytes) -> bytes:
        """The message ``payload`` inflates to; ``zlib.error`` if it is not valid with this window."""
        window = 1 << self.bits
        if self._inflater is None or not self.takeover:
            history = self._history[-window:] if self.takeover else b""
            self._inflater = (
                zlib.decompressobj(-self.bits, zdict=history) if history else zlib.decompressobj(-self.bits)
            )
        inflater = self._inflater
        data = payload + _TAIL
        out = []
        while True:
            piece = inflater.decompress(data, self.step)
            out.append(piece)
            data = inflater.unconsumed_tail
            if inflater.eof or (not data and len(piece) < self.step):
                break
        message = b"".join(out)
        if inflater.eof:
            self._inflater = None
        self._history = (self._history + message)[-window:] if self.takeover else b""
        return message
