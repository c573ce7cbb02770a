"""Choosing the implementation: compiled when built, pure when forced, and never silently."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from impls import IMPL_NAMES, load_impl

import wscodec

PUBLIC_IMPL_NAMES = [
    "apply_mask",
    "apply_mask_inplace",
    "Masker",
    "validate_utf8",
    "Utf8Validator",
    "Frame",
    "FrameHeader",
    "parse_header",
    "encode_header",
    "encode_frame",
    "FrameDecoder",
    "Message",
    "MessageDecoder",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
]


def _run(code: str, **env: str) -> str:
    full = {k: v for k, v in os.environ.items() if k != "WSCODEC_NO_EXTENSIONS"}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_active_implementation_matches_the_run() -> None:
    expected = "python" if os.environ.get("WSCODEC_NO_EXTENSIONS") else "cython"
    assert wscodec.implementation == expected


def test_env_switch_forces_pure_python() -> None:
    code = "import wscodec; print(wscodec.implementation, wscodec.apply_mask.__module__)"
    out = _run(code, WSCODEC_NO_EXTENSIONS="1")
    assert out == "python wscodec.mask_py"


def test_a_compiled_module_that_does_not_import_means_pure_python() -> None:
    # sys.modules[name] = None makes that import raise ImportError, as a missing or broken build does
    code = "import sys; sys.modules['wscodec._frames_c'] = None; import wscodec; print(wscodec.implementation)"
    assert _run(code) == "python"


def test_public_names_come_from_the_active_implementation() -> None:
    active = load_impl(wscodec.implementation)
    for name in PUBLIC_IMPL_NAMES:
        assert getattr(wscodec, name) is getattr(active, name), name


@pytest.mark.parametrize("name", IMPL_NAMES)
def test_each_implementation_exports_every_name(name: str) -> None:
    impl = load_impl(name)
    for attr in PUBLIC_IMPL_NAMES:
        assert getattr(impl, attr) is not None
    assert impl.NAME == name


def test_info_command_names_the_kernels() -> None:
    out = subprocess.run([sys.executable, "-m", "wscodec", "info"], capture_output=True, text=True, check=True).stdout
    assert f"implementation  {wscodec.implementation}" in out
    assert "mask kernel" in out and "utf-8 kernel" in out
    if wscodec.implementation == "cython":
        from wscodec import _mask_c, _utf8_c

        assert _mask_c.kernel() in out and _utf8_c.kernel() in out
