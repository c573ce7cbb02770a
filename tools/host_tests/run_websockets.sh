#!/usr/bin/env bash
# websockets' source distribution ships no tests: its suite here is wscodec's loopback suite,
# which drives websockets' asyncio and sync clients and servers (and its sans-I/O protocol)
# against each other with the shim on one side, the other, or both, under each wscodec
# implementation (the `impl` fixture), with websockets' C speedups and without.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
python -m pytest -p no:cacheprovider -q tests/integrations/test_websockets.py
