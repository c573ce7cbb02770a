# Sourced by the run_*.sh scripts (after setting $here and $root):
# * WSCODEC_IMPLS: the wscodec implementations to test the shims with. With
#   WSCODEC_NO_EXTENSIONS set only the pure one exists; otherwise both, and the compiled
#   one must import (a missing build fails the run, it is never skipped).
# * WSCODEC_TEST_PATH: the PYTHONPATH for the runs: this folder (for shim_plugin), and the
#   source tree only when no wscodec is installed (CI installs it; the tree has no build).
if [ -n "${WSCODEC_NO_EXTENSIONS:-}" ]; then
    WSCODEC_IMPLS="python"
else
    WSCODEC_IMPLS="python cython"
fi
if (cd / && python -c "import wscodec" 2>/dev/null); then
    WSCODEC_TEST_PATH="$here"
else
    WSCODEC_TEST_PATH="$here:$root"
fi
WSCODEC_TEST_PATH="$WSCODEC_TEST_PATH${PYTHONPATH:+:$PYTHONPATH}"
