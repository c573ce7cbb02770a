# The compiled checks: _rules.py, compiled as _rules_c, its functions made C functions that the compiled
# modules cimport (Python callers still get them as functions).

from libc.stdint cimport uint64_t

cpdef check_size_limit(str name, object value)
cpdef int check_rsv_allowed(object value) except -1
cpdef object check_fragment_size(object value)
cpdef check_deflate(object deflate, object client, type cls)
cpdef object compressed_frame_limit(object max_message_size, object max_frame_size)
cpdef int check_start(int b0, int b1) except -1
cpdef int check_extended_length(int code, uint64_t length) except -1
cpdef int check_send_start(object opcode, long op, bint fin, uint64_t length) except -1
