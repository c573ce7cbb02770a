/* Strict UTF-8 validation (RFC 3629): the SIMD kernels, the scalar one and the dispatch.
 *
 * Compiled into wscodec._kernels_c only, which picks one kernel for the CPU at
 * import and hands it to every other module; see utf8.h for the API.
 *
 * Valid means: no overlong forms, no surrogates (U+D800-DFFF), nothing above
 * U+10FFFF, no byte C0, C1 or F5-FF, no stray or missing continuation byte.
 *
 * The SIMD kernels implement the "lookup" algorithm of Keiser & Lemire,
 * "Validating UTF-8 in less than one instruction per byte" (2021): each byte
 * is classified together with the byte before it through three 16-entry
 * tables indexed by nibbles (pshufb / tbl); ANDing the three lookups leaves a
 * bit set only for an error all three agree on. Third and fourth bytes of a
 * sequence are recognised by saturating subtraction on the bytes two and three
 * places back. A block that ends inside a sequence is only an error if the
 * next block is all ASCII (a non-ASCII block sees the missing continuation
 * itself), or if the input ends there.
 *
 * Every kernel has one contract (see ws_utf8_scan_fn) that gives both the
 * one-shot answer and the exact failing byte for streaming: SIMD finds the
 * first 64-byte block with an error, then the scalar DFA, restarted at the
 * last code-point boundary before that block, finds the byte. The DFA also
 * handles inputs too short for SIMD to pay off and the bytes a chunk carries
 * into the next one.
 *
 * No kernel reads outside [p, p + n): a partial last block is loaded with a
 * mask (AVX-512) or as the last 64 bytes of the input, overlapping bytes
 * already checked (the other kernels, which leave shorter inputs to the DFA).
 */
#ifndef WSCODEC_UTF8_KERNELS_H
#define WSCODEC_UTF8_KERNELS_H

#include "cpu.h"
#include "utf8.h"

#if defined(WS_HAVE_X86_SIMD)
#include <immintrin.h>
#endif
#if defined(WS_ARM64)
#include <arm_neon.h>
#endif

static inline int ws_utf8_ascii8(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return (w & UINT64_C(0x8080808080808080)) == 0;
}

/* Portable kernel: ASCII eight bytes at a time, everything else by the DFA,
 * eight steps between checks (REJECT absorbs, so a rejection among them is
 * still visible after the eighth; only then are they replayed one by one to
 * find the byte). Only the low six bits of `s` are the state: the shift uses
 * no more, so masking the rest off each step would only lengthen the chain. */
static ptrdiff_t ws_utf8_scan_scalar(const unsigned char *p, size_t n, unsigned *state) {
    size_t i = 0;
    uint64_t s = WS_UTF8_ACCEPT;
    while (i < n) {
        if ((s & 63) == WS_UTF8_ACCEPT) {
            while (i + 16 <= n && ws_utf8_ascii8(p + i) && ws_utf8_ascii8(p + i + 8)) i += 16;
            while (i + 8 <= n && ws_utf8_ascii8(p + i)) i += 8;
            while (i < n && p[i] < 0x80) i++;
            if (i == n) break;
        }
        if (i + 8 <= n) {
            uint64_t t = s;
            for (int k = 0; k < 8; k++) t = ws_utf8_dfa[p[i + k]] >> (t & 63);
            if ((t & 63) != WS_UTF8_REJECT) {
                s = t;
                i += 8;
                continue;
            }
        }
        s = ws_utf8_dfa[p[i]] >> (s & 63);
        if ((s & 63) == WS_UTF8_REJECT) return (ptrdiff_t)i;
        i++;
    }
    if ((s & 63) != WS_UTF8_ACCEPT) {
        *state = (unsigned)(s & 63);
        return (ptrdiff_t)n;
    }
    return -1;
}

/* Called by a SIMD kernel whose block at p + r reported an error (r may be n
 * when only the end is unfinished). No byte before r - 1 can be one the DFA
 * rejects: each rejection is flagged at its own position or, for a lead byte
 * that can never start a sequence, at the next one. So [0, r - 1) is a valid
 * prefix and the code point holding p[r - 1] starts at most three
 * continuation bytes back; the DFA restarts there. */
