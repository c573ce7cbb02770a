"""Buffer-argument normalisation for the pure-Python implementation.

The compiled modules implement the same contract in C; these rules are the
reference both are tested against:

* a readable argument is any object with the buffer protocol; ``str`` and
  other non-buffers raise ``TypeError``; a non-contiguous buffer is copied;
* a writable argument must be a writable C-contiguous buffer: a non-buffer
  raises ``TypeError``, a read-only or non-contiguous one ``BufferError``.
"""

from __future__ import annotations

from typing import TypeAlias

from ._rules import BUFFER_NOT_CONTIGUOUS, BUFFER_READ_ONLY, MASK_NOT_4_BYTES

__all__ = ["readable", "writable", "mask_key"]

Readable: TypeAlias = bytes | memoryview


def readable(data: object) -> Readable:
    """Return ``data`` as ``bytes`` or a flat byte ``memoryview`` (copied if not contiguous)."""
    if type(data) is bytes:
        return data
    view = memoryview(data)  # type: ignore[arg-type]
    if not view.c_contiguous:
        return view.tobytes()
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B") if view.nbytes else memoryview(b"")  # cast() rejects a zero in the shape
    return view


def writable(data: object) -> memoryview:
    """Return ``data`` as a flat writable byte ``memoryview``."""
    view = memoryview(data)  # type: ignore[arg-type]
    if view.readonly:
        raise BufferError(BUFFER_READ_ONLY)
    if not view.c_contiguous:
        raise BufferError(BUFFER_NOT_CONTIGUOUS)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B") if view.nbytes else memoryview(bytearray())  # cast() rejects a zero in the shape
    return view


def mask_key(mask: object) -> bytes:
    """Return the 4-byte masking key as ``bytes``; ``ValueError`` if it is not 4 bytes long."""
    key = mask if type(mask) is bytes else memoryview(mask).tobytes()  # type: ignore[arg-type]
    if len(key) != 4:
        raise ValueError(MASK_NOT_4_BYTES)
    return key
