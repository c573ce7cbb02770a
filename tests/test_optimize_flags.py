"""No validation depends on ``assert``: ``python -O`` and ``python -OO`` strip asserts (and docstrings).

The package's only asserts are type-checker narrowing of an object's own
state (``assert self._timer is not None``), never a check of input; and the
validation-heavy test modules pass in a child interpreter under each flag
(pytest still checks the tests' own asserts there: it rewrites them into
plain ``if``s).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wscodec

PACKAGE = Path(wscodec.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
#: The suites that feed every kind of bad input to both implementations (the slow ones left out).
SUBSET = ["test_hostile.py", "test_frame_decoder.py", "test_messages.py", "test_close.py", "test_fuzz_regressions.py"]


def _narrows_state(node: ast.Assert) -> bool:
    """``assert obj.attr is not None``: tells the type checker about internal state, checks no input."""
    test = node.test
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Attribute)
        and [type(op) for op in test.ops] == [ast.IsNot]
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )


def test_the_package_validates_nothing_with_assert() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        asserts = [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Assert)]
        found += [f"{path}:{node.lineno}" for node in asserts if not _narrows_state(node)]
    for path in sorted(PACKAGE.rglob("*.pyx")):  # Cython honours -O too
        text = path.read_text()
        found += [f"{path}:{text.count(chr(10), 0, m.start()) + 1}" for m in re.finditer(r"^\s*assert\b", text, re.M)]
    assert not found, f"assert used in the package: {found}"


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["-O", "-OO"])
def test_validation_suites_pass_under(flag: str) -> None:
    # Run from the tests directory, so the wscodec imported is the one this process uses (installed or not).
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    command = [sys.executable, flag, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", *SUBSET]
    result = subprocess.run(command, cwd=TESTS, env=env, capture_output=True, text=True)
    tail = "\n".join(result.stdout.splitlines()[-15:])
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{tail}\n{result.stderr[-2000:]}"
    assert re.search(r"\d+ passed", tail), tail
