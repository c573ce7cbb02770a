"""Shared machinery of the integration shims: version checks, patch and exact restore.

A shim module describes *what* it would replace with a ``plan`` function: given
a wscodec implementation namespace (``wscodec._impl_py`` or ``wscodec._impl_c``)
it imports its host, verifies the internals it patches (:func:`expect_function`)
and returns a list of :class:`Replace` and :class:`Leave` entries. A
:class:`Shim` turns that plan into patches, remembers every original object
and restores exactly those objects (by identity) on :meth:`Shim.uninstall`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple

__all__ = [
    "InstallReport",
    "Leave",
    "Plan",
    "Replace",
    "Shim",
    "UnsupportedHostError",
    "expect_function",
    "host_mask_fallback",
    "is_native",
    "native_beats_pure",
    "require_version",
    "resolve_impl",
]

_IMPL_MODULES = {"python": "wscodec._impl_py", "cython": "wscodec._impl_c"}
# where each implementation's HostMaskFallback lives (the namespaces carry only the public names)
_MASK_MODULES = {"python": "wscodec.mask_py", "cython": "wscodec._mask_c"}


class UnsupportedHostError(RuntimeError):
    """The host library's version or internals are not ones the shim was written for.

    Raised instead of installing nothing silently, so that an upgrade of the
    host is noticed rather than quietly losing the acceleration.
    """


def require_version(dist_name: str, tested: tuple[str, ...]) -> str:
    """Return the installed version of distribution ``dist_name``.

    Raises :class:`UnsupportedHostError` if it is not one of ``tested`` and
    :class:`ModuleNotFoundError` if the distribution is not installed.
    """
    try:
        version = importlib.metadata.version(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"{dist_name} is not installed", name=dist_name) from None
    if version not in tested:
        raise UnsupportedHostError(
            f"wscodec's {dist_name} shim was written for {dist_name} {', '.join(tested)}; "
            f"{version} is installed and its internals may differ, so the shim refuses to install"
        )
    return version


def resolve_impl(impl: ModuleType | str | None) -> ModuleType:
    """Return the wscodec implementation namespace to build replacements from.

    ``None`` means the active one (``wscodec.implementation``); a string is
    ``"python"`` or ``"cython"``; a module is returned as is. ImportError if
    the compiled implementation is asked for and not built.
    """
    if isinstance(impl, ModuleType):
        return impl
    if impl is None:
        import wscodec

        impl = wscodec.implementation
    try:
        module_name = _IMPL_MODULES[impl]
    except KeyError:
        raise ValueError(f"unknown wscodec implementation {impl!r}; expected one of {sorted(_IMPL_MODULES)}") from None
    namespace = importlib.import_module(module_name)
    if hasattr(namespace, "load_all"):
        namespace.load_all()  # the compiled namespace loads lazily: fail here, not halfway through a plan
    return namespace


def expect_function(module: ModuleType, name: str, params: Sequence[str]) -> Callable[..., Any]:
    """Return ``module.name`` after checking it is a callable taking exactly ``params``.

    Raises :class:`UnsupportedHostError` if the attribute is missing, not
    callable, or has other parameter names. Native functions that publish no
    signature are accepted on their name alone (the version pin vouches for them).
    """
    where = f"{module.__name__}.{name}"
    try:
        func: Callable[..., Any] = getattr(module, name)
    except AttributeError:
        raise UnsupportedHostError(f"{where} does not exist; this host version is not supported") from None
    if not callable(func):
        raise UnsupportedHostError(f"{where} is not callable; this host version is not supported")
    try:
        found = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return func
    if found != list(params):
        raise UnsupportedHostError(
            f"{where} takes ({', '.join(found)}), expected ({', '.join(params)}); this host version is not supported"
        )
    return func


def is_native(func: object) -> bool:
    """True if ``func`` is compiled code (a builtin or a Cython function), not Python bytecode."""
    return not inspect.isfunction(func) and not inspect.ismethod(func)


def native_beats_pure(original: object, impl: ModuleType) -> bool:
    """True if ``original`` is compiled host code and ``impl`` is pure-Python wscodec.

    Compiled code beats pure Python at every size here, so a shim never
    replaces a compiled host function with the pure implementation.
    """
    return impl.NAME == "python" and is_native(original)


def host_mask_fallback(impl: ModuleType, host: Callable[[object, object], object]) -> Any:
    """``impl``'s ``HostMaskFallback`` in front of the host's masking function ``host``."""
    return importlib.import_module(_MASK_MODULES[impl.NAME]).HostMaskFallback(host)


class Replace(NamedTuple):
    """Plan entry: set ``module.attribute`` to ``replacement``; ``what`` describes it for humans.

    ``followers`` names modules that copy this attribute with ``from module
    import attribute`` when they are imported, possibly later (while the shim
    is installed, so they bind the replacement): uninstall restores their copy too.
    """

    module: ModuleType
    attribute: str
    replacement: object
    what: str
    followers: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """The patched name, as ``package.module.attribute`` (the import name: some
        extension modules give themselves another ``__name__``)."""
        spec = self.module.__spec__
        return f"{spec.name if spec is not None else self.module.__name__}.{self.attribute}"


class Leave(NamedTuple):
    """Plan entry: ``where`` (a dotted name) is deliberately not patched, because ``why``."""

    where: str
    why: str


Plan = list[Replace | Leave]


@dataclass(frozen=True)
class InstallReport:
    """What a shim's ``install()`` did: names replaced and names left alone, each with a reason."""

    host: str
    version: str
    implementation: str
    #: dotted name -> what replaced it
    replaced: dict[str, str] = field(default_factory=dict)
    #: dotted name -> why it was not replaced
    left_alone: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One human-readable line per replaced or left-alone name."""
        out = [f"replaces {where} with {what}" for where, what in self.replaced.items()]
        out += [f"leaves {where} alone: {why}" for where, why in self.left_alone.items()]
        return out


class _Patch(NamedTuple):
    module: ModuleType
    attribute: str
    original: object
    replacement: object
    followers: tuple[str, ...]


class Shim:
    """The patch state of one host: install from a plan, restore the originals exactly.

    ``plan(impl)`` is the shim module's function that imports the host,
    verifies its internals and lists the :class:`Replace`/:class:`Leave`
    entries for implementation namespace ``impl``.
    """

    def __init__(self, host: str, tested: tuple[str, ...], plan: Callable[[ModuleType], Plan]) -> None:
        self.host = host
        self.tested = tested
        self._plan = plan
        self._lock = threading.Lock()
        self._patches: list[_Patch] = []
        self._report: InstallReport | None = None

    def install(self, impl: ModuleType | str | None = None) -> InstallReport:
        """Patch the host with ``impl`` (default: the active implementation); idempotent.

        Installing again with the same implementation changes nothing and
        returns the same report; with another one, the originals are restored
        first and the new replacements put in their place.
        """
        namespace = resolve_impl(impl)
        with self._lock:
            if self._report is not None:
                if self._report.implementation == namespace.NAME:
                    return self._report
                self._restore()
            version = require_version(self.host, self.tested)
            plan = self._plan(namespace)  # may raise UnsupportedHostError: nothing is patched yet
            report = InstallReport(self.host, version, namespace.NAME)
            for entry in plan:
                if isinstance(entry, Leave):
                    report.left_alone[entry.where] = entry.why
                    continue
                original = getattr(entry.module, entry.attribute)
                self._patches.append(
                    _Patch(entry.module, entry.attribute, original, entry.replacement, entry.followers)
                )
                setattr(entry.module, entry.attribute, entry.replacement)
                report.replaced[entry.where] = entry.what
            self._report = report
            return report

    def uninstall(self) -> None:
        """Put back every original object (the very same objects); a no-op if not installed."""
        with self._lock:
            self._restore()

    def is_installed(self) -> bool:
        """True between :meth:`install` and :meth:`uninstall`."""
        return self._report is not None

    def report(self) -> InstallReport | None:
        """The report of the current installation, or None."""
        return self._report

    def describe(self, impl: ModuleType | str | None = None) -> list[str]:
        """What :meth:`install` would do with ``impl``, one line per name; patches nothing.

        Raises :class:`UnsupportedHostError` (or ModuleNotFoundError) as install() would.
        """
        namespace = resolve_impl(impl)
        version = require_version(self.host, self.tested)
        report = InstallReport(self.host, version, namespace.NAME)
        for entry in self._plan(namespace):
            if isinstance(entry, Leave):
                report.left_alone[entry.where] = entry.why
            else:
                report.replaced[entry.where] = entry.what
        return report.lines()

    def _restore(self) -> None:
        # Reverse order, so a name patched twice ends with its first original.
        while self._patches:
            patch = self._patches.pop()
            setattr(patch.module, patch.attribute, patch.original)
            for name in patch.followers:
                follower = sys.modules.get(name)
                if follower is not None and getattr(follower, patch.attribute, None) is patch.replacement:
                    setattr(follower, patch.attribute, patch.original)
        self._report = None
