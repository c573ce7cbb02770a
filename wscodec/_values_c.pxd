# The compiled value types: _values.py, compiled as _values_c, with these C-level fields.
# The compiled decoders cimport them and fill a fresh object's fields directly.

cdef class FrameHeader:
    cdef public bint fin
    cdef public bint rsv1
    cdef public bint rsv2
    cdef public bint rsv3
    cdef public object opcode
    cdef public bint masked
    cdef public object length
    cdef public object mask
    cdef public Py_ssize_t header_size


cdef class Frame:
    cdef public bint fin
    cdef public object opcode
    cdef public bytes payload
    cdef public bint rsv1
    cdef public bint rsv2
    cdef public bint rsv3


cdef class Message:
    cdef public object opcode
    cdef public bytes payload
