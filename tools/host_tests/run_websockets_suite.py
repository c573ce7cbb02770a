"""Run websockets' own test suite (unittest) with wscodec's websockets shim installed first.

Usage: ``python run_websockets_suite.py TESTS_PARENT [unittest discover arguments]``,
where ``TESTS_PARENT`` is the folder holding websockets' ``tests`` package (a
checkout of its repository). ``WSCODEC_SHIM_IMPL`` picks the wscodec
implementation ("python" or "cython"; default: the active one);
``WEBSOCKETS_NO_SPEEDUPS=1`` runs websockets as if built without its C
extension. The run fails if the shim is not installed at the end.
"""

from __future__ import annotations

import os
import sys
import unittest


def main() -> int:
    """Install the shim, run the discovered tests, return the exit status."""
    parent = sys.argv[1]
    if os.environ.get("WEBSOCKETS_NO_SPEEDUPS"):
        sys.modules["websockets.speedups"] = None  # type: ignore[assignment]  # as if not built
    from wscodec.integrations import websockets as shim

    report = shim.install(os.environ.get("WSCODEC_SHIM_IMPL") or None)
    print(f"wscodec websockets shim installed ({report.implementation}) on websockets {report.version}:")
    for line in report.lines():
        print(f"  {line}")
    sys.stdout.flush()
    sys.path.insert(0, parent)
    suite = unittest.defaultTestLoader.discover(os.path.join(parent, "tests"), top_level_dir=parent)
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    if not shim.is_installed():
        print("the shim was uninstalled while the tests ran")
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
