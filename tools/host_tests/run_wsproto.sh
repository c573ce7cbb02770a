#!/usr/bin/env bash
# wsproto's own test suite, from its source distribution (the installed version), with
# wscodec's wsproto shim installed first, under each wscodec implementation available.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/_impls.sh"

version="$(python -c 'import importlib.metadata as m; print(m.version("wsproto"))')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m pip download --quiet --no-binary :all: --no-deps "wsproto==$version" -d "$work/sdist"
tar -xzf "$work/sdist/wsproto-$version.tar.gz" -C "$work/sdist"
# Only the tests: the wsproto under test is the installed one, which the shim patches
# (in tests/ from 1.3, in test/ before).
if [ -d "$work/sdist/wsproto-$version/tests" ]; then
    mv "$work/sdist/wsproto-$version/tests" "$work/tests"
else
    mv "$work/sdist/wsproto-$version/test" "$work/tests"
fi
rm -rf "$work/sdist"

status=0
cd "$work"
for impl in $WSCODEC_IMPLS; do
    echo "== wsproto $version + wscodec shim ($impl)"
    # -bb (bytes/str mix-ups are errors) as wsproto's own tox runs its tests.
    WSCODEC_SHIM_HOST=wsproto WSCODEC_SHIM_IMPL="$impl" PYTHONPATH="$WSCODEC_TEST_PATH" \
        python -bb -m pytest --rootdir . -p shim_plugin -p no:asyncio -p no:cacheprovider -q -rfE tests || status=1
done
exit $status
