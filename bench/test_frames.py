"""Frame decoding (a stream in 64 KiB reads) and masked frame encoding."""

from __future__ import annotations

from typing import Any

import pytest
from benchkit import binder, impl_params, run_checked

from wscodec.benchmark.frames import FRAME_SIZES, checked_wire, decoder_impls, encoder_impls, stream
from wscodec.benchmark.inputs import KiB, random_bytes, size_label
from wscodec.benchmark.registry import Impl

INPUTS = {"size": ((125, 64 * KiB), FRAME_SIZES), "masked": ((True,), (True, False))}


@pytest.mark.parametrize("impl", impl_params(decoder_impls()))
def test_decode(benchmark: Any, impl: Impl, masked: bool, size: int) -> None:
    bind = binder(impl)
    s = stream(size, masked)
    benchmark.extra_info["frames per call"] = len(s.payloads)
    group = f"decode {'masked' if masked else 'unmasked'} {size_label(size)} frames x{len(s.payloads)}"
    assert run_checked(benchmark, group, lambda: bind(s.chunks, masked), s.expected) == s.expected


@pytest.mark.parametrize("impl", impl_params(encoder_impls()))
def test_encode_masked(benchmark: Any, impl: Impl, size: int) -> None:
    bind = binder(impl)
    payload = random_bytes(size)
    expected = [(True, 2, True, payload)]  # the output parsed: final, BINARY, masked, the payload
    group = f"encode masked {size_label(size)}"
    assert run_checked(benchmark, group, lambda: checked_wire(lambda: bind(payload)), expected) == expected
