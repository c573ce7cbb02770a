"""The GitHub workflows are valid and build and test what the project promises.

ci.yml: lint, types, the suite on every CPython the wheels are built for (free-threaded
included) on Linux, macOS and Windows, compiled and pure, and PyPy. wheels.yml: cibuildwheel,
pinned, on native runners for every platform the project ships; an sdist; a pure wheel;
trusted publishing on a version tag. The cibuildwheel facts are asked of the pinned
cibuildwheel itself (``--print-build-identifiers``), so they follow its releases.

The developer workflow: .ci/run runs README.md's test command, then nox sessions in that same
environment; the pre-commit hooks run the dev extra's tools; coverage is enforced for the pure
implementation and, in one CI job, for the compiled modules.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import needs
import pytest

# The repository's own files, read with the tools of the dev extra.
ROOT = needs.checkout(".github/workflows", "pyproject.toml")
YAML = needs.module("ruamel.yaml", needs.DEV_EXTRA).YAML
CI = ROOT / ".github" / "workflows" / "ci.yml"
WHEELS = ROOT / ".github" / "workflows" / "wheels.yml"
PYPROJECT = ROOT / "pyproject.toml"

# Where wheels must exist (cibuildwheel's platform and architecture names); Linux means both
# manylinux and musllinux.
REQUIRED_TARGETS = [
    ("linux", "x86_64"),
    ("linux", "aarch64"),
    ("macos", "x86_64"),
    ("macos", "arm64"),
    ("windows", "AMD64"),
    ("windows", "ARM64"),
]
PLATFORM_OF_RUNNER = {"ubuntu": "linux", "macos": "macos", "windows": "windows"}


@cache
def workflow(path: Path) -> dict[str, Any]:
    """A workflow file as data (YAML 1.2, so that the ``on`` key stays a string)."""
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


def commands(job: dict[str, Any]) -> str:
    """Every shell command of a job, one after the other."""
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The steps of a job that use ``action`` (any version)."""
    return [step for step in job["steps"] if step.get("uses", "").split("@")[0] == action]


