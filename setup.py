"""Declares the compiled extension modules; everything else is in pyproject.toml.

Build switches (environment variables):

* ``WSCODEC_NO_EXTENSIONS=1``      build no extension: a pure ``py3-none-any`` wheel.
* ``WSCODEC_REQUIRE_EXTENSIONS=1`` fail the build if an extension does not compile.
* neither: try to compile, and install the pure package with a warning if that fails.
* ``WSCODEC_LINETRACE=1``          compile with Cython's line tracing, for Cython's coverage plugin
  (``nox -s coverage-cython``); much slower, never for a release.
"""

import os
import runpy
import sys
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NO_EXT = bool(os.environ.get("WSCODEC_NO_EXTENSIONS"))
REQUIRE_EXT = bool(os.environ.get("WSCODEC_REQUIRE_EXTENSIONS"))
# The list lives with the package's other names; read without importing the package (not built yet).
_NAMES = runpy.run_path("wscodec/_names.py")
MODULES = _NAMES["COMPILED_MODULES"]
FROM_PURE = _NAMES["COMPILED_FROM_PURE"]
# Modules that call zlib's C API: linked with the system zlib (see docs/compression.md).
ZLIB_MODULES = {"_deflate_c"}


# zlib's import library is "zlib" on Windows (vcpkg and the official builds), "z" elsewhere.
ZLIB_LIBRARY = "zlib" if sys.platform == "win32" else "z"


def extensions():
    if NO_EXT:
        return []
    from Cython.Build import cythonize

    if sys.platform == "win32":
        args = ["/O2"]
    else:
        # Release flags; ISA-specific kernels carry their own target attributes, so no -m flags here.
        args = ["-O3", "-fno-strict-aliasing"]
    if os.environ.get("WSCODEC_SANITIZE"):
        args = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
    linetrace = bool(os.environ.get("WSCODEC_LINETRACE"))
    exts = [
        Extension(
            f"wscodec.{name}",
            [f"wscodec/{FROM_PURE[name]}.py" if name in FROM_PURE else f"wscodec/{name}.pyx"],
            include_dirs=["wscodec/_c"],
            depends=[f"wscodec/_c/{h}" for h in os.listdir("wscodec/_c") if h.endswith(".h")],
            extra_compile_args=args,
            extra_link_args=args if os.environ.get("WSCODEC_SANITIZE") else [],
            libraries=[ZLIB_LIBRARY] if name in ZLIB_MODULES else [],
            # the nogil sections are traced too
            define_macros=[("CYTHON_TRACE_NOGIL", "1")] if linetrace else [],
        )
        for name in MODULES
    ]
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "freethreading_compatible": True,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "embedsignature": True,
            "linetrace": linetrace,
        },
    )


class OptionalBuildExt(build_ext):
    """Build the extensions side by side; let the build fail softly unless they are required."""

    def finalize_options(self):
        super().finalize_options()
        # The modules compile side by side, one per CPU (-j N on the command line still decides).
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def run(self):
        try:
            super().run()
        except Exception as exc:  # a missing compiler surfaces as several error types
            if REQUIRE_EXT:
                raise
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            if REQUIRE_EXT:
                raise
            self._warn(exc)

    def _warn(self, exc):
        warnings.warn(
            f"wscodec: compiling the extension failed ({exc}); installing the pure-Python implementation",
            stacklevel=1,
        )


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
