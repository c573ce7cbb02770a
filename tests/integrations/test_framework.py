"""The shim framework: patch and exact restore, version and internals checks, install_all, auto, CLI."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import re
import subprocess
import sys
import types
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pytest
from shim_cases import subprocess_env

from wscodec import integrations
from wscodec.__main__ import main
from wscodec.integrations import HostVersionWarning, UnsupportedHostError, Versions, install_all, uninstall_all
from wscodec.integrations._patch import (
    Leave,
    Plan,
    Replace,
    Shim,
    expect_function,
    installed_version,
    is_native,
    native_beats_pure,
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

    shim = Shim("pytest", Versions("0", "99999"), plan)
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

    shim = Shim("pytest", Versions("0", "99999"), plan)
    with pytest.raises(UnsupportedHostError, match="internals changed"):
        shim.install("python")
    assert not shim.is_installed() and host.encode is original


def test_shim_gives_the_module_functions_with_their_options(impl: ModuleType) -> None:
    host = make_host()
    original = host.encode
    seen: list[int | None] = []

    def options(*, limit: int | None = 7) -> None:
        if limit == -1:
            raise ValueError("limit must be >= 0")
        seen.append(limit)

    def plan(namespace: ModuleType) -> Plan:
        return [Replace(host, "encode", len, "a test double")]

    shim = Shim("pytest", Versions("0", "99999"), plan, options=options)
    install, uninstall, is_installed, describe = shim.functions("fake_shim", install="Do X.", uninstall="Undo X.")
    for func, name in ((install, "install"), (uninstall, "uninstall"), (is_installed, "is_installed")):
        assert (func.__module__, func.__name__, func.__qualname__) == ("fake_shim", name, name)
    assert str(inspect.signature(install)).startswith(
        "(impl: 'ModuleType | str | None' = None, *, limit: 'int | None' = 7)"
    )
    assert install.__doc__ is not None and install.__doc__.startswith("Do X.\n\nIdempotent;")
    assert "pytest" in install.__doc__ and uninstall.__doc__ == "Undo X."
    assert describe(impl) == ["replaces fake_host.encode with a test double"] and host.encode is original
    with pytest.raises(ValueError, match="limit"):
        install(impl, limit=-1)
    with pytest.raises(TypeError):
        install(impl, other=1)
    assert not is_installed() and host.encode is original and seen == []
    report = install(impl, limit=3)
    assert is_installed() and host.encode is len and shim.report() is report and seen == [3]
    assert install(impl) is report and seen == [3, 7]  # the options are taken on every call, as documented
    uninstall()
    assert not is_installed() and host.encode is original


def test_a_shim_without_options_refuses_keyword_arguments(impl: ModuleType) -> None:
    host = make_host()
    shim = Shim("pytest", Versions("0", "99999"), lambda namespace: [Replace(host, "encode", len, "x")])
    install = shim.functions("fake_shim", install="Do X.", uninstall="Undo X.")[0]
    assert list(inspect.signature(install).parameters) == ["impl"]
    with pytest.raises(TypeError, match="limit"):
        install(impl, limit=1)
    assert not shim.is_installed() and host.encode is not len


@pytest.mark.parametrize("host", list(integrations.SHIMS))
def test_every_shim_module_has_its_functions_from_its_shim(host: str) -> None:
    module = integrations.shim_module(host)
    for name in ("install", "uninstall", "is_installed", "describe"):
        func = getattr(module, name)
        assert func.__module__ == module.__name__ and func.__name__ == name and func.__doc__
    expected = ["impl", "max_message_size"] if host in ("wsproto", "autobahn") else ["impl"]
    assert list(inspect.signature(module.install).parameters) == expected
    if host in ("wsproto", "autobahn"):
        param = inspect.signature(module.install).parameters["max_message_size"]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default == module.DEFAULT_MAX_MESSAGE_SIZE
        for bad in (-1, True, 1.5, "16"):
            with pytest.raises(ValueError, match="max_message_size"):
                module.install(max_message_size=bad)
            assert not module.is_installed()


def test_installed_version() -> None:
    assert installed_version("pytest") == pytest.__version__
    with pytest.raises(ModuleNotFoundError, match="not installed"):
        installed_version("no-such-distribution-wscodec")


@pytest.mark.parametrize(
    ("version", "kind"),
    [
        ("12.9.9", "older"),
        ("12", "older"),
        ("13", "supported"),
        ("13.0", "supported"),
        ("13.0.0", "supported"),
        ("13.0.0.post1", "supported"),
        ("15.0.1", "supported"),
        ("17.4", "supported"),
        ("17.4.12", "supported"),  # every patch release of the newest minor line
        ("17.5", "newer"),
        ("17.5.0", "newer"),
        ("18", "newer"),
        ("18.0rc1", "newer"),  # by its release segments
        ("", "older"),  # no numeric release: nothing to vouch for it
        ("dev", "older"),
    ],
)
def test_versions_classify(version: str, kind: str) -> None:
    assert Versions("13.0", "17.4").classify(version) == kind


def test_versions_of_other_widths() -> None:
    assert Versions("3.10", "3.14").classify("3.9.9") == "older"
    assert Versions("3.10", "3.14").classify("3.10.0") == "supported"
    assert Versions("3.10", "3.14").classify("3.14.5") == "supported"
    assert Versions("3.10", "3.14").classify("3.15.0") == "newer"
    assert Versions("3.10", "3.14").classify("4.0") == "newer"
    assert Versions("1.3.2", "1.3").classify("1.3.1") == "older"
    assert Versions("1.3.2", "1.3").classify("1.3.9") == "supported"
    assert Versions("6", "6").classify("6.9.9") == "supported" and Versions("6", "6").classify("7.0") == "newer"
    assert str(Versions("3.10", "3.14")) == "3.10 to 3.14.x"
    with pytest.raises(ValueError, match="numeric release"):
        Versions("latest", "3.14")


def fake_version(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Make the shim machinery see ``version`` as pytest's installed version (the fake host's)."""
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: version if name == "pytest" else real(name))


