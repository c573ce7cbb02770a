# Sourced by the run_*.sh scripts: the wscodec implementations to test the shims with.
# With WSCODEC_NO_EXTENSIONS set only the pure one exists; otherwise both, and the
# compiled one must import (a missing build fails the run, it is never skipped).
if [ -n "${WSCODEC_NO_EXTENSIONS:-}" ]; then
    WSCODEC_IMPLS="python"
else
    WSCODEC_IMPLS="python cython"
fi
