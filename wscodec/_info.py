"""``python -m wscodec info``: version, active implementation the CPU kernels selected and the deflate backends."""

from __future__ import annotations

import argparse
import platform
import sys
import zlib

HELP = "show the version, the active implementation and the CPU kernels in use"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def describe() -> dict[str, str]:
    """What ``info`` prints, as a dict."""
    import wscodec
    from wscodec.deflate_py import DEFAULT_BACKEND, available_backends

    info = {
        "wscodec": wscodec.__version__,
        "implementation": wscodec.implementation,
        "python": f"{platform.python_implementation()} {platform.python_version()}"
        + (" (free-threaded)" if not getattr(sys, "_is_gil_enabled", lambda: True)() else ""),
        "machine": platform.machine(),
    }
    if wscodec.implementation == "cython":  # compiled only
        from wscodec import _deflate_c, _kernels_c

        # One dispatch picks the kernels for every compiled module, so one line names them all.
        chosen = _kernels_c.selected()
        info["cpu features"] = " ".join(_kernels_c.cpu_features()) or "none the kernels use"
        info["kernels"] = f"mask {chosen['mask']}, utf-8 {chosen['utf-8']}"
        info["zlib"] = f"{_deflate_c.zlib_version()} (C API)"
    else:
        info["kernels"] = "pure Python (mask: int XOR / bytes.translate; utf-8: CPython's strict decoder)"
        info["zlib"] = f"{zlib.ZLIB_RUNTIME_VERSION} (Python module)"
    info["deflate"] = ", ".join(available_backends()) + f" (default: {DEFAULT_BACKEND})"
    return info


def run(args: argparse.Namespace) -> int:
    """Print :func:`describe` as aligned lines."""
    info = describe()
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0
