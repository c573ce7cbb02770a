/* Strict UTF-8 validation (RFC 3629): the API every compiled module calls.
 *
 * Valid means: no overlong forms, no surrogates (U+D800-DFFF), nothing above
 * U+10FFFF, no byte C0, C1 or F5-FF, no stray or missing continuation byte.
 *
 * This header is what every module includes: the DFA (streaming carries a
 * code point across chunks with it), the kernel contracts, and the entry
 * points, which call the kernel chosen once for the whole package. The
 * kernels themselves (and how they work) and the choice are in
 * utf8_kernels.h, compiled into one module only (wscodec._kernels_c); see
 * ws_utf8_active.
 */
#ifndef WSCODEC_UTF8_H
#define WSCODEC_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* For the static state below, which a module that includes this header may
 * not use. */
#ifndef WS_UNUSED
#if defined(__GNUC__) || defined(__clang__)
#define WS_UNUSED __attribute__((unused))
#else
#define WS_UNUSED
#endif
#endif

/* ------------------------------------------------------------------ scalar DFA
 *
 * A shift DFA: each state is a bit offset (a multiple of 6) into a 64-bit row
 * per input byte, and the row holds the next state for every current state,
 * so one step is one table load, one shift and one mask. The states: */
enum {
    WS_UTF8_ACCEPT = 0,  /* at a code-point boundary */
    WS_UTF8_REJECT = 6,  /* invalid; absorbing */
    WS_UTF8_NEED1 = 12,  /* one continuation byte (80-BF) to go */
    WS_UTF8_NEED2 = 18,  /* two to go */
    WS_UTF8_NEED3 = 24,  /* three to go */
    WS_UTF8_AFTER_E0 = 30, /* A0-BF, then one more: no overlong 3-byte form */
    WS_UTF8_AFTER_ED = 36, /* 80-9F, then one more: no surrogate */
    WS_UTF8_AFTER_F0 = 42, /* 90-BF, then two more: no overlong 4-byte form */
    WS_UTF8_AFTER_F4 = 48  /* 80-8F, then two more: nothing above U+10FFFF */
};

/* The row of one byte class: the next state from each state, in state order. */
#define WS_UTF8_ROW(accept, need1, need2, need3, e0, ed, f0, f4)                      \
    ((uint64_t)(accept) | (uint64_t)WS_UTF8_REJECT << WS_UTF8_REJECT |               \
     (uint64_t)(need1) << WS_UTF8_NEED1 | (uint64_t)(need2) << WS_UTF8_NEED2 |      \
     (uint64_t)(need3) << WS_UTF8_NEED3 | (uint64_t)(e0) << WS_UTF8_AFTER_E0 |      \
     (uint64_t)(ed) << WS_UTF8_AFTER_ED | (uint64_t)(f0) << WS_UTF8_AFTER_F0 |      \
     (uint64_t)(f4) << WS_UTF8_AFTER_F4)
#define WS_R WS_UTF8_REJECT
#define WS_UTF8_LEAD(next) WS_UTF8_ROW(next, WS_R, WS_R, WS_R, WS_R, WS_R, WS_R, WS_R)
#define WS_UTF8_CONT(e0, ed, f0, f4)                                                    \
    WS_UTF8_ROW(WS_R, WS_UTF8_ACCEPT, WS_UTF8_NEED1, WS_UTF8_NEED2, e0, ed, f0, f4)