class FakeHost:
    """A fake host module, a replacement for its ``encode``, a follower module and a recording check."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, check_passes: bool = True) -> None:
        self.host = make_host()
        self.original = self.host.encode  # type: ignore[attr-defined]
        self.follower = types.ModuleType("fake_follower")
        monkeypatch.setitem(sys.modules, "fake_follower", self.follower)
        self.check_passes = check_passes
        self.checked: list[tuple[str, dict[str, object], bool]] = []

    def replacement(self, data: bytes, mask: bytes) -> bytes:
        return data if self.check_passes else b"other"

    def plan(self, namespace: ModuleType) -> Plan:
        return [
            Replace(self.host, "encode", self.replacement, "a test double", followers=("fake_follower",)),
            Leave("fake_host.other", "already fast"),
        ]

    def check(self, namespace: ModuleType, originals: Mapping[str, object]) -> None:
        patched = self.host.encode == self.replacement  # type: ignore[attr-defined]
        self.follower.encode = self.host.encode  # type: ignore[attr-defined]  # imported while installed
        self.checked.append((namespace.NAME, dict(originals), patched))
        original: Any = originals["fake_host.encode"]
        if self.host.encode(b"data", b"mask") != original(b"data", b"mask"):  # type: ignore[attr-defined]
            raise ValueError("not the host's result")

    def shim(self) -> Shim:
        return Shim("pytest", Versions("13.0", "17.4"), self.plan, self.check)

    def untouched(self) -> bool:
        return self.host.encode is self.original and getattr(self.follower, "encode", self.original) is self.original  # type: ignore[attr-defined]


def test_an_older_release_is_refused(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHost(monkeypatch)
    shim = fake.shim()
    fake_version(monkeypatch, "12.0")
    with pytest.raises(UnsupportedHostError, match=r"supports pytest 13\.0 to 17\.4\.x; 12\.0 is installed, older"):
        shim.install(impl)
    with pytest.raises(UnsupportedHostError, match=r"12\.0 is installed"):
        shim.describe(impl)
    assert not shim.is_installed() and fake.untouched() and not fake.checked


@pytest.mark.parametrize("version", ["13.0", "15.0.1", "17.4", "17.4.3"])
def test_a_release_in_the_range_installs_without_the_self_check(
    impl: ModuleType, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    fake = FakeHost(monkeypatch, check_passes=False)  # (never run for a release in the range)
    shim = fake.shim()
    fake_version(monkeypatch, version)
    report = shim.install(impl)
    assert report.version == version and not report.newer and not report.reason
    assert report.replaced == {"fake_host.encode": "a test double"} and shim.is_installed()
    assert fake.host.encode == fake.replacement and not fake.checked  # type: ignore[attr-defined]
    assert shim.describe(impl) == report.lines()
    shim.uninstall()
    assert fake.untouched()


def test_a_newer_release_installs_when_the_self_check_passes(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHost(monkeypatch)
    shim = fake.shim()
    fake_version(monkeypatch, "18.0")
    assert shim.describe(impl) == [
        "pytest 18.0 is newer than the supported 13.0 to 17.4.x: install() checks it first",
        "replaces fake_host.encode with a test double",
        "leaves fake_host.other alone: already fast",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = shim.install(impl)
    assert report.newer and not report.reason and shim.is_installed() and shim.report() is report
    assert report.replaced == {"fake_host.encode": "a test double"}
    # the check ran with the host patched, and was given the host's own objects
    assert fake.checked == [(impl.NAME, {"fake_host.encode": fake.original}, True)]
    assert fake.host.encode == fake.replacement  # type: ignore[attr-defined]
    shim.uninstall()
    assert fake.untouched()


def assert_left_alone(shim: Shim, impl: ModuleType, fake: FakeHost, reason: str) -> None:
    """install() leaves the fake host alone with a HostVersionWarning whose text, and the report's reason, match."""
    with pytest.warns(HostVersionWarning, match=reason) as caught:
        report = shim.install(impl)
    assert len(caught) == 1 and caught[0].filename == __file__  # the warning points at the caller
    assert report.newer and report.replaced == {} and report.left_alone == {}
    assert re.search(reason, report.reason) and report.lines() == [f"leaves pytest 18.0 alone: {report.reason}"]
    assert not shim.is_installed() and shim.report() is None and fake.untouched()


