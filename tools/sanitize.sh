#!/usr/bin/env bash
# Build the compiled modules with AddressSanitizer + UndefinedBehaviorSanitizer and run the whole test
# suite under them (the fuzz seeds and every fuzz regression included, by tests/test_fuzz_regressions.py).
# Passes only with the suite green AND zero sanitizer reports.
#
#   nox -s sanitize                                # the whole suite, in an environment nox prepares
#   nox -s sanitize -- tests/test_hostile.py -x    # arguments go to pytest (default: all of tests/)
#
# Needs Python >= 3.11 and gcc with its sanitizer runtimes (libasan, libubsan). Run directly, it uses
# the active Python, which must have the test dependencies and pyproject's build requirements (the nox
# session installs both); for tests/e2e, `source .ci/setup-e2e` first, as for the normal suite.
#
# The build is made from a copy of the package in a temporary directory (the working tree's in-place
# build is left alone) and put first on the path; the suite itself runs from the repository
# (PYTHONSAFEPATH keeps the working tree's own wscodec/ off the path).
#
# CPython is not built with ASan, so ASan is preloaded; PYTHONMALLOC=malloc routes every Python object
# through malloc, giving ASan the bounds of each bytes object the extension writes into. Leak detection
# is off because CPython keeps memory until exit by design; leaks are what tests/test_memory.py
# measures. Any report stops the process (no recovery). pytest captures Python's output only
# (--capture=sys), so a report written by the C runtime reaches the log, where reports are counted;
# ASan also writes its reports to files, which catches those of subprocesses.
#
# Left out: tests/e2e/test_server_browser.py, as Chromium does not start with ASan preloaded (it brings
# its own allocator; the server it talks to is covered by the other e2e tests); and the two tests that
# measure resident memory (a million cycles, 10 MiB in 1-byte fragments), as ASan's quarantine and
# shadow memory make resident size meaningless; nor the one that reads glibc's allocator statistics
# (mallinfo2), which ASan's allocator replaces. They run in the normal suite; the tracemalloc ones
# run here too.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "sanitize.sh needs Python >= 3.11"; exit 1; }
python - <<'CHECK' || exit 1
# The build requirements, checked up front: an older setuptools fails late, on pyproject's license field.
import importlib.metadata, sys, tomllib
from packaging.requirements import Requirement
with open("pyproject.toml", "rb") as f:
    requires = tomllib.load(f)["build-system"]["requires"]
for req in map(Requirement, requires):
    try:
        found = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        found = None
    if found is None or not req.specifier.contains(found, prereleases=True):
        sys.exit(f"sanitize.sh needs {req} to build (found: {found}); nox -s sanitize installs it")
CHECK
work=$(mktemp -d "${TMPDIR:-/tmp}/wscodec-sanitize.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS

echo "== building the extension with -fsanitize=address,undefined (gcc) in $work/src"
mkdir -p "$work/src" "$work/reports"
cp setup.py pyproject.toml README.md LICENSE "$work/src/"
cp -r wscodec "$work/src/"
find "$work/src/wscodec" \( -name '*.so' -o -name '*.pyd' -o -name '_*_c.c' -o -name _rules.c -o -name _values.c -o -name __pycache__ \) -prune -exec rm -rf {} +
(cd "$work/src" && CC=gcc WSCODEC_SANITIZE=1 WSCODEC_REQUIRE_EXTENSIONS=1 python setup.py -q build_ext --inplace) \
    >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

asan=$(gcc -print-file-name=libasan.so)
[ -f "$asan" ] || { echo "gcc's ASan runtime (libasan) is missing"; exit 1; }
# libstdc++ too: ASan resolves its C++ exception interceptors when it starts, and aborts the first
# C++ extension that throws (matplotlib's, with the plot extra installed) if libstdc++ came later.
cxx=$(gcc -print-file-name=libstdc++.so)
[ -f "$cxx" ] || cxx=""
export LD_PRELOAD="$asan${cxx:+ $cxx}"
export PYTHONPATH="$work/src" PYTHONSAFEPATH=1 PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$work/reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1"
python -c 'import sys, wscodec; sys.exit(wscodec.implementation != "cython" or not wscodec.__file__.startswith(sys.argv[1]))' \
    "$work/src" || { echo "the sanitized build is not the wscodec imported"; exit 1; }

echo "== test suite under ASan + UBSan"
set +e
python -m pytest -q -p no:cacheprovider --capture=sys --ignore=tests/e2e/test_server_browser.py \
    --deselect tests/test_memory.py::test_a_million_cycles_leave_memory_flat \
    --deselect tests/test_hostile.py::test_10_mib_message_in_1_byte_fragments \
    --deselect tests/test_deflate.py::test_nothing_is_allocated_until_a_direction_is_used \
    "$@" 2>&1 | tee "$work/pytest.log"
status=${PIPESTATUS[0]}
set -e

for report in "$work"/reports/*; do
    [ -f "$report" ] && { echo "--- $report"; cat "$report"; }
done
logged=$(grep -c -E 'runtime error:|ERROR: AddressSanitizer' "$work/pytest.log" || true)
reports=$(( $(find "$work/reports" -type f | wc -l) + logged ))
echo "sanitize: pytest exit status $status, $reports sanitizer report(s), $((SECONDS - started)) s"
[ "$status" -eq 0 ] && [ "$reports" -eq 0 ]
