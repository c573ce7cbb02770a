#!/usr/bin/env bash
# aiohttp's own websocket tests, from its source distribution (the installed version),
# with wscodec's aiohttp shim installed first: aiohttp with and without its extensions
# (AIOHTTP_NO_EXTENSIONS=1 is where the shim replaces its mask), under each wscodec
# implementation available. Needs pytest-mock (the suite's `mocker` fixture).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/_impls.sh"

version="$(python -c 'import importlib.metadata as m; print(m.version("aiohttp"))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m pip download --quiet --no-binary :all: --no-deps "aiohttp==$version" -d "$work/sdist"
tar -xzf "$work/sdist/aiohttp-$version.tar.gz" -C "$work/sdist"
# Only the tests: the aiohttp under test is the installed one, not the sdist's sources.
mv "$work/sdist/aiohttp-$version/tests" "$work/tests"
rm -rf "$work/sdist"
# aiohttp's pytest.ini minus its coverage, xdist and uvloop settings (not installed here).
cat > "$work/pytest.ini" <<'INI'
[pytest]
filterwarnings =
    error
    ignore:Unclosed client session <aiohttp.client.ClientSession object at 0x:ResourceWarning
    ignore:aiohttp.pytest_plugin will be removed in v4:DeprecationWarning
markers =
    autobahn: Autobahn testsuite
    dev_mode: run in dev mode
    internal: aiohttp's own CI only
    skip_blockbuster: skip the blockbuster fixture
xfail_strict = true
INI
tests=()
for name in test_websocket_parser test_websocket_writer test_websocket_data_queue test_websocket_handshake \
    test_web_websocket test_web_websocket_functional test_client_ws test_client_ws_functional; do
    # (3.10 has no test_websocket_data_queue.py)
    if [ -f "$work/tests/$name.py" ]; then tests+=("tests/$name.py"); fi
done

status=0
cd "$work"
for build in native pure; do
    for impl in $WSCODEC_IMPLS; do
        echo "== aiohttp $version ($build build) + wscodec shim ($impl)"
        if [ "$build" = pure ]; then no_ext=1; else no_ext=; fi
        # aiohttp's suite uses its own pytest plugin for async tests, not pytest-asyncio. The
        # deselected test asserts that helpers.websocket_mask is aiohttp's Cython function,
        # i.e. that no shim replaced it: the shim does, on purpose.
        AIOHTTP_NO_EXTENSIONS="$no_ext" WSCODEC_SHIM_HOST=aiohttp WSCODEC_SHIM_IMPL="$impl" \
            PYTHONPATH="$WSCODEC_TEST_PATH" \
            python -m pytest -c pytest.ini --rootdir . -p shim_plugin -p no:asyncio -p no:cacheprovider \
            -m "not dev_mode and not autobahn and not internal" -q -rfE \
            --deselect tests/test_websocket_parser.py::test_websocket_mask_cython "${tests[@]}" || status=1
    done
done
exit $status
