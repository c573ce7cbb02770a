"""pytest plugin: install a wscodec shim before a host library's own test suite is collected.

Load it with ``-p shim_plugin`` (this directory on ``PYTHONPATH``) and say
which shim with ``WSCODEC_SHIM_HOST`` (``wsproto``, ``autobahn``, ...) and on
which wscodec implementation with ``WSCODEC_SHIM_IMPL`` (``python`` or
``cython``; default: the active one). The run's header lists what the shim
replaced; the run fails if the shim is no longer installed at the end.
"""

from __future__ import annotations

import os

import pytest

from wscodec.integrations import InstallReport, shim_module

_REPORT = pytest.StashKey[InstallReport]()


def pytest_configure(config: pytest.Config) -> None:
    """Install the shim before any test module imports the host."""
    shim = shim_module(os.environ["WSCODEC_SHIM_HOST"])
    config.stash[_REPORT] = shim.install(os.environ.get("WSCODEC_SHIM_IMPL") or None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which host version runs on which wscodec implementation, and what the shim did."""
    report = config.stash[_REPORT]
    head = f"wscodec {report.host} shim installed: {report.host} {report.version} on wscodec ({report.implementation})"
    return [head, *(f"  {line}" for line in report.lines())]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if something uninstalled the shim while the tests ran."""
    if not shim_module(os.environ["WSCODEC_SHIM_HOST"]).is_installed():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
