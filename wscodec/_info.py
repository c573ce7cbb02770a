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
        from wscodec import _deflate_c, _mask_c, _utf8_c

        info["mask kernel"] = _mask_c.kernel()
        info["utf-8 kernel"] = _utf8_c.kernel()
        info["zlib"] = f"{_deflate_c.zlib_version()} (C API)"
    else:
        info["mask kernel"] = "pure Python (int XOR / bytes.translate)"
        info["utf-8 kernel"] = "pure Python (CPython's strict UTF-8 decoder)"
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
