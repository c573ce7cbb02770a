"""The integrations benchmark's kinds: what each one asks a shim's echo for."""

from __future__ import annotations

import importlib
import types
from typing import Any

import pytest

from wscodec.benchmark import integrations
from wscodec.integrations import SHIMS, shim_module


def fake_shim() -> tuple[types.ModuleType, list[dict[str, Any]]]:
    """A shim module whose echo records how it was called."""
    calls: list[dict[str, Any]] = []
    module = types.ModuleType("fake_shim")

    def echo_roundtrip(size: int, count: int, **kind: Any) -> float:
        calls.append({"size": size, "count": count, **kind})
        return 1.0

    module.echo_roundtrip = echo_roundtrip  # type: ignore[attr-defined]
    module.text_validation_rate = lambda size, count: 2.0  # type: ignore[attr-defined]
    return module, calls


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("binary", {}),
        ("text", {"text": True}),
        ("deflate text", {"text": True, "deflate": True}),
        ("deflate", {"text": True, "deflate": True}),
    ],
)
def test_each_kind_calls_the_echo_with_its_options(kind: str, expected: dict[str, Any]) -> None:
    module, calls = fake_shim()
    assert integrations._rate(module, kind)(64, 3) == 1.0
    assert calls == [{"size": 64, "count": 3, **expected}]


def test_text_validation_is_the_validator_alone() -> None:
    module, calls = fake_shim()
    assert integrations._rate(module, "text validation")(64, 3) == 2.0 and not calls


def test_compression_rows_have_their_sizes() -> None:
    assert integrations.DEFLATE_SIZES == (64, 1024, 65536)
    assert all(kind in integrations._DEFLATE_KINDS for kind in ("deflate text", "deflate"))


@pytest.mark.parametrize("size", integrations.DEFLATE_SIZES)
def test_json_text_messages_are_distinct_and_exact(size: int) -> None:
    messages = integrations.json_text_messages(size)
    assert len(messages) == 64 and len(set(messages)) == 64
    assert all(len(message.encode()) == size for message in messages)


@pytest.mark.parametrize("host", list(SHIMS))
def test_each_host_has_its_benchmark_module_and_no_shim_carries_one(host: str) -> None:
    bench = importlib.import_module(f"wscodec.benchmark.hosts.{host}")
    assert bench.KINDS and set(bench.KINDS) <= {"binary", "text", "text validation", "deflate text"}
    assert callable(bench.echo_roundtrip)
    assert callable(getattr(bench, "text_validation_rate", None)) == ("text validation" in bench.KINDS)
    shim = shim_module(host)
    assert not {"BENCH_KINDS", "echo_roundtrip", "text_validation_rate", "_echo"} & set(vars(shim))
