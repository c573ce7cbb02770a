"""Fuzz every target (or those named) for a bounded time each; exit 1 if any found something.

    python fuzz/run.py                        # 35 s per target (.ci/run: --seconds 25), the installed wscodec
    python fuzz/run.py --native               # the same against a clang ASan+UBSan+coverage build
    python fuzz/run.py --native --seconds 3600 frame_decoder -- -max_len=70000   # a long run, one target
    python fuzz/run.py --seed 1               # the same inputs in the same order on every run (.ci/run)
    python fuzz/run.py --jobs 2               # two targets at a time (.ci/run: one per CPU)

Each target runs in its own process (libFuzzer exits when done) on the
committed seeds in fuzz/corpus/<target>/ plus what earlier runs found, kept
in fuzz/out/corpus/<target>/ (not committed). A crash, divergence or
timeout leaves its input in fuzz/out/crashes/; commit it under
tests/regressions/<target>/ so the test suite replays it. Logs are in
fuzz/out/logs/. Needs atheris (``pip install atheris``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
# One seed directory per target (fuzz_targets.TARGETS has the same names).
TARGETS = sorted(path.name for path in (HERE / "corpus").iterdir() if path.is_dir())


def _arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The options, and the libFuzzer options given after ``--``."""
    cut = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [options] [TARGET ...] [-- libFuzzer options]",
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--seconds", type=int, default=35, help="fuzzing time per target (default: 35)")
    parser.add_argument("--native", action="store_true", help="instrument the C code too, under ASan and UBSan")
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at a time (default: 1)")
    parser.add_argument(
        "--seed",
        type=int,
        help="libFuzzer's seed (1 or more) and PYTHONHASHSEED, for a run that reproduces (default: new each run)",
    )
    args = parser.parse_args(argv[:cut])
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    return args, argv[cut + 1 :]


def _fuzz(target: str, seconds: int, env: dict[str, str], extra: list[str]) -> tuple[int, int, float]:
    """Run one target; return (exit status, executions, seconds taken)."""
    found = OUT / "corpus" / target
    for folder in (found, OUT / "crashes", OUT / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(HERE / "engine.py"),
        target,
        f"-max_total_time={seconds}",
        "-timeout=60",  # one input taking this long is a finding (a hang)
        "-rss_limit_mb=4096",
        "-detect_leaks=0",  # CPython keeps memory to exit; leaks are tested by tests/test_memory.py
        "-print_final_stats=1",
        f"-artifact_prefix={OUT / 'crashes'}/{target}-",
        *extra,
        str(found),
        str(HERE / "corpus" / target),
    ]
    started = time.monotonic()
    log = OUT / "logs" / f"{target}.log"
    with log.open("w") as out:
        status = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    text = log.read_text(errors="replace")
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    if status:
        tail = "\n".join(text.splitlines()[-40:])
        print(f"--- {target} failed (status {status}); end of {log}:\n{tail}", file=sys.stderr)
    return status, int(runs.group(1)) if runs else 0, time.monotonic() - started


def main() -> int:
    """Run the targets (``--jobs`` at a time) and print one line per target, then the totals."""
    args, extra = _arguments(sys.argv[1:])
    env = dict(os.environ)
    if args.native:
        sys.path.insert(0, str(HERE))
        from native import native_environment

        env.update(native_environment())
    if args.seed is not None:
        env["PYTHONHASHSEED"] = str(args.seed)
        extra = [f"-seed={args.seed}", *extra]
    failed = 0
    total = 0
    targets = args.targets or TARGETS
    # Threads only wait: each target fuzzes in its own process, one per job.
    with ThreadPoolExecutor(args.jobs) as pool:
        results = pool.map(lambda target: (target, *_fuzz(target, args.seconds, env, extra)), targets)
        for target, status, runs, took in results:
            failed += bool(status)
            total += runs
            print(f"fuzz {target}: {runs} executions in {took:.0f} s, {'FAILED' if status else 'ok'}", flush=True)
    print(f"fuzz: {total} executions, {failed} target(s) failed{' (native build)' if args.native else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
