"""What the host-suite runners share: install a shim, say what it did, run the host's tests, and fail
the run if the shim is no longer installed at the end (``WSCODEC_SHIM_IMPL`` picks the wscodec
implementation: "python" or "cython"; default: the active one)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from wscodec.integrations import InstallReport, shim_module


def header(report: InstallReport) -> list[str]:
    """Which host version runs on which wscodec implementation, and what the shim did."""
    head = f"wscodec {report.host} shim installed: {report.host} {report.version} on wscodec ({report.implementation})"
    return [head, *(f"  {line}" for line in report.lines())]


def install(host: str) -> InstallReport:
    """Install ``host``'s shim on the implementation ``WSCODEC_SHIM_IMPL`` names."""
    report: InstallReport = shim_module(host).install(os.environ.get("WSCODEC_SHIM_IMPL") or None)
    return report


def still_installed(host: str) -> bool:
    """Whether ``host``'s shim is still installed (a test that uninstalled it would void the run)."""
    return bool(shim_module(host).is_installed())


def run_under_shim(host: str, tests: Callable[[], object]) -> int:
    """Install ``host``'s shim, print :func:`header`, run ``tests()``; its exit status (a ``SystemExit``'s
    code, 0 if it returns), 1 if the shim is gone by then."""
    print("\n".join(header(install(host))))
    sys.stdout.flush()
    try:
        tests()
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    if not still_installed(host):
        print("the shim was uninstalled while the tests ran")
        return 1
    return status
