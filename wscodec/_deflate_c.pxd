# The compiled PerMessageDeflate, cimported by _frames_c (MessageDecoder, encode_message).

cdef extern from "zlib.h":
    ctypedef struct z_stream:
        const unsigned char *next_in
        unsigned int avail_in
        unsigned char *next_out
        unsigned int avail_out
        const char *msg


cdef class PerMessageDeflate:
    cdef readonly object params
    cdef readonly bint client
    cdef str _backend
    cdef object _py             # the pure implementation's object, for the zlib-ng and isal backends
    cdef int _send_bits, _recv_bits, _level, _mem_level
    cdef bint _send_reset, _recv_reset
    cdef z_stream _deflater
    cdef z_stream _inflater
    cdef bint _deflater_ready, _inflater_ready
    cdef bint _ended            # a BFINAL block ended the current message's stream
    cdef bint _busy

    cdef int _enter(self) except -1
    cdef bytes _compress(self, const unsigned char *data, Py_ssize_t n)
    cdef Py_ssize_t _inflate_to(self, const unsigned char *src, Py_ssize_t n, bint end,
                                unsigned char **buf, Py_ssize_t *length, Py_ssize_t *cap,
                                Py_ssize_t budget) except -1
    cdef Py_ssize_t _zinflate(self, const unsigned char *src, Py_ssize_t n, bint end,
                              unsigned char **buf, Py_ssize_t *length, Py_ssize_t *cap,
                              Py_ssize_t budget) except -1
    cdef int _stream_ended(self, bint end) except -1
