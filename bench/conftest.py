"""pytest-benchmark suites: wscodec, both implementations, against the installed peers.

The implementations, inputs and oracles are those of ``python -m wscodec
bench`` (:mod:`wscodec.benchmark`). Each benchmark belongs to a group (one
primitive at one input), so pytest-benchmark's tables compare wscodec with
the peers side by side, with ratios. Every benchmark checks its function
against the oracle on fresh state before timing it, and checks the last
timed result after. A peer that is not installed (or wscodec's compiled
modules when not built) is skipped with the reason. The helpers the suites
share are in ``benchkit.py``: test modules cannot import ``conftest`` by
name reliably (tests/conftest.py has the same name when both are collected).

By default a few representative inputs run; ``--all-sizes`` runs every
size (and every text kind, and unmasked streams) the command measures.
"""

from __future__ import annotations

import pytest

from wscodec.benchmark.inputs import size_label


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--all-sizes", action="store_true", help="benchmark every input size, not a few")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise the arguments a module lists in ``INPUTS``: ``{name: (default values, --all-sizes values)}``."""
    everything = metafunc.config.getoption("--all-sizes")
    for name, (default, full) in getattr(metafunc.module, "INPUTS", {}).items():
        if name in metafunc.fixturenames:
            values = full if everything else default
            metafunc.parametrize(name, values, ids=[_input_id(name, v) for v in values])


def _input_id(name: str, value: object) -> str:
    if name == "size":
        return size_label(value).replace(" ", "")  # type: ignore[arg-type]
    if name == "masked":
        return "masked" if value else "unmasked"
    return str(value)
