"""The implementations a benchmark compares: wscodec's two and the installed peers.

An :class:`Impl` names a table row and knows how to load itself; loading
imports the library, so a peer that is not installed becomes a row that
says so instead of an error.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .harness import Row

__all__ = ["PEER_DISTRIBUTIONS", "Impl", "Unavailable", "load", "ours", "version"]

#: Every peer distribution a section may measure, for the report header.
PEER_DISTRIBUTIONS = ("websockets", "wsproto", "aiohttp", "tornado", "autobahn", "wsaccel", "picows")

_NAMESPACES = {"compiled": "wscodec._impl_c", "pure": "wscodec._impl_py"}


@dataclass(frozen=True)
class Impl:
    """A row of a benchmark table.

    ``load()`` imports what the row measures and returns it (typically a
    function that builds a :class:`~wscodec.benchmark.harness.Call` for an
    input); it raises ImportError when the library is missing. ``dist`` is
    the distribution whose version is shown (None: CPython itself).
    """

    label: str
    dist: str | None
    kind: str | Callable[[], str]  # a callable when only the loaded library knows (autobahn: NVX or not)
    load: Callable[[], Any]
    ours: bool = False


class Unavailable(ImportError):
    """Raised by a loader when what the row needs is missing; the message is shown in the row ("isal not installed")."""


def version(dist: str | None) -> str | None:
    """The installed version of ``dist`` (the interpreter's for None); None if it is not installed."""
    if dist == "wscodec":  # also when running from a source tree, without installed metadata
        from .._version import __version__

        return __version__
    if dist is None:
        return f"{platform.python_implementation()} {platform.python_version()}"
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def ours(name: str, label: str, kinds: tuple[str, str], binder: Callable[[Any], Any]) -> list[Impl]:
    """wscodec's compiled and pure rows for the public ``name``; ``binder(obj)`` makes the binder of each."""

    def loader(namespace: str) -> Callable[[], Any]:
        def load() -> Any:
            return binder(getattr(importlib.import_module(namespace), name))

        return load

    return [
        Impl(f"{label} (compiled)", "wscodec", kinds[0], loader(_NAMESPACES["compiled"]), ours=True),
        Impl(f"{label} (pure)", "wscodec", kinds[1], loader(_NAMESPACES["pure"]), ours=True),
    ]


def load(impls: Sequence[Impl]) -> list[tuple[Row, Any]]:
    """Load every implementation: ``(row, binder)``, the binder None for a missing one."""
    loaded: list[tuple[Row, Any]] = []
    for impl in impls:
        shown = version(impl.dist) or "?"
        try:
            binder = impl.load()
        except Unavailable as exc:
            kind = impl.kind if isinstance(impl.kind, str) else ""
            loaded.append((Row(impl.label, shown, kind, impl.ours, str(exc)), None))
        except ImportError:
            missing = "not built" if impl.ours else "not installed"
            kind = impl.kind if isinstance(impl.kind, str) else ""
            loaded.append((Row(impl.label, shown, kind, impl.ours, missing), None))
        else:
            kind = impl.kind if isinstance(impl.kind, str) else impl.kind()
            loaded.append((Row(impl.label, shown, kind, impl.ours), binder))
    return loaded