def test_a_newer_release_failing_the_self_check_is_left_alone(
    impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeHost(monkeypatch, check_passes=False)
    shim = fake.shim()
    fake_version(monkeypatch, "18.0")
    assert_left_alone(
        shim,
        impl,
        fake,
        r"pytest 18\.0 is newer than the supported 13\.0 to 17\.4\.x and its results differ with the shim "
        r"\(ValueError\(\"not the host's result\"\)\)",
    )
    assert [patched for _, _, patched in fake.checked] == [True]  # it was patched, then all restored


def test_a_newer_release_with_other_internals_is_left_alone(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHost(monkeypatch)

    def plan(namespace: ModuleType) -> Plan:
        raise UnsupportedHostError("fake_host.encode takes (payload), expected (data, mask)")

    shim = Shim("pytest", Versions("13.0", "17.4"), plan, fake.check)
    fake_version(monkeypatch, "18.0")
    assert shim.describe(impl)[1:] == [
        "leaves pytest 18.0 alone: its internals differ (fake_host.encode takes (payload), expected (data, mask))"
    ]
    assert_left_alone(shim, impl, fake, r"its internals differ \(fake_host\.encode takes \(payload\)")
    assert not fake.checked
    with pytest.raises(UnsupportedHostError, match="takes"):  # in the range, other internals are an error
        fake_version(monkeypatch, "17.0")
        shim.install(impl)


def test_a_newer_release_without_a_self_check_is_left_alone(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeHost(monkeypatch)
    shim = Shim("pytest", Versions("13.0", "17.4"), fake.plan)
    fake_version(monkeypatch, "18.0")
    assert_left_alone(shim, impl, fake, "no self-check")


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
    monkeypatch.setattr(aiohttp_shim._SHIM, "versions", Versions("99.0", "99.0"))
    with pytest.raises(UnsupportedHostError, match="aiohttp"):
        install_all("python")
    assert not any(integrations.shim_module(host).is_installed() for host in integrations.SHIMS)
    with pytest.warns(RuntimeWarning, match=r"aiohttp shim supports aiohttp 99\.0 to 99\.0\.x; .* older"):
        names = install_all("python", strict=False)
    assert "aiohttp" not in names and "wsproto" in names


@pytest.mark.parametrize("strict", [True, False])
def test_install_all_leaves_a_newer_host_failing_its_check_alone(
    impl: ModuleType, monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    aiohttp_shim = integrations.shim_module("aiohttp")

    def check(namespace: ModuleType, originals: Mapping[str, object]) -> None:
        raise ValueError("not the host's result")

    monkeypatch.setattr(aiohttp_shim._SHIM, "versions", Versions("0.1", "0.1"))
    monkeypatch.setattr(aiohttp_shim._SHIM, "_check", check)
    with pytest.warns(HostVersionWarning, match=r"aiohttp .* is newer than the supported 0\.1 to 0\.1\.x"):
        names = install_all(impl, strict=strict)
    assert names == [host for host in PRESENT if host != "aiohttp"]
    assert not aiohttp_shim.is_installed()
    uninstall_all()


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
        f"for host in {HOSTS!r}: importlib.import_module('wscodec.benchmark.hosts.' + host)\n"
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
    monkeypatch.setattr(integrations.shim_module("aiohttp")._SHIM, "versions", Versions("99.0", "99.0"))
    assert main(["integrations", "--json"]) == 0
    entry = next(e for e in json.loads(capsys.readouterr().out)["hosts"] if e["host"] == "aiohttp")
    assert entry["status"] == "unsupported" and "aiohttp 99.0 to 99.0.x" in entry["error"]


def test_cli_reports_a_newer_host(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    shim = integrations.shim_module("aiohttp")
    monkeypatch.setattr(shim._SHIM, "versions", Versions("0.1", "0.1"))
    monkeypatch.setattr(shim, "SUPPORTED_VERSIONS", Versions("0.1", "0.1"))
    assert main(["integrations", "--json"]) == 0
    entry = next(e for e in json.loads(capsys.readouterr().out)["hosts"] if e["host"] == "aiohttp")
    assert entry["status"] == "newer than supported" and entry["supported_versions"] == {
        "oldest": "0.1",
        "newest": "0.1",
    }
    assert "is newer than the supported 0.1 to 0.1.x: install() checks it first" in entry["would"][0]
    assert main(["integrations"]) == 0
    assert "[newer than supported; supports 0.1 to 0.1.x]" in capsys.readouterr().out


def test_no_warning_when_nothing_is_wrong() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        install_all(strict=False)
