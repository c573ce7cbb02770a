# The compiled PerMessageDeflate, cimported by _frames_c (MessageDecoder, encode_message).

from ._buffer cimport Output

cdef extern from "zlib.h":
    ctypedef struct z_stream:
        const unsigned char *next_in
        unsigned int avail_in
        unsigned char *next_out
        unsigned int avail_out
        const char *msg
        int data_type


cdef class PerMessageDeflate:
    cdef readonly object params
    cdef readonly bint client
    cdef str _backend
    cdef object _py             # the pure implementation's object, for the zlib-ng and isal backends
    cdef object _py_send        # the one that compresses through Python (those backends, and level 0)
    cdef int _send_bits, _recv_bits, _level, _mem_level
    cdef bint _send_reset, _recv_reset
    cdef z_stream _deflater
    cdef z_stream _inflater
    cdef bint _deflater_ready, _inflater_ready
    cdef bint _ended            # a BFINAL block ended the current message's stream
    cdef bint _boundary         # the inflater stopped between two deflate blocks
    cdef bint _sending, _receiving  # a thread is compressing / inflating: a second one is refused
    cdef bytes _compress(self, const unsigned char *data, Py_ssize_t n)
    cdef Py_ssize_t _inflate_to(self, const unsigned char *src, Py_ssize_t n, bint end,
                                Output *out, Py_ssize_t budget) except -1
    cdef Py_ssize_t _zinflate(self, const unsigned char *src, Py_ssize_t n, bint end,
                              Output *out, Py_ssize_t budget) except -1
    cdef Py_ssize_t _zrun(self, const unsigned char *src, Py_ssize_t n, Py_ssize_t tail,
                          Output *out, Py_ssize_t budget) except -1
    cdef int _stream_ended(self) except -1
