/* XOR masking of WebSocket payloads (RFC 6455 §5.3): the API every compiled module calls.
 *
 * Every kernel computes dst[i] = src[i] ^ key[i & 3] for i < n, where key is
 * the 4-byte masking key already rotated to the phase of src[0]. dst == src
 * (in place) is allowed; partially overlapping buffers are not.
 *
 * Rules every kernel keeps:
 *  - no access outside [src, src + n) and [dst, dst + n): tails are masked
 *    (AVX-512) or done in narrower steps, never by over-reading;
 *  - unaligned loads/stores only through intrinsics or memcpy (no UB);
 *  - ordinary cached stores: a masked payload is read again right away, so
 *    streaming stores that bypass the cache make the whole path slower;
 *  - the key is only moved as bytes (memcpy into words and vectors), never
 *    assembled with shifts, so the portable and NEON kernels are right on
 *    big-endian machines too; the x86 kernels broadcast it as one 32-bit
 *    lane, which keeps the byte order because x86 is little-endian.
 *
 * This header is what every module includes: the kernel type, the portable
 * kernel (inlined for tiny payloads) and the entry points, which call the
 * kernel chosen once for the whole package. The SIMD kernels and the choice
 * are in mask_kernels.h, compiled into one module only (wscodec._kernels_c);
 * see ws_mask_active.
 */
#ifndef WSCODEC_MASK_H
#define WSCODEC_MASK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* For the static functions and state below, which a module that includes
 * this header may not use. */
#ifndef WS_UNUSED
#if defined(__GNUC__) || defined(__clang__)
#define WS_UNUSED __attribute__((unused))
#else
#define WS_UNUSED
#endif
#endif

typedef void (*ws_mask_fn)(unsigned char *dst, const unsigned char *src, size_t n,
                           const unsigned char key[4]);

/* The last 0-7 bytes; n < 8 and key is in phase with dst[0]. */
static inline void ws_mask_tail(unsigned char *dst, const unsigned char *src, size_t n,
                                const unsigned char key[4]) {
    size_t i = 0;
    if (n >= 4) {
        uint32_t w, k;
        memcpy(&w, src, 4);
        memcpy(&k, key, 4);
        w ^= k;
        memcpy(dst, &w, 4);
        i = 4;
    }
    for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}

/* The key written twice: each 4-byte window of it is a rotation of the key. */
static inline void ws_mask_twice(unsigned char twice[8], const unsigned char key[4]) {
    memcpy(twice, key, 4);
    memcpy(twice + 4, key, 4);
}

/* The key rotated to `phase` (payload bytes before this chunk; only phase % 4
 * matters), as 4 bytes inside `twice`. */
static inline const unsigned char *ws_mask_rotate(unsigned char twice[8], const unsigned char key[4],
                                                  size_t phase) {
    ws_mask_twice(twice, key);
    return twice + (phase & 3);
}

/* 8 bytes at a time through a 64-bit word: any CPU, any byte order. Unused
 * in a module that masks nothing itself. */
WS_UNUSED static void ws_mask_portable(unsigned char *dst, const unsigned char *src, size_t n,
                             const unsigned char key[4]) {
    unsigned char twice[8];
    uint64_t k;
    ws_mask_twice(twice, key);
    memcpy(&k, twice, 8);
    for (; n >= 8; n -= 8, src += 8, dst += 8) {
        uint64_t w;
        memcpy(&w, src, 8);
        w ^= k;
        memcpy(dst, &w, 8);
    }
    ws_mask_tail(dst, src, n, key);
}

typedef struct {
    const char *name;
    ws_mask_fn fn;
    int features; /* WS_CPU_* bits the kernel needs */
} ws_mask_kernel;

/* The kernel every call goes through: set once when a module is imported and
 * read-only afterwards. wscodec._kernels_c picks it (ws_mask_select() in
 * mask_kernels.h) and every other module copies its pointer (ws_mask_use()),
 * so the whole package runs one choice. */
WS_UNUSED static const ws_mask_kernel *ws_mask_active;

static inline void ws_mask_use(const ws_mask_kernel *kernel) { ws_mask_active = kernel; }

/* Mask n bytes from src into dst with `kernel`, from mask phase `phase`.
 * dst == src masks in place. */
WS_UNUSED static void ws_mask_copy_with(const ws_mask_kernel *kernel, unsigned char *dst,
                              const unsigned char *src, size_t n, const unsigned char key[4],
                              size_t phase) {
    unsigned char twice[8];
    kernel->fn(dst, src, n, ws_mask_rotate(twice, key, phase));
}

/* The entry point for other modules: unmask while copying, in one pass, with
 * the kernel in ws_mask_active. */
WS_UNUSED static void ws_mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
                         const unsigned char key[4], size_t phase) {
    unsigned char twice[8];
    const unsigned char *rotated = ws_mask_rotate(twice, key, phase);
    /* Tiny payloads (control and chat frames) skip the indirect call and
     * never wake the wide vector units. */
    if (n < 16)
        ws_mask_portable(dst, src, n, rotated);
    else
        ws_mask_active->fn(dst, src, n, rotated);
}

#endif /* WSCODEC_MASK_H */