static inline ptrdiff_t ws_utf8_locate(const unsigned char *p, size_t n, size_t r, unsigned *state) {
    size_t b = r ? r - 1 : 0;
    for (int k = 0; k < 3 && b > 0 && (p[b] & 0xC0) == 0x80; k++) b--;
    ptrdiff_t found = ws_utf8_scan_scalar(p + b, n - b, state);
    return found < 0 ? -1 : (ptrdiff_t)b + found;
}

/* --------------------------------------------------------- SIMD classification
 *
 * Error classes of a byte pair (previous byte, current byte), one bit each.
 * F5-FF share OVER4 (with 80-8F) and BIG (with 90-BF) with F0 and F4 so that
 * eight bits suffice: no valid byte follows them anyway. */
enum {
    WS_U8_SHORT = 0x01, /* a lead byte not followed by a continuation */
    WS_U8_LONG = 0x02,  /* a continuation after an ASCII byte */
    WS_U8_OVER3 = 0x04, /* E0 80-9F: overlong 3-byte form */
    WS_U8_BIG = 0x08,   /* F4 90-BF, F5-FF 90-BF: above U+10FFFF */
    WS_U8_SURR = 0x10,  /* ED A0-BF: surrogate */
    WS_U8_OVER2 = 0x20, /* C0/C1 + continuation: overlong 2-byte form */
    WS_U8_OVER4 = 0x40, /* F0 80-8F: overlong 4-byte form; F5-FF 80-8F */
    WS_U8_CONT2 = 0x80  /* a continuation after a continuation: an error unless
                           it is the third or fourth byte of a sequence */
};

#define WS_U8_ANY (WS_U8_SHORT | WS_U8_LONG | WS_U8_CONT2)
#define WS_U8_F5 (WS_U8_ANY | WS_U8_BIG | WS_U8_OVER4)

/* Indexed by the high nibble of the previous byte. */
static const unsigned char ws_utf8_prev_high[16] = {
    WS_U8_LONG, WS_U8_LONG, WS_U8_LONG, WS_U8_LONG, WS_U8_LONG, WS_U8_LONG, WS_U8_LONG, WS_U8_LONG,
    WS_U8_CONT2, WS_U8_CONT2, WS_U8_CONT2, WS_U8_CONT2,
    WS_U8_SHORT | WS_U8_OVER2,
    WS_U8_SHORT,
    WS_U8_SHORT | WS_U8_OVER3 | WS_U8_SURR,
    WS_U8_SHORT | WS_U8_BIG | WS_U8_OVER4,
};
/* Indexed by the low nibble of the previous byte. */
static const unsigned char ws_utf8_prev_low[16] = {
    WS_U8_ANY | WS_U8_OVER2 | WS_U8_OVER3 | WS_U8_OVER4, /* C0 E0 F0 */
    WS_U8_ANY | WS_U8_OVER2,                             /* C1 */
    WS_U8_ANY, WS_U8_ANY,
    WS_U8_ANY | WS_U8_BIG, /* F4 */
    WS_U8_F5, WS_U8_F5, WS_U8_F5, WS_U8_F5, WS_U8_F5, WS_U8_F5, WS_U8_F5, WS_U8_F5,
    WS_U8_F5 | WS_U8_SURR, /* ED */
    WS_U8_F5, WS_U8_F5,
};
/* Indexed by the high nibble of the current byte. */
static const unsigned char ws_utf8_cur_high[16] = {
    WS_U8_SHORT, WS_U8_SHORT, WS_U8_SHORT, WS_U8_SHORT,
    WS_U8_SHORT, WS_U8_SHORT, WS_U8_SHORT, WS_U8_SHORT,
    WS_U8_LONG | WS_U8_CONT2 | WS_U8_OVER2 | WS_U8_OVER3 | WS_U8_OVER4, /* 80-8F */
    WS_U8_LONG | WS_U8_CONT2 | WS_U8_OVER2 | WS_U8_OVER3 | WS_U8_BIG,   /* 90-9F */
    WS_U8_LONG | WS_U8_CONT2 | WS_U8_OVER2 | WS_U8_SURR | WS_U8_BIG,    /* A0-AF */
    WS_U8_LONG | WS_U8_CONT2 | WS_U8_OVER2 | WS_U8_SURR | WS_U8_BIG,    /* B0-BF */
    WS_U8_SHORT, WS_U8_SHORT, WS_U8_SHORT, WS_U8_SHORT,
};
/* Subtracted (saturating) from the last vector of a block: nonzero where the
 * block ends inside a sequence (last byte >= C0, second last >= E0, third
 * last >= F0). A kernel of width W loads the last W bytes. */