def tool(name: str) -> ModuleType:
    """The script tools/NAME.py, imported as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pyproject() -> dict[str, Any]:
    """pyproject.toml as data."""
    data: dict[str, Any] = needs.module("tomllib", python=(3, 11)).loads(PYPROJECT.read_text(encoding="utf-8"))
    return data


@cache
def build_identifiers(platform: str, arch: str, build: str | None = None, skip: str = "") -> frozenset[str]:
    """What the pinned cibuildwheel builds for one platform and architecture.

    With ``build`` None the selection is pyproject.toml's; ``build="*"`` gives every
    (non-prerelease) CPython that cibuildwheel supports from requires-python on.
    """
    needs.module("cibuildwheel", needs.DEV_EXTRA)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIBW_")}
    env["CIBW_SKIP"] = skip
    if build is not None:
        env["CIBW_BUILD"] = build
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cibuildwheel",
            "--print-build-identifiers",
            "--platform",
            platform,
            "--archs",
            arch,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return frozenset(result.stdout.split())


def supported_identifiers() -> frozenset[str]:
    """Every CPython wheel the project must ship."""
    return frozenset().union(*(build_identifiers(p, a, build="*") for p, a in REQUIRED_TARGETS))


def supported_pythons() -> set[str]:
    """The CPython versions of the wheels, as setup-python spells them: ``3.10`` ... ``3.15t``."""
    tags = {identifier.split("-")[0] for identifier in supported_identifiers()}
    return {f"3.{tag.removeprefix('cp3')}" for tag in tags}


def test_workflows_match_the_github_workflow_schema() -> None:
    needs.module("check_jsonschema", needs.DEV_EXTRA)
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", CI, WHEELS],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_supported_versions_start_at_310_and_include_free_threaded_builds() -> None:
    versions = supported_pythons()
    assert min(v for v in versions if not v.endswith("t")) == "3.10"
    assert any(v.endswith("t") for v in versions)
    requires = pyproject()["project"]["requires-python"]
    assert requires == ">=3.10"


def test_classifiers_name_every_supported_version() -> None:
    classifiers = pyproject()["project"]["classifiers"]
    declared = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert declared == {v for v in supported_pythons() if not v.endswith("t")}


def test_cibuildwheel_is_pinned_to_the_release_installed_here() -> None:
    steps = uses(workflow(WHEELS)["jobs"]["wheels"], "pypa/cibuildwheel")
    assert len(steps) == 1
    ref = steps[0]["uses"].split("@")[1]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", ref), f"cibuildwheel must be pinned to a release, not {ref}"
    needs.module("cibuildwheel", needs.DEV_EXTRA)
    assert ref == "v" + importlib.metadata.version("cibuildwheel")


@pytest.mark.slow
def test_wheel_jobs_build_every_supported_cpython_on_every_platform() -> None:
    jobs = workflow(WHEELS)["jobs"]["wheels"]["strategy"]["matrix"]["include"]
    built: set[str] = set()
    for job in jobs:
        platform = PLATFORM_OF_RUNNER[job["os"].split("-")[0]]
        built |= build_identifiers(platform, job["arch"], skip=job["skip"])
    assert built == supported_identifiers()
    for libc in ("manylinux", "musllinux"):
        for arch in ("x86_64", "aarch64"):
            assert {f"cp310-{libc}_{arch}", f"cp314t-{libc}_{arch}"} <= built


def runner_cpu(runner: str) -> str:
    """The CPU family of a GitHub-hosted runner label: ``arm`` or ``x86``.

    ARM runners for Linux and Windows end in ``-arm``; macOS runners are ARM
    except the Intel ones (``-intel``, and ``macos-13``, the last Intel image).
    """
    if runner.endswith("-arm"):
        return "arm"
    if runner.startswith("macos"):
        return "x86" if runner.endswith("-intel") or runner == "macos-13" else "arm"
    return "x86"


def test_wheel_jobs_run_on_native_runners() -> None:
    cpu_of_arch = {"x86_64": "x86", "AMD64": "x86", "aarch64": "arm", "arm64": "arm", "ARM64": "arm"}
    for job in workflow(WHEELS)["jobs"]["wheels"]["strategy"]["matrix"]["include"]:
        assert runner_cpu(job["os"]) == cpu_of_arch[job["arch"]], f"{job['arch']} built on {job['os']}"
    assert "qemu" not in WHEELS.read_text(encoding="utf-8").lower(), "no emulated builds"


def test_every_wheel_is_tested() -> None:
    table = pyproject()["tool"]["cibuildwheel"]
    assert "test-skip" not in table
    assert table["test-extras"] == ["test"]
    assert "tests" in table["test-sources"]
    assert table["test-command"].startswith("python tools/check_dist.py installed --expect cython --tests tests")
    assert table["environment"]["WSCODEC_REQUIRE_EXTENSIONS"] == "1"


def test_sdist_and_pure_wheel_jobs() -> None:
    jobs = workflow(WHEELS)["jobs"]
    assert "python -m build --sdist" in commands(jobs["sdist"])
    assert uses(jobs["wheels"], "pypa/cibuildwheel")[0]["with"]["package-dir"] == "${{ env.SDIST }}"
    pure = jobs["pure"]
    build_step = next(step for step in pure["steps"] if "python -m build --wheel" in step.get("run", ""))
    assert build_step["env"]["WSCODEC_NO_EXTENSIONS"] == "1"
    assert "-py3-none-any.whl" in commands(pure)
    assert "--expect python" in commands(pure)


def test_publishing_uses_trusted_publishing_on_version_tags() -> None:
    wheels = workflow(WHEELS)
    assert wheels["on"]["push"]["tags"] == ["v*"]
    publish = wheels["jobs"]["publish"]
    assert set(publish["needs"]) == {"sdist", "wheels", "pure"}
    assert "refs/tags/v" in publish["if"]
    assert publish["permissions"] == {"id-token": "write"}
    (step,) = uses(publish, "pypa/gh-action-pypi-publish")
    assert not set(step.get("with", {})) & {"password", "user"}, "trusted publishing needs no stored token"


def test_ci_runs_on_push_and_pull_request() -> None:
    assert {"push", "pull_request"} <= set(workflow(CI)["on"])


def test_ci_lints_and_type_checks() -> None:
    jobs = workflow(CI)["jobs"]
    lint = commands(jobs["lint"])
    assert "ruff check" in lint and "cython-lint wscodec" in lint
    types = commands(jobs["types"])
    assert "mypy --strict wscodec" in types and "python -m mypy.stubtest wscodec" in types


@pytest.mark.slow
def test_ci_tests_every_supported_cpython_on_every_os() -> None:
    tests = workflow(CI)["jobs"]["tests"]
    matrix = tests["strategy"]["matrix"]
    assert {os_.split("-")[0] for os_ in matrix["os"]} == {"ubuntu", "macos", "windows"}
    assert set(matrix["python"]) == supported_pythons()
    assert "exclude" not in matrix and "include" not in matrix


def test_ci_tests_both_implementations_from_outside_the_checkout() -> None:
    steps = workflow(CI)["jobs"]["tests"]["steps"]
    install = next(step for step in steps if "pip install" in step.get("run", ""))
    assert install["env"]["WSCODEC_REQUIRE_EXTENSIONS"] == "1"
    runs = [step for step in steps if "--tests" in step.get("run", "")]
    assert [step.get("env", {}).get("WSCODEC_NO_EXTENSIONS") for step in runs] == [None, "1"]
    assert all(step["working-directory"] == "${{ runner.temp }}" for step in runs)


def test_ci_tests_pypy_on_the_pure_implementation() -> None:
    pypy = workflow(CI)["jobs"]["pypy"]
    (setup,) = uses(pypy, "actions/setup-python")
    assert setup["with"]["python-version"].startswith("pypy3")
    assert pypy["env"]["WSCODEC_NO_EXTENSIONS"] == "1"
    assert "--expect python --tests" in commands(pypy)


# ---------------------------------------------------------------- the developer workflow
# .ci/run, noxfile.py, the pre-commit hooks and the coverage settings agree with each other and
# with the dev extra, so that a contributor's tools are CI's tools.
CI_RUN = ROOT / ".ci" / "run"
NOXFILE = ROOT / "noxfile.py"
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"
README = ROOT / "README.md"


def dev_extra() -> dict[str, str]:
    """The dev extra's requirements by distribution name."""
    names = {}
    for requirement in pyproject()["project"]["optional-dependencies"]["dev"]:
        names[re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()] = requirement
    return names


