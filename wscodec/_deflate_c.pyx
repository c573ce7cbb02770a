# cython: language_level=3, freethreading_compatible=True, boundscheck=False, wraparound=False, cdivision=True
"""permessage-deflate (RFC 7692 §7), compiled: zlib's C API called directly.

The rules are those of deflate_py.py, the reference (read its docstrings);
what differs is that a message costs no Python-level zlib call: the
compiled MessageDecoder inflates straight into its message buffer, grown
only as output comes and never past the message budget plus one byte, and
encode_message compresses straight into the bytes it frames. The zlib-ng
and isal backends are reached through their Python modules (the pure
implementation's object, held inside).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memcmp, memcpy, memset

from ._buffers import readable
from .deflate_py import PerMessageDeflate as _PurePerMessageDeflate
from .deflate_py import check_settings, load_backend
from .errors import ProtocolError


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
# Messages at least this large are compressed and inflated with the GIL released.
cdef Py_ssize_t _NOGIL_MIN = 1 << 16
# Up to this size a message is compressed into a buffer of zlib's bound for it (one call, no growth).
cdef Py_ssize_t _BOUND_MAX = 1 << 16
# zlib counts in unsigned int: larger inputs are fed in pieces of this size.
cdef Py_ssize_t _PIECE = 1 << 30


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
    connection; using it from two threads at once raises ``RuntimeError``.
    """

    def __cinit__(self):
        self._deflater_ready = False
        self._inflater_ready = False
        self._busy = False
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

    cdef int _enter(self) except -1:
        with cython.critical_section(self):
            if self._busy:
                raise RuntimeError("this PerMessageDeflate is already in use in another thread")
            self._busy = True
        return 0

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
        if self._py is not None:
            return self._py.compress(PyBytes_FromStringAndSize(<const char *>data, n) if n else b"")
        cdef int rc, flush = Z_FULL_FLUSH if self._send_reset else Z_SYNC_FLUSH
        cdef Py_ssize_t cap, done = 0, give
        cdef unsigned char *out = NULL
        cdef unsigned char *grown
        cdef z_stream *s = &self._deflater
        self._enter()
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
                if n >= _NOGIL_MIN:
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
            self._busy = False

    # ---------------------------------------------------------------- receiving (MessageDecoder's side)

    def _inflate(self, data, Py_ssize_t budget, bint end=False):
        """Inflate the next compressed bytes of the message being received; with ``end`` they are its
        last, and its tail follows. ``budget``: how many bytes the message may still grow by (1009
        past it, 1007 for corrupt data). For callers that frame messages themselves (the shims).
        """
        cdef const unsigned char[::1] view = readable(data)
        cdef Py_ssize_t n = view.shape[0]
        cdef unsigned char *buf = NULL
        cdef Py_ssize_t length = 0, cap = 0
        if budget < 0:
            raise ValueError("budget must be >= 0")
        try:
            if n:
                self._inflate_to(&view[0], n, False, &buf, &length, &cap, budget)
            if end:
                self._inflate_to(NULL, 0, True, &buf, &length, &cap, budget - length)
            return PyBytes_FromStringAndSize(<const char *>buf, length) if length else b""
        finally:
            PyMem_Free(buf)

    cdef Py_ssize_t _inflate_to(self, const unsigned char *src, Py_ssize_t n, bint end,
                                unsigned char **buf, Py_ssize_t *length, Py_ssize_t *cap,
                                Py_ssize_t budget) except -1:
        """Inflate ``n`` compressed bytes of the message being received, or with ``end`` its tail.

        The output is appended at ``buf[0] + length[0]``, the buffer grown (PyMem) as output comes and
        never past ``budget + 1`` new bytes: 1009 once the output exceeds ``budget``, 1007 for corrupt data.
        Returns how many bytes were appended.
        """
        cdef bytes out
        cdef Py_ssize_t k
        if self._py is not None:
            out = self._py._inflate(PyBytes_FromStringAndSize(<const char *>src, n) if n else b"", budget, end)
            k = len(out)
            if k:
                _reserve(buf, length[0], cap, k)
                memcpy(buf[0] + length[0], PyBytes_AS_STRING(out), <size_t>k)
                length[0] += k
            return k
        self._enter()
        try:
            return self._zinflate(src, n, end, buf, length, cap, budget)
        finally:
            self._busy = False

    cdef Py_ssize_t _zinflate(self, const unsigned char *src, Py_ssize_t n, bint end,
                              unsigned char **buf, Py_ssize_t *length, Py_ssize_t *cap,
                              Py_ssize_t budget) except -1:
        cdef z_stream *s = &self._inflater
        cdef Py_ssize_t produced = 0, room, give, got
        cdef int rc
        if not self._inflater_ready:
            memset(s, 0, sizeof(z_stream))
            rc = inflateInit2(s, -self._recv_bits)
            if rc != Z_OK:
                raise MemoryError() if rc == Z_MEM_ERROR else RuntimeError(f"inflateInit2 failed ({rc})")
            self._inflater_ready = True
        if end:
            src = _TAIL
            n = 4
        if self._ended:
            # A BFINAL block ended this message's stream: what follows it in the message is not deflate data.
            if end:
                self._ended = False
            return 0
        s.next_in = src
        s.avail_in = 0
        while True:
            if s.avail_in == 0 and s.next_in - src < n:
                s.avail_in = <unsigned int>min(n - (s.next_in - src), _PIECE)
            room = budget + 1 - produced
            if cap[0] == length[0]:
                _reserve(buf, length[0], cap, min(room, max(cap[0], 4 * n, 1024)))
            give = min(cap[0] - length[0], room, _PIECE)
            s.next_out = buf[0] + length[0]
            s.avail_out = <unsigned int>give
            if n >= _NOGIL_MIN:
                with nogil:
                    rc = inflate(s, Z_SYNC_FLUSH)
            else:
                rc = inflate(s, Z_SYNC_FLUSH)
            got = give - s.avail_out
            length[0] += got
            produced += got
            if produced > budget:
                raise ProtocolError(1009, "message exceeds the size limit once inflated")
            if rc == Z_STREAM_END:
                self._stream_ended(end)
                break
            if rc != Z_OK and rc != Z_BUF_ERROR:
                reason = (<bytes>s.msg).decode("ascii", "replace") if s.msg != NULL else f"error {rc}"
                raise ProtocolError(1007, f"invalid compressed data: {reason}")
            if s.avail_out != 0 and s.avail_in == 0 and s.next_in - src == n:
                break  # every input byte taken, and zlib had room left: nothing more to come
            if rc == Z_BUF_ERROR and got == 0 and s.avail_in == 0 and s.next_in - src == n:
                break
        s.next_in = NULL
        if end and self._recv_reset:
            inflateReset(s)
        return produced

    cdef int _stream_ended(self, bint end) except -1:
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
        self._ended = not end
        return 0


cdef int _reserve(unsigned char **buf, Py_ssize_t length, Py_ssize_t *cap, Py_ssize_t more) except -1:
    """Grow ``buf`` (PyMem) to hold at least ``length + more`` bytes."""
    cdef Py_ssize_t need = length + more
    cdef unsigned char *grown
    if need <= cap[0]:
        return 0
    grown = <unsigned char *>PyMem_Realloc(buf[0], <size_t>need)
    if grown == NULL:
        raise MemoryError()
    buf[0] = grown
    cap[0] = need
    return 0
