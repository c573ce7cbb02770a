"""UTF-8 validation of ASCII and of mixed 1- to 4-byte text; a masked text payload to its str."""

from __future__ import annotations

from typing import Any

import pytest
from benchkit import binder, impl_params, run_checked

from wscodec.benchmark import oracle
from wscodec.benchmark.inputs import MASK_KEY, UTF8_KINDS, KiB, size_label, utf8_text
from wscodec.benchmark.primitives import UTF8_SIZES, invalid_copy, text_impls, utf8_impls
from wscodec.benchmark.registry import Impl

INPUTS = {"size": ((125, 16 * KiB), UTF8_SIZES), "kind": (("ascii", "mixed"), UTF8_KINDS)}


@pytest.mark.parametrize("impl", impl_params(utf8_impls()))
def test_validate(benchmark: Any, impl: Impl, kind: str, size: int) -> None:
    bind = binder(impl)
    data = utf8_text(kind, size)
    bad = invalid_copy(data)
    group = f"utf8 {kind} {size_label(size)}"
    assert run_checked(benchmark, group, lambda: bind(data), True, also=[(lambda: bind(bad), False)]) is True


@pytest.mark.parametrize("impl", impl_params(text_impls()))
def test_text_payload_to_str(benchmark: Any, impl: Impl, kind: str, size: int) -> None:
    bind = binder(impl)
    data = utf8_text(kind, size)
    masked = oracle.xor_mask(data, MASK_KEY)
    group = f"text {kind} {size_label(size)}"
    assert run_checked(benchmark, group, lambda: bind(masked, MASK_KEY), data.decode()) == data.decode()