static const unsigned char ws_utf8_unfinished[64] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xEF, 0xDF, 0xBF,
};

/* Where the last block of a kernel without masked loads overlaps bytes
 * already checked: `ws_utf8_keep + t` has 0xFF in its last t bytes only, so
 * ANDed with that block's error bits it keeps those of its new t bytes. */
static const unsigned char ws_utf8_keep[128] = {
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
};

/* The loop every SIMD kernel shares; below `min_n` bytes the scalar kernel is
 * faster than setting up vectors.
 *   PREFIX##_block(&ctx, q): nonzero if the 64 bytes at q have an error,
 *       given the bytes before them (kept in ctx);
 *   PREFIX##_tail(&ctx, p, n, i): the same for the last n - i < 64 bytes,
 *       also nonzero if they end inside a sequence;
 *   PREFIX##_unfinished(&ctx): whether the last block ended inside a sequence.
 * Every error bit depends only on a byte and the three before it, so a
 * recheck of bytes already checked finds nothing new, and the first flagged
 * byte is in the block reported. */
#define WS_UTF8_SIMD_SCAN(PREFIX, min_n)                                                 \
    if (n < (min_n)) return ws_utf8_scan_scalar(p, n, state);                            \
    PREFIX##_ctx ctx;                                                                    \
    PREFIX##_init(&ctx);                                                                 \
    size_t i = 0;                                                                        \
    for (; i + 64 <= n; i += 64)                                                         \
        if (PREFIX##_block(&ctx, p + i)) return ws_utf8_locate(p, n, i, state);          \
    if (i < n) {                                                                         \
        if (PREFIX##_tail(&ctx, p, n, i)) return ws_utf8_locate(p, n, i, state);         \
    } else if (PREFIX##_unfinished(&ctx)) {                                              \
        return ws_utf8_locate(p, n, n, state);                                           \
    }                                                                                    \
    return -1

#if defined(WS_HAVE_X86_SIMD)

/* ---- SSSE3: 4 x 16 bytes per block */

typedef struct {
    __m128i prev, unfinished;
} ws_u8_ssse3_ctx;

WS_TARGET("ssse3")
static inline void ws_u8_ssse3_init(ws_u8_ssse3_ctx *c) {
    c->prev = _mm_setzero_si128();
    c->unfinished = _mm_setzero_si128();
}

WS_TARGET("ssse3")
static inline int ws_u8_ssse3_nonzero(__m128i v) {
    return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) != 0xFFFF;
}

/* Error bits of the 16 bytes of `in`, given the 16 bytes before them. */
WS_TARGET("ssse3")
static inline __m128i ws_u8_ssse3_check(__m128i in, __m128i prev) {
    const __m128i nib = _mm_set1_epi8(0x0F);
    const __m128i p1 = _mm_alignr_epi8(in, prev, 15);
    const __m128i p2 = _mm_alignr_epi8(in, prev, 14);
    const __m128i p3 = _mm_alignr_epi8(in, prev, 13);
    __m128i e = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)ws_utf8_prev_high),
                                 _mm_and_si128(_mm_srli_epi16(p1, 4), nib));
    e = _mm_and_si128(e, _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)ws_utf8_prev_low),
                                          _mm_and_si128(p1, nib)));
    e = _mm_and_si128(e, _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)ws_utf8_cur_high),
                                          _mm_and_si128(_mm_srli_epi16(in, 4), nib)));
    /* 0x80 where a third (p2 >= E0) or fourth (p3 >= F0) byte is due. */
    const __m128i due = _mm_or_si128(_mm_subs_epu8(p2, _mm_set1_epi8(0x60)),
                                     _mm_subs_epu8(p3, _mm_set1_epi8(0x70)));
    return _mm_xor_si128(e, _mm_and_si128(due, _mm_set1_epi8((char)0x80)));
}

