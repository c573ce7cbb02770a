"""needs.py and the switches: a skip for something missing, or a failure under WSCODEC_TEST_REQUIRE_ALL; the slow
tests; hypothesis' examples fixed under WSCODEC_TEST_DERANDOMIZE.

The functions are called directly in both modes; then a small suite runs in a
child pytest with this suite's conftest.py hooks, under each combination of
the switches, and its summary must show every skip with its reason, or the
same reasons as failures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import needs
import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def require_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(needs.REQUIRE_ALL, "1")


@pytest.fixture(autouse=True)
def _switches_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test decides the switches itself, whatever the run that hosts it has set."""
    monkeypatch.delenv(needs.REQUIRE_ALL, raising=False)
    monkeypatch.delenv(needs.SLOW, raising=False)
    monkeypatch.delenv(needs.DERANDOMIZE, raising=False)


@pytest.mark.parametrize("value", [None, "", "0"])
def test_missing_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is not None:
        monkeypatch.setenv(needs.REQUIRE_ALL, value)
    with pytest.raises(pytest.skip.Exception, match=r"^widget missing: run `get widget`$"):
        needs.missing("widget missing: run `get widget`")


@pytest.mark.usefixtures("require_all")
def test_missing_fails_with_the_reason_under_require_all() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"^widget missing: run `get widget` \(WSCODEC_TEST_REQUIRE_ALL"):
        needs.missing("widget missing: run `get widget`")


def test_module_returns_an_installed_module() -> None:
    assert needs.module("json") is sys.modules["json"]


def test_module_skips_for_a_missing_package_saying_how_to_install_it() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"^wscodec_absent_package is not installed .*: pip install 'x'$"):
        needs.module("wscodec_absent_package", "pip install 'x'")


@pytest.mark.usefixtures("require_all")
def test_module_fails_for_a_missing_package_under_require_all() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"^wscodec_absent_package is not installed .*: pip install 'x'"):
        needs.module("wscodec_absent_package", "pip install 'x'")


@pytest.mark.usefixtures("require_all")
def test_module_skips_even_under_require_all_where_the_python_is_too_old() -> None:
    # the test extra leaves such a package out on this Python: nothing to install
    with pytest.raises(pytest.skip.Exception, match=r"^wscodec_absent_package needs Python >= 99\.0$"):
        needs.module("wscodec_absent_package", python=(99, 0))
    with pytest.raises(pytest.fail.Exception, match="is not installed"):
        needs.module("wscodec_absent_package", python=(3, 0))


def test_checkout_skips_when_a_file_is_absent() -> None:
    assert needs.checkout("tests/needs.py") == needs.CHECKOUT == TESTS.parent
    with pytest.raises(pytest.skip.Exception, match=r"^the corpus is missing \(absent/one beside tests/\): copy it$"):
        needs.checkout("tests/needs.py", "absent/one", what="the corpus", how="copy it")


@pytest.mark.usefixtures("require_all")
def test_checkout_fails_when_a_file_is_absent_under_require_all() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"^the repository checkout is missing \(absent/one beside"):
        needs.checkout("absent/one")


# ---------------------------------------------------------------- a child pytest with this suite's hooks

CHILD_CONFTEST = """
import importlib.util

# This suite's conftest.py under another name (this file is "conftest" already): its option and hooks.
_spec = importlib.util.spec_from_file_location("suite_conftest", {conftest!r})
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
pytest_addoption = _suite.pytest_addoption
pytest_runtest_setup = _suite.pytest_runtest_setup
"""

CHILD_TESTS = """
import needs
import pytest


@pytest.mark.slow
def test_slow():
    pass


def test_needs_a_widget():
    needs.missing("widget missing: run `get widget`")


def test_plain():
    pass
"""

CHILD_MODULE_LEVEL = """
import needs

needs.module("wscodec_absent_package", "pip install 'x'")


def test_never_collected():
    pass
"""


