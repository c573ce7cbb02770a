"""Replay the fuzz seeds and every input a fuzz run failed on, through the fuzz targets themselves.

The targets (fuzz/fuzz_targets.py) are differential: each input goes through
both implementations and an independent oracle, so a replay fails on any
divergence, not only on a crash. Inputs a fuzz run caught are kept in
tests/regressions/<target>/, named after what went wrong. Under
tools/sanitize.sh this is also how the fuzz corpus runs under ASan and UBSan.
"""

from __future__ import annotations

import sys
from pathlib import Path

import needs
import pytest

ROOT = needs.checkout(
    "fuzz/fuzz_targets.py",
    "fuzz/corpus",
    what="the fuzz corpus",
    how="run the tests from a clone or an unpacked sdist, or copy fuzz/ beside tests/",
)
sys.path.insert(0, str(ROOT / "fuzz"))

from fuzz_targets import TARGETS

REGRESSIONS = ROOT / "tests" / "regressions"


def _files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_every_target_has_seeds_and_every_regression_a_target() -> None:
    for target in TARGETS:
        assert _files(ROOT / "fuzz" / "corpus" / target), f"no seeds for {target}"
    assert {folder.name for folder in _files(REGRESSIONS)} <= set(TARGETS)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_seed_corpus(target: str) -> None:
    failures = []
    for seed in _files(ROOT / "fuzz" / "corpus" / target):
        try:
            TARGETS[target](seed.read_bytes())
        except AssertionError as exc:
            failures.append(f"{seed.name}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "case",
    [case for folder in _files(REGRESSIONS) for case in _files(folder)],
    ids=lambda case: f"{case.parent.name}/{case.name}",
)
def test_regression(case: Path) -> None:
    TARGETS[case.parent.name](case.read_bytes())