WS_TARGET("ssse3")
static inline int ws_u8_ssse3_block(ws_u8_ssse3_ctx *c, const unsigned char *q) {
    const __m128i a = _mm_loadu_si128((const __m128i *)q);
    const __m128i b = _mm_loadu_si128((const __m128i *)(q + 16));
    const __m128i d = _mm_loadu_si128((const __m128i *)(q + 32));
    const __m128i e = _mm_loadu_si128((const __m128i *)(q + 48));
    if (!_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(d, e)))) {
        c->prev = e;
        return ws_u8_ssse3_nonzero(c->unfinished);
    }
    __m128i err = _mm_or_si128(ws_u8_ssse3_check(a, c->prev), ws_u8_ssse3_check(b, a));
    err = _mm_or_si128(err, _mm_or_si128(ws_u8_ssse3_check(d, b), ws_u8_ssse3_check(e, d)));
    c->prev = e;
    c->unfinished = _mm_subs_epu8(e, _mm_loadu_si128((const __m128i *)(ws_utf8_unfinished + 48)));
    return ws_u8_ssse3_nonzero(err);
}

/* The last 64 bytes (n >= 64), overlapping the last full block; the bytes
 * before them are read if they exist, but matter only for flags masked off.
 * If all 64 are ASCII, so is the end of the last full block: it ended on a
 * code-point boundary and there is nothing to find. */
WS_TARGET("ssse3")
static inline int ws_u8_ssse3_tail(ws_u8_ssse3_ctx *c, const unsigned char *p, size_t n, size_t i) {
    (void)c; /* the window carries its own context */
    const unsigned char *q = p + n - 64, *keep = ws_utf8_keep + (n - i);
    const __m128i a = _mm_loadu_si128((const __m128i *)q);
    const __m128i b = _mm_loadu_si128((const __m128i *)(q + 16));
    const __m128i d = _mm_loadu_si128((const __m128i *)(q + 32));
    const __m128i e = _mm_loadu_si128((const __m128i *)(q + 48));
    if (!_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(d, e)))) return 0;
    const __m128i before = q - p >= 16 ? _mm_loadu_si128((const __m128i *)(q - 16)) : _mm_setzero_si128();
    __m128i err = _mm_and_si128(ws_u8_ssse3_check(a, before), _mm_loadu_si128((const __m128i *)keep));
    err = _mm_or_si128(err, _mm_and_si128(ws_u8_ssse3_check(b, a),
                                          _mm_loadu_si128((const __m128i *)(keep + 16))));
    err = _mm_or_si128(err, _mm_and_si128(ws_u8_ssse3_check(d, b),
                                          _mm_loadu_si128((const __m128i *)(keep + 32))));
    err = _mm_or_si128(err, _mm_and_si128(ws_u8_ssse3_check(e, d),
                                          _mm_loadu_si128((const __m128i *)(keep + 48))));
    err = _mm_or_si128(err, _mm_subs_epu8(e, _mm_loadu_si128((const __m128i *)(ws_utf8_unfinished + 48))));
    return ws_u8_ssse3_nonzero(err);
}

WS_TARGET("ssse3")
static inline int ws_u8_ssse3_unfinished(const ws_u8_ssse3_ctx *c) {
    return ws_u8_ssse3_nonzero(c->unfinished);
}

WS_TARGET("ssse3")
static ptrdiff_t ws_utf8_scan_ssse3(const unsigned char *p, size_t n, unsigned *state) {
    WS_UTF8_SIMD_SCAN(ws_u8_ssse3, 64);
}

/* ---- AVX2: 2 x 32 bytes per block */

typedef struct {
    __m256i prev, unfinished;
} ws_u8_avx2_ctx;

WS_TARGET("avx2")
static inline void ws_u8_avx2_init(ws_u8_avx2_ctx *c) {
    c->prev = _mm256_setzero_si256();
    c->unfinished = _mm256_setzero_si256();
}

WS_TARGET("avx2")
static inline int ws_u8_avx2_nonzero(__m256i v) {
    return !_mm256_testz_si256(v, v);
}

WS_TARGET("avx2")
static inline __m256i ws_u8_avx2_table(const unsigned char *t) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
}

