"""permessage-deflate: round trip, compress, inflate and receive of JSON-like messages, per backend.

Every row at websockets' server defaults (context takeover, 12-bit windows,
level 6, memLevel 5; isal at its level 2). One call handles a batch of
messages on one connection's state; the group name says how many.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchkit import binder, impl_params, run_checked

from wscodec.benchmark.deflate import (
    DEFLATE_SIZES,
    batch,
    bind_compress,
    bind_inflate,
    bind_receive,
    bind_round_trip,
    compress_impls,
    inflate_impls,
    receive_impls,
    round_trip_impls,
)
from wscodec.benchmark.inputs import KiB, size_label
from wscodec.benchmark.registry import Impl

INPUTS = {"size": ((64, KiB), DEFLATE_SIZES)}


def _group(what: str, size: int) -> str:
    return f"deflate {what} {size_label(size)} x{len(batch(size).messages)}"


@pytest.mark.parametrize("impl", impl_params(round_trip_impls()))
def test_round_trip(benchmark: Any, impl: Impl, size: int) -> None:
    bind = binder(impl)
    b = batch(size)
    benchmark.extra_info["messages per call"] = len(b.messages)
    got = run_checked(benchmark, _group("round trip", size), lambda: bind_round_trip(bind, b), b.expected)
    assert got == b.expected


@pytest.mark.parametrize("impl", impl_params(compress_impls()))
def test_compress(benchmark: Any, impl: Impl, size: int) -> None:
    bind = binder(impl)
    b = batch(size)
    benchmark.extra_info["messages per call"] = len(b.messages)
    # The last timed call's payloads, inflated by zlib with the window the calls before it left.
    got = run_checked(benchmark, _group("compress", size), lambda: bind_compress(bind, b), list(b.messages))
    assert got == list(b.messages)


@pytest.mark.parametrize("impl", impl_params(inflate_impls()))
def test_inflate(benchmark: Any, impl: Impl, size: int) -> None:
    bind = binder(impl)
    b = batch(size)
    benchmark.extra_info["messages per call"] = len(b.messages)
    got = run_checked(benchmark, _group("inflate (client side)", size), lambda: bind_inflate(bind, b), b.expected)
    assert got == b.expected


@pytest.mark.parametrize("impl", impl_params(receive_impls()))
def test_receive_masked(benchmark: Any, impl: Impl, size: int) -> None:
    bind = binder(impl)
    b = batch(size)
    benchmark.extra_info["messages per call"] = len(b.messages)
    got = run_checked(
        benchmark, _group("receive masked (server side)", size), lambda: bind_receive(bind, b), b.expected
    )
    assert got == b.expected
