# cython: language_level=3, freethreading_compatible=True, boundscheck=False, wraparound=False, cdivision=True
"""Strict UTF-8 validation (RFC 3629), compiled implementation.

Behaves exactly like :mod:`wscodec.utf8_py` (same results, same indices,
same exceptions); the bytes are checked by the SIMD kernel that :mod:`wscodec._kernels_c`
chose for this CPU (the same one every compiled module uses).
"""

cimport cython
from cpython.buffer cimport PyBUF_FULL_RO, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

from ._buffer cimport NOGIL_MIN, get_readable
from ._kernels_c cimport (
    use_kernels,
    utf8_kernel,
    ws_utf8_active,
    ws_utf8_complete,
    ws_utf8_failed,
    ws_utf8_feed_with,
    ws_utf8_kernel,
    ws_utf8_reset,
    ws_utf8_state,
    ws_utf8_state_known,
    ws_utf8_valid_with,
)

__all__ = ["validate_utf8", "Utf8Validator", "kernel", "available_kernels"]

use_kernels()


cdef int check_readable(object data) except -1:
    """TypeError unless ``data`` is a buffer."""
    cdef Py_buffer view
    if type(data) is not bytes:
        PyObject_GetBuffer(data, &view, PyBUF_FULL_RO)
        PyBuffer_Release(&view)
    return 0


cdef inline bint check_valid(const ws_utf8_kernel *kernel, const unsigned char *p,
                             Py_ssize_t n) noexcept:
    if n >= NOGIL_MIN:
        with nogil:
            return ws_utf8_valid_with(kernel, p, <size_t>n)
    return ws_utf8_valid_with(kernel, p, <size_t>n)


cdef bint valid_with(const ws_utf8_kernel *kernel, object data) except -1:
    cdef Py_buffer view
    cdef bint ok
    if type(data) is bytes:  # immutable: no export needed to read it
        return check_valid(kernel, <const unsigned char *>PyBytes_AS_STRING(data),
                           PyBytes_GET_SIZE(data))
    get_readable(data, &view)
    ok = check_valid(kernel, <const unsigned char *>view.buf, view.len)
    PyBuffer_Release(&view)
    return ok


cdef inline Py_ssize_t feed_chunk(const ws_utf8_kernel *kernel, ws_utf8_state *state,
                                  const unsigned char *p, Py_ssize_t n) noexcept:
    if n >= NOGIL_MIN:
        with nogil:
            return ws_utf8_feed_with(kernel, state, p, <size_t>n)
    return ws_utf8_feed_with(kernel, state, p, <size_t>n)


cdef Py_ssize_t feed_with(const ws_utf8_kernel *kernel, ws_utf8_state *state, object data,
                          Py_ssize_t *length) except -2:
    """Feed ``data`` (any buffer) into ``state``: -1 while valid, else the index of the bad byte."""
    cdef Py_buffer view
    cdef Py_ssize_t at
    if type(data) is bytes:
        length[0] = PyBytes_GET_SIZE(data)
        return feed_chunk(kernel, state, <const unsigned char *>PyBytes_AS_STRING(data), length[0])
    get_readable(data, &view)
    length[0] = view.len
    at = feed_chunk(kernel, state, <const unsigned char *>view.buf, view.len)
    PyBuffer_Release(&view)
    return at


# METH_O: one positional argument, no keyword parsing (the call costs ~15 ns, not ~25).
@cython.binding(False)
@cython.always_allow_keywords(False)
def validate_utf8(data):
    """True if ``data`` (any bytes-like object) is complete, strictly valid UTF-8.

    Strict means RFC 3629: no overlong forms, no surrogates, nothing above
    U+10FFFF, no truncated sequence at the end. TypeError for a non-buffer.
    """
    return valid_with(ws_utf8_active, data)


