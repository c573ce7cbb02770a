"""Compressing a large message allocates about what it compresses to, not a worst case its size."""

from __future__ import annotations

import os
import tracemalloc
import zlib
from types import ModuleType

import pytest
from tracing import tracing

from wscodec import DeflateParams


@pytest.mark.parametrize(
    ("data", "most"),
    [
        (bytes(16 << 20), 2 << 20),  # 16 MiB that compress to 16 KiB (what a bomb is made of)
        (bytes(100_000), 1 << 18),
        (os.urandom(1 << 20), 4 << 20),  # incompressible: the output is larger than the input
    ],
    ids=["16MiB-zeros", "100k-zeros", "1MiB-random"],
)
def test_compress_peak_memory(impl: ModuleType, data: bytes, most: int) -> None:
    deflate = impl.PerMessageDeflate(DeflateParams())
    with tracing():
        out = deflate.compress(data)
        peak = tracemalloc.get_traced_memory()[1]
    assert peak < most
    assert zlib.decompressobj(-15).decompress(out + b"\x00\x00\xff\xff") == data
