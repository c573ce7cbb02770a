"""Makers of buffer objects: each turns payload bytes into another object exposing the same bytes."""

from __future__ import annotations

import array
import mmap
from collections.abc import Callable
from typing import Any

__all__ = ["array_of", "misaligned", "mmap_of", "strided", "two_dimensional"]


def misaligned(pad: int) -> Callable[[bytes], memoryview]:
    """A maker of views that start ``pad`` bytes into their buffer (unaligned for any word size)."""

    def make(data: bytes) -> memoryview:
        return memoryview(bytearray(pad) + data)[pad:]

    return make


def mmap_of(data: bytes) -> Any:
    """An anonymous mmap holding ``data`` (``b""`` for no data: an mmap cannot be empty)."""
    if not data:
        return b""
    m = mmap.mmap(-1, len(data))
    m.write(data)
    return m


def array_of(typecode: str) -> Callable[[bytes], Any]:
    """A maker of ``array.array(typecode)`` over the bytes (a bytearray where they are not whole items)."""

    def make(data: bytes) -> Any:
        words = array.array(typecode)
        if len(data) % words.itemsize:
            return bytearray(data)
        words.frombytes(data)
        return words

    return make


def two_dimensional(data: bytes) -> Any:
    """A writable 2-row view of the bytes (a 1-d one where their length is odd or zero)."""
    view = memoryview(bytearray(data))
    return view.cast("B", (2, len(data) // 2)) if data and len(data) % 2 == 0 else view


def strided(data: bytes) -> memoryview:
    """A non-contiguous view: every other byte of a buffer twice as long."""
    spread = bytearray(2 * len(data))
    spread[::2] = data
    return memoryview(spread)[::2]
