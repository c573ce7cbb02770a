"""Python-level allocations measured with tracemalloc, for the tests that bound what the codec allocates."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["peak_during", "traced", "tracing"]


@contextmanager
def tracing() -> Iterator[None]:
    """Trace allocations inside the block (tracemalloc started on entry, stopped on exit)."""
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def traced() -> int:
    """Bytes allocated and not yet freed since tracing started."""
    return tracemalloc.get_traced_memory()[0]


def peak_during(action: Callable[[], object]) -> int:
    """Bytes allocated at the peak of ``action()``, above what was allocated before it."""
    with tracing():
        base = traced()
        action()
        return tracemalloc.get_traced_memory()[1] - base
