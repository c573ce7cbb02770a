"""pytest plugin: install wscodec's wsproto shim before wsproto's own test suite runs.

``WSCODEC_SHIM_IMPL`` picks the wscodec implementation ("python" or "cython";
default: the active one). The run fails if the shim is not installed.
"""

from __future__ import annotations

import os

import pytest

from wscodec.integrations import wsproto as shim


def pytest_configure(config: pytest.Config) -> None:
    """Install the shim before any test module imports wsproto."""
    report = shim.install(os.environ.get("WSCODEC_SHIM_IMPL") or None)
    config.stash[_REPORT] = report


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say in the run's header which implementation is under wsproto and what it replaced."""
    report = config.stash[_REPORT]
    return [f"wscodec wsproto shim installed ({report.implementation}), wsproto {report.version}:", *report.lines()]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if something uninstalled the shim while the tests ran."""
    if not shim.is_installed():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_REPORT = pytest.StashKey["shim.InstallReport"]()
