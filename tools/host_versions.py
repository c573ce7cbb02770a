"""Test a shim on several releases of its host, each in a virtual environment of its own.

    python tools/host_versions.py websockets              # every release in LINES["websockets"]
    python tools/host_versions.py aiohttp 3.11.18 3.14.5  # these releases only
    python tools/host_versions.py aiohttp --host-suite --venvs ../host-venvs

For each release: a venv (made once under ``--venvs`` and reused, else in a
temporary folder), the host at that release with the test dependencies, wscodec
(a wheel built once from this checkout, or with ``--inplace`` this checkout on
PYTHONPATH: its compiled modules must have been built in place by the same
CPython), then the shim's tests (tests/integrations/test_<host>.py) and, with
``--host-suite``, the host's own suite with the shim (tools/host_tests/run_<host>.sh). A release
that has another configuration worth testing (``VARIANTS``: autobahn 24.4 with wsaccel) runs the
shim's tests once more in a venv of its own.
websockets' suite needs its repository's tests/ at that release (its sdists ship
none, or an incomplete copy): give ``--websockets-source`` (a checkout at that
release), else that suite is left out, saying so. Exit status 1 if any run failed; a summary line per release.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the latest patch release of every minor line each shim supports (its SUPPORTED_VERSIONS), oldest first
LINES: dict[str, list[str]] = {
    "websockets": [
        "13.0.1",
        "13.1",
        "14.0",
        "14.1",
        "14.2",
        "15.0.1",
        "16.0",
        "16.1.1",
        "17.0.1",
        "17.1",
        "17.2",
        "17.3",
        "17.4",
    ],
    "aiohttp": ["3.10.11", "3.11.18", "3.12.15", "3.13.5", "3.14.5"],
    "wsproto": ["1.2.0", "1.3.2"],
    "tornado": ["6.3.3", "6.4.2", "6.5.10", "6.6.1"],
    "autobahn": ["24.4.2", "25.9.1", "25.10.2", "25.11.1", "25.12.2", "26.6.2", "26.7.1", "26.10.2", "26.11.1"],
}
#: what the shim tests need besides the host (the test extra, without the other hosts)
TEST_DEPS = ["pytest>=8", "hypothesis>=6.100", "pytest-asyncio>=0.24", "pytest-mock>=3.14"]
#: what a shim's tests need on top for its host: the peer they talk to, as in the test extra; aiohttp's
#: other zlib backends, which the shim's writer takes
HOST_TEST_DEPS: dict[str, list[str]] = {
    "websockets": [],
    "aiohttp": ["zlib-ng>=0.5", "isal>=1.7"],
    "wsproto": ["websockets==17.4"],
    "tornado": ["websockets==17.4"],
    "autobahn": ["websockets==17.4"],
}
#: what each host's own suite needs on top
SUITE_DEPS: dict[str, list[str]] = {
    "websockets": [],
    "aiohttp": ["blockbuster>=1.5"],  # (3.12 and 3.13's conftest import it; 3.14's uses it when there)
    "wsproto": [],
    "tornado": [],
    "autobahn": ["twisted>=24.7"],  # (its Twisted flavour runs under trial)
}
#: what a host's own suite needs on top before a release: {host: [(that release, requirements)]}
OLD_SUITE_DEPS: dict[str, list[tuple[str, list[str]]]] = {
    # autobahn 24.4's asyncio tests take pytest-asyncio's event_loop fixture, which pytest-asyncio 1.0 removed
    "autobahn": [("25.9", ["pytest-asyncio<1"])],
}


#: configurations of a host before a release whose shim tests run a second time, in a venv of their own:
#: {host: [(that release, name, requirements)]}
VARIANTS: dict[str, list[tuple[str, str, list[str]]]] = {
    # autobahn 24.4 runs wsaccel's compiled validator and maskers when installed (its "accelerate" extra)
    "autobahn": [("25.9", "wsaccel", ["wsaccel>=0.6"])],
}


def release(version: str) -> tuple[int, ...]:
    """A release's number as a tuple, for comparisons ("24.4.2" -> (24, 4, 2))."""
    return tuple(int(part) for part in version.split("."))


def run(command: list[str], **kwargs: object) -> int:
    """Run ``command``, echoed; its exit status."""
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=False, **kwargs).returncode  # type: ignore[call-overload, no-any-return]