def run_child(tmp_path: Path, *args: str, **switches: str) -> tuple[int, str]:
    """Run the child suite (and a module that passes) in a child pytest; return its exit status and output."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -ra --strict-markers\nmarkers =\n    slow: slow\n")
    (tmp_path / "conftest.py").write_text(CHILD_CONFTEST.format(conftest=str(TESTS / "conftest.py")))
    (tmp_path / "test_child.py").write_text(CHILD_TESTS)
    (tmp_path / "test_module_level.py").write_text(CHILD_MODULE_LEVEL)
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n")
    switched = (needs.REQUIRE_ALL, needs.SLOW, needs.DERANDOMIZE)
    env = {k: v for k, v in os.environ.items() if k not in switched} | switches
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the child needs no plugin, and starts faster without
    # a collection error would stop the run before any test: the other modules still run
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--continue-on-collection-errors", *args]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout + done.stderr


def summary(output: str) -> str:
    """The counts line at the end of a pytest run."""
    lines = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", line)]
    assert lines, output
    return lines[-1].strip("= ")


def skipped(output: str, where: str, reason: str) -> bool:
    """Whether the short summary lists a skip at ``where`` (file:line of the call) for ``reason``."""
    return re.search(rf"^SKIPPED \[1\] {where}:\d+: {re.escape(reason)}", output, re.M) is not None


SLOW = "slow: set WSCODEC_TEST_SLOW=1 or pass --run-slow to run it"
WIDGET = "widget missing: run `get widget`"
ABSENT = "wscodec_absent_package is not installed (No module named 'wscodec_absent_package'): pip install 'x'"


def test_by_default_slow_and_missing_are_skips_with_their_reasons(tmp_path: Path) -> None:
    status, output = run_child(tmp_path)
    assert status == 0, output
    assert re.match(r"2 passed, 3 skipped in ", summary(output)), output
    # each at the line of the test or call that asked for it
    assert skipped(output, "test_child.py", SLOW), output
    assert skipped(output, "test_child.py", WIDGET), output
    assert skipped(output, "test_module_level.py", ABSENT), output


def test_slow_tests_run_when_asked_by_the_variable(tmp_path: Path) -> None:
    status, output = run_child(tmp_path, WSCODEC_TEST_SLOW="1")
    assert status == 0, output
    assert re.match(r"3 passed, 2 skipped in ", summary(output)), output
    assert not skipped(output, "test_child.py", SLOW), output


def test_require_all_turns_every_skip_into_a_failure(tmp_path: Path) -> None:
    status, output = run_child(tmp_path, WSCODEC_TEST_REQUIRE_ALL="1")
    assert status == 1, output
    # the slow test fails in its setup and the module in its collection (errors), the other in its body
    assert re.match(r"1 failed, 2 passed, 2 errors in ", summary(output)), output
    turned = "(WSCODEC_TEST_REQUIRE_ALL=1 turns this skip into a failure)"
    assert "ERROR at setup of test_slow _" in output and f"\n{SLOW} {turned}\n" in output, output
    assert "_ test_needs_a_widget _" in output and f"\n{WIDGET} {turned}\n" in output, output
    assert "ERROR collecting test_module_level.py _" in output and f"\n{ABSENT} {turned}\n" in output, output
    assert "During handling of the above exception" not in output, output


def test_with_the_option_and_require_all_only_the_missing_things_fail(tmp_path: Path) -> None:
    status, output = run_child(tmp_path, "--run-slow", WSCODEC_TEST_REQUIRE_ALL="1")
    assert status == 1, output
    assert re.match(r"1 failed, 3 passed, 1 error in ", summary(output)), output


CHILD_DRAWS = """
import os

from hypothesis import given, settings, strategies as st


@settings(max_examples=20)
@given(st.binary(min_size=8))
def test_draws(data):
    with open(os.environ["DRAWN"], "a") as out:
        out.write(data.hex() + "\\n")
"""


def drawn(tmp_path: Path, run: str, **switches: str) -> str:
    """The examples a hypothesis test with its own ``settings`` draws in one child run."""
    (tmp_path / "test_draws.py").write_text(CHILD_DRAWS)
    record = tmp_path / f"drawn-{run}"
    status, output = run_child(tmp_path, "test_draws.py", DRAWN=str(record), **switches)
    assert status == 0, output
    return record.read_text()


def test_derandomize_draws_the_same_examples_on_every_run(tmp_path: Path) -> None:
    first = drawn(tmp_path, "1", WSCODEC_TEST_DERANDOMIZE="1")
    assert first.count("\n") == 20, first
    assert drawn(tmp_path, "2", WSCODEC_TEST_DERANDOMIZE="1") == first


@pytest.mark.parametrize("ci", [{}, {"CI": "true"}], ids=["anywhere", "under-a-ci-service"])
def test_by_default_hypothesis_draws_new_examples_on_each_run(tmp_path: Path, ci: dict[str, str]) -> None:
    # hypothesis itself derandomizes where it sees a CI service's variables; only our switch may
    assert drawn(tmp_path, "1", **ci) != drawn(tmp_path, "2", **ci)