WS_TARGET("avx2")
static inline __m256i ws_u8_avx2_check(__m256i in, __m256i prev) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    /* alignr works within 128-bit lanes: pair each lane of `in` with the lane
     * before it (the high lane of `prev` for the low lane). */
    const __m256i before = _mm256_permute2x128_si256(prev, in, 0x21);
    const __m256i p1 = _mm256_alignr_epi8(in, before, 15);
    const __m256i p2 = _mm256_alignr_epi8(in, before, 14);
    const __m256i p3 = _mm256_alignr_epi8(in, before, 13);
    __m256i e = _mm256_shuffle_epi8(ws_u8_avx2_table(ws_utf8_prev_high),
                                    _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib));
    e = _mm256_and_si256(e, _mm256_shuffle_epi8(ws_u8_avx2_table(ws_utf8_prev_low),
                                                _mm256_and_si256(p1, nib)));
    e = _mm256_and_si256(e, _mm256_shuffle_epi8(ws_u8_avx2_table(ws_utf8_cur_high),
                                                _mm256_and_si256(_mm256_srli_epi16(in, 4), nib)));
    const __m256i due = _mm256_or_si256(_mm256_subs_epu8(p2, _mm256_set1_epi8(0x60)),
                                        _mm256_subs_epu8(p3, _mm256_set1_epi8(0x70)));
    return _mm256_xor_si256(e, _mm256_and_si256(due, _mm256_set1_epi8((char)0x80)));
}

WS_TARGET("avx2")
static inline int ws_u8_avx2_block(ws_u8_avx2_ctx *c, const unsigned char *q) {
    const __m256i a = _mm256_loadu_si256((const __m256i *)q);
    const __m256i b = _mm256_loadu_si256((const __m256i *)(q + 32));
    if (!_mm256_movemask_epi8(_mm256_or_si256(a, b))) {
        c->prev = b;
        return ws_u8_avx2_nonzero(c->unfinished);
    }
    const __m256i err = _mm256_or_si256(ws_u8_avx2_check(a, c->prev), ws_u8_avx2_check(b, a));
    c->prev = b;
    c->unfinished =
        _mm256_subs_epu8(b, _mm256_loadu_si256((const __m256i *)(ws_utf8_unfinished + 32)));
    return ws_u8_avx2_nonzero(err);
}

/* The last 64 bytes (n >= 64), as for SSSE3. */
WS_TARGET("avx2")
static inline int ws_u8_avx2_tail(ws_u8_avx2_ctx *c, const unsigned char *p, size_t n, size_t i) {
    (void)c; /* the window carries its own context */
    const unsigned char *q = p + n - 64, *keep = ws_utf8_keep + (n - i);
    const __m256i a = _mm256_loadu_si256((const __m256i *)q);
    const __m256i b = _mm256_loadu_si256((const __m256i *)(q + 32));
    if (!_mm256_movemask_epi8(_mm256_or_si256(a, b))) return 0;
    const __m256i before =
        q - p >= 32 ? _mm256_loadu_si256((const __m256i *)(q - 32)) : _mm256_setzero_si256();
    __m256i err = _mm256_and_si256(ws_u8_avx2_check(a, before), _mm256_loadu_si256((const __m256i *)keep));
    err = _mm256_or_si256(err, _mm256_and_si256(ws_u8_avx2_check(b, a),
                                                _mm256_loadu_si256((const __m256i *)(keep + 32))));
    err = _mm256_or_si256(
        err, _mm256_subs_epu8(b, _mm256_loadu_si256((const __m256i *)(ws_utf8_unfinished + 32))));
    return ws_u8_avx2_nonzero(err);
}

WS_TARGET("avx2")
static inline int ws_u8_avx2_unfinished(const ws_u8_avx2_ctx *c) {
    return ws_u8_avx2_nonzero(c->unfinished);
}

WS_TARGET("avx2")
static ptrdiff_t ws_utf8_scan_avx2(const unsigned char *p, size_t n, unsigned *state) {
    WS_UTF8_SIMD_SCAN(ws_u8_avx2, 64);
}

/* ---- AVX-512 (F + BW): one 64-byte vector per block */

typedef struct {
    __m512i prev, unfinished;
} ws_u8_avx512_ctx;

WS_TARGET("avx512f,avx512bw")
static inline void ws_u8_avx512_init(ws_u8_avx512_ctx *c) {
    c->prev = _mm512_setzero_si512();
    c->unfinished = _mm512_setzero_si512();
}

WS_TARGET("avx512f,avx512bw")
static inline int ws_u8_avx512_nonzero(__m512i v) {
    return _mm512_test_epi64_mask(v, v) != 0;
}