def venv_python(venv: Path) -> Path:
    """The interpreter of ``venv``."""
    return venv / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")


def make_venv(venv: Path, requirements: list[str], wheel: Path | None) -> Path:
    """Create ``venv`` (unless it has ``requirements`` already) and install them; its interpreter."""
    python = venv_python(venv)
    stamp = venv / "wscodec-host-versions.txt"
    wanted = "\n".join([*requirements, str(wheel or "")])
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *requirements], check=True)
    if wheel is not None:
        subprocess.run([*pip, "--no-deps", "--force-reinstall", str(wheel)], check=True)
    stamp.write_text(wanted)
    return python


def build_wheel(into: Path) -> Path:
    """A wheel of this checkout, compiled modules required, for this interpreter."""
    env = {**os.environ, "WSCODEC_REQUIRE_EXTENSIONS": "1"}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(into)], check=True, env=env
    )
    (wheel,) = into.glob("wscodec-*.whl")
    return wheel


def venv_env(python: Path, args: argparse.Namespace) -> dict[str, str]:
    """The environment that runs ``python``'s venv (with this checkout on PYTHONPATH for ``--inplace``)."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    if args.inplace:
        env["PYTHONPATH"] = str(ROOT)
    return env


def shim_tests(host: str, python: Path, env: dict[str, str]) -> int:
    """Run the shim's tests with ``python``; their exit status."""
    # From tests/: python -m pytest puts its working directory first on sys.path, and the checkout's own
    # wscodec/ must not shadow the installed one.
    tests = [f"integrations/test_{host}.py"]
    return run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT / "tests", env=env)


def test_release(host: str, version: str, args: argparse.Namespace, venvs: Path, wheel: Path | None) -> list[str]:
    """Everything asked for one release; the names of the runs that failed."""
    requirements = [f"{host}=={version}", *TEST_DEPS, *HOST_TEST_DEPS[host]]
    failed = []
    for before, name, needs in VARIANTS.get(host, []):
        if release(version) < release(before):
            python = make_venv(venvs / f"{host}-{version}-{name}", [*requirements, *needs], wheel)
            if shim_tests(host, python, venv_env(python, args)):
                failed.append(f"shim tests with {name}")
    if args.host_suite:
        requirements += SUITE_DEPS[host]
        for before, needs in OLD_SUITE_DEPS.get(host, []):
            requirements += needs if release(version) < release(before) else []
    python = make_venv(venvs / f"{host}-{version}", requirements, wheel)
    env = venv_env(python, args)
    if shim_tests(host, python, env):
        failed.append("shim tests")
    if args.host_suite:
        if host == "websockets":
            if args.websockets_source is None:
                print(f"websockets {version}'s own suite left out: give --websockets-source")
                return failed
            env["WEBSOCKETS_SOURCE"] = str(args.websockets_source.resolve())
        if run(["bash", str(ROOT / "tools" / "host_tests" / f"run_{host}.sh")], env=env):
            failed.append("host suite")
    return failed


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, test every release asked for, print a summary; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("host", choices=sorted(LINES))
    parser.add_argument("versions", nargs="*", help="releases to test (default: every minor line's latest)")
    parser.add_argument("--host-suite", action="store_true", help="also run the host's own suite with the shim")
    parser.add_argument("--venvs", type=Path, help="keep the venvs here, reused by later runs (default: temporary)")
    parser.add_argument("--inplace", action="store_true", help="use this checkout, built in place, on PYTHONPATH")
    parser.add_argument("--websockets-source", type=Path, help="a websockets checkout at the (single) release")
    args = parser.parse_args(argv)
    versions = args.versions or LINES[args.host]
    results: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        venvs = args.venvs or Path(scratch)
        venvs.mkdir(parents=True, exist_ok=True)
        wheel = None if args.inplace else build_wheel(Path(scratch) / "wheel")
        for version in versions:
            print(f"\n#### {args.host} {version}", flush=True)
            results[version] = test_release(args.host, version, args, venvs, wheel)
    print()
    for version, failed in results.items():
        print(f"{args.host} {version}: {'FAILED ' + ', '.join(failed) if failed else 'passed'}")
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
