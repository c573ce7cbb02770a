"""How a fuzz input is read: a few option bytes, chunk sizes, then the bytes under test.

Every target reads its input with :class:`FuzzInput`, so the fuzzer's
mutations steer the options (client or server side, limits, the buffer type
fed), the way the bytes are cut into ``feed`` calls, and the bytes
themselves. Reading past the end gives zeros, so any input is valid.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["BUFFER_KINDS", "FuzzInput", "as_buffer", "cut"]

T = TypeVar("T")

#: Buffer types a target may feed (see :func:`as_buffer`).
BUFFER_KINDS = ("bytes", "bytearray", "memoryview", "strided")


class FuzzInput:
    """A cursor over one fuzz input."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def byte(self) -> int:
        """The next byte (0 once the input is used up)."""
        pos = self._pos
        self._pos = pos + 1
        return self._data[pos] if pos < len(self._data) else 0

    def choice(self, options: Sequence[T]) -> T:
        """One of ``options``, picked by the next byte."""
        return options[self.byte() % len(options)]

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes (fewer at the end of the input)."""
        pos = self._pos
        self._pos = pos + n
        return self._data[pos : pos + n]

    def sizes(self, max_count: int = 8) -> list[int]:
        """A list of 0 to ``max_count - 1`` chunk sizes (0–255 each), for :func:`cut`."""
        return [self.byte() for _ in range(self.byte() % max_count)]

    def rest(self) -> bytes:
        """Everything not read yet."""
        rest = self._data[self._pos :]
        self._pos = len(self._data)
        return rest


def cut(data: bytes, sizes: Sequence[int], max_chunks: int = 64) -> list[bytes]:
    """``data`` cut into chunks of ``sizes``, repeated, the rest whole after ``max_chunks - 1`` chunks.

    A size of 0 gives an empty chunk (an empty ``feed`` call). Without a
    non-zero size the data goes whole, as one chunk. The cap keeps a large
    input cut in 1-byte pieces from costing thousands of calls per run.
    """
    if not any(sizes):
        return [data]
    chunks: list[bytes] = []
    pos = 0
    for size in itertools.islice(itertools.cycle(sizes), max_chunks - 1):
        if pos >= len(data):
            return chunks
        chunks.append(data[pos : pos + size])
        pos += size
    if pos < len(data):
        chunks.append(data[pos:])
    return chunks


def as_buffer(data: bytes, kind: str) -> object:
    """``data`` as the buffer type ``kind`` names; "strided" is a non-contiguous memoryview of the same bytes."""
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(data)
    if kind == "strided":
        doubled = bytearray(2 * len(data))
        doubled[::2] = data
        return memoryview(doubled)[::2]
    return data
