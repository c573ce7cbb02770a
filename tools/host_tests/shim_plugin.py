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
from _runner import header, install, still_installed  # this folder is on PYTHONPATH

from wscodec.integrations import InstallReport

_REPORT = pytest.StashKey[InstallReport]()


def pytest_configure(config: pytest.Config) -> None:
    """Install the shim before any test module imports the host."""
    config.stash[_REPORT] = install(os.environ["WSCODEC_SHIM_HOST"])


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which host version runs on which wscodec implementation, and what the shim did."""
    return header(config.stash[_REPORT])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if something uninstalled the shim while the tests ran."""
    if not still_installed(os.environ["WSCODEC_SHIM_HOST"]):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
