"""What ``python -m wscodec bench --integrations`` measures for each host, one module per shim.

Each module is named after its host (a key of :data:`wscodec.integrations.SHIMS`) and has
``KINDS`` (the message kinds measured, see :mod:`wscodec.benchmark.integrations`),
``echo_roundtrip(size, count, *, text=False, deflate=False)`` (messages per second) and, for
the kind ``"text validation"``, ``text_validation_rate(size, count)``. Benchmark code lives
here, not in the shim modules, so that the shims carry only what they install.
"""
