"""``python -m wscodec info``: version, active implementation and the CPU kernels selected."""

from __future__ import annotations

import argparse
import platform
import sys

HELP = "show the version, the active implementation and the CPU kernels in use"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def describe() -> dict[str, str]:
    """What ``info`` prints, as a dict."""
    import wscodec

    info = {
        "wscodec": wscodec.__version__,
        "implementation": wscodec.implementation,
        "python": f"{platform.python_implementation()} {platform.python_version()}"
        + (" (free-threaded)" if not getattr(sys, "_is_gil_enabled", lambda: True)() else ""),
        "machine": platform.machine(),
    }
    if wscodec.implementation == "cython":
        from wscodec import _mask_c, _utf8_c

        info["mask kernel"] = _mask_c.kernel()
        info["utf-8 kernel"] = _utf8_c.kernel()
    else:
        info["mask kernel"] = "pure Python (int XOR / bytes.translate)"
        info["utf-8 kernel"] = "pure Python (CPython's strict UTF-8 decoder)"
    return info


def run(args: argparse.Namespace) -> int:
    """Print :func:`describe` as aligned lines."""
    info = describe()
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0
