"""The shim framework: patch and exact restore, version and internals checks, install_all, auto, CLI."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
import warnings
from types import ModuleType

import pytest
from shim_cases import subprocess_env

from wscodec import integrations
from wscodec.__main__ import main
from wscodec.integrations import UnsupportedHostError, install_all, uninstall_all
from wscodec.integrations._patch import (
    Leave,
    Plan,
    Replace,
    Shim,
    expect_function,
    is_native,
    native_beats_pure,
    require_version,
    resolve_impl,
)

#: hosts importable here (some need a newer Python than wscodec does), found independently of available()
PRESENT = [host for host in integrations.SHIMS if importlib.util.find_spec(host) is not None]


def make_host() -> ModuleType:
    """A stand-in host module with one function to patch."""
    host = types.ModuleType("fake_host")

    def encode(data: bytes, mask: bytes) -> bytes:
        return data

    host.encode = encode  # type: ignore[attr-defined]
    return host


def test_shim_patches_and_restores_the_very_same_objects(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host()
    original = host.encode

    def replacement(data: bytes, mask: bytes) -> bytes:
        return b"patched"

    follower = types.ModuleType("fake_follower")
    monkeypatch.setitem(sys.modules, "fake_follower", follower)
    plans: list[str] = []

    def plan(namespace: ModuleType) -> Plan:
        plans.append(namespace.NAME)
        return [
            Replace(host, "encode", replacement, "a test double", followers=("fake_follower",)),
            Leave("fake_host.other", "already fast"),
        ]

    shim = Shim("pytest", ("0",), plan)
    monkeypatch.setattr("wscodec.integrations._patch.require_version", lambda name, tested: "0")
    report = shim.install(impl)
    assert shim.is_installed() and shim.report() is report
    assert report.replaced == {"fake_host.encode": "a test double"}
    assert report.left_alone == {"fake_host.other": "already fast"}
    assert report.lines() == [
        "replaces fake_host.encode with a test double",
        "leaves fake_host.other alone: already fast",
    ]
    assert host.encode is replacement
    follower.encode = host.encode  # type: ignore[attr-defined]  # imported while installed
    assert shim.install(impl) is report and plans == [impl.NAME]  # idempotent: not planned again
    shim.uninstall()
    assert host.encode is original and follower.encode is original  # type: ignore[attr-defined]
    assert not shim.is_installed() and shim.report() is None
    shim.uninstall()
    assert host.encode is original


def test_a_failing_plan_patches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host()
    original = host.encode

    def plan(namespace: ModuleType) -> Plan:
        raise UnsupportedHostError("internals changed")

    monkeypatch.setattr("wscodec.integrations._patch.require_version", lambda name, tested: "0")
    shim = Shim("pytest", ("0",), plan)
    with pytest.raises(UnsupportedHostError, match="internals changed"):
        shim.install("python")
    assert not shim.is_installed() and host.encode is original


def test_require_version() -> None:
    assert require_version("pytest", (pytest.__version__,)) == pytest.__version__
    with pytest.raises(UnsupportedHostError, match=r"written for pytest 0\.1; .* is installed"):
        require_version("pytest", ("0.1",))
    with pytest.raises(ModuleNotFoundError, match="not installed"):
        require_version("no-such-distribution-wscodec", ("1",))


def test_expect_function_checks_name_and_parameters() -> None:
    host = make_host()
    assert expect_function(host, "encode", ("data", "mask")) is host.encode
    with pytest.raises(UnsupportedHostError, match=r"fake_host\.encode takes \(data, mask\), expected \(mask, data\)"):
        expect_function(host, "encode", ("mask", "data"))
    with pytest.raises(UnsupportedHostError, match="does not exist"):
        expect_function(host, "decode", ("data",))
    host.constant = 3  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedHostError, match="not callable"):
        expect_function(host, "constant", ())
    host.builtin = len  # type: ignore[attr-defined]  # no parameter names to check
    assert expect_function(host, "builtin", ("obj",)) is len


def test_native_detection(impl: ModuleType) -> None:
    assert is_native(len) and not is_native(make_host().encode)
    assert native_beats_pure(len, impl) == (impl.NAME == "python")
    assert not native_beats_pure(make_host().encode, impl)


def test_resolve_impl(impl: ModuleType) -> None:
    import wscodec

    assert resolve_impl(impl) is impl
    assert resolve_impl(impl.NAME) is impl
    assert resolve_impl(None).NAME == wscodec.implementation
    with pytest.raises(ValueError, match="unknown wscodec implementation"):
        resolve_impl("rust")


def test_install_all_installs_every_importable_host(impl: ModuleType) -> None:
    names = install_all(impl)
    assert names == integrations.available() == PRESENT
    assert all(integrations.shim_module(host).is_installed() for host in names)
    uninstall_all()
    assert not any(integrations.shim_module(host).is_installed() for host in names)


def test_install_all_strict_rolls_back_and_lenient_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    # aiohttp comes after wsproto in SHIMS, so a shim is already installed when aiohttp's refuses
    aiohttp_shim = integrations.shim_module("aiohttp")
    monkeypatch.setattr(aiohttp_shim._SHIM, "tested", ("0.0",))
    with pytest.raises(UnsupportedHostError, match="aiohttp"):
        install_all("python")
    assert not any(integrations.shim_module(host).is_installed() for host in integrations.SHIMS)
    with pytest.warns(RuntimeWarning, match="aiohttp shim was written for aiohttp 0.0"):
        names = install_all("python", strict=False)
    assert "aiohttp" not in names and "wsproto" in names


def test_unknown_host() -> None:
    with pytest.raises(ValueError, match="no wscodec shim for 'ws4py'"):
        integrations.shim_module("ws4py")


def run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter; its standard output."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=subprocess_env(**env)
    )
    return result.stdout.strip()


HOSTS = tuple(integrations.SHIMS)


def test_importing_the_shims_imports_no_host() -> None:
    code = (
        "import sys, importlib, wscodec.auto, wscodec.integrations.cli, wscodec.benchmark.integrations\n"
        f"for host in {HOSTS!r}: importlib.import_module('wscodec.integrations.' + host)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HOSTS!r}))"
    )
    assert run_python(code, WSCODEC_AUTO_INSTALL="") == "[]"


def test_auto_installs_only_when_asked() -> None:
    code = "import wscodec.auto; print(wscodec.auto.installed)"
    assert run_python(code, WSCODEC_AUTO_INSTALL="1") == repr(PRESENT)
    assert run_python(code, WSCODEC_AUTO_INSTALL="") == "[]"
    assert run_python(code, WSCODEC_AUTO_INSTALL="0") == "[]"


def test_cli_lists_every_shim(impl: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["integrations", "--impl", impl.NAME]) == 0
    out = capsys.readouterr().out
    assert f"implementation: {impl.NAME}" in out
    for host in HOSTS:
        assert f"\n{host} " in out
    if "tornado" in PRESENT:
        assert (
            "replaces tornado.websocket._websocket_mask" in out
            or "leaves tornado.websocket._websocket_mask alone" in out
        )
    assert main(["integrations", "--impl", impl.NAME, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["implementation"] == impl.NAME
    assert [entry["host"] for entry in document["hosts"]] == list(HOSTS)
    for entry in document["hosts"]:
        present = entry["host"] in PRESENT
        assert entry["status"] == ("installable" if present else "not installed")
        assert bool(entry["would"]) == present
    assert not any(integrations.shim_module(host).is_installed() for host in HOSTS)  # listing installs nothing


def test_cli_reports_an_unsupported_host(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(integrations.shim_module("aiohttp")._SHIM, "tested", ("0.0",))
    assert main(["integrations", "--json"]) == 0
    entry = next(e for e in json.loads(capsys.readouterr().out)["hosts"] if e["host"] == "aiohttp")
    assert entry["status"] == "unsupported" and "aiohttp 0.0" in entry["error"]


def test_no_warning_when_nothing_is_wrong() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        install_all(strict=False)