WS_TARGET("avx512f,avx512bw")
static inline __m512i ws_u8_avx512_table(const unsigned char *t) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)t));
}

WS_TARGET("avx512f,avx512bw")
static inline __m512i ws_u8_avx512_check(__m512i in, __m512i prev) {
    const __m512i nib = _mm512_set1_epi8(0x0F);
    /* Each 128-bit lane of `in` next to the lane before it, as for AVX2. */
    const __m512i before = _mm512_alignr_epi64(in, prev, 6);
    const __m512i p1 = _mm512_alignr_epi8(in, before, 15);
    const __m512i p2 = _mm512_alignr_epi8(in, before, 14);
    const __m512i p3 = _mm512_alignr_epi8(in, before, 13);
    __m512i e = _mm512_shuffle_epi8(ws_u8_avx512_table(ws_utf8_prev_high),
                                    _mm512_and_si512(_mm512_srli_epi16(p1, 4), nib));
    e = _mm512_and_si512(e, _mm512_shuffle_epi8(ws_u8_avx512_table(ws_utf8_prev_low),
                                                _mm512_and_si512(p1, nib)));
    e = _mm512_and_si512(e, _mm512_shuffle_epi8(ws_u8_avx512_table(ws_utf8_cur_high),
                                                _mm512_and_si512(_mm512_srli_epi16(in, 4), nib)));
    const __m512i due = _mm512_or_si512(_mm512_subs_epu8(p2, _mm512_set1_epi8(0x60)),
                                        _mm512_subs_epu8(p3, _mm512_set1_epi8(0x70)));
    return _mm512_xor_si512(e, _mm512_and_si512(due, _mm512_set1_epi8((char)0x80)));
}

WS_TARGET("avx512f,avx512bw")
static inline int ws_u8_avx512_next(ws_u8_avx512_ctx *c, __m512i in) {
    const __m512i prev = c->prev;
    c->prev = in;
    if (!_mm512_movepi8_mask(in)) return ws_u8_avx512_nonzero(c->unfinished);
    c->unfinished = _mm512_subs_epu8(in, _mm512_loadu_si512((const void *)ws_utf8_unfinished));
    return ws_u8_avx512_nonzero(ws_u8_avx512_check(in, prev));
}

WS_TARGET("avx512f,avx512bw")
static inline int ws_u8_avx512_block(ws_u8_avx512_ctx *c, const unsigned char *q) {
    return ws_u8_avx512_next(c, _mm512_loadu_si512((const void *)q));
}

/* The last n - i < 64 bytes, followed by zeros: masked-off bytes are not read
 * (nor faulted on) and load as zeros, which are ASCII, so a sequence cut by
 * the end shows up as a missing continuation. */
WS_TARGET("avx512f,avx512bw")
static inline int ws_u8_avx512_tail(ws_u8_avx512_ctx *c, const unsigned char *p, size_t n, size_t i) {
    const __mmask64 m = (__mmask64)(~(uint64_t)0 >> (64 - (n - i)));
    return ws_u8_avx512_next(c, _mm512_maskz_loadu_epi8(m, p + i));
}

WS_TARGET("avx512f,avx512bw")
static inline int ws_u8_avx512_unfinished(const ws_u8_avx512_ctx *c) {
    return ws_u8_avx512_nonzero(c->unfinished);
}

WS_TARGET("avx512f,avx512bw")
static ptrdiff_t ws_utf8_scan_avx512(const unsigned char *p, size_t n, unsigned *state) {
    WS_UTF8_SIMD_SCAN(ws_u8_avx512, 16);
}

#endif /* WS_HAVE_X86_SIMD */

#if defined(WS_ARM64)

/* ---- NEON: 4 x 16 bytes per block */

typedef struct {
    uint8x16_t prev, unfinished;
} ws_u8_neon_ctx;

static inline void ws_u8_neon_init(ws_u8_neon_ctx *c) {
    c->prev = vdupq_n_u8(0);
    c->unfinished = vdupq_n_u8(0);
}

static inline int ws_u8_neon_nonzero(uint8x16_t v) { return vmaxvq_u8(v) != 0; }

