# Buffer acquisition, growing output and the GIL thresholds, shared by every compiled module: cimported,
# and inlined where used (a .pxd's inline functions are compiled into each module that cimports them).

from cpython.buffer cimport (
    PyBUF_FULL_RO,
    PyBUF_SIMPLE,
    PyBuffer_IsContiguous,
    PyBuffer_Release,
    PyObject_GetBuffer,
)
from cpython.bytearray cimport PyByteArray_CheckExact
from cpython.bytes cimport (
    PyBytes_AS_STRING,
    PyBytes_CheckExact,
    PyBytes_FromStringAndSize,
    PyBytes_GET_SIZE,
    _PyBytes_Resize,
)
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_CLEAR, Py_INCREF
from libc.string cimport memcpy


cdef extern from "Python.h":
    # Declared here with its error value, so a failure propagates as raised.
    int to_contiguous "PyBuffer_ToContiguous" (void *buf, const Py_buffer *src, Py_ssize_t len,
                                               char order) except -1


# When a compiled module releases the GIL: once the work is long enough that releasing pays even when
# another thread takes the GIL meanwhile (getting it back can then cost a whole switch interval).
# Measured with a second thread busy in Python, a releasing XOR was 25x slower at 64 KiB and 1.8x at
# 256 KiB: byte-moving kernels (masking, copying, UTF-8 validation) release from NOGIL_MIN up;
# deflate, two orders of magnitude slower per byte, from NOGIL_MIN_DEFLATE up.
cdef enum:
    NOGIL_MIN = 256 * 1024
    NOGIL_MIN_DEFLATE = 64 * 1024


# A readable input: the bytes of ``bytes`` directly, of anything else through a buffer export
# (which also stops a bytearray from being resized while it is read).
cdef struct Input:
    const unsigned char *data
    Py_ssize_t size
    bint has_view
    Py_buffer view


cdef inline object contiguous(object obj):
    """``obj`` if it exports a C-contiguous buffer, else a bytes copy (the pure version's rule)."""
    if PyBytes_CheckExact(obj) or PyByteArray_CheckExact(obj):
        return obj
    cdef object view = memoryview(obj)  # TypeError for str and other non-buffers
    if not view.c_contiguous:
        return view.tobytes()
    return obj


cdef inline int acquire(object obj, Input *inp) except -1:
    """Point ``inp`` at the bytes of a C-contiguous buffer (exact bytes need no buffer export)."""
    if PyBytes_CheckExact(obj):
        inp.data = <const unsigned char *>PyBytes_AS_STRING(obj)
        inp.size = PyBytes_GET_SIZE(obj)
        inp.has_view = False
        return 0
    PyObject_GetBuffer(obj, &inp.view, PyBUF_SIMPLE)
    inp.has_view = True
    inp.data = <const unsigned char *>inp.view.buf
    inp.size = inp.view.len
    return 0


cdef inline void release(Input *inp) noexcept:
    if inp.has_view:
        PyBuffer_Release(&inp.view)
        inp.has_view = False


cdef inline int get_readable(object data, Py_buffer *view) except -1:
    """Export ``data`` as C-contiguous bytes (the rules of ``_buffers.readable``).

    TypeError for a non-buffer; a non-contiguous buffer is read from a copy.
    The export also stops a bytearray from being resized while it is read.
    """
    PyObject_GetBuffer(data, view, PyBUF_FULL_RO)
    if not PyBuffer_IsContiguous(view, b'C'):
        PyBuffer_Release(view)
        PyObject_GetBuffer(memoryview(data).tobytes(), view, PyBUF_SIMPLE)
    return 0


cdef inline int get_writable(object buffer, Py_buffer *view) except -1:
    """Export ``buffer`` as writable C-contiguous memory (the rules of ``_buffers.writable``)."""
    PyObject_GetBuffer(buffer, view, PyBUF_FULL_RO)
    if view.readonly:
        PyBuffer_Release(view)
        from ._rules_c import BUFFER_READ_ONLY
        raise BufferError(BUFFER_READ_ONLY)
    if not PyBuffer_IsContiguous(view, b'C'):
        PyBuffer_Release(view)
        from ._rules_c import BUFFER_NOT_CONTIGUOUS
        raise BufferError(BUFFER_NOT_CONTIGUOUS)
    return 0


# Output up to OUTPUT_SMALL bytes is written into a small buffer kept between outputs (grown to the
# largest such output), then copied out: cheaper than a bytes object grown and shrunk, and an idle
# connection holds no more than its messages needed. Larger output grows inside the bytes object it
# becomes, and taking it copies nothing (for a large message, neither a last copy of it nor the page
# faults of a second buffer its size).
cdef enum:
    OUTPUT_SMALL = 4096


cdef struct Output:
    PyObject *obj         # owned: the bytes object larger output grows in (its size: the capacity), or NULL
    unsigned char *small  # PyMem, small_cap bytes (at most OUTPUT_SMALL), allocated on first use; or NULL
    Py_ssize_t small_cap
    unsigned char *data   # where the output is: small, or obj's bytes (they move when it grows)
    Py_ssize_t length     # the bytes written, at the start
    Py_ssize_t cap


cdef inline void output_clear(Output *out) noexcept:
    """Drop what ``out`` holds, the small buffer included: it is empty after."""
    Py_CLEAR(out.obj)
    PyMem_Free(out.small)
    out.small = out.data = NULL
    out.length = out.cap = out.small_cap = 0


cdef inline int output_grow(Output *out, Py_ssize_t cap) except -1:
    """Make the capacity at least ``cap`` (more than the length); MemoryError if it cannot."""
    cdef object fresh
    cdef unsigned char *grown
    cdef Py_ssize_t length = out.length
    if out.obj == NULL and cap <= OUTPUT_SMALL:
        if out.small_cap < cap:
            grown = <unsigned char *>PyMem_Realloc(out.small, <size_t>cap)
            if grown == NULL:
                raise MemoryError()
            out.small = grown
            out.small_cap = cap
        out.data = out.small
        out.cap = out.small_cap
        return 0
    if out.obj == NULL:
        fresh = PyBytes_FromStringAndSize(NULL, cap)
        if length:
            memcpy(PyBytes_AS_STRING(fresh), out.data, <size_t>length)
        Py_INCREF(fresh)
        out.obj = <PyObject *>fresh
    else:
        out.data = NULL  # if the resize fails, it frees the object and sets obj to NULL
        out.length = out.cap = 0
        _PyBytes_Resize(&out.obj, cap)
    out.data = <unsigned char *>PyBytes_AS_STRING(<object>out.obj)
    out.length = length
    out.cap = cap
    return 0


cdef inline bytes output_take(Output *out):
    """What was written, as bytes; ``out`` is empty after (it keeps its small buffer)."""
    cdef Py_ssize_t length = out.length
    cdef const char *data = <const char *>out.data
    cdef bytes taken
    out.data = NULL
    out.length = out.cap = 0
    if out.obj == NULL:
        return PyBytes_FromStringAndSize(data, length) if length else b""
    if PyBytes_GET_SIZE(<object>out.obj) != length:
        _PyBytes_Resize(&out.obj, length)  # shrunk in place; on failure it frees the object, sets NULL
    taken = <bytes>out.obj
    Py_CLEAR(out.obj)  # ``taken`` holds it now
    return taken
