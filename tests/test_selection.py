"""Choosing the implementation: compiled when built, pure when forced, and never silently."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from impls import IMPL_NAMES, load_impl

import wscodec
from wscodec._names import IMPLEMENTED, INTERNAL, PUBLIC, SHARED


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
    public_impl_names = [name for name in IMPLEMENTED if name not in INTERNAL]
    assert public_impl_names  # the loop below checks something
    for name in public_impl_names:
        assert getattr(wscodec, name) is getattr(active, name), name


def test_all_is_the_one_list() -> None:
    assert wscodec.__all__ == list(PUBLIC)  # type: ignore[attr-defined]  # set at run time
    assert len(set(PUBLIC)) == len(PUBLIC)
    assert not set(SHARED) & set(IMPLEMENTED)
    assert INTERNAL <= set(IMPLEMENTED)
    for name in PUBLIC:
        assert hasattr(wscodec, name), name
    assert public_names(wscodec) == set(PUBLIC)


# What a namespace module holds besides its names: its imports and its own machinery.
MACHINERY = {"annotations", "importlib", "TYPE_CHECKING", "Any", "NAME", "load_all"}


def public_names(module: ModuleType) -> set[str]:
    """The names a module offers: not underscored (``__version__`` aside), not one of its imports."""
    return {
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, ModuleType)
        and name not in MACHINERY
    }


@pytest.mark.parametrize("name", IMPL_NAMES)
def test_each_implementation_has_exactly_the_listed_names(name: str) -> None:
    impl = load_impl(name)
    if name == "cython":
        impl.load_all()  # names resolve lazily; bind every one
    assert public_names(impl) == set(IMPLEMENTED)
    for attr, (pure, compiled) in IMPLEMENTED.items():
        value = getattr(impl, attr)
        if isinstance(value, int):
            continue
        assert value.__module__ == f"wscodec.{pure if name == 'python' else compiled}", attr
    assert impl.NAME == name


def test_info_command_names_the_kernels() -> None:
    out = subprocess.run([sys.executable, "-m", "wscodec", "info"], capture_output=True, text=True, check=True).stdout
    assert f"implementation  {wscodec.implementation}" in out
    (line,) = [line for line in out.splitlines() if line.startswith("kernels ")]
    if wscodec.implementation == "cython":
        from wscodec import _kernels_c, _mask_c, _utf8_c

        assert line.split(None, 1)[1] == f"mask {_mask_c.kernel()}, utf-8 {_utf8_c.kernel()}"
        assert _kernels_c.cpu_features(), "x86-64 has SSE2 and AArch64 NEON: the dispatch saw no feature"
        # One dispatch: the kernels are compiled into _kernels_c only, and every module reports its choice.
        assert _kernels_c.selected() == {"mask": _mask_c.kernel(), "utf-8": _utf8_c.kernel()}
        available = _kernels_c.available()
        assert (_mask_c.kernel(), _utf8_c.kernel()) == (available["mask"][0], available["utf-8"][0])
    else:
        assert "pure Python" in line


@pytest.mark.parametrize("name", [name for name in IMPL_NAMES if name == "cython"])  # none in a pure run
def test_one_kernel_dispatch_for_every_compiled_module(name: str) -> None:
    """The SIMD kernels are compiled into wscodec._kernels_c only; the other modules cimport its choice."""
    from wscodec import _deflate_c, _frames_c, _kernels_c, _mask_c, _utf8_c

    # The names of the portable kernels are string literals of the kernel tables (NUL-terminated, not the
    # tail of a symbol such as ws_mask_portable): only the module that holds the tables has them.
    tables = [re.compile(rb"(?<![A-Za-z0-9_])" + name + rb"\0") for name in (b"portable", b"scalar")]
    for module in (_mask_c, _utf8_c, _frames_c, _deflate_c):
        binary = Path(str(module.__file__)).read_bytes()
        assert not [table for table in tables if table.search(binary)], module.__name__
    binary = Path(str(_kernels_c.__file__)).read_bytes()
    assert all(table.search(binary) for table in tables)


def test_reasons_and_messages_are_written_once() -> None:
    """Every reason and argument message is spelled only in wscodec._rules, never again as a literal."""
    from pathlib import Path

    from wscodec import _rules

    root = Path(wscodec.__file__).parent
    paths = [path for pattern in ("*.py", "*.pyx", "*.pxd") for path in root.glob(pattern)]
    sources = {path.name: path.read_text("utf-8") for path in paths}
    assert "frames_py.py" in sources and sources.pop("_rules.py")
    words = [getattr(_rules, name) for name in _rules.__all__ if isinstance(getattr(_rules, name), str)]
    assert len(words) > 30
    for word in words:
        fixed = word.split("{")[0]  # a template's text before its first field
        for name, text in sources.items():
            assert f'"{fixed}' not in text, (word, name)
