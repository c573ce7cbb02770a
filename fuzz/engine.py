"""Run one fuzz target under atheris: ``python fuzz/engine.py TARGET [libFuzzer options] [corpus dirs]``.

wscodec's Python code and the harness are instrumented for coverage at
import; the compiled modules give coverage too when they were built for it
(``run.py --native``). Any exception a target lets out is a finding:
libFuzzer saves the input that raised it and stops. Prefer ``run.py``, which
sets the options, corpora and environment.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["wscodec", "fuzz_targets", "fuzz_differential", "fuzz_input"]):
    import fuzz_targets


def main() -> None:
    """Fuzz the target named by the first argument; the rest go to libFuzzer."""
    if len(sys.argv) < 2 or sys.argv[1] not in fuzz_targets.TARGETS:
        raise SystemExit(f"usage: {sys.argv[0]} {{{','.join(fuzz_targets.TARGETS)}}} [libFuzzer options] [corpus dirs]")
    import wscodec

    print(f"engine: {sys.argv[1]} against {wscodec.__file__} ({wscodec.implementation})", file=sys.stderr)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], fuzz_targets.TARGETS[sys.argv[1]])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