static inline uint8x16_t ws_u8_neon_check(uint8x16_t in, uint8x16_t prev) {
    const uint8x16_t p1 = vextq_u8(prev, in, 15);
    const uint8x16_t p2 = vextq_u8(prev, in, 14);
    const uint8x16_t p3 = vextq_u8(prev, in, 13);
    uint8x16_t e = vqtbl1q_u8(vld1q_u8(ws_utf8_prev_high), vshrq_n_u8(p1, 4));
    e = vandq_u8(e, vqtbl1q_u8(vld1q_u8(ws_utf8_prev_low), vandq_u8(p1, vdupq_n_u8(0x0F))));
    e = vandq_u8(e, vqtbl1q_u8(vld1q_u8(ws_utf8_cur_high), vshrq_n_u8(in, 4)));
    const uint8x16_t due = vorrq_u8(vqsubq_u8(p2, vdupq_n_u8(0x60)), vqsubq_u8(p3, vdupq_n_u8(0x70)));
    return veorq_u8(e, vandq_u8(due, vdupq_n_u8(0x80)));
}

static inline int ws_u8_neon_block(ws_u8_neon_ctx *c, const unsigned char *q) {
    const uint8x16_t a = vld1q_u8(q), b = vld1q_u8(q + 16);
    const uint8x16_t d = vld1q_u8(q + 32), e = vld1q_u8(q + 48);
    if (vmaxvq_u8(vorrq_u8(vorrq_u8(a, b), vorrq_u8(d, e))) < 0x80) {
        c->prev = e;
        return ws_u8_neon_nonzero(c->unfinished);
    }
    uint8x16_t err = vorrq_u8(ws_u8_neon_check(a, c->prev), ws_u8_neon_check(b, a));
    err = vorrq_u8(err, vorrq_u8(ws_u8_neon_check(d, b), ws_u8_neon_check(e, d)));
    c->prev = e;
    c->unfinished = vqsubq_u8(e, vld1q_u8(ws_utf8_unfinished + 48));
    return ws_u8_neon_nonzero(err);
}

/* The last 64 bytes (n >= 64), as for SSSE3. */
static inline int ws_u8_neon_tail(ws_u8_neon_ctx *c, const unsigned char *p, size_t n, size_t i) {
    (void)c; /* the window carries its own context */
    const unsigned char *q = p + n - 64, *keep = ws_utf8_keep + (n - i);
    const uint8x16_t a = vld1q_u8(q), b = vld1q_u8(q + 16);
    const uint8x16_t d = vld1q_u8(q + 32), e = vld1q_u8(q + 48);
    if (vmaxvq_u8(vorrq_u8(vorrq_u8(a, b), vorrq_u8(d, e))) < 0x80) return 0;
    const uint8x16_t before = q - p >= 16 ? vld1q_u8(q - 16) : vdupq_n_u8(0);
    uint8x16_t err = vandq_u8(ws_u8_neon_check(a, before), vld1q_u8(keep));
    err = vorrq_u8(err, vandq_u8(ws_u8_neon_check(b, a), vld1q_u8(keep + 16)));
    err = vorrq_u8(err, vandq_u8(ws_u8_neon_check(d, b), vld1q_u8(keep + 32)));
    err = vorrq_u8(err, vandq_u8(ws_u8_neon_check(e, d), vld1q_u8(keep + 48)));
    err = vorrq_u8(err, vqsubq_u8(e, vld1q_u8(ws_utf8_unfinished + 48)));
    return ws_u8_neon_nonzero(err);
}

static inline int ws_u8_neon_unfinished(const ws_u8_neon_ctx *c) {
    return ws_u8_neon_nonzero(c->unfinished);
}

static ptrdiff_t ws_utf8_scan_neon(const unsigned char *p, size_t n, unsigned *state) {
    WS_UTF8_SIMD_SCAN(ws_u8_neon, 64);
}

#endif /* WS_ARM64 */


static int ws_ascii_scalar(const unsigned char *p, size_t n) {
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t acc = 0, w[4];
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        memcpy(w, p + i, 32);
        if ((w[0] | w[1] | w[2] | w[3]) & high) return 0;
    }
    for (; i + 8 <= n; i += 8) {
        memcpy(w, p + i, 8);
        acc |= w[0];
    }
    for (; i < n; i++) acc |= p[i];
    return (acc & high) == 0;
}

#if defined(WS_HAVE_X86_SIMD)

