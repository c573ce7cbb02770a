"""Run autobahn's Twisted test modules under trial with wscodec's autobahn shim installed first.

Usage: ``USE_TWISTED=1 python run_autobahn_trial.py autobahn.websocket.test [more modules]``
(trial's arguments). ``WSCODEC_SHIM_IMPL`` picks the wscodec implementation
("python" or "cython"; default: the active one). The run fails if the shim is
not installed at the end.
"""

from __future__ import annotations

import os
import sys

from wscodec.integrations import autobahn as shim


def main() -> int:
    """Install the shim, run trial on ``sys.argv[1:]``, return its exit status."""
    report = shim.install(os.environ.get("WSCODEC_SHIM_IMPL") or None)
    print(f"wscodec autobahn shim installed: autobahn {report.version} on wscodec ({report.implementation})")
    for line in report.lines():
        print(f"  {line}")
    sys.stdout.flush()
    from twisted.scripts.trial import run

    sys.argv = ["trial", *sys.argv[1:]]
    try:
        run()
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    if not shim.is_installed():
        print("the shim was uninstalled while the tests ran")
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
