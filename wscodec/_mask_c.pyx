# cython: language_level=3, freethreading_compatible=True, boundscheck=False, wraparound=False, cdivision=True
# cython: binding=False, embedsignature=True, embedsignature.format=clinic
"""XOR masking of payloads (RFC 6455 §5.3), compiled implementation.

Behaves exactly like :mod:`wscodec.mask_py` (same results, same exceptions);
the XOR itself is done by the SIMD kernel that :mod:`wscodec._kernels_c`
chose for this CPU (the same one every compiled module uses).

Below about 1 KiB the call is the cost, so: ``binding=False`` (plain builtin
functions are ~4 ns cheaper to call than Cython function objects), exact
``bytes``/``bytearray`` arguments skip the buffer protocol, and the result is
masked straight into a new uninitialised ``bytes``.
"""

from cpython.buffer cimport PyBUF_FULL_RO, PyBuffer_IsContiguous, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uintptr_t
from libc.string cimport memcpy

from ._buffer cimport NOGIL_MIN, get_writable, to_contiguous
from ._kernels_c cimport mask_kernel, use_kernels, ws_mask_active, ws_mask_copy, ws_mask_copy_with, ws_mask_kernel
from ._rules_c import (
    HOST_NOT_CALLABLE,
    MASK_NOT_4_BYTES,
    OFFSET_NEGATIVE,
)

cdef extern from *:
    """
    /* Without the GIL another thread may resize a bytearray at any moment:
     * there its storage is only read through a buffer export, which locks
     * the size. */
    #ifdef Py_GIL_DISABLED
    #define WS_BYTEARRAY_DIRECT 0
    #else
    #define WS_BYTEARRAY_DIRECT 1
    #endif
    """
    const bint WS_BYTEARRAY_DIRECT

__all__ = [
    "apply_mask", "apply_mask_inplace", "mask_keyfirst", "mask_inplace_keyfirst", "HostMaskFallback", "Masker",
    "kernel", "available_kernels",
]

use_kernels()


cdef inline void run_kernel(unsigned char *dst, const unsigned char *src, Py_ssize_t n,
                            const unsigned char *key, size_t phase) noexcept:
    if n >= NOGIL_MIN:
        with nogil:
            ws_mask_copy(dst, src, <size_t>n, key, phase)
    else:
        ws_mask_copy(dst, src, <size_t>n, key, phase)


cdef inline bint direct_bytearray(object obj) noexcept:
    """Whether ``obj`` is a bytearray whose storage may be used without a buffer export.

    Holds while the GIL is held and no Python code runs between reading its
    size and pointer and the end of the XOR, so the callers take this path only
    with an exact ``bytes`` key and ``int`` offset, and below NOGIL_MIN.
    """
    return WS_BYTEARRAY_DIRECT and type(obj) is bytearray and PyByteArray_GET_SIZE(obj) < NOGIL_MIN


cdef int read_key(object mask, unsigned char *key) except -1:
    """Copy the 4-byte key out of ``mask`` (any buffer)."""
    cdef Py_buffer view
    if type(mask) is bytes:
        if PyBytes_GET_SIZE(mask) != 4:
            raise ValueError(MASK_NOT_4_BYTES)
        memcpy(key, PyBytes_AS_STRING(mask), 4)
        return 0
    PyObject_GetBuffer(mask, &view, PyBUF_FULL_RO)
    try:
        if view.len != 4:
            raise ValueError(MASK_NOT_4_BYTES)
        to_contiguous(key, &view, 4, b'C')
    finally:
        PyBuffer_Release(&view)
    return 0


cdef inline Py_ssize_t read_phase(object offset) except -1:
    """The mask phase (0-3) of a payload ``offset``; ValueError if negative."""
    if offset < 0:
        raise ValueError(OFFSET_NEGATIVE)
    return offset & 3