WS_TARGET("ssse3")
static int ws_ascii_ssse3(const unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i)),
                                       _mm_loadu_si128((const __m128i *)(p + i + 16)));
        const __m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(p + i + 32)),
                                       _mm_loadu_si128((const __m128i *)(p + i + 48)));
        if (_mm_movemask_epi8(_mm_or_si128(a, b))) return 0;
    }
    return ws_ascii_scalar(p + i, n - i);
}

WS_TARGET("avx2")
static int ws_ascii_avx2(const unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        const __m256i a = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(p + i)),
                                          _mm256_loadu_si256((const __m256i *)(p + i + 32)));
        const __m256i b = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(p + i + 64)),
                                          _mm256_loadu_si256((const __m256i *)(p + i + 96)));
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b))) return 0;
    }
    for (; i + 32 <= n; i += 32)
        if (_mm256_movemask_epi8(_mm256_loadu_si256((const __m256i *)(p + i)))) return 0;
    return ws_ascii_scalar(p + i, n - i);
}

WS_TARGET("avx512f,avx512bw")
static int ws_ascii_avx512(const unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        const __m512i a = _mm512_or_si512(_mm512_loadu_si512((const void *)(p + i)),
                                          _mm512_loadu_si512((const void *)(p + i + 64)));
        const __m512i b = _mm512_or_si512(_mm512_loadu_si512((const void *)(p + i + 128)),
                                          _mm512_loadu_si512((const void *)(p + i + 192)));
        if (_mm512_movepi8_mask(_mm512_or_si512(a, b))) return 0;
    }
    for (; i + 64 <= n; i += 64)
        if (_mm512_movepi8_mask(_mm512_loadu_si512((const void *)(p + i)))) return 0;
    if (i == n) return 1;
    /* Masked-off bytes are neither read nor faulted on. */
    const __mmask64 m = (__mmask64)(~(uint64_t)0 >> (64 - (n - i)));
    return _mm512_movepi8_mask(_mm512_maskz_loadu_epi8(m, p + i)) == 0;
}

#endif /* WS_HAVE_X86_SIMD */

#if defined(WS_ARM64)

static int ws_ascii_neon(const unsigned char *p, size_t n) {
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const uint8x16_t a = vorrq_u8(vld1q_u8(p + i), vld1q_u8(p + i + 16));
        const uint8x16_t b = vorrq_u8(vld1q_u8(p + i + 32), vld1q_u8(p + i + 48));
        if (vmaxvq_u8(vorrq_u8(a, b)) >= 0x80) return 0;
    }
    return ws_ascii_scalar(p + i, n - i);
}

#endif /* WS_ARM64 */

/* ------------------------------------------------------------------ dispatch */

/* Widest first: ws_utf8_select() takes the first one the CPU supports. */
static const ws_utf8_kernel ws_utf8_kernels[] = {
#if defined(WS_HAVE_X86_SIMD)
    {"avx512", ws_utf8_scan_avx512, ws_ascii_avx512, WS_CPU_AVX512},
    {"avx2", ws_utf8_scan_avx2, ws_ascii_avx2, WS_CPU_AVX2},
    {"ssse3", ws_utf8_scan_ssse3, ws_ascii_ssse3, WS_CPU_SSSE3},
#endif
#if defined(WS_ARM64)
    {"neon", ws_utf8_scan_neon, ws_ascii_neon, WS_CPU_NEON},
#endif
    {"scalar", ws_utf8_scan_scalar, ws_ascii_scalar, 0},
};

#define WS_UTF8_KERNEL_COUNT (sizeof(ws_utf8_kernels) / sizeof(ws_utf8_kernels[0]))

/* features: ws_cpu_features(), which callers query once (CPUID is slow in VMs). */
static inline int ws_utf8_kernel_supported(const ws_utf8_kernel *kernel, int features) {
    return (features & kernel->features) == kernel->features;
}

/* The widest kernel for `features` (ws_cpu_features()); the scalar one needs none. */
static const ws_utf8_kernel *ws_utf8_select(int features) {
    for (size_t i = 0; i < WS_UTF8_KERNEL_COUNT; i++)
        if (ws_utf8_kernel_supported(&ws_utf8_kernels[i], features)) return &ws_utf8_kernels[i];
    return &ws_utf8_kernels[WS_UTF8_KERNEL_COUNT - 1];
}

#endif /* WSCODEC_UTF8_KERNELS_H */
