"""Shared machinery of the integration shims: version range, patch, self-check and exact restore.

A shim module describes *what* it would replace with a ``plan`` function: given
a wscodec implementation namespace (``wscodec._impl_py`` or ``wscodec._impl_c``)
it imports its host, verifies the internals it patches (:func:`expect_function`)
and returns a list of :class:`Replace` and :class:`Leave` entries. A
:class:`Shim` turns that plan into patches, remembers every original object
and restores exactly those objects (by identity) on :meth:`Shim.uninstall`.

Host versions. Each shim supports a range of host releases, :class:`Versions`
(``SUPPORTED_VERSIONS`` of the shim module), every minor line of which is
tested. The installed host release decides what :meth:`Shim.install` does:

* older than the range, or a version string without a numeric release:
  :class:`UnsupportedHostError`, nothing patched (the internals the shim
  relies on are not there yet);
* within the range (any patch release of its newest minor line included):
  the plan is checked and installed;
* newer than the range: installed only if the plan finds the internals in the
  shape it expects *and* the shim's self-check (run right after patching,
  comparing the replacements' results with the host's originals on a few
  inputs) passes. Otherwise every patch is undone, a
  :class:`HostVersionWarning` is emitted and the returned report has nothing
  replaced and its ``reason`` set: the host runs as if no shim existed, never
  half-patched.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.metadata
import inspect
import re
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple, Protocol

__all__ = [
    "Check",
    "DescribeFunction",
    "HostVersionWarning",
    "InstallFunction",
    "InstallReport",
    "Leave",
    "Plan",
    "Replace",
    "Shim",
    "UnsupportedHostError",
    "Versions",
    "check_size_limit",
    "code_fingerprint",
    "expect_function",
    "host_mask_fallback",
    "installed_version",
    "is_native",
    "native_beats_pure",
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


class HostVersionWarning(UserWarning):
    """A host release newer than its shim's supported range was left alone.

    Emitted by ``install()`` when the internals the shim patches have another
    shape in that release, or the replacements did not give the host's own
    results when checked at install: the host keeps all of its own code.
    """


# The numeric release segments at the start of a version string ("3.14.5", "18.0rc1" -> (18, 0)).
_RELEASE = re.compile(r"\d+(?:\.\d+)*")


def _release(version: str) -> tuple[int, ...] | None:
    match = _RELEASE.match(version)
    return None if match is None else tuple(int(part) for part in match.group().split("."))


@dataclass(frozen=True)
class Versions:
    """The host releases a shim supports: from ``oldest`` to every patch release of ``newest``.

    Versions compare by their numeric release segments only (``"18.0rc1"``
    counts as ``18.0``; a missing segment as 0). ``newest`` names the last
    minor line tested: ``Versions("3.10", "3.14")`` takes 3.14.9 and not 3.15.
    """

    oldest: str
    newest: str

    def __post_init__(self) -> None:
        if _release(self.oldest) is None or _release(self.newest) is None:
            raise ValueError(f"versions must start with a numeric release: {self.oldest!r}, {self.newest!r}")

    def classify(self, version: str) -> str:
        """``"older"`` (or no numeric release: unknown), ``"supported"`` or ``"newer"``."""
        found, oldest, newest = _release(version), _release(self.oldest), _release(self.newest)
        if found is None or oldest is None or newest is None:
            return "older"
        width = max(len(found), len(oldest))
        if found + (0,) * (width - len(found)) < oldest + (0,) * (width - len(oldest)):
            return "older"
        head = found[: len(newest)]
        return "supported" if head + (0,) * (len(newest) - len(head)) <= newest else "newer"

    def __str__(self) -> str:
        return f"{self.oldest} to {self.newest}.x"


def installed_version(dist_name: str) -> str:
    """The installed version of distribution ``dist_name``; ModuleNotFoundError if it is not installed."""
    try:
        return importlib.metadata.version(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"{dist_name} is not installed", name=dist_name) from None


def _refuse_older(dist_name: str, versions: Versions, version: str) -> UnsupportedHostError:
    return UnsupportedHostError(
        f"wscodec's {dist_name} shim supports {dist_name} {versions}; {version} is installed, "
        "older than the internals the shim relies on, so the shim refuses to install"
    )


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


# fields whose presence or defaults vary by CPython release, never by the code
_VOLATILE_AST_FIELDS = frozenset({"type_comment", "type_params", "kind"})


def _ast_tokens(node: object) -> list[str]:
    if isinstance(node, ast.AST):
        tokens = [type(node).__name__]
        for name, value in ast.iter_fields(node):
            if name not in _VOLATILE_AST_FIELDS and value is not None and value != []:
                tokens += [name, "(", *_ast_tokens(value), ")"]
        return tokens
    if isinstance(node, list):
        return [token for item in node for token in (*_ast_tokens(item), ",")]
    return [repr(node)]


def code_fingerprint(func: Callable[..., Any]) -> str:
    """The first 16 hex digits of a sha256 of ``func``'s syntax tree, the same on every supported CPython.

    A shim that re-implements a host function compares this with the
    fingerprint of the code it was written from (comments, formatting and
    the release's ``ast`` layout do not count).
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    return hashlib.sha256(" ".join(_ast_tokens(tree)).encode()).hexdigest()[:16]


def host_mask_fallback(impl: ModuleType, host: Callable[[object, object], object]) -> Any:
    """``impl``'s ``HostMaskFallback`` in front of the host's masking function ``host``."""
    return importlib.import_module(_MASK_MODULES[impl.NAME]).HostMaskFallback(host)


class Replace(NamedTuple):
    """Plan entry: set ``module.attribute`` to ``replacement``; ``what`` describes it for humans.

    ``module`` may also be a class, whose method is then replaced.

    ``followers`` names modules that copy this attribute with ``from module
    import attribute`` when they are imported, possibly later (while the shim
    is installed, so they bind the replacement): uninstall restores their copy too.
    """

    module: ModuleType | type
    attribute: str
    replacement: object
    what: str
    followers: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """The patched name, as ``package.module.attribute`` (the import name: some
        extension modules give themselves another ``__name__``), or ``package.module.Class.attribute``."""
        if isinstance(self.module, type):
            return f"{self.module.__module__}.{self.module.__qualname__}.{self.attribute}"
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
    #: the host release is newer than the shim's supported range (installed only after its checks)
    newer: bool = False
    #: why the whole host was left alone (a newer release that failed its checks), else ""
    reason: str = ""

    def lines(self) -> list[str]:
        """One human-readable line per replaced or left-alone name."""
        if self.reason:
            return [f"leaves {self.host} {self.version} alone: {self.reason}"]
        out = [f"replaces {where} with {what}" for where, what in self.replaced.items()]
        out += [f"leaves {where} alone: {why}" for where, why in self.left_alone.items()]
        return out


class _Patch(NamedTuple):
    module: ModuleType | type
    attribute: str
    original: object
    replacement: object
    followers: tuple[str, ...]


#: A shim's self-check: ``check(impl, originals)`` runs with the host patched, ``originals``
#: mapping each replaced dotted name (:attr:`Replace.where`) to the host's own object; it raises
#: (any exception) if a replacement does not give the original's results.
Check = Callable[[ModuleType, Mapping[str, object]], None]


class InstallFunction(Protocol):
    """A shim module's ``install(impl=None, **options)`` (see :meth:`Shim.functions`)."""

    def __call__(self, impl: ModuleType | str | None = None, **options: Any) -> InstallReport: ...


class DescribeFunction(Protocol):
    """A shim module's ``describe(impl=None)`` (see :meth:`Shim.functions`)."""

    def __call__(self, impl: ModuleType | str | None = None) -> list[str]: ...


def check_size_limit(name: str, value: object) -> None:
    """ValueError unless ``value`` is an int >= 0 (not a bool) or None: a byte limit, None for none."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{name} must be an int >= 0, or None for no limit")


# The part of every shim's install() docstring that :meth:`Shim.functions` appends to the host's own.
_INSTALL_DOC = """Idempotent; returns what was replaced and what was left alone and why.
Raises :class:`~wscodec.integrations.UnsupportedHostError` on a {host}
release older than :data:`SUPPORTED_VERSIONS` or unexpected internals; a
release newer than the range that fails the checks at install (the module's
self-check) is left alone with a :class:`~wscodec.integrations.HostVersionWarning`
(the report's ``reason`` says why)."""


class Shim:
    """The patch state of one host: install from a plan, restore the originals exactly.

    ``plan(impl)`` is the shim module's function that imports the host,
    verifies its internals and lists the :class:`Replace`/:class:`Leave`
    entries for implementation namespace ``impl``. ``versions`` is the range
    supported; ``check`` the self-check that lets a newer release in (see the
    module docstring); without one, a newer release is always left alone.

    ``options`` is the hook for a shim's own keyword arguments to ``install()``
    (wsproto's and autobahn's ``max_message_size=``): a function taking them
    as keyword-only parameters with their defaults, called with them on every
    :meth:`install` before anything is patched, which checks them (raising
    ValueError or TypeError) and keeps them for the replacements to read.
    Without a hook, install() takes no keyword arguments.

    A shim module gets its public ``install``, ``uninstall``, ``is_installed``
    and ``describe`` from :meth:`functions`; what is host-specific in a shim
    is its plan, its self-check, its versions and its options.
    """

    def __init__(
        self,
        host: str,
        versions: Versions,
        plan: Callable[[ModuleType], Plan],
        check: Check | None = None,
        *,
        options: Callable[..., None] | None = None,
    ) -> None:
        self.host = host
        self.versions = versions
        self._plan = plan
        self._check = check
        self._options = options
        self._lock = threading.Lock()
        self._patches: list[_Patch] = []
        self._report: InstallReport | None = None

    def install(self, impl: ModuleType | str | None = None, **options: Any) -> InstallReport:
        """Patch the host with ``impl`` (default: the active implementation); idempotent.

        Installing again with the same implementation changes nothing and
        returns the same report; with another one, the originals are restored
        first and the new replacements put in their place. A host release
        older than :attr:`versions` raises :class:`UnsupportedHostError`; a
        newer one that fails its checks is left alone with a
        :class:`HostVersionWarning` and a report whose ``reason`` says why.
        ``options`` go to the ``options`` hook (TypeError if there is none).
        """
        if self._options is not None:
            self._options(**options)
        elif options:
            raise TypeError(f"install() got unexpected keyword arguments: {', '.join(options)}")
        namespace = resolve_impl(impl)
        with self._lock:
            if self._report is not None:
                if self._report.implementation == namespace.NAME:
                    return self._report
                self._restore()
            version = installed_version(self.host)
            kind = self.versions.classify(version)
            if kind == "older":
                raise _refuse_older(self.host, self.versions, version)
            newer = kind == "newer"
            if newer and self._check is None:
                return self._leave_alone(namespace, version, "this shim has no self-check to vouch for it")
            try:
                plan = self._plan(namespace)  # may raise UnsupportedHostError: nothing is patched yet
            except Exception as exc:  # a newer release: whatever its changed internals make the plan raise
                if not newer:
                    raise
                return self._leave_alone(namespace, version, f"its internals differ ({exc})")
            report = InstallReport(self.host, version, namespace.NAME, newer=newer)
            originals: dict[str, object] = {}
            for entry in plan:
                if isinstance(entry, Leave):
                    report.left_alone[entry.where] = entry.why
                    continue
                original = getattr(entry.module, entry.attribute)
                originals.setdefault(entry.where, original)
                self._patches.append(
                    _Patch(entry.module, entry.attribute, original, entry.replacement, entry.followers)
                )
                setattr(entry.module, entry.attribute, entry.replacement)
                report.replaced[entry.where] = entry.what
            if newer and self._check is not None:
                try:
                    self._check(namespace, originals)
                except Exception as exc:  # noqa: BLE001  # whatever a changed host raises: not a match
                    self._restore()
                    return self._leave_alone(namespace, version, f"its results differ with the shim ({exc!r})")
            self._report = report
            return report

    def _leave_alone(self, namespace: ModuleType, version: str, why: str) -> InstallReport:
        """Warn that a newer host release is left alone, and report it; nothing is patched."""
        reason = f"{self.host} {version} is newer than the supported {self.versions} and {why}"
        warnings.warn(f"wscodec: {reason}; the shim leaves it alone", HostVersionWarning, stacklevel=4)
        return InstallReport(self.host, version, namespace.NAME, newer=True, reason=reason)

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
        For a release newer than :attr:`versions`, a first line says so; the
        self-check, which needs the host patched, runs only at install.
        """
        namespace = resolve_impl(impl)
        version = installed_version(self.host)
        kind = self.versions.classify(version)
        if kind == "older":
            raise _refuse_older(self.host, self.versions, version)
        report = InstallReport(self.host, version, namespace.NAME, newer=kind == "newer")
        head: list[str] = []
        if report.newer:
            head = [f"{self.host} {version} is newer than the supported {self.versions}: install() checks it first"]
            if self._check is None:
                return [*head, f"leaves {self.host} {version} alone: this shim has no self-check to vouch for it"]
            try:
                plan = self._plan(namespace)
            except Exception as exc:  # noqa: BLE001  # as install() would: left alone
                return [*head, f"leaves {self.host} {version} alone: its internals differ ({exc})"]
        else:
            plan = self._plan(namespace)
        for entry in plan:
            if isinstance(entry, Leave):
                report.left_alone[entry.where] = entry.why
            else:
                report.replaced[entry.where] = entry.what
        return head + report.lines()

    def functions(
        self, module: str, *, install: str, uninstall: str
    ) -> tuple[InstallFunction, Callable[[], None], Callable[[], bool], DescribeFunction]:
        """The shim module's public ``install``, ``uninstall``, ``is_installed`` and ``describe``.

        ``module`` is the shim module's ``__name__``; ``install`` says what
        install() puts in place (and what the host's options mean), the
        common part (idempotence, versions, errors) is added to it;
        ``uninstall`` what uninstall() restores. They are plain functions of
        ``module`` (for documentation tools) calling this Shim; install()'s
        signature is ``(impl=None, *, <the options hook's keyword-only parameters>)``.
        """
        shim = self

        def install_(impl: ModuleType | str | None = None, **options: Any) -> InstallReport:
            return shim.install(impl, **options)

        def uninstall_() -> None:
            shim.uninstall()

        def is_installed() -> bool:
            return shim.is_installed()

        def describe(impl: ModuleType | str | None = None) -> list[str]:
            return shim.describe(impl)

        docs = {
            install_: f"{inspect.cleandoc(install)}\n\n{_INSTALL_DOC.format(host=self.host)}",
            uninstall_: inspect.cleandoc(uninstall),
            is_installed: "True while the shim is installed.",
            describe: "What :func:`install` would replace or leave alone, one line per name; patches nothing.",
        }
        for func, doc in docs.items():
            name = func.__name__.rstrip("_")
            func.__module__, func.__name__, func.__qualname__, func.__doc__ = module, name, name, doc
        impl_param = inspect.Parameter(
            "impl", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation="ModuleType | str | None"
        )
        extra = []
        if self._options is not None:
            extra = [
                param
                for param in inspect.signature(self._options).parameters.values()
                if param.kind is inspect.Parameter.KEYWORD_ONLY
            ]
        install_.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [impl_param, *extra], return_annotation="InstallReport"
        )
        return install_, uninstall_, is_installed, describe

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
