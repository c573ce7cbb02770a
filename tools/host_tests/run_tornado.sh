#!/usr/bin/env bash
# tornado's own websocket tests (tornado.test.websocket_test, and web_test for the XSRF
# token masking) with wscodec's tornado shim installed: tornado with and without its C
# speedups, under each wscodec implementation available.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/_impls.sh"

status=0
for build in native pure; do
    for impl in $WSCODEC_IMPLS; do
        echo "== tornado ($build build) + wscodec shim ($impl)"
        if [ "$build" = pure ]; then no_ext=1; else no_ext=; fi
        TORNADO_NO_EXTENSION="$no_ext" WSCODEC_SHIM_IMPL="$impl" PYTHONPATH="$WSCODEC_TEST_PATH" \
            python "$here/run_tornado_suite.py" tornado.test.websocket_test tornado.test.web_test || status=1
    done
done
exit $status