#define WS_UTF8_ASCII WS_UTF8_LEAD(WS_UTF8_ACCEPT)
#define WS_UTF8_C80 WS_UTF8_CONT(WS_R, WS_UTF8_NEED1, WS_R, WS_UTF8_NEED2)           /* 80-8F */
#define WS_UTF8_C90 WS_UTF8_CONT(WS_R, WS_UTF8_NEED1, WS_UTF8_NEED2, WS_R)           /* 90-9F */
#define WS_UTF8_CA0 WS_UTF8_CONT(WS_UTF8_NEED1, WS_R, WS_UTF8_NEED2, WS_R)           /* A0-BF */
#define WS_UTF8_L2 WS_UTF8_LEAD(WS_UTF8_NEED1)    /* C2-DF */
#define WS_UTF8_L3 WS_UTF8_LEAD(WS_UTF8_NEED2)    /* E1-EC, EE, EF */
#define WS_UTF8_L4 WS_UTF8_LEAD(WS_UTF8_NEED3)    /* F1-F3 */
#define WS_UTF8_LE0 WS_UTF8_LEAD(WS_UTF8_AFTER_E0)
#define WS_UTF8_LED WS_UTF8_LEAD(WS_UTF8_AFTER_ED)
#define WS_UTF8_LF0 WS_UTF8_LEAD(WS_UTF8_AFTER_F0)
#define WS_UTF8_LF4 WS_UTF8_LEAD(WS_UTF8_AFTER_F4)
#define WS_UTF8_BAD WS_UTF8_LEAD(WS_R)            /* C0, C1, F5-FF */

#define WS_X4(r) r, r, r, r
#define WS_X16(r) WS_X4(r), WS_X4(r), WS_X4(r), WS_X4(r)

/* The row of each byte value. */
static const uint64_t ws_utf8_dfa[256] = {
    /* 00-7F */
    WS_X16(WS_UTF8_ASCII), WS_X16(WS_UTF8_ASCII), WS_X16(WS_UTF8_ASCII), WS_X16(WS_UTF8_ASCII),
    WS_X16(WS_UTF8_ASCII), WS_X16(WS_UTF8_ASCII), WS_X16(WS_UTF8_ASCII), WS_X16(WS_UTF8_ASCII),
    /* 80-BF */
    WS_X16(WS_UTF8_C80), WS_X16(WS_UTF8_C90), WS_X16(WS_UTF8_CA0), WS_X16(WS_UTF8_CA0),
    /* C0-DF */
    WS_UTF8_BAD, WS_UTF8_BAD, WS_X4(WS_UTF8_L2), WS_X4(WS_UTF8_L2), WS_X4(WS_UTF8_L2),
    WS_UTF8_L2, WS_UTF8_L2, WS_X16(WS_UTF8_L2),
    /* E0-EF */
    WS_UTF8_LE0, WS_X4(WS_UTF8_L3), WS_X4(WS_UTF8_L3), WS_X4(WS_UTF8_L3), WS_UTF8_LED,
    WS_UTF8_L3, WS_UTF8_L3,
    /* F0-FF */
    WS_UTF8_LF0, WS_UTF8_L4, WS_UTF8_L4, WS_UTF8_L4, WS_UTF8_LF4, WS_UTF8_BAD, WS_UTF8_BAD,
    WS_UTF8_BAD, WS_X4(WS_UTF8_BAD), WS_X4(WS_UTF8_BAD),
};

#undef WS_X16
#undef WS_X4
#undef WS_R

/* One DFA step (the low six bits of `state` are the state). */
static inline unsigned ws_utf8_step(unsigned state, unsigned char byte) {
    return (unsigned)(ws_utf8_dfa[byte] >> (state & 63)) & 63;
}

/* The contract of every kernel: for p[0..n), starting at a code-point boundary,
 *   -1  the bytes are complete, valid UTF-8;
 *    n  they are valid but end inside a code point; *state is then the DFA
 *       state to carry into the next chunk;
 *    j  (0 <= j < n) the index of the byte the DFA rejects: the first byte
 *       after which no continuation could make the input valid. */
typedef ptrdiff_t (*ws_utf8_scan_fn)(const unsigned char *p, size_t n, unsigned *state);

/* ------------------------------------------------------------------ ASCII check
 *
 * 1 if p[0..n) is all ASCII, else 0: a text payload that is ASCII is already
 * the content of its str, so it needs no decoding. Same reading rule as the
 * validators: nothing outside [p, p + n). Each kernel ORs a few vectors
 * together per step and stops at the first step with a high bit set. */
typedef int (*ws_utf8_ascii_fn)(const unsigned char *p, size_t n);