def nox_sessions(names: set[str]) -> set[str]:
    """Those of ``names`` that noxfile.py defines, as ``nox --list --sessions NAMES`` lists them."""
    needs.module("nox", needs.DEV_EXTRA)
    result = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "--json", "--noxfile", str(NOXFILE), "--sessions", *sorted(names)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return {session["session"] for session in json.loads(result.stdout)} if result.returncode == 0 else set()


def test_ci_run_starts_with_the_readme_test_command_verbatim() -> None:
    readme = README.read_text(encoding="utf-8")
    command = re.search(r"```sh\n(python -m venv .*pytest tests)\n```", readme)
    assert command, "README.md shows no test command"
    install_and_test = command.group(1).split(" && ", 2)[2]  # after creating and activating the venv
    script = CI_RUN.read_text(encoding="utf-8")
    assert install_and_test in script.splitlines()
    assert script.index(install_and_test) < script.index("\nsession() {")


def test_ci_run_stages_are_nox_sessions_in_its_own_environment() -> None:
    script = CI_RUN.read_text(encoding="utf-8")
    # one helper runs every session, in the README's .venv: no environment per session
    (helper,) = re.findall(r"^session\(\) \{ (nox [^;]*); \}$", script, re.MULTILINE)
    assert "--no-venv" in helper.split()
    called = set()
    for line in script.splitlines():
        if line.startswith("session -s "):
            called |= set(shlex.split(line.split(" -- ")[0])[2:])
    assert called >= {"coverage", "hosts", "fuzz", "bench", "lint", "types", "docs", "dist"}
    assert nox_sessions(called) == called
    assert "nox" in dev_extra(), "CI installs nox with the dev extra"


def test_pre_commit_hooks_run_the_dev_extras_tools() -> None:
    config = YAML(typ="safe").load(PRE_COMMIT.read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "cython-lint", "mypy"} <= set(hooks)
    tools = dev_extra()
    assert "pre-commit" in tools
    for hook in hooks.values():
        if hook.get("language") in ("system", "unsupported"):
            assert hook["entry"].split()[0] in tools, f"{hook['id']} runs a tool the dev extra does not pin"
    assert hooks["mypy"]["entry"] == "mypy --strict wscodec", "the same check as CI"
    assert hooks["mypy"]["pass_filenames"] is False


def test_coverage_is_enforced_for_both_implementations() -> None:
    coverage = pyproject()["tool"]["coverage"]
    assert coverage["run"]["branch"] is True
    assert coverage["report"]["fail_under"] >= 95
    assert "coverage" in dev_extra()
    jobs = workflow(CI)["jobs"]
    assert "nox -s coverage-cython" in commands(jobs["coverage-cython"])
    cython = needs.module("tomllib", python=(3, 11)).loads(
        (ROOT / "tools" / "coverage-cython.toml").read_text(encoding="utf-8")
    )["tool"]["coverage"]
    assert cython["run"]["plugins"] == ["Cython.Coverage"]
    assert cython["report"]["fail_under"] > 0


def test_ci_tests_every_minor_line_of_each_shims_host() -> None:
    """The host-versions job runs tools/host_versions.py on every release it lists, the host's own suite
    on at least the oldest and newest of each host; the range starts where the shim's SUPPORTED_VERSIONS does."""
    host_versions = tool("host_versions")
    job = workflow(CI)["jobs"]["host-versions"]
    rows = job["strategy"]["matrix"]["include"]
    assert "tools/host_versions.py ${{ matrix.host }} ${{ matrix.version }} ${{ matrix.suite }}" in commands(job)
    for host, versions in host_versions.LINES.items():
        assert [row["version"] for row in rows if row["host"] == host] == versions
        suites = [row["version"] for row in rows if row["host"] == host and row.get("suite") == "--host-suite"]
        assert {versions[0], versions[-1]} <= set(suites)  # (autobahn's also where its protocol changed)
        supported = importlib.import_module(f"wscodec.integrations.{host}").SUPPORTED_VERSIONS
        assert all(supported.classify(version) == "supported" for version in versions)
        assert versions[0].startswith(supported.oldest) and versions[-1].startswith(supported.newest)


def test_the_codec_tests_of_other_cpythons_exist() -> None:
    """tools/check_dist.py runs CODEC_TESTS on each other CPython's wheel (and the line-traced build
    on them): each names a module of this suite, so the list cannot silently shrink to nothing."""
    check_dist = tool("check_dist")
    tests = Path(__file__).resolve().parent
    assert check_dist.CODEC_TESTS
    for name in check_dist.CODEC_TESTS:
        assert (tests / name).is_file(), name
        assert name not in check_dist.REPO_ONLY_TESTS
