"""Build wscodec's compiled modules for native fuzzing: clang coverage hooks, AddressSanitizer, UBSan.

The prebuilt atheris wheel instruments Python code only. For libFuzzer to
see the C code's branches too, the extension is compiled with clang's
``-fsanitize=fuzzer-no-link`` (plus ``address,undefined``), and a runtime
holding libFuzzer and ASan together is preloaded: preloading ASan alone
would capture the coverage callbacks before libFuzzer (atheris documents
this). Both are made from the clang installation's own runtime archives,
under fuzz/out/native/, from a copy of the sources (the working tree's
in-place build is left alone). Only Linux with clang is supported.

UBSan's pointer-overflow check is left out: Cython's generated argument
parsing computes ``NULL + 0`` for calls without arguments (its
``__Pyx_KwValues_FASTCALL_TPNEW`` macro), which that check reports in every
run although nothing is dereferenced.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["SANITIZE_FLAGS", "native_environment"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out" / "native"

SANITIZE_FLAGS = (
    "-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=pointer-overflow "
    "-fno-sanitize-recover=all -fno-omit-frame-pointer -g"
)


def _clang() -> str:
    clang = shutil.which("clang")
    if clang is None:
        raise SystemExit("native fuzzing needs clang with its compiler-rt runtimes (Debian: apt-get install clang)")
    return clang


def _runtime(clang: str) -> Path:
    """A shared library holding libFuzzer and the ASan+UBSan runtime, linked from clang's archives."""
    target = OUT / "libfuzzer_asan.so"
    if target.exists():
        return target
    OUT.mkdir(parents=True, exist_ok=True)
    resource = subprocess.run([clang, "-print-resource-dir"], check=True, capture_output=True, text=True)
    lib = Path(resource.stdout.strip()) / "lib" / "linux"
    arch = platform.machine()
    asan, fuzzer = lib / f"libclang_rt.asan-{arch}.a", lib / f"libclang_rt.fuzzer_no_main-{arch}.a"
    for archive in (asan, fuzzer):
        if not archive.exists():
            raise SystemExit(f"clang's runtime archive {archive.name} is missing")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ar", "x", str(asan)], cwd=tmp, check=True)
        # The pre-init hook only works in an executable; the preload initialises ASan itself.
        objects = sorted(str(p) for p in Path(tmp).glob("*.o") if not p.name.startswith("asan_preinit"))
        subprocess.run(
            [
                clang,
                "-shared",
                "-o",
                str(target),
                "-Wl,--whole-archive",
                str(fuzzer),
                "-Wl,--no-whole-archive",
                *objects,
                "-lstdc++",
                "-lpthread",
                "-ldl",
                "-lm",
                "-lrt",
            ],
            check=True,
        )
    return target


def _copy_sources() -> Path:
    """The package sources under fuzz/out/native/src, modification times kept so rebuilds are incremental."""
    src = OUT / "src"
    src.mkdir(parents=True, exist_ok=True)
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "wscodec",
        src / "wscodec",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "_*_c.c", "__pycache__"),
        dirs_exist_ok=True,
    )
    return src


def native_environment() -> dict[str, str]:
    """Build (incrementally) and return the environment variables that run the engine against that build."""
    clang = _clang()
    runtime = _runtime(clang)
    src = _copy_sources()
    env = {
        **os.environ,
        "CC": clang,
        "LDSHARED": f"{clang} -shared",
        "CFLAGS": SANITIZE_FLAGS,
        "WSCODEC_REQUIRE_EXTENSIONS": "1",
    }
    env.pop("WSCODEC_NO_EXTENSIONS", None)
    print("native: building the instrumented extension (clang, ASan, UBSan, coverage)", file=sys.stderr)
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=src,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {
        "PYTHONPATH": str(src),
        "LD_PRELOAD": str(runtime),
        # CPython frees not everything at exit; PYTHONMALLOC=malloc lets ASan see every object's bounds.
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
        "UBSAN_OPTIONS": "print_stacktrace=1",
        "PYTHONMALLOC": "malloc",
    }
