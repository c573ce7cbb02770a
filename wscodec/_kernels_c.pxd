# The one SIMD kernel dispatch: wscodec._kernels_c picks the masking and UTF-8 kernels for this CPU once,
# at import, and every compiled module that masks or validates cimports them from here. The C API
# below (the headers' inline entry points) is compiled into each such module; the kernels themselves
# only into _kernels_c, so each module starts with `use_kernels()`, which copies the chosen kernels
# into its own ws_mask_active / ws_utf8_active.

cdef extern from "_c/mask.h":
    ctypedef struct ws_mask_kernel:
        const char *name
    const ws_mask_kernel *ws_mask_active
    void ws_mask_use(const ws_mask_kernel *kernel)
    void ws_mask_copy(unsigned char *dst, const unsigned char *src, size_t n,
                      const unsigned char *key, size_t phase) nogil
    void ws_mask_copy_with(const ws_mask_kernel *kernel, unsigned char *dst,
                           const unsigned char *src, size_t n,
                           const unsigned char *key, size_t phase) nogil

cdef extern from "_c/utf8.h":
    ctypedef struct ws_utf8_kernel:
        const char *name
        int (*ascii)(const unsigned char *p, size_t n) noexcept nogil
    const ws_utf8_kernel *ws_utf8_active
    void ws_utf8_use(const ws_utf8_kernel *kernel)

    ctypedef struct ws_utf8_state:
        unsigned dfa
    bint ws_utf8_state_known(unsigned dfa)
    bint ws_utf8_valid(const unsigned char *p, size_t n) nogil
    bint ws_utf8_valid_with(const ws_utf8_kernel *kernel, const unsigned char *p, size_t n) nogil
    bint ws_utf8_ascii(const unsigned char *p, size_t n) nogil
    void ws_utf8_reset(ws_utf8_state *s) nogil
    Py_ssize_t ws_utf8_feed(ws_utf8_state *s, const unsigned char *p, size_t n) nogil
    Py_ssize_t ws_utf8_feed_with(const ws_utf8_kernel *kernel, ws_utf8_state *s,
                                 const unsigned char *p, size_t n) nogil
    bint ws_utf8_complete(const ws_utf8_state *s) nogil
    bint ws_utf8_failed(const ws_utf8_state *s) nogil

# The kernels by name (None: the chosen one); ValueError for a name this build lacks or this CPU cannot
# run. The test hooks of _mask_c and _utf8_c reach every kernel through these.
cdef const ws_mask_kernel *mask_kernel(str name) except NULL
cdef const ws_utf8_kernel *utf8_kernel(str name) except NULL


cdef inline int use_kernels() except -1:
    """Make this module run the kernels _kernels_c chose (called once, at import)."""
    ws_mask_use(mask_kernel(None))
    ws_utf8_use(utf8_kernel(None))
    return 0