cdef class Utf8Validator:
    """Incremental validator for the fragments of a text message.

    :meth:`feed` answers False as soon as the bytes fed so far cannot begin
    any valid UTF-8 text — a chunk ending in ``F4 90`` or ``ED A0`` fails at
    once, not at the next chunk — and keeps answering False until
    :meth:`reset`.
    """

    cdef ws_utf8_state _state
    # Bytes accepted so far; once failed, the index of the byte that failed (autobahn's total_index).
    cdef unsigned long long _total

    def __cinit__(self):
        ws_utf8_reset(&self._state)

    def __reduce__(self):
        # Copies and pickles carry the state, as the pure validator's do.
        return _restore_validator, (self._state.dfa, self._total)

    def reset(self):
        """Forget everything fed so far."""
        with cython.critical_section(self):
            ws_utf8_reset(&self._state)
            self._total = 0

    cdef Py_ssize_t _step(self, object data, Py_ssize_t *length) except -2:
        """Validate one chunk: -1 while valid, else the index in it of the byte that made it invalid.

        Once failed, the chunk is not read (0 is returned), but a non-buffer
        still raises TypeError.
        """
        # Worked on a copy, so a call on another thread cannot tear it while the GIL is released.
        cdef ws_utf8_state state = self._state
        cdef Py_ssize_t at
        if ws_utf8_failed(&state):
            check_readable(data)
            length[0] = 0
            return 0
        at = feed_with(ws_utf8_active, &state, data, length)
        if not ws_utf8_failed(&self._state):  # a failure another thread recorded meanwhile stays
            self._state = state
        self._total += <unsigned long long>(length[0] if at < 0 else at)
        return at

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def feed(self, data):
        """Validate the next chunk; False once any invalid byte has been seen."""
        cdef Py_ssize_t length
        with cython.critical_section(self):
            return self._step(data, &length) < 0

    @property
    def complete(self):
        """True if everything fed is valid and ends on a code-point boundary."""
        return ws_utf8_complete(&self._state)

    @cython.binding(False)
    @cython.always_allow_keywords(False)
    def validate(self, data):
        """Autobahn's incremental API: ``(valid, ends_on_codepoint, current_index, total_index)``.

        When valid, ``current_index`` is ``len(data)`` and ``total_index`` the
        number of bytes consumed in all; when invalid, both point at the byte
        that made the input invalid (within this chunk, and overall). Once
        invalid, it answers ``(False, False, 0, total_index)`` until reset.
        """
        cdef Py_ssize_t length, at
        with cython.critical_section(self):
            at = self._step(data, &length)
            if at < 0:
                return True, ws_utf8_complete(&self._state), length, self._total
            return False, False, at, self._total


def _restore_validator(unsigned dfa, unsigned long long total):
    """Rebuild a pickled :class:`Utf8Validator`; ValueError for a state no validator has."""
    if not ws_utf8_state_known(dfa):
        raise ValueError("not a UTF-8 validator state")
    cdef Utf8Validator validator = Utf8Validator()
    validator._state.dfa = dfa
    validator._total = total
    return validator


def kernel():
    """Name of the UTF-8 kernel selected for this CPU ("avx512", "avx2", "ssse3", "neon" or "scalar")."""
    return ws_utf8_active.name.decode("ascii")


def available_kernels():
    """Names of every UTF-8 kernel this build has that this CPU can run, widest first."""
    from ._kernels_c import available
    return available()["utf-8"]


cdef class _Kernel:
    """Test hook: one named kernel, so the tests run every kernel this CPU has.

    ValueError for a kernel this module lacks or this CPU cannot run.
    """

    cdef const ws_utf8_kernel *_kernel

    def __cinit__(self, str name):  # __cinit__: no instance without a kernel, even via __new__
        self._kernel = utf8_kernel(name)

    def validate(self, data):
        """:func:`validate_utf8` through this kernel."""
        return valid_with(self._kernel, data)

    def is_ascii(self, data):
        """Whether ``data`` is all ASCII, by this kernel's ASCII check (the C API ``ws_utf8_ascii``)."""
        cdef Py_buffer view
        get_readable(data, &view)
        try:
            return bool(self._kernel.ascii(<const unsigned char *>view.buf, <size_t>view.len))
        finally:
            PyBuffer_Release(&view)

    def feed(self, chunks):
        """Feed ``chunks`` in turn to a fresh state through this kernel.

        Returns ``(results, complete)``: per chunk, what the C API
        ``ws_utf8_feed`` returned (-1 while valid, the index of the bad byte
        in the chunk that failed, 0 for every chunk after it), and whether
        the whole ends valid on a code-point boundary.
        """
        cdef ws_utf8_state state
        cdef Py_ssize_t length
        ws_utf8_reset(&state)
        results = [feed_with(self._kernel, &state, chunk, &length) for chunk in chunks]
        return results, ws_utf8_complete(&state)