cdef bytes masked_copy(const unsigned char *src, Py_ssize_t n, const unsigned char *key,
                       size_t phase):
    """``src`` XOR the key (from ``phase``) as new bytes, written in one pass."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    run_kernel(<unsigned char *>PyBytes_AS_STRING(out), src, n, key, phase)
    return out


cdef bytes masked_view_copy(Py_buffer *view, const unsigned char *key, size_t phase):
    """Like :func:`masked_copy` for any exported buffer; a non-contiguous one is
    gathered into the result first, then masked there in place."""
    if PyBuffer_IsContiguous(view, b'C'):
        return masked_copy(<const unsigned char *>view.buf, view.len, key, phase)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, view.len)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    to_contiguous(dst, view, view.len, b'C')
    run_kernel(dst, dst, view.len, key, phase)
    return out


cdef bytes mask_copy(object data, object mask):
    """The body of :func:`apply_mask`, shared with the key-first entries."""
    cdef unsigned char key[4]
    cdef Py_buffer view
    if type(data) is bytes:  # immutable: no export needed to read it
        read_key(mask, key)
        return masked_copy(<const unsigned char *>PyBytes_AS_STRING(data),
                           PyBytes_GET_SIZE(data), key, 0)
    if type(mask) is bytes and direct_bytearray(data):
        read_key(mask, key)
        return masked_copy(<const unsigned char *>PyByteArray_AS_STRING(data),
                           PyByteArray_GET_SIZE(data), key, 0)
    # The export also stops a bytearray from being resized while it is read.
    PyObject_GetBuffer(data, &view, PyBUF_FULL_RO)
    try:
        read_key(mask, key)
        return masked_view_copy(&view, key, 0)
    finally:
        PyBuffer_Release(&view)


cdef int mask_in_place(object buffer, object mask, object offset) except -1:
    """The body of :func:`apply_mask_inplace`, shared with the key-first entries."""
    cdef unsigned char key[4]
    cdef Py_buffer view
    cdef Py_ssize_t phase
    cdef unsigned char *buf
    if type(mask) is bytes and type(offset) is int and direct_bytearray(buffer):
        read_key(mask, key)
        phase = read_phase(offset)
        buf = <unsigned char *>PyByteArray_AS_STRING(buffer)
        ws_mask_copy(buf, buf, <size_t>PyByteArray_GET_SIZE(buffer), key, <size_t>phase)
        return 0
    get_writable(buffer, &view)
    try:
        read_key(mask, key)
        phase = read_phase(offset)
        run_kernel(<unsigned char *>view.buf, <const unsigned char *>view.buf, view.len, key,
                   <size_t>phase)
    finally:
        PyBuffer_Release(&view)
    return 0


def apply_mask(data, mask):
    """Return ``data`` XOR ``mask`` (a 4-byte key, repeated) as new ``bytes``.

    ``data`` is any bytes-like object. ``TypeError`` for a non-buffer,
    ``ValueError`` if ``mask`` is not 4 bytes.
    """
    return mask_copy(data, mask)


def apply_mask_inplace(buffer, mask, offset=0):
    """XOR a writable buffer with ``mask`` in place.

    ``offset`` is the mask phase: how many payload bytes preceded this chunk,
    so a payload split across reads unmasks correctly chunk by chunk.
    ``TypeError`` for a non-buffer, ``BufferError`` for a read-only or
    non-contiguous one, ``ValueError`` for a bad key or a negative offset.
    """
    mask_in_place(buffer, mask, offset)


# The key-first entries are for hosts whose own masking function takes the key
# first (aiohttp's and tornado's ``websocket_mask(mask, data)``): the host calls
# them directly, where a Python wrapper swapping the arguments would cost more
# per call than the host's whole function. HostMaskFallback binds them (and
# apply_mask, for websockets) to the host's function for the calls outside
# their fast path, in C for the same reason.

def mask_keyfirst(mask, data, /):
    """``apply_mask(data, mask)`` with the key first: ``data`` XOR ``mask`` as new ``bytes``.

    For hosts whose masking function takes the key first. Same results and
    exceptions as :func:`apply_mask`.
    """
    return mask_copy(data, mask)


def mask_inplace_keyfirst(mask, data, /):
    """``apply_mask_inplace(data, mask)`` with the key first: XOR ``data`` in place from phase 0.

    For hosts whose in-place masking function takes the key first. Same
    results and exceptions as :func:`apply_mask_inplace`.
    """
    mask_in_place(data, mask, 0)


cdef inline bint is_host_key(object mask) noexcept:
    """Whether ``mask`` is what every host passes: exactly a 4-byte ``bytes``."""
    return type(mask) is bytes and PyBytes_GET_SIZE(mask) == 4


cdef class HostMaskFallback:
    """wscodec's masking entries in front of a host's own masking function.

    ``HostMaskFallback(host).mask_keyfirst`` (or ``.mask_inplace_keyfirst``,
    or ``.apply_mask``) is a builtin method, as cheap to call as a module
    function. It masks the calls a host makes itself (an exact 4-byte
    ``bytes`` key with an exact ``bytes``, resp. ``bytearray``, payload;
    either for ``apply_mask``) and hands every other call to the host
    unchanged, so results and errors outside that fast path stay the host's
    own. ``host`` must be the host's function of the same kind (returning
    bytes, resp. masking in place) and argument order.
    """

    cdef readonly object host

    def __init__(self, host):
        if not callable(host):
            raise TypeError(HOST_NOT_CALLABLE)
        self.host = host

    def mask_keyfirst(self, mask, data, /):
        """``host(mask, data)``, masked by wscodec when ``data`` is ``bytes``, ``mask`` 4 ``bytes``."""
        if is_host_key(mask) and type(data) is bytes:
            return mask_copy(data, mask)
        return self.host(mask, data)

    def mask_inplace_keyfirst(self, mask, data, /):
        """``host(mask, data)``, masked in place by wscodec when ``data`` is a ``bytearray``, ``mask`` 4 ``bytes``."""
        if is_host_key(mask) and type(data) is bytearray:
            mask_in_place(data, mask, 0)
            return None
        return self.host(mask, data)

    def apply_mask(self, data, mask):  # (keywords too: websockets' own function takes them)
        """``host(data, mask)``, masked by wscodec when ``data`` is ``bytes`` or ``bytearray``, ``mask`` 4 ``bytes``."""
        if is_host_key(mask) and (type(data) is bytes or type(data) is bytearray):
            return mask_copy(data, mask)
        return self.host(data, mask)


cdef class Masker:
    """Stateful masker: :meth:`process` keeps the mask phase across chunks."""

    cdef unsigned char _key[4]
    cdef size_t _offset

    def __init__(self, mask):
        read_key(mask, self._key)
        self._offset = 0

    def process(self, data):
        """Mask the next chunk of the payload and return it as new ``bytes``."""
        cdef Py_buffer view
        cdef bytes out
        if type(data) is bytes:
            out = masked_copy(<const unsigned char *>PyBytes_AS_STRING(data),
                              PyBytes_GET_SIZE(data), self._key, self._offset)
        elif direct_bytearray(data):
            out = masked_copy(<const unsigned char *>PyByteArray_AS_STRING(data),
                              PyByteArray_GET_SIZE(data), self._key, self._offset)
        else:
            PyObject_GetBuffer(data, &view, PyBUF_FULL_RO)
            try:
                out = masked_view_copy(&view, self._key, self._offset)
            finally:
                PyBuffer_Release(&view)
        self._offset = (self._offset + <size_t>PyBytes_GET_SIZE(out)) & 3
        return out

    def reset(self):
        """Start again at the beginning of a payload (phase 0)."""
        self._offset = 0

    @property
    def offset(self):
        """The current mask phase, 0–3."""
        return self._offset


def kernel():
    """Name of the masking kernel selected for this CPU ("avx512", "avx2", "sse2", "neon" or "portable")."""
    return ws_mask_active.name.decode("ascii")


def available_kernels():
    """Names of every masking kernel this build has that this CPU can run, widest first."""
    from ._kernels_c import available
    return available()["mask"]


def _mask_with(str kernel_name, dst, src, mask, Py_ssize_t phase):
    """Test hook: mask ``src`` into ``dst`` with the named kernel, from mask phase ``phase``.

    Both are C-contiguous buffers of one length; ``dst`` may be ``src`` itself
    (in place) but may not partly overlap it. Lets the tests run every kernel
    this CPU has, at any alignment of either buffer.
    """
    cdef const ws_mask_kernel *chosen = mask_kernel(kernel_name)
    cdef unsigned char key[4]
    cdef Py_buffer out, inp
    cdef uintptr_t o, i
    if phase < 0:
        raise ValueError("phase must be >= 0")
    read_key(mask, key)
    get_writable(dst, &out)
    try:
        PyObject_GetBuffer(src, &inp, PyBUF_FULL_RO)
        try:
            if not PyBuffer_IsContiguous(&inp, b'C'):
                raise BufferError("src is not C-contiguous")
            if inp.len != out.len:
                raise ValueError("dst and src differ in length")
            o = <uintptr_t>out.buf
            i = <uintptr_t>inp.buf
            if o != i and o < i + <size_t>inp.len and i < o + <size_t>out.len:
                raise ValueError("dst and src partly overlap")
            ws_mask_copy_with(chosen, <unsigned char *>out.buf, <const unsigned char *>inp.buf,
                              <size_t>inp.len, key, <size_t>phase)
        finally:
            PyBuffer_Release(&inp)
    finally:
        PyBuffer_Release(&out)
