"""Drop-in acceleration of other WebSocket libraries ("hosts") by wscodec.

Each host has a shim module, ``wscodec.integrations.<host>``, exposing
``install(impl=None)``, ``uninstall()``, ``is_installed()`` and ``describe()``.
``install()`` replaces the host's masking (and, where the host spends its
time in Python, more) with wscodec's, where the host binds those names.

Each shim supports a range of host releases, its ``SUPPORTED_VERSIONS``
(:class:`Versions`). ``install()`` refuses a release older than the range
with :class:`UnsupportedHostError`; a release newer than the range is
patched only if the internals the shim patches have the expected shape and
the replacements, checked at install on a few inputs, give the host's own
results; otherwise the host is left alone with a :class:`HostVersionWarning`
and the returned :class:`InstallReport` has nothing replaced and says why in
its ``reason``. Importing this package or a shim module never imports a host.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from types import ModuleType

from ._patch import HostVersionWarning, InstallReport, UnsupportedHostError, Versions

__all__ = [
    "SHIMS",
    "HostVersionWarning",
    "InstallReport",
    "UnsupportedHostError",
    "Versions",
    "available",
    "install_all",
    "shim_module",
    "uninstall_all",
]

#: host import name -> the shim module that accelerates it
SHIMS: dict[str, str] = {
    "websockets": "wscodec.integrations.websockets",
    "wsproto": "wscodec.integrations.wsproto",
    "aiohttp": "wscodec.integrations.aiohttp",
    "autobahn": "wscodec.integrations.autobahn",
    "tornado": "wscodec.integrations.tornado",
}


def shim_module(host: str) -> ModuleType:
    """Return the shim module for ``host`` (a key of :data:`SHIMS`), without importing the host."""
    try:
        path = SHIMS[host]
    except KeyError:
        raise ValueError(f"no wscodec shim for {host!r}; known hosts: {', '.join(SHIMS)}") from None
    return importlib.import_module(path)


def available() -> list[str]:
    """The hosts that are importable here (found, not imported)."""
    return [host for host in SHIMS if importlib.util.find_spec(host) is not None]


def install_all(impl: ModuleType | str | None = None, *, strict: bool = True) -> list[str]:
    """Install the shim of every importable host; return the names of the hosts patched.

    With ``strict`` (the default), a host release older than its shim supports
    raises :class:`UnsupportedHostError` and nothing stays installed by this
    call; otherwise that host is skipped with a :class:`RuntimeWarning`. A
    release newer than the range that fails its checks at install is left
    alone, with the shim's :class:`HostVersionWarning`, in either mode.
    """
    done: list[ModuleType] = []
    names: list[str] = []
    for host in available():
        module = shim_module(host)
        was_installed = module.is_installed()
        try:
            report = module.install(impl)
        except UnsupportedHostError as exc:
            if strict:
                for installed in done:
                    installed.uninstall()
                raise
            warnings.warn(f"wscodec: {exc}", RuntimeWarning, stacklevel=2)
            continue
        if report.reason:
            continue  # a newer release left alone: install() warned
        if not was_installed:
            done.append(module)
        names.append(host)
    return names


def uninstall_all() -> None:
    """Uninstall every shim that is installed (restoring the hosts' own code)."""
    for path in SHIMS.values():
        module = sys.modules.get(path)  # a shim never imported was never installed
        if module is not None and module.is_installed():
            module.uninstall()
