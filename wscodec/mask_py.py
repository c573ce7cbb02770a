"""XOR masking of payloads (RFC 6455 §5.3), pure-Python implementation.

Two techniques, chosen by size (measured: ``python -m wscodec bench``):
small payloads go through one big-integer XOR, large ones through four
``bytes.translate`` calls over the stride-4 slices, which run at C speed.
"""

from __future__ import annotations

from ._buffers import mask_key, readable, writable

__all__ = ["apply_mask", "apply_mask_inplace", "Masker"]

# Below this size one int XOR beats four translate passes (their setup dominates).
_INT_XOR_MAX = 256

# _TABLES[k] maps every byte b to b ^ k; built on first use of the translate path.
_TABLES: list[bytes] = []


def _tables() -> list[bytes]:
    if not _TABLES:
        _TABLES.extend(bytes(b ^ k for b in range(256)) for k in range(256))
    return _TABLES


def _xor(data: bytes | memoryview, key: bytes) -> bytes:
    """``data`` XOR the key repeated from phase 0, as new bytes."""
    n = len(data)
    if n <= _INT_XOR_MAX:
        if not n:
            return b""
        stream = (key * ((n + 3) >> 2))[:n]
        return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")
    tables = _tables()
    src = data if type(data) is bytes else bytes(data)
    out = bytearray(src)
    for i in range(4):
        out[i::4] = src[i::4].translate(tables[key[i]])
    return bytes(out)


def apply_mask(data: object, mask: object) -> bytes:
    """Return ``data`` XOR ``mask`` (a 4-byte key, repeated) as new ``bytes``.

    ``data`` is any bytes-like object. ``TypeError`` for a non-buffer,
    ``ValueError`` if ``mask`` is not 4 bytes.
    """
    return _xor(readable(data), mask_key(mask))


def _rotate(key: bytes, offset: int) -> bytes:
    phase = offset & 3
    return key[phase:] + key[:phase] if phase else key


def apply_mask_inplace(buffer: object, mask: object, offset: int = 0) -> None:
    """XOR a writable buffer with ``mask`` in place.

    ``offset`` is the mask phase: how many payload bytes preceded this chunk,
    so a payload split across reads unmasks correctly chunk by chunk.
    ``TypeError`` for a non-buffer, ``BufferError`` for a read-only or
    non-contiguous one, ``ValueError`` for a bad key or a negative offset.
    """
    view = writable(buffer)
    key = mask_key(mask)
    if offset < 0:
        raise ValueError("offset must be >= 0")
    if len(view):
        view[:] = _xor(view, _rotate(key, offset))


class Masker:
    """Stateful masker: :meth:`process` keeps the mask phase across chunks."""

    __slots__ = ("_key", "_offset")

    def __init__(self, mask: object) -> None:
        self._key = mask_key(mask)
        self._offset = 0

    def process(self, data: object) -> bytes:
        """Mask the next chunk of the payload and return it as new ``bytes``."""
        src = readable(data)
        out = _xor(src, _rotate(self._key, self._offset))
        self._offset = (self._offset + len(src)) & 3
        return out

    def reset(self) -> None:
        """Start again at the beginning of a payload (phase 0)."""
        self._offset = 0

    @property
    def offset(self) -> int:
        """The current mask phase, 0–3."""
        return self._offset