typedef struct {
    const char *name;
    ws_utf8_scan_fn scan;
    ws_utf8_ascii_fn ascii;
    int features; /* WS_CPU_* bits the kernel needs */
} ws_utf8_kernel;

/* The kernel every call goes through: set once when a module is imported and
 * read-only afterwards. wscodec._kernels_c picks it (ws_utf8_select() in
 * utf8_kernels.h) and every other module copies its pointer (ws_utf8_use()),
 * so the whole package runs one choice. */
WS_UNUSED static const ws_utf8_kernel *ws_utf8_active;

static inline void ws_utf8_use(const ws_utf8_kernel *kernel) { ws_utf8_active = kernel; }

/* ------------------------------------------------------------------ public API */

/* 1 if p[0..n) is complete, strictly valid UTF-8, else 0. */
static inline int ws_utf8_valid_with(const ws_utf8_kernel *kernel, const unsigned char *p,
                                     size_t n) {
    unsigned tail;
    return kernel->scan(p, n, &tail) < 0;
}

static inline int ws_utf8_valid(const unsigned char *p, size_t n) {
    return ws_utf8_valid_with(ws_utf8_active, p, n);
}

/* 1 if p[0..n) is all ASCII (so also valid UTF-8), else 0. */
static inline int ws_utf8_ascii(const unsigned char *p, size_t n) {
    return ws_utf8_active->ascii(p, n);
}

/* Incremental validation across chunks (the fragments of a text message). */
typedef struct {
    unsigned dfa; /* WS_UTF8_ACCEPT at a boundary, WS_UTF8_REJECT once invalid */
} ws_utf8_state;

static inline void ws_utf8_reset(ws_utf8_state *s) { s->dfa = WS_UTF8_ACCEPT; }

/* Validate the next chunk. Returns -1 while everything fed is valid (possibly
 * ending inside a code point), else the index in p of the byte that made the
 * input invalid, and the state stays failed; 0 if it had already failed.
 * Fails fast: a chunk ending in a prefix no continuation can complete
 * (F4 90, ED A0, E0 80, F0 80, C0, ...) fails at once. */
static inline ptrdiff_t ws_utf8_feed_with(const ws_utf8_kernel *kernel, ws_utf8_state *s,
                                          const unsigned char *p, size_t n) {
    unsigned st = s->dfa, tail = WS_UTF8_ACCEPT;
    size_t i = 0;
    if (st == WS_UTF8_REJECT) return 0;
    /* Finish the code point carried over from the previous chunk. */
    for (; st != WS_UTF8_ACCEPT && i < n; i++) {
        st = ws_utf8_step(st, p[i]);
        if (st == WS_UTF8_REJECT) {
            s->dfa = WS_UTF8_REJECT;
            return (ptrdiff_t)i;
        }
    }
    if (st != WS_UTF8_ACCEPT) {
        s->dfa = st;
        return -1;
    }
    const ptrdiff_t found = kernel->scan(p + i, n - i, &tail);
    if (found < 0) {
        s->dfa = WS_UTF8_ACCEPT;
        return -1;
    }
    if ((size_t)found == n - i) {
        s->dfa = tail;
        return -1;
    }
    s->dfa = WS_UTF8_REJECT;
    return (ptrdiff_t)i + found;
}

static inline ptrdiff_t ws_utf8_feed(ws_utf8_state *s, const unsigned char *p, size_t n) {
    return ws_utf8_feed_with(ws_utf8_active, s, p, n);
}

/* 1 if everything fed is valid and ends on a code-point boundary. */
static inline int ws_utf8_complete(const ws_utf8_state *s) { return s->dfa == WS_UTF8_ACCEPT; }

/* 1 once an invalid byte has been fed (until ws_utf8_reset). */
static inline int ws_utf8_failed(const ws_utf8_state *s) { return s->dfa == WS_UTF8_REJECT; }

/* 1 if dfa is one of the states above (to vet a state restored from outside). */
static inline int ws_utf8_state_known(unsigned dfa) {
    return dfa % 6 == 0 && dfa <= WS_UTF8_AFTER_F4;
}

#endif /* WSCODEC_UTF8_H */
