"""Drop-in acceleration of other WebSocket libraries ("hosts") by wscodec.

Each host has a shim module, ``wscodec.integrations.<host>``, exposing
``install(impl=None)``, ``uninstall()``, ``is_installed()`` and ``describe()``.
``install()`` replaces the host's masking (and, where the host spends its
time in Python, more) with wscodec's, where the host binds those names; it
refuses with :class:`UnsupportedHostError` on a host version it was not
written for. Importing this package or a shim module never imports a host.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from types import ModuleType

from ._patch import InstallReport, UnsupportedHostError

__all__ = [
    "SHIMS",
    "InstallReport",
    "UnsupportedHostError",
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

    With ``strict`` (the default), a host the shims do not support raises
    :class:`UnsupportedHostError` and nothing stays installed by this call;
    otherwise that host is skipped with a :class:`RuntimeWarning`.
    """
    done: list[ModuleType] = []
    names: list[str] = []
    for host in available():
        module = shim_module(host)
        was_installed = module.is_installed()
        try:
            module.install(impl)
        except UnsupportedHostError as exc:
            if strict:
                for installed in done:
                    installed.uninstall()
                raise
            warnings.warn(f"wscodec: {exc}", RuntimeWarning, stacklevel=2)
            continue
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
