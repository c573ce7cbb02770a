"""Masking: a new bytes object, and in place, at representative sizes."""

from __future__ import annotations

from typing import Any

import pytest
from benchkit import binder, impl_params, run_checked

from wscodec.benchmark import oracle
from wscodec.benchmark.inputs import MASK_KEY, KiB, MiB, random_bytes, size_label
from wscodec.benchmark.primitives import MASK_SIZES, mask_copy_impls, mask_inplace_impls
from wscodec.benchmark.registry import Impl

INPUTS = {"size": ((125, 16 * KiB, MiB), MASK_SIZES)}


def _phases(data: bytes) -> set[bytes]:
    """The results a reused stateful masker may give after earlier calls: any rotation of the key."""
    return {oracle.xor_mask(data, MASK_KEY[r:] + MASK_KEY[:r]) for r in range(4)}


@pytest.mark.parametrize("impl", impl_params(mask_copy_impls()))
def test_mask_copy(benchmark: Any, impl: Impl, size: int) -> None:
    bind = binder(impl)
    data = random_bytes(size)
    expected = oracle.xor_mask(data, MASK_KEY)
    result = run_checked(benchmark, f"mask copy {size_label(size)}", lambda: bind(data, MASK_KEY), expected)
    assert result in _phases(data)


@pytest.mark.parametrize("impl", impl_params(mask_inplace_impls()))
def test_mask_in_place(benchmark: Any, impl: Impl, size: int) -> None:
    bind = binder(impl)
    data = random_bytes(size)
    expected = oracle.xor_mask(data, MASK_KEY)
    result = run_checked(benchmark, f"mask in place {size_label(size)}", lambda: bind(data, MASK_KEY), expected)
    assert result in (data, expected)  # masked an odd or an even number of times
