/* Runtime CPU feature detection for the SIMD kernels.
 *
 * Kernels are compiled with per-function target attributes (GCC/Clang) or
 * plain intrinsics (MSVC), never with global ISA flags, so one binary runs on
 * every CPU of its architecture and picks the widest kernel the CPU *and the
 * OS* support (AVX state must be enabled in XCR0, not just advertised).
 */
#ifndef WSCODEC_CPU_H
#define WSCODEC_CPU_H

#define WS_CPU_SSE2    0x01
#define WS_CPU_SSSE3   0x02
#define WS_CPU_SSE41   0x04
#define WS_CPU_AVX2    0x08
#define WS_CPU_AVX512  0x10 /* AVX-512 F + BW + VL */
#define WS_CPU_NEON    0x20

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define WS_X86 1
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define WS_ARM64 1
#endif

/* Per-function ISA targets; empty where the compiler needs none (MSVC). */
#if defined(WS_X86) && (defined(__GNUC__) || defined(__clang__))
#define WS_TARGET(isa) __attribute__((target(isa)))
#define WS_HAVE_X86_SIMD 1
#elif defined(WS_X86) && defined(_MSC_VER)
#define WS_TARGET(isa)
#define WS_HAVE_X86_SIMD 1
#else
#define WS_TARGET(isa)
#endif

#if defined(WS_X86) && defined(_MSC_VER)
#include <intrin.h>
static unsigned long long ws_xgetbv0(void) { return _xgetbv(0); }
static void ws_cpuid(int leaf, int sub, int out[4]) { __cpuidex(out, leaf, sub); }
#elif defined(WS_X86) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
static unsigned long long ws_xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
static void ws_cpuid(int leaf, int sub, int out[4]) {
    unsigned int a = 0, b = 0, c = 0, d = 0;
    __cpuid_count((unsigned int)leaf, (unsigned int)sub, a, b, c, d);
    out[0] = (int)a; out[1] = (int)b; out[2] = (int)c; out[3] = (int)d;
}
#endif

/* Features usable on this CPU and OS, as WS_CPU_* bits. Pure function of the
 * machine: callers may cache it (a benign race writes the same value). */
static int ws_cpu_features(void) {
    int f = 0;
#if defined(WS_HAVE_X86_SIMD)
    int r[4];
    ws_cpuid(0, 0, r);
    int max_leaf = r[0];
    ws_cpuid(1, 0, r);
    if (r[3] & (1 << 26)) f |= WS_CPU_SSE2;
    if (r[2] & (1 << 9)) f |= WS_CPU_SSSE3;
    if (r[2] & (1 << 19)) f |= WS_CPU_SSE41;
    int osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (osxsave && avx && max_leaf >= 7) {
        unsigned long long xcr0 = ws_xgetbv0();
        int ymm = (xcr0 & 0x6) == 0x6;      /* SSE + AVX state */
        int zmm = (xcr0 & 0xe6) == 0xe6;    /* + opmask, ZMM_Hi256, Hi16_ZMM */
        ws_cpuid(7, 0, r);
        if (ymm && (r[1] & (1 << 5))) f |= WS_CPU_AVX2;
        if (zmm && (r[1] & (1 << 16)) && (r[1] & (1 << 30)) && (r[1] & (1u << 31)))
            f |= WS_CPU_AVX512;
    }
#elif defined(WS_ARM64)
    f |= WS_CPU_NEON; /* Advanced SIMD is mandatory on AArch64 */
#endif
    return f;
}


#endif /* WSCODEC_CPU_H */
