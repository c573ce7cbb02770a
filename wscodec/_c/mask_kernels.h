/* XOR masking of WebSocket payloads (RFC 6455 §5.3): the SIMD kernels and the dispatch.
 *
 * Compiled into wscodec._kernels_c only, which picks one kernel for the CPU at
 * import and hands it to every other module; see mask.h for the contract and
 * the API.
 *
 * Each ISA kernel carries its own WS_TARGET attribute, so the module is built
 * without global -m flags and runs on any CPU of its architecture;
 * ws_mask_select() picks the widest kernel the CPU and OS support.
 */
#ifndef WSCODEC_MASK_KERNELS_H
#define WSCODEC_MASK_KERNELS_H

#include "cpu.h"
#include "mask.h"

#if defined(WS_HAVE_X86_SIMD)
#include <immintrin.h>
#endif
#if defined(WS_ARM64)
#include <arm_neon.h>
#endif

/* From this size on the SIMD kernels first mask the few bytes up to an
 * aligned dst: stores that split cache lines cost up to half the speed of
 * data that sits in L1/L2 (measured: AVX-512 at 16 KiB, 93 -> 178 GB/s). */
#define WS_MASK_ALIGN_MIN 256

/* How many bytes lie before dst reaches a multiple of `align` (a power of two). */
static inline size_t ws_mask_head(const unsigned char *dst, size_t align) {
    return (size_t)(0 - (uintptr_t)dst) & (align - 1);
}

/* For a kernel with `align`-byte stores: if n is large enough, mask the bytes
 * before *dst reaches an `align` boundary and advance *dst, *src and *n past
 * them. Returns the key in phase with the new *dst (stored in `twice`). */
static inline const unsigned char *ws_mask_align_dst(unsigned char **dst, const unsigned char **src,
                                                     size_t *n, size_t align,
                                                     const unsigned char key[4],
                                                     unsigned char twice[8]) {
    if (*n < WS_MASK_ALIGN_MIN) return key;
    size_t head = ws_mask_head(*dst, align);
    ws_mask_portable(*dst, *src, head, key);
    *dst += head, *src += head, *n -= head;
    return ws_mask_rotate(twice, key, head);
}

#if defined(WS_HAVE_X86_SIMD)

/* The 4-byte key as one 32-bit lane for _mm*_set1_epi32: x86 is little-endian,
 * so the lane's bytes land in memory in key order. */
static inline int ws_mask_lane(const unsigned char key[4]) {
    uint32_t lane;
    memcpy(&lane, key, 4);
    return (int)lane;
}

WS_TARGET("sse2")
static void ws_mask_sse2(unsigned char *dst, const unsigned char *src, size_t n,
                         const unsigned char key[4]) {
    unsigned char twice[8];
    key = ws_mask_align_dst(&dst, &src, &n, 16, key, twice);
    const __m128i k = _mm_set1_epi32(ws_mask_lane(key));
    for (; n >= 64; n -= 64, src += 64, dst += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)src);
        __m128i b = _mm_loadu_si128((const __m128i *)(src + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(src + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(src + 48));
        _mm_storeu_si128((__m128i *)dst, _mm_xor_si128(a, k));
        _mm_storeu_si128((__m128i *)(dst + 16), _mm_xor_si128(b, k));
        _mm_storeu_si128((__m128i *)(dst + 32), _mm_xor_si128(c, k));
        _mm_storeu_si128((__m128i *)(dst + 48), _mm_xor_si128(d, k));
    }
    for (; n >= 16; n -= 16, src += 16, dst += 16)
        _mm_storeu_si128((__m128i *)dst, _mm_xor_si128(_mm_loadu_si128((const __m128i *)src), k));
    ws_mask_portable(dst, src, n, key);
}

WS_TARGET("avx2")
static void ws_mask_avx2(unsigned char *dst, const unsigned char *src, size_t n,
                         const unsigned char key[4]) {
    unsigned char twice[8];
    key = ws_mask_align_dst(&dst, &src, &n, 32, key, twice);
    const __m256i k = _mm256_set1_epi32(ws_mask_lane(key));
    for (; n >= 128; n -= 128, src += 128, dst += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)src);
        __m256i b = _mm256_loadu_si256((const __m256i *)(src + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(src + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(src + 96));
        _mm256_storeu_si256((__m256i *)dst, _mm256_xor_si256(a, k));
        _mm256_storeu_si256((__m256i *)(dst + 32), _mm256_xor_si256(b, k));
        _mm256_storeu_si256((__m256i *)(dst + 64), _mm256_xor_si256(c, k));
        _mm256_storeu_si256((__m256i *)(dst + 96), _mm256_xor_si256(d, k));
    }
    for (; n >= 32; n -= 32, src += 32, dst += 32)
        _mm256_storeu_si256((__m256i *)dst,
                            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)src), k));
    if (n >= 16) {
        const __m128i k16 = _mm256_castsi256_si128(k);
        _mm_storeu_si128((__m128i *)dst, _mm_xor_si128(_mm_loadu_si128((const __m128i *)src), k16));
        n -= 16, src += 16, dst += 16;
    }
    ws_mask_portable(dst, src, n, key);
}

