"""Reference answers the benchmarks check every implementation against.

Deliberately simple and independent of every implementation measured: the
mask is one big-integer XOR, frames are packed and parsed with ``struct``.
"""

from __future__ import annotations

import struct

__all__ = ["encode_frame", "parse_frames", "xor_mask"]


def xor_mask(data: bytes, key: bytes) -> bytes:
    """``data`` XOR the 4-byte ``key`` repeated (RFC 6455 §5.3)."""
    n = len(data)
    pattern = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(pattern, "big")).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes, key: bytes | None) -> bytes:
    """One final frame, masked with ``key`` unless it is None, with the minimal length encoding."""
    mask_bit = 0x80 if key is not None else 0
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, mask_bit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, n)
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
