"""What every benchmark suite here does: pick implementations, load them, check and time a call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from wscodec.benchmark.harness import Call
from wscodec.benchmark.registry import Impl


def impl_params(impls: Iterable[Impl]) -> list[Any]:
    """``pytest.param`` per implementation, with a readable id."""
    return [pytest.param(impl, id=impl.label.replace(" ", "-")) for impl in impls]


def binder(impl: Impl) -> Any:
    """Load ``impl``; skip the benchmark if its library (or wscodec's compiled module) is missing."""
    try:
        return impl.load()
    except ImportError as exc:
        pytest.skip(f"{impl.label}: {'not built' if impl.ours else 'not installed'} ({exc})")


def run_checked(
    benchmark: Any,
    group: str,
    bind: Callable[[], Call],
    expected: Any,
    also: Iterable[tuple[Callable[[], Call], Any]] = (),
) -> Any:
    """Check ``bind()`` (and each of ``also``) against the oracle, time a fresh call.

    Returns ``result`` of the last one.
    """
    for make, answer in ((bind, expected), *also):
        assert make().checked() == answer
    benchmark.group = group
    call = bind()
    value = benchmark(call.fn, *call.args, **call.kwargs)
    return call.result(value)
