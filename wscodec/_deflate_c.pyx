# cython: language_level=3, freethreading_compatible=True, boundscheck=False, wraparound=False, cdivision=True
"""permessage-deflate (RFC 7692 §7), compiled: zlib's C API called directly.

The rules are those of deflate_py.py, the reference (read its docstrings);
what differs is that a message costs no Python-level zlib call: the
compiled MessageDecoder inflates straight into the bytes object that becomes
the message, grown only as output comes and never past the message budget
plus one byte, and encode_message compresses straight into the bytes it
frames. The zlib-ng and isal backends are reached through their Python
modules (the pure implementation's object, held inside).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memcmp, memcpy, memset

from ._buffer cimport NOGIL_MIN_DEFLATE, Output, output_clear, output_grow, output_take
from ._buffers import readable
from .deflate_py import PerMessageDeflate as _PurePerMessageDeflate
from .deflate_py import check_settings, load_backend
from .errors import ProtocolError
from . import _rules_c as _rules  # reasons and checks; as a module, so its names are not this one's


cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

cdef extern from "zlib.h":
    int Z_OK, Z_STREAM_END, Z_BUF_ERROR, Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_DEFLATED, Z_DEFAULT_STRATEGY, Z_MEM_ERROR
    int deflateInit2(z_stream *strm, int level, int method, int windowBits, int memLevel, int strategy)
    int deflate(z_stream *strm, int flush) nogil
    int deflateEnd(z_stream *strm)
    unsigned long deflateBound(z_stream *strm, unsigned long sourceLen)
    int inflateInit2(z_stream *strm, int windowBits)
    int inflate(z_stream *strm, int flush) nogil
    int inflateEnd(z_stream *strm)
    int inflateReset(z_stream *strm)
    int inflateGetDictionary(z_stream *strm, unsigned char *dictionary, unsigned int *dictLength)
    int inflateSetDictionary(z_stream *strm, const unsigned char *dictionary, unsigned int dictLength)
    const char *zlibVersion()


def zlib_version():
    """The version of the zlib this module runs with (``python -m wscodec info`` shows it)."""
    return zlibVersion().decode("ascii")


cdef const unsigned char *_TAIL = b"\x00\x00\xff\xff"
# Up to this size a message is compressed into a buffer of zlib's bound for it (one call, no growth).
cdef Py_ssize_t _BOUND_MAX = 1 << 16
# zlib counts in unsigned int: larger inputs are fed in pieces of this size.
cdef Py_ssize_t _PIECE = 1 << 30
# As in deflate_py.py: output of one inflate call at most; last bytes joined with the tail up to this.
cdef Py_ssize_t _CHUNK = 1 << 15  # the size of _zrun's scratch too
cdef Py_ssize_t _JOIN_MAX = 1 << 14
# zlib's z_stream.data_type after inflate(): the bits pending in its bit buffer (low 6), 64 in the last
# block, 128 between blocks, 256 inside a stored block. Between blocks with nothing pending:
cdef int _AT_BOUNDARY_MASK = 0x1BF
cdef int _AT_BOUNDARY = 0x80


cdef class PerMessageDeflate:
    """One connection's permessage-deflate state, both directions, as agreed in ``params``.

    ``params``: the :class:`DeflateParams` both sides agreed. ``client``: this
    end is the client (it compresses with the client's window and inflates
    with the server's). ``level`` and ``mem_level``: the compressor's settings
    (``None``: level 6 and memory level 5, isal's level 2). ``backend``:
    ``"zlib"`` (the default), ``"zlib-ng"`` or ``"isal"``. Nothing is
    allocated for a direction until it is first used.

    Give it to :class:`MessageDecoder` (``deflate=``) and to
    :func:`encode_message`; :meth:`compress` is for callers that frame
    messages themselves, and what it returns must be sent: the peer's window
    follows every message that went through it. One object serves one
    connection; compressing (or inflating) from two threads at once raises ``RuntimeError``.
    """

    def __cinit__(self):
        self._deflater_ready = False
        self._inflater_ready = False
        self._sending = False
        self._receiving = False
        self._ended = False

    def __init__(self, params, *, bint client=False, level=None, mem_level=None, backend=None):
        name, _ = load_backend(backend)
        (self._send_bits, self._send_reset, self._recv_bits, self._recv_reset, self._level,
         self._mem_level) = check_settings(params, client, name, level, mem_level)
        self.params = params
        self.client = client
        self._backend = name
        if name != "zlib":
            self._py = _PurePerMessageDeflate(params, client=client, level=level, mem_level=mem_level, backend=name)
            self._py_send = self._py
        elif self._level == 0:
            # Level 0 cuts its stored blocks to the output space zlib is given, which CPython's binding
            # sizes its own way: compress through it, so that both implementations send the same bytes.
            self._py_send = _PurePerMessageDeflate(params, client=client, level=0, mem_level=mem_level)

    def __dealloc__(self):
        if self._deflater_ready:
            deflateEnd(&self._deflater)
        if self._inflater_ready:
            inflateEnd(&self._inflater)

    @property
    def backend(self):
        """The deflate implementation in use: ``"zlib"``, ``"zlib-ng"`` or ``"isal"``."""
        return self._backend

    def __repr__(self):
        side = "client" if self.client else "server"
        return f"PerMessageDeflate({self.params!r}, {side}, backend={self._backend!r})"

    # ---------------------------------------------------------------- sending

    def compress(self, payload):
        """Compress one whole message; return its payload to send (RSV1 set), the tail removed.

        ``payload``: any bytes-like object, or a ``str`` (sent as UTF-8).
        """
        cdef const unsigned char[::1] view
        if isinstance(payload, str):
            payload = (<str>payload).encode("utf-8")
        view = readable(payload)
        if view.shape[0] == 0:
            return self._compress(NULL, 0)
        return self._compress(&view[0], view.shape[0])

    cdef bytes _compress(self, const unsigned char *data, Py_ssize_t n):
        if self._py_send is not None:
            return self._py_send.compress(PyBytes_FromStringAndSize(<const char *>data, n) if n else b"")
        cdef int rc, flush = Z_FULL_FLUSH if self._send_reset else Z_SYNC_FLUSH
        cdef Py_ssize_t cap, done = 0, give
        cdef unsigned char *out = NULL
        cdef unsigned char *grown
        cdef z_stream *s = &self._deflater
        with cython.critical_section(self):
            if self._sending:
                raise RuntimeError(_rules.COMPRESSING_IN_ANOTHER_THREAD)
            self._sending = True
        try:
            if not self._deflater_ready:
                memset(s, 0, sizeof(z_stream))
                rc = deflateInit2(s, self._level, Z_DEFLATED, -self._send_bits, self._mem_level, Z_DEFAULT_STRATEGY)
                if rc != Z_OK:
                    raise MemoryError() if rc == Z_MEM_ERROR else RuntimeError(f"deflateInit2 failed ({rc})")
                self._deflater_ready = True
            # Room for the whole output in one call, as a rule: the bound, plus the sync flush's markers.
            cap = <Py_ssize_t>deflateBound(s, <unsigned long>min(n, _PIECE)) + 16 + max(n - _PIECE, 0)
            if n > _BOUND_MAX:
                # A large message starts smaller (the buffer doubles as output comes): compressing it
                # allocates about what it compresses to, not a worst case the size of the message.
                cap = min(cap, max(_BOUND_MAX, n >> 4))
            out = <unsigned char *>PyMem_Malloc(<size_t>cap)
            if out == NULL:
                raise MemoryError()
            s.next_in = data
            s.avail_in = 0
            while True:
                if s.avail_in == 0:
                    s.avail_in = <unsigned int>min(n - (s.next_in - data), _PIECE)
                if done == cap:
                    grown = <unsigned char *>PyMem_Realloc(out, <size_t>(2 * cap))
                    if grown == NULL:
                        raise MemoryError()
                    out = grown
                    cap *= 2
                give = min(cap - done, _PIECE)
                s.next_out = out + done
                s.avail_out = <unsigned int>give
                if n >= NOGIL_MIN_DEFLATE:
                    with nogil:
                        rc = deflate(s, flush)
                else:
                    rc = deflate(s, flush)
                done += give - s.avail_out
                if rc != Z_OK and rc != Z_BUF_ERROR:
                    raise RuntimeError(f"deflate failed ({rc})")
                # Finished once every input byte is in and the flush had room to complete.
                if s.avail_in == 0 and s.next_in - data == n and s.avail_out != 0:
                    break
            s.next_in = NULL
            if done == 0:
                return b"\x00"  # an empty message right after another flush (see deflate_py.py)
            if done < 4 or memcmp(out + done - 4, _TAIL, 4):
                raise RuntimeError("zlib did not end its flush with 00 00 FF FF")
            return PyBytes_FromStringAndSize(<const char *>out, done - 4)
        finally:
            PyMem_Free(out)
            self._sending = False

    # ---------------------------------------------------------------- receiving (MessageDecoder's side)
    #
    # The schedule of zlib calls is deflate_py.py's, call for call (see there why it matters).

    def _inflate(self, data, Py_ssize_t budget, bint end=False):
        """Inflate the next compressed bytes of the message being received; with ``end`` they are its
        last, and its tail follows. ``budget``: how many bytes the message may still grow by (1009
        past it, 1007 for corrupt data). For callers that frame messages themselves (the shims).
        """
        cdef const unsigned char[::1] view = readable(data)
        cdef Output out
        out.obj = NULL
        out.small = NULL
        out.small_cap = 0
        output_clear(&out)
        if budget < 0:
            raise ValueError("budget must be >= 0")
        try:
            self._inflate_to(&view[0] if view.shape[0] else NULL, view.shape[0], end, &out, budget)
            return output_take(&out)
        finally:
            output_clear(&out)

    cdef Py_ssize_t _inflate_to(self, const unsigned char *src, Py_ssize_t n, bint end,
                                Output *out, Py_ssize_t budget) except -1:
        """Inflate ``n`` compressed bytes of the message being received; with ``end`` they are its last.

        The output is appended to ``out``, grown as output comes and never past ``budget + 1`` new
        bytes: 1009 once the output exceeds ``budget``, 1007 for corrupt data. Returns how many bytes
        were appended.
        """
        cdef bytes inflated
        cdef Py_ssize_t k
        budget = min(budget, PY_SSIZE_T_MAX - 1 - out.length)  # "no limit": what the buffer could hold
        if self._py is not None:
            inflated = self._py._inflate(PyBytes_FromStringAndSize(<const char *>src, n) if n else b"", budget, end)
            k = len(inflated)
            if k:
                _reserve(out, k, k)
                memcpy(out.data + out.length, PyBytes_AS_STRING(inflated), <size_t>k)
                out.length += k
            return k
        with cython.critical_section(self):
            if self._receiving:
                raise RuntimeError(_rules.INFLATING_IN_ANOTHER_THREAD)
            self._receiving = True
        try:
            return self._zinflate(src, n, end, out, budget)
        finally:
            self._receiving = False

    cdef Py_ssize_t _zinflate(self, const unsigned char *src, Py_ssize_t n, bint end,
                              Output *out, Py_ssize_t budget) except -1:
        cdef unsigned char small[4096]
        cdef unsigned char *joined = NULL
        cdef Py_ssize_t produced
        cdef int rc
        if not self._inflater_ready:
            memset(&self._inflater, 0, sizeof(z_stream))
            rc = inflateInit2(&self._inflater, -self._recv_bits)
            if rc != Z_OK:
                raise MemoryError() if rc == Z_MEM_ERROR else RuntimeError(f"inflateInit2 failed ({rc})")
            self._inflater_ready = True
        if not end:
            return self._zrun(src, n, 0, out, budget)
        if n <= _JOIN_MAX:
            # The last bytes and the tail in one call.
            if n + 4 <= <Py_ssize_t>sizeof(small):
                joined = &small[0]
            else:
                joined = <unsigned char *>PyMem_Malloc(<size_t>(n + 4))
                if joined == NULL:
                    raise MemoryError()
            try:
                if n:
                    memcpy(joined, src, <size_t>n)
                memcpy(joined + n, _TAIL, 4)
                produced = self._zrun(joined, n + 4, 4, out, budget)
            finally:
                if joined != &small[0]:
                    PyMem_Free(joined)
        else:
            produced = self._zrun(src, n, 0, out, budget)
            produced += self._zrun(_TAIL, 4, 4, out, budget - produced)
        if self._ended:
            self._ended = False  # the next message starts a new stream (_stream_ended prepared it)
        elif not self._boundary:
            raise ProtocolError(1007, _rules.COMPRESSED_UNFINISHED)
        elif self._recv_reset:
            inflateReset(&self._inflater)
        return produced

    cdef Py_ssize_t _zrun(self, const unsigned char *src, Py_ssize_t n, Py_ssize_t tail,
                          Output *out, Py_ssize_t budget) except -1:
        """Inflate ``src[:n]`` (its last ``tail`` bytes being our 00 00 FF FF) within ``budget``."""
        cdef z_stream *s = &self._inflater
        cdef Py_ssize_t produced = 0, room, got
        cdef const unsigned char *before
        cdef int rc
        # Where a buffer of up to 64 KiB lacks a call's room, the call writes here and the buffer grows
        # by what it produced: a small message's stays its size, and a 64 KiB one is not doubled past
        # glibc's mmap threshold (new pages to fault in, every message) for a last call that finds
        # nothing. Larger buffers double ahead: grown by output alone, glibc mapped each afresh.
        cdef unsigned char scratch[32768]
        cdef bint direct
        if self._ended:
            _after_final(src, n, tail)
            return 0
        s.next_in = src
        s.avail_in = 0
        try:
            while True:
                if s.avail_in == 0:
                    s.avail_in = <unsigned int>min(n - (s.next_in - src), _PIECE)
                room = min(_CHUNK, budget + 1 - produced)
                direct = out.cap - out.length >= room or out.cap > 2 * _CHUNK
                if direct:
                    _reserve(out, room, budget + 1 - produced)
                    s.next_out = out.data + out.length
                else:
                    s.next_out = scratch
                s.avail_out = <unsigned int>room
                before = s.next_in
                if n >= NOGIL_MIN_DEFLATE:
                    with nogil:
                        rc = inflate(s, Z_SYNC_FLUSH)
                else:
                    rc = inflate(s, Z_SYNC_FLUSH)
                got = room - s.avail_out
                if got and not direct:
                    _reserve(out, got, budget + 1 - produced)
                    memcpy(out.data + out.length, scratch, <size_t>got)
                out.length += got
                produced += got
                if got or s.next_in != before:
                    # Between blocks, no bit pending (a compliant message's last block is the empty stored
                    # one our tail completes, which ends on a byte)? A call that could do nothing tells
                    # nothing: it clears the flag.
                    self._boundary = (s.data_type & _AT_BOUNDARY_MASK) == _AT_BOUNDARY
                # Corrupt data first, as CPython's zlib binding (the pure implementation) reports it:
                # the output of the call that met the error is never looked at.
                if rc != Z_OK and rc != Z_BUF_ERROR and rc != Z_STREAM_END:
                    reason = (<bytes>s.msg).decode("ascii", "replace") if s.msg != NULL else f"error {rc}"
                    raise ProtocolError(1007, _rules.COMPRESSED_INVALID.format(reason))
                if produced > budget:
                    raise ProtocolError(1009, _rules.INFLATED_TOO_BIG)
                if rc == Z_STREAM_END:
                    _after_final(s.next_in, n - (s.next_in - src), tail)
                    self._stream_ended()
                    break
                if got < room and s.avail_in == 0 and s.next_in - src == n:
                    break  # every input byte taken, and room left: nothing more to come
        finally:
            s.next_in = NULL
        return produced

    cdef int _stream_ended(self) except -1:
        """A BFINAL block ended the stream: start a new one for what follows, keeping the window
        (RFC 7692 §7.2.3.4) unless the peer does without context takeover."""
        cdef unsigned int size = 0
        cdef unsigned char *window = NULL
        if self._recv_reset:
            inflateReset(&self._inflater)
        else:
            window = <unsigned char *>PyMem_Malloc(<size_t>1 << self._recv_bits)
            if window == NULL:
                raise MemoryError()
            try:
                inflateGetDictionary(&self._inflater, window, &size)
                inflateReset(&self._inflater)
                inflateSetDictionary(&self._inflater, window, size)
            finally:
                PyMem_Free(window)
        self._ended = True
        return 0


cdef int _after_final(const unsigned char *rest, Py_ssize_t n, Py_ssize_t tail) except -1:
    """What follows a BFINAL block in the same message may only be zero padding (and our own tail, whole: a
    final block that ends inside it was cut short, its end made of our bytes)."""
    cdef Py_ssize_t i
    if n < tail:
        raise ProtocolError(1007, _rules.COMPRESSED_UNFINISHED)
    for i in range(n - tail):
        if rest[i]:
            raise ProtocolError(1007, _rules.COMPRESSED_TRAILING)
    return 0


cdef int _reserve(Output *out, Py_ssize_t more, Py_ssize_t most) except -1:
    """Make room for ``more`` bytes after the output's length, doubling, but never past ``most`` more."""
    cdef Py_ssize_t need = out.length + more
    if need > out.cap:
        output_grow(out, max(need, min(2 * out.cap, out.length + most)))
    return 0
