"""Run tornado's own test modules with wscodec's tornado shim installed first.

Usage: ``python run_tornado_suite.py tornado.test.websocket_test [more modules]``
(the arguments of ``python -m tornado.test.runtests``). ``WSCODEC_SHIM_IMPL``
picks the wscodec implementation ("python" or "cython"; default: the active
one); ``TORNADO_NO_EXTENSION=1`` runs tornado without its C speedups. The run
fails if the shim is not installed at the end.
"""

from __future__ import annotations

import os
import sys

from wscodec.integrations import tornado as shim


def main() -> int:
    """Install the shim, run tornado's runner on ``sys.argv``, return its exit status."""
    report = shim.install(os.environ.get("WSCODEC_SHIM_IMPL") or None)
    print(f"wscodec tornado shim installed ({report.implementation}) on tornado {report.version}:")
    for line in report.lines():
        print(f"  {line}")
    sys.stdout.flush()
    from tornado.test.runtests import main as runtests

    try:
        runtests()
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    if not shim.is_installed():
        print("the shim was uninstalled while the tests ran")
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
