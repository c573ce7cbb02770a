#!/usr/bin/env bash
# websockets' own test suite (its repository's tests/: the source distribution ships none),
# with wscodec's websockets shim installed first: websockets with and without its C
# speedups, under each wscodec implementation available. The tests come from
# $WEBSOCKETS_SOURCE (a checkout of websockets' repository, at the installed release): no
# package on a registry ships them, so without it this suite is left out, saying so (CI's
# machines reach the package registries only). The trio flavour's tests run when trio is
# installed; without it their modules fail to import, so they are left out.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/_impls.sh"

version="$(python -c 'import importlib.metadata as m; print(m.version("websockets"))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -z "${WEBSOCKETS_SOURCE:-}" ]; then
    echo "websockets' own suite left out: set WEBSOCKETS_SOURCE to a checkout of websockets $version"
    exit 0
fi
cp -r "$WEBSOCKETS_SOURCE/tests" "$work/tests"
python -c "import trio" 2>/dev/null || rm -rf "$work/tests/trio"

status=0
cd "$work"
for build in native pure; do
    for impl in $WSCODEC_IMPLS; do
        echo "== websockets $version ($build build) + wscodec shim ($impl)"
        if [ "$build" = pure ]; then no_speedups=1; else no_speedups=; fi
        WEBSOCKETS_NO_SPEEDUPS="$no_speedups" WSCODEC_SHIM_IMPL="$impl" PYTHONPATH="$WSCODEC_TEST_PATH" \
            python "$here/run_websockets_suite.py" "$work" || status=1
    done
done
exit $status
