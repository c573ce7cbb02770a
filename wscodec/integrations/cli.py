"""``python -m wscodec integrations``: list the shims and what each would replace."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from typing import Any

HELP = "list the integration shims (websockets, wsproto, aiohttp, autobahn, tornado) and what each would replace"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options on ``parser``."""
    parser.add_argument(
        "--impl",
        choices=["python", "cython"],
        default=None,
        help="describe the shims built on this wscodec implementation (default: the active one)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def _status(host: str, impl: str | None) -> dict[str, Any]:
    """Everything the command says about one host; imports the host (install() would too)."""
    from . import UnsupportedHostError, shim_module

    module = shim_module(host)
    versions = module.SUPPORTED_VERSIONS
    entry: dict[str, Any] = {"host": host, "supported_versions": {"oldest": versions.oldest, "newest": versions.newest}}
    try:
        entry["version"] = importlib.metadata.version(module.HOST)
    except importlib.metadata.PackageNotFoundError:
        entry.update(version=None, status="not installed", would=[])
        return entry
    # A release newer than the range installs only if its checks pass at install (they need it patched).
    status = "newer than supported" if versions.classify(entry["version"]) == "newer" else "installable"
    try:
        entry.update(status=status, would=module.describe(impl))
    except UnsupportedHostError as exc:
        entry.update(status="unsupported", error=str(exc), would=[])
    entry["installed"] = module.is_installed()
    return entry


def run(args: argparse.Namespace) -> int:
    """Print the report; exit status 0 (an unsupported host is reported, not an error),
    2 if the requested implementation is not available."""
    from . import SHIMS
    from ._patch import resolve_impl

    try:
        impl = resolve_impl(args.impl).NAME
    except ImportError as exc:
        print(f"the {args.impl} implementation of wscodec is not available: {exc}")
        return 2
    entries = [_status(host, impl) for host in SHIMS]
    if args.json:
        print(json.dumps({"implementation": impl, "hosts": entries}, indent=2))
        return 0
    print(f"wscodec integrations (wscodec implementation: {impl})")
    for entry in entries:
        supported = f"{entry['supported_versions']['oldest']} to {entry['supported_versions']['newest']}.x"
        print(f"\n{entry['host']} {entry['version'] or ''}".rstrip() + f"  [{entry['status']}; supports {supported}]")
        if "error" in entry:
            print(f"  {entry['error']}")
        for line in entry["would"]:
            print(f"  - {line}")
    print("\nInstall one with wscodec.integrations.<host>.install(), all with wscodec.integrations.install_all(),")
    print("or set WSCODEC_AUTO_INSTALL=1 and `import wscodec.auto` early in the program.")
    return 0
