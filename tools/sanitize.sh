#!/usr/bin/env bash
# Build the compiled modules with AddressSanitizer + UndefinedBehaviorSanitizer and run the whole test
# suite under them (the fuzz seeds and every fuzz regression included, by tests/test_fuzz_regressions.py).
# Passes only with the suite green AND zero sanitizer reports.
#
#   tools/sanitize.sh                 # everything
#   tools/sanitize.sh tests/test_hostile.py -x   # arguments go to pytest (default: all of tests/)
#
# Needs gcc (or CC=clang) with its sanitizer runtimes, git, and the test dependencies in the active
# Python. Works on a copy of the working tree (tracked and untracked files, not ignored ones) in a
# temporary directory, so the in-place release build is left alone. The suite runs from that copy, so
# the sanitized build is what `import wscodec` finds first.
#
# Environment: CPython is not built with ASan, so ASan is preloaded; PYTHONMALLOC=malloc routes every
# Python object through malloc, giving ASan the bounds of each bytes object the extension writes into.
# Leak detection is off because CPython keeps memory until exit by design; leaks are what
# tests/test_memory.py measures. Any report stops the process (no recovery). pytest captures Python's
# output only (--capture=sys), so a report written by the C runtime reaches the log, where reports
# are counted; ASan also writes its reports to files, which catches those of subprocesses.
set -euo pipefail
cd "$(dirname "$0")/.."
cc=${CC:-gcc}
work=$(mktemp -d "${TMPDIR:-/tmp}/wscodec-sanitize.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS

echo "== copying the working tree to $work/src"
mkdir "$work/src" "$work/reports"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/src" 2>/dev/null || true
cd "$work/src"
find wscodec -name '*.so' -delete

echo "== building with -fsanitize=address,undefined ($cc)"
CC=$cc WSCODEC_SANITIZE=1 WSCODEC_REQUIRE_EXTENSIONS=1 python setup.py -q build_ext --inplace >"$work/build.log" 2>&1 \
    || { cat "$work/build.log"; exit 1; }

export LD_PRELOAD
LD_PRELOAD=$("$cc" -print-file-name=libasan.so)
[ -f "$LD_PRELOAD" ] || { echo "no ASan runtime found for $cc"; exit 1; }
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$work/reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$work/reports/ubsan"
python -c 'import wscodec, sys; sys.exit(wscodec.implementation != "cython")' \
    || { echo "the sanitized build does not import"; exit 1; }

echo "== test suite under ASan + UBSan"
set +e
python -m pytest -q -p no:cacheprovider --capture=sys "$@" 2>&1 | tee "$work/pytest.log"  # testpaths: tests/
status=${PIPESTATUS[0]}
set -e

for report in "$work"/reports/*; do
    [ -f "$report" ] && { echo "--- $report"; cat "$report"; }
done
reports=$(( $(find "$work/reports" -type f | wc -l) + $(grep -c -E 'runtime error:|ERROR: AddressSanitizer' "$work/pytest.log" || true) ))
echo "sanitize: pytest exit status $status, $reports sanitizer report(s), $((SECONDS - started)) s"
[ "$status" -eq 0 ] && [ "$reports" -eq 0 ]
