# cython: language_level=3, freethreading_compatible=True, boundscheck=False, wraparound=False, cdivision=True
"""The one SIMD kernel dispatch of the compiled implementation.

The masking and UTF-8 kernels (``_c/mask_kernels.h``, ``_c/utf8_kernels.h``)
are compiled into this module only. At import it reads the CPU's features once
and picks the widest kernel of each kind the CPU and OS support; ``_mask_c``,
``_utf8_c`` and ``_frames_c`` cimport the choice (``_kernels_c.pxd``) and call
through it, so the whole package runs one choice, which ``python -m wscodec
info`` reports.
"""

cdef extern from "_c/cpu.h":
    int WS_CPU_SSE2, WS_CPU_SSSE3, WS_CPU_SSE41, WS_CPU_AVX2, WS_CPU_AVX512, WS_CPU_NEON
    int ws_cpu_features()

cdef extern from "_c/mask_kernels.h":
    const ws_mask_kernel ws_mask_kernels[]
    const size_t WS_MASK_KERNEL_COUNT
    bint ws_mask_kernel_supported(const ws_mask_kernel *kernel, int features)
    const ws_mask_kernel *ws_mask_select(int features)

cdef extern from "_c/utf8_kernels.h":
    const ws_utf8_kernel ws_utf8_kernels[]
    const size_t WS_UTF8_KERNEL_COUNT
    bint ws_utf8_kernel_supported(const ws_utf8_kernel *kernel, int features)
    const ws_utf8_kernel *ws_utf8_select(int features)

__all__ = ["selected", "available", "cpu_features"]

# CPUID once (it is slow in virtual machines); a pure function of the machine.
cdef int FEATURES = ws_cpu_features()
ws_mask_use(ws_mask_select(FEATURES))
ws_utf8_use(ws_utf8_select(FEATURES))


cdef const ws_mask_kernel *mask_kernel(str name) except NULL:
    cdef size_t i
    if name is None:
        return ws_mask_active
    for i in range(WS_MASK_KERNEL_COUNT):
        if ws_mask_kernels[i].name.decode("ascii") == name:
            if not ws_mask_kernel_supported(&ws_mask_kernels[i], FEATURES):
                raise ValueError(f"kernel {name!r} is not supported by this CPU")
            return &ws_mask_kernels[i]
    raise ValueError(f"unknown kernel {name!r}")


cdef const ws_utf8_kernel *utf8_kernel(str name) except NULL:
    cdef size_t i
    if name is None:
        return ws_utf8_active
    for i in range(WS_UTF8_KERNEL_COUNT):
        if ws_utf8_kernels[i].name.decode("ascii") == name:
            if not ws_utf8_kernel_supported(&ws_utf8_kernels[i], FEATURES):
                raise ValueError(f"kernel {name!r} is not supported by this CPU")
            return &ws_utf8_kernels[i]
    raise ValueError(f"unknown kernel {name!r}")


def selected():
    """The kernels every compiled module uses: ``{"mask": name, "utf-8": name}``."""
    return {"mask": ws_mask_active.name.decode("ascii"), "utf-8": ws_utf8_active.name.decode("ascii")}


def available():
    """Every kernel of each kind this build has and this CPU can run, widest first."""
    return {
        "mask": tuple(
            ws_mask_kernels[i].name.decode("ascii")
            for i in range(WS_MASK_KERNEL_COUNT)
            if ws_mask_kernel_supported(&ws_mask_kernels[i], FEATURES)
        ),
        "utf-8": tuple(
            ws_utf8_kernels[i].name.decode("ascii")
            for i in range(WS_UTF8_KERNEL_COUNT)
            if ws_utf8_kernel_supported(&ws_utf8_kernels[i], FEATURES)
        ),
    }


def cpu_features():
    """The SIMD features the kernels may use that this CPU and OS support, e.g. ``("sse2", "ssse3", "avx2")``."""
    names = (
        (WS_CPU_SSE2, "sse2"), (WS_CPU_SSSE3, "ssse3"), (WS_CPU_SSE41, "sse4.1"), (WS_CPU_AVX2, "avx2"),
        (WS_CPU_AVX512, "avx512"), (WS_CPU_NEON, "neon"),
    )
    return tuple(name for bit, name in names if FEATURES & bit)
