#!/usr/bin/env bash
# autobahn's own WebSocket tests, as shipped inside the installed package, with wscodec's
# autobahn shim installed first: autobahn with its NVX acceleration (the default) and
# without (AUTOBAHN_USE_NVX=0), under each wscodec implementation available; the asyncio
# flavour under pytest (needs pytest-asyncio), the Twisted flavour under trial (needs twisted).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/_impls.sh"

version="$(python -c 'import importlib.metadata as m; print(m.version("autobahn"))')"
package="$(python -c 'import autobahn, os; print(os.path.dirname(autobahn.__file__))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

status=0
cd "$work"
for nvx in "" 0; do
    if [ -z "$nvx" ]; then mode="with NVX"; else mode="AUTOBAHN_USE_NVX=0"; fi
    for impl in $WSCODEC_IMPLS; do
        label="autobahn $version ($mode) + wscodec shim ($impl)"
        with_shim=(env AUTOBAHN_USE_NVX="$nvx" WSCODEC_SHIM_HOST=autobahn WSCODEC_SHIM_IMPL="$impl"
            PYTHONPATH="$WSCODEC_TEST_PATH")
        echo "== $label, asyncio"
        "${with_shim[@]}" USE_ASYNCIO=1 python -m pytest --rootdir . -p shim_plugin -p no:cacheprovider -q -rfE \
            -o asyncio_default_fixture_loop_scope=function \
            --pyargs autobahn.websocket.test autobahn.nvx.test "$package/asyncio/test/test_aio_websocket.py" ||
            status=1
        echo "== $label, Twisted"
        "${with_shim[@]}" USE_TWISTED=1 python "$here/run_autobahn_trial.py" autobahn.websocket.test \
            autobahn.twisted.test.test_tx_protocol autobahn.twisted.test.test_tx_websocket_agent || status=1
    done
done
exit $status