WS_TARGET("avx512f,avx512bw")
static void ws_mask_avx512(unsigned char *dst, const unsigned char *src, size_t n,
                           const unsigned char key[4]) {
    __m512i k = _mm512_set1_epi32(ws_mask_lane(key));
    unsigned char twice[8];
    if (n >= WS_MASK_ALIGN_MIN) {
        size_t head = ws_mask_head(dst, 64);
        /* Masked-off lanes are neither read nor written (faults suppressed). */
        const __mmask64 m = (__mmask64)((((uint64_t)1) << head) - 1);
        _mm512_mask_storeu_epi8(dst, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src), k));
        dst += head, src += head, n -= head;
        k = _mm512_set1_epi32(ws_mask_lane(ws_mask_rotate(twice, key, head)));
    }
    for (; n >= 256; n -= 256, src += 256, dst += 256) {
        __m512i a = _mm512_loadu_si512((const void *)src);
        __m512i b = _mm512_loadu_si512((const void *)(src + 64));
        __m512i c = _mm512_loadu_si512((const void *)(src + 128));
        __m512i d = _mm512_loadu_si512((const void *)(src + 192));
        _mm512_storeu_si512((void *)dst, _mm512_xor_si512(a, k));
        _mm512_storeu_si512((void *)(dst + 64), _mm512_xor_si512(b, k));
        _mm512_storeu_si512((void *)(dst + 128), _mm512_xor_si512(c, k));
        _mm512_storeu_si512((void *)(dst + 192), _mm512_xor_si512(d, k));
    }
    for (; n >= 64; n -= 64, src += 64, dst += 64)
        _mm512_storeu_si512((void *)dst, _mm512_xor_si512(_mm512_loadu_si512((const void *)src), k));
    if (n) {
        const __mmask64 m = (__mmask64)((~(uint64_t)0) >> (64 - n));
        _mm512_mask_storeu_epi8(dst, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src), k));
    }
}

#endif /* WS_HAVE_X86_SIMD */

#if defined(WS_ARM64)

static void ws_mask_neon(unsigned char *dst, const unsigned char *src, size_t n,
                         const unsigned char key[4]) {
    unsigned char twice[8];
    ws_mask_twice(twice, key);
    const uint8x8_t k8 = vld1_u8(twice); /* byte lanes: right in either byte order */
    const uint8x16_t k = vcombine_u8(k8, k8);
    for (; n >= 64; n -= 64, src += 64, dst += 64) {
        uint8x16_t a = vld1q_u8(src), b = vld1q_u8(src + 16);
        uint8x16_t c = vld1q_u8(src + 32), d = vld1q_u8(src + 48);
        vst1q_u8(dst, veorq_u8(a, k));
        vst1q_u8(dst + 16, veorq_u8(b, k));
        vst1q_u8(dst + 32, veorq_u8(c, k));
        vst1q_u8(dst + 48, veorq_u8(d, k));
    }
    for (; n >= 16; n -= 16, src += 16, dst += 16) vst1q_u8(dst, veorq_u8(vld1q_u8(src), k));
    ws_mask_portable(dst, src, n, key);
}

#endif /* WS_ARM64 */

/* Widest first: ws_mask_select() takes the first one the CPU supports. */
static const ws_mask_kernel ws_mask_kernels[] = {
#if defined(WS_HAVE_X86_SIMD)
    {"avx512", ws_mask_avx512, WS_CPU_AVX512},
    {"avx2", ws_mask_avx2, WS_CPU_AVX2},
    {"sse2", ws_mask_sse2, WS_CPU_SSE2},
#endif
#if defined(WS_ARM64)
    {"neon", ws_mask_neon, WS_CPU_NEON},
#endif
    {"portable", ws_mask_portable, 0},
};

#define WS_MASK_KERNEL_COUNT (sizeof(ws_mask_kernels) / sizeof(ws_mask_kernels[0]))

/* features: ws_cpu_features(), which callers query once (CPUID is slow in VMs). */
static int ws_mask_kernel_supported(const ws_mask_kernel *kernel, int features) {
    return (features & kernel->features) == kernel->features;
}

/* The widest kernel for `features` (ws_cpu_features()); the portable one needs none. */
static const ws_mask_kernel *ws_mask_select(int features) {
    for (size_t i = 0; i < WS_MASK_KERNEL_COUNT; i++)
        if (ws_mask_kernel_supported(&ws_mask_kernels[i], features)) return &ws_mask_kernels[i];
    return &ws_mask_kernels[WS_MASK_KERNEL_COUNT - 1];
}

#endif /* WSCODEC_MASK_KERNELS_H */
