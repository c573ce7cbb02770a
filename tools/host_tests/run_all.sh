#!/usr/bin/env bash
# Every host's test suite with its wscodec shim installed: each run_<host>.sh here, in turn.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
status=0
for runner in "$here"/run_*.sh; do
    [ "$runner" = "$here/run_all.sh" ] && continue
    echo "#### $(basename "$runner")"
    bash "$runner" || { echo "#### FAILED: $(basename "$runner")"; status=1; }
done
exit $status
