# cython: language_level=3, freethreading_compatible=True, boundscheck=False, wraparound=False, cdivision=True
"""Frame headers, frame encoding, and the streaming frame and message decoders, compiled.

The behaviour — checks, their order, close codes, reasons — is that of
frames_py.py and messages_py.py, the reference; read their docstrings for
the policies. The rules, limits and reasons themselves are _rules.py's (cimported
from its compiled twin, _rules_c) and the value types _values.py's (_values_c).
What differs is how the bytes move:

* bytes received are kept in one C buffer that grows only with what has
  arrived; a frame straddling two reads is completed there, while every
  frame lying whole in a read is taken straight from the caller's buffer;
* payloads are unmasked while they are copied out (one pass, SIMD);
* fragments of a message are unmasked straight into one growing C buffer,
  text being validated fragment by fragment as it lands there.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE, _PyBytes_Resize
from cpython.object cimport PyObject
from cpython.ref cimport Py_CLEAR, Py_INCREF, Py_XDECREF
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.number cimport PyNumber_Index
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

import os

from ._buffer cimport NOGIL_MIN, Input, Output, acquire, contiguous, output_clear, output_grow, output_take, release
from ._deflate_c cimport PerMessageDeflate
from ._rules_c cimport (
    check_deflate,
    check_extended_length,
    check_fragment_size,
    check_rsv_allowed,
    check_send_start,
    check_size_limit,
    check_start,
    compressed_frame_limit,
)
from ._values_c cimport Frame, FrameHeader, Message
from ._kernels_c cimport (
    use_kernels,
    ws_mask_copy,
    ws_utf8_ascii,
    ws_utf8_complete,
    ws_utf8_feed,
    ws_utf8_reset,
    ws_utf8_state,
    ws_utf8_valid,
)
from .close import parse_close
from .enums import Opcode
from .errors import ProtocolError
from . import _rules_c as _rules  # the reasons (raising paths only); as a module, so its names are not this one's
from ._rules_c import DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE


cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void *PyUnicode_DATA(object text)
    object PyUnicode_DecodeUTF8(const char *data, Py_ssize_t size, const char *errors)
    object PyUnicode_AsUTF8String(object text)

cdef extern from *:
    """
    /* The UTF-8 of an ASCII str is its own data: that, with *n its length, or NULL if not ASCII. */
    static const unsigned char *ws_ascii_data(PyObject *text, Py_ssize_t *n) {
    #if PY_VERSION_HEX < 0x030C0000
        /* Only strings made by the deprecated wchar_t APIs are not ready; those take the encoding path. */
        if (PyUnicode_READY(text) < 0) {
            PyErr_Clear();
            return NULL;
        }
    #endif
        if (!PyUnicode_IS_ASCII(text)) return NULL;
        *n = PyUnicode_GET_LENGTH(text);
        return (const unsigned char *)PyUnicode_DATA(text);
    }
    """
    const unsigned char *ws_ascii_data(object text, Py_ssize_t *n)

use_kernels()

cdef uint64_t _NO_LIMIT = 0x7FFFFFFFFFFFFFFF  # the RFC's own limit: 2**63 - 1

cdef tuple _OPCODES = _rules.OPCODES
cdef object _CLOSE = Opcode.CLOSE

# A receive buffer larger than this is freed once empty rather than kept for reuse.
cdef Py_ssize_t _KEEP_MAX = 1 << 20
# A frame whose payload is at least this large and arrives over several reads is
# unmasked straight into its bytes object as the reads come (see _FrameReader).
cdef Py_ssize_t _STREAM_MIN = 1 << 15


cdef struct Header:
    int b0
    int opcode
    bint masked
    Py_ssize_t size      # header bytes
    uint64_t length      # payload bytes


# ---------------------------------------------------------------- input buffers

cdef object _text_input(object text, Input *inp):
    """Point ``inp`` at the UTF-8 of str ``text``; return the object holding those bytes.

    An ASCII str is read in place (its data is its UTF-8); any other is encoded.
    """
    cdef Py_ssize_t n
    cdef const unsigned char *data = ws_ascii_data(text, &n)
    if data == NULL:
        text = PyUnicode_AsUTF8String(text)  # UnicodeEncodeError for a lone surrogate
        data = <const unsigned char *>PyBytes_AS_STRING(text)
        n = PyBytes_GET_SIZE(text)
    inp.data = data
    inp.size = n
    inp.has_view = False
    return text


cdef str _decode_text(const unsigned char *src, Py_ssize_t n, const unsigned char *key):
    """A whole text payload as str, unmasked first if ``key`` is not NULL.

    An ASCII payload is unmasked (or copied) straight into a new ASCII str and
    checked there: one pass, no decoding. Anything else goes through CPython's
    strict decoder, which accepts exactly what ws_utf8_valid does.
    """
    cdef object text
    cdef unsigned char *dst
    if n == 0:
        return ""
    if key == NULL and not ws_utf8_ascii(src, <size_t>n):
        dst = <unsigned char *>src
    else:
        text = PyUnicode_New(n, 127)
        dst = <unsigned char *>PyUnicode_DATA(text)
        if key == NULL:
            memcpy(dst, src, <size_t>n)
            return text
        if n >= NOGIL_MIN:
            with nogil:
                ws_mask_copy(dst, src, <size_t>n, key, 0)
        else:
            ws_mask_copy(dst, src, <size_t>n, key, 0)
        if ws_utf8_ascii(dst, <size_t>n):
            return text
        # Not ASCII: ``dst`` holds the unmasked bytes, in a str that is only scratch now and never escapes.
    try:
        return PyUnicode_DecodeUTF8(<const char *>dst, n, NULL)
    except UnicodeDecodeError:
        raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT) from None


def decode_text(payload, mask=None):
    """Return a whole text payload (any bytes-like object) as ``str``.

    ``mask``: the 4-byte key the payload is masked with (``ValueError`` if it
    is not 4 bytes), or ``None`` if it is not masked. Decoding is strict, as
    :func:`validate_utf8` judges: ``ProtocolError`` 1007 if the payload is not
    valid UTF-8. An ASCII payload is unmasked straight into its ``str``.
    """
    cdef Input inp
    cdef unsigned char key[4]
    cdef bint masked = mask is not None
    if masked:
        _read_key(mask, key)
    payload = contiguous(payload)
    acquire(payload, &inp)
    try:
        return _decode_text(inp.data, inp.size, key if masked else NULL)
    finally:
        release(&inp)


cdef bytes _copy_out(const unsigned char *src, Py_ssize_t n, bint masked):
    """A new bytes object holding the payload at ``src``, unmasked while copied (key in the 4 bytes before)."""
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    _unmask_into(dst, src, n, masked)
    return out


cdef inline void _unmask_into(unsigned char *dst, const unsigned char *src, Py_ssize_t n, bint masked) noexcept:
    """Copy a payload, unmasking it on the way if ``masked`` (the key is the 4 bytes before ``src``)."""
    if n == 0:
        return  # ``dst`` may be NULL: an empty fragment before any message byte
    if masked:
        if n >= NOGIL_MIN:
            with nogil:
                ws_mask_copy(dst, src, <size_t>n, src - 4, 0)
        else:
            ws_mask_copy(dst, src, <size_t>n, src - 4, 0)
    elif n >= NOGIL_MIN:
        with nogil:
            memcpy(dst, src, <size_t>n)
    else:
        memcpy(dst, src, <size_t>n)


# ---------------------------------------------------------------- header rules

cdef inline Py_ssize_t _header_size(int b1) noexcept:
    cdef int n = b1 & 0x7F
    cdef Py_ssize_t size = 2 if n < 126 else (4 if n == 126 else 10)
    return size + 4 if b1 & 0x80 else size


cdef int _extended_length(const unsigned char *p, uint64_t *length) except -1:
    """The payload length of a complete header at ``p``; checks the 64-bit and minimal-length rules."""
    cdef int n = p[1] & 0x7F
    cdef uint64_t v
    cdef int i
    if n < 126:
        length[0] = n
        return 0
    if n == 126:
        v = (<uint64_t>p[2] << 8) | p[3]
    else:
        v = 0
        for i in range(2, 10):
            v = (v << 8) | p[i]
    check_extended_length(n, v)
    length[0] = v
    return 0


def parse_header(data, Py_ssize_t offset=0):
    """Parse the frame header at ``offset``; ``None`` if more bytes are needed.

    Raises :class:`ProtocolError` (1002) for what no header may contain: a
    reserved opcode, a fragmented or over-long control frame, a 64-bit length
    with the top bit set, a non-minimal length. RSV bits and masking are
    reported, not judged: which are allowed depends on the connection.
    """
    cdef Input inp
    cdef const unsigned char *p
    cdef Py_ssize_t size
    cdef uint64_t length
    cdef FrameHeader header
    data = contiguous(data)
    if offset < 0:
        raise ValueError(_rules.OFFSET_NEGATIVE)
    acquire(data, &inp)
    try:
        if inp.size - offset < 2:
            return None
        p = inp.data + offset
        check_start(p[0], p[1])
        size = _header_size(p[1])
        if inp.size - offset < size:
            return None
        _extended_length(p, &length)
        header = FrameHeader.__new__(FrameHeader)
        header.fin = p[0] & 0x80
        header.rsv1 = p[0] & 0x40
        header.rsv2 = p[0] & 0x20
        header.rsv3 = p[0] & 0x10
        header.opcode = _OPCODES[p[0] & 0x0F]
        header.masked = p[1] & 0x80
        header.length = length
        header.mask = PyBytes_FromStringAndSize(<const char *>p + size - 4, 4) if header.masked else None
        header.header_size = size
        return header
    finally:
        release(&inp)


# ---------------------------------------------------------------- encoding

cdef enum:
    _POOL_SIZE = 4096  # bytes of CSPRNG output drawn per system call (1024 mask keys)

# The pool is the module's only mutable state. Its critical sections run no
# Python code, so the GIL guards them; a free-threaded build locks _pool_guard.
cdef unsigned char _pool[_POOL_SIZE]
cdef Py_ssize_t _pool_pos = _POOL_SIZE
cdef object _pool_guard = object()


def _forget_pool():
    """After fork(): the child must not reuse the keys left in its parent's pool."""
    global _pool_pos
    with cython.critical_section(_pool_guard):
        _pool_pos = _POOL_SIZE


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


cdef int _draw_key(unsigned char *key) except -1:
    """Copy the next 4 bytes of the OS CSPRNG pool into ``key``, refilling it when spent."""
    global _pool_pos
    cdef bytes block
    while True:
        with cython.critical_section(_pool_guard):
            if _pool_pos + 4 <= _POOL_SIZE:
                memcpy(key, &_pool[_pool_pos], 4)
                _pool_pos += 4
                return 0
        block = os.urandom(_POOL_SIZE)  # outside the critical section: it may release the GIL
        with cython.critical_section(_pool_guard):
            if _pool_pos + 4 > _POOL_SIZE:
                memcpy(_pool, PyBytes_AS_STRING(block), _POOL_SIZE)
                _pool_pos = 0


cdef int _resolve_mask(object mask, unsigned char *key) except -1:
    """0: unmasked; 1: ``key`` filled (fresh from the pool for ``mask=True``, else the given 4 bytes)."""
    if mask is None or mask is False:
        return 0
    if mask is True:
        _draw_key(key)
        return 1
    _read_key(mask, key)
    return 1


cdef int _read_key(object mask, unsigned char *key) except -1:
    """Copy a 4-byte masking key into ``key``: TypeError for a non-buffer, ValueError for another length."""
    cdef Input inp
    mask = contiguous(mask)
    acquire(mask, &inp)
    try:
        if inp.size != 4:
            raise ValueError(_rules.MASK_NOT_4_BYTES)
        memcpy(key, inp.data, 4)
    finally:
        release(&inp)
    return 0


cdef int _first_byte(object opcode, uint64_t length, bint fin, bint rsv1, bint rsv2, bint rsv3) except -1:
    cdef long op
    opcode = PyNumber_Index(opcode)  # TypeError for floats and strings, as in the pure version
    try:
        op = opcode
    except OverflowError:
        op = -1
    check_send_start(opcode, op, fin, length)
    return (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | op


cdef Py_ssize_t _write_header(unsigned char *out, int b0, uint64_t length, const unsigned char *key) noexcept:
    """Write a header into ``out`` (room for 14 bytes); return its size."""
    cdef int mbit = 0x80 if key != NULL else 0
    cdef Py_ssize_t size, i
    out[0] = b0
    if length < 126:
        out[1] = mbit | <int>length
        size = 2
    elif length < 0x10000:
        out[1] = mbit | 126
        out[2] = (length >> 8) & 0xFF
        out[3] = length & 0xFF
        size = 4
    else:
        out[1] = mbit | 127
        for i in range(8):
            out[2 + i] = (length >> (56 - 8 * i)) & 0xFF
        size = 10
    if key != NULL:
        memcpy(out + size, key, 4)
        size += 4
    return size


def encode_header(opcode, length, *, bint fin=True, bint rsv1=False, bint rsv2=False, bint rsv3=False, mask=None):
    """Return the header of a frame whose payload is ``length`` bytes, for vectored writes.

    With ``mask=True`` a fresh key is drawn and is the header's last 4 bytes;
    the caller masks the payload with it (``apply_mask``). ``ValueError`` for
    a reserved opcode, a fragmented or over-long control frame, a negative or
    ≥ 2**63 length, or a key that is not 4 bytes.
    """
    cdef unsigned char head[14]
    cdef unsigned char key[4]
    cdef long long signed_length
    try:
        signed_length = PyNumber_Index(length)
    except OverflowError:
        raise ValueError(_rules.LENGTH_TOO_BIG) from None
    if signed_length < 0:
        raise ValueError(_rules.LENGTH_NEGATIVE)
    cdef uint64_t n = <uint64_t>signed_length
    cdef int b0 = _first_byte(opcode, n, fin, rsv1, rsv2, rsv3)
    cdef bint masked = _resolve_mask(mask, key)
    cdef Py_ssize_t size = _write_header(head, b0, n, key if masked else NULL)
    return PyBytes_FromStringAndSize(<char *>head, size)


def encode_frame(opcode, payload, *, bint fin=True, bint rsv1=False, bint rsv2=False, bint rsv3=False, mask=None):
    """Return a whole frame: header, then ``payload`` masked if asked.

    ``payload``: any bytes-like object, or a ``str``, which is sent as its
    UTF-8 encoding (``UnicodeEncodeError`` for a lone surrogate); an ASCII
    ``str`` is framed straight from its own data.
    ``mask``: ``None``/``False`` unmasked (server side); ``True`` a fresh key
    from the OS CSPRNG (client side); 4 bytes: that key. ``TypeError`` for
    any other payload, ``ValueError`` as for :func:`encode_header`.
    """
    cdef Input inp
    cdef unsigned char key[4]
    cdef unsigned char head[14]
    cdef Py_ssize_t size, n
    cdef int b0
    cdef bint masked
    cdef bytes out
    cdef unsigned char *dst
    if isinstance(payload, str):
        payload = _text_input(payload, &inp)
    else:
        payload = contiguous(payload)
        acquire(payload, &inp)
    try:
        n = inp.size
        b0 = _first_byte(opcode, <uint64_t>n, fin, rsv1, rsv2, rsv3)
        masked = _resolve_mask(mask, key)
        size = _write_header(head, b0, <uint64_t>n, key if masked else NULL)
        out = PyBytes_FromStringAndSize(NULL, size + n)
        dst = <unsigned char *>PyBytes_AS_STRING(out)
        memcpy(dst, head, size)
        if masked:
            # The key sits right before the payload in ``out``, but the source is elsewhere.
            if n >= NOGIL_MIN:
                with nogil:
                    ws_mask_copy(dst + size, inp.data, <size_t>n, key, 0)
            else:
                ws_mask_copy(dst + size, inp.data, <size_t>n, key, 0)
        elif n >= NOGIL_MIN:
            with nogil:
                memcpy(dst + size, inp.data, <size_t>n)
        else:
            memcpy(dst + size, inp.data, <size_t>n)
        return out
    finally:
        release(&inp)


def encode_message(opcode, payload, *, mask=None, deflate=None, fragment_size=None):
    """Return the wire bytes of one whole data message.

    ``opcode``: TEXT or BINARY (``ValueError`` otherwise: control frames are
    single frames, see :func:`encode_frame`). ``payload``: any bytes-like
    object, or a ``str`` (sent as UTF-8). ``deflate``: the connection's
    :class:`PerMessageDeflate` — the message is compressed and its first
    frame has RSV1 set. ``fragment_size``: split the (compressed) payload into
    frames of at most that many bytes (``None``: one frame). ``mask`` as for
    :func:`encode_frame`; ``True`` draws a fresh key for every frame. Every
    argument is checked before anything is compressed, so a call that raises
    leaves the compressor's window untouched.
    """
    cdef Input inp
    cdef unsigned char key[4]
    cdef bint fresh_keys = mask is True
    cdef bint masked
    cdef Py_ssize_t n, piece, pos, total, size, frames, i
    cdef int op, b0
    cdef bytes out
    cdef unsigned char *dst
    op = _first_byte(opcode, 0, True, False, False, False) & 0x0F
    if op != 1 and op != 2:
        raise ValueError(_rules.SEND_DATA_ONLY.format(opcode))
    if fragment_size is not None:  # None passes: spare the usual call its C call
        fragment_size = check_fragment_size(fragment_size)
    masked = _resolve_mask(mask, key) if not fresh_keys else True  # a bad key raises before compressing
    if deflate is not None:
        check_deflate(deflate, None, PerMessageDeflate)
    if isinstance(payload, str):
        payload = _text_input(payload, &inp)
    else:
        payload = contiguous(payload)
        acquire(payload, &inp)
    try:
        if deflate is not None:
            compressed = (<PerMessageDeflate>deflate)._compress(inp.data, inp.size)
            release(&inp)
            payload = compressed
            acquire(payload, &inp)
        n = inp.size
        piece = n if fragment_size is None or fragment_size >= n else <Py_ssize_t>fragment_size
        frames = 1 if piece == 0 else (n + piece - 1) // piece
        total = n
        pos = 0
        for _ in range(frames):
            total += _header_length(min(piece, n - pos), masked)
            pos += piece
        out = PyBytes_FromStringAndSize(NULL, total)
        dst = <unsigned char *>PyBytes_AS_STRING(out)
        pos = 0
        for i in range(frames):
            size = min(piece, n - pos)
            b0 = (0x80 if i == frames - 1 else 0) | ((op | (0x40 if deflate is not None else 0)) if i == 0 else 0)
            if fresh_keys:
                _draw_key(key)
            dst += _write_header(dst, b0, <uint64_t>size, key if masked else NULL)
            if masked:
                ws_mask_copy(dst, inp.data + pos, <size_t>size, key, 0)
            elif size:
                memcpy(dst, inp.data + pos, <size_t>size)
            dst += size
            pos += size
        return out
    finally:
        release(&inp)


cdef inline Py_ssize_t _header_length(Py_ssize_t n, bint masked) noexcept:
    return (2 if n < 126 else (4 if n < 0x10000 else 10)) + (4 if masked else 0)


# ---------------------------------------------------------------- decoding

cdef class _FrameReader:
    """The streaming header/payload loop shared by FrameDecoder and MessageDecoder.

    Subclasses judge each header in ``_accept`` (before any of its payload is
    buffered) and consume each complete frame in ``_deliver``.

    Small frames split across reads wait in ``_buf`` until complete. A large
    one is "streamed" instead: as soon as its header is read, each read's
    share of its payload is unmasked straight into the bytes object that will
    be delivered, grown by realloc as reads come (to at most four times
    what has arrived, never beyond the declared length). One pass over the
    payload, no receive-buffer copy.
    """

    cdef unsigned char *_buf     # bytes received but not yet part of a complete frame
    cdef Py_ssize_t _buf_len
    cdef Py_ssize_t _buf_cap
    cdef bint _client
    cdef uint64_t _max_frame
    cdef int _rsv_refused
    cdef bint _closed            # set by MessageDecoder after a CLOSE frame: ignore all that follows
    cdef int _error_code         # 0 while healthy
    cdef object _error_reason
    cdef bint _busy              # a feed() is running: large copies run without the GIL
    cdef PyObject *_stream       # owned: the bytes a large payload is unmasked into, or NULL
    cdef Py_ssize_t _stream_len  # payload bytes in it so far
    cdef Py_ssize_t _stream_cap  # its current size
    cdef Header _stream_h
    cdef unsigned char _stream_key[4]

    def __cinit__(self):
        self._buf = NULL
        self._buf_len = 0
        self._buf_cap = 0
        self._error_code = 0
        self._stream = NULL
        self._stream_len = 0

    def __dealloc__(self):
        PyMem_Free(self._buf)
        Py_XDECREF(self._stream)

    cdef int _setup(self, bint client, object max_frame_size, object rsv_allowed) except -1:
        check_size_limit("max_frame_size", max_frame_size)
        rsv_allowed = check_rsv_allowed(rsv_allowed)
        self._client = client
        self._max_frame = _NO_LIMIT if max_frame_size is None else min(max_frame_size, _NO_LIMIT)
        self._rsv_refused = (~rsv_allowed & 7) << 4
        return 0

    cdef int _accept(self, int opcode, int b0, uint64_t length) except -1:
        if length > self._max_frame:
            raise ProtocolError(1009, _rules.FRAME_TOO_BIG.format(length, self._max_frame))
        return 0

    cdef int _deliver(self, Header *h, const unsigned char *payload, bytes ready, list out) except -1:
        """Consume a complete frame: its payload is at ``payload`` (still masked, key in the 4 bytes before),
        or, for a streamed frame, already unmasked in ``ready``."""
        raise NotImplementedError

    cdef int _pending(self) except -1:
        """Hook: called after a feed that left a frame incomplete (buffered or streamed).

        MessageDecoder judges (or inflates) the payload bytes that arrived, at once (fail fast);
        a frame decoder has nothing to judge.
        """
        return 0

    cdef Py_ssize_t _read_header(self, const unsigned char *p, Py_ssize_t n, Header *h) except -2:
        """The header size if the header at ``p`` is complete, -1 if more bytes are needed.

        Raises ProtocolError as soon as the bytes present show a violation, in
        the reference's order.
        """
        if n < 2:
            return -1
        cdef int b0 = p[0]
        cdef int b1 = p[1]
        if b0 & self._rsv_refused:
            raise ProtocolError(1002, _rules.RSV_NOT_NEGOTIATED)
        check_start(b0, b1)
        if self._client:
            if b1 & 0x80:
                raise ProtocolError(1002, _rules.MASKED_FROM_SERVER)
        elif not b1 & 0x80:
            raise ProtocolError(1002, _rules.UNMASKED_FROM_CLIENT)
        cdef Py_ssize_t size = _header_size(b1)
        if n < size:
            return -1
        _extended_length(p, &h.length)
        self._accept(b0 & 0x0F, b0, h.length)
        h.b0 = b0
        h.opcode = b0 & 0x0F
        h.masked = b1 & 0x80
        h.size = size
        return size

    cdef Py_ssize_t _parse(self, const unsigned char *p, Py_ssize_t n, list out) except -1:
        """Deliver every complete frame in ``p[:n]``; return how many bytes were consumed.

        A large frame that ``p`` holds only the start of begins streaming, and
        counts as consumed.
        """
        cdef Py_ssize_t pos = 0, size
        cdef Header h
        while not self._closed:
            size = self._read_header(p + pos, n - pos, &h)
            if size < 0:
                break
            if <uint64_t>(n - pos - size) < h.length:
                if h.length >= <uint64_t>_STREAM_MIN and h.length <= <uint64_t>PY_SSIZE_T_MAX:
                    self._start_stream(&h, p + pos + size, n - pos - size)
                    return n
                break
            self._deliver(&h, p + pos + size, None, out)
            pos += size + <Py_ssize_t>h.length
        return n if self._closed else pos

    cdef int _start_stream(self, Header *h, const unsigned char *payload, Py_ssize_t k) except -1:
        """Begin a large frame's payload with the ``k`` bytes of it received so far."""
        cdef Py_ssize_t cap = <Py_ssize_t>min(h.length, <uint64_t>max(2 * k, _STREAM_MIN))
        cdef object fresh = PyBytes_FromStringAndSize(NULL, cap)
        Py_INCREF(fresh)  # the decoder owns one reference through the raw pointer
        self._stream = <PyObject *>fresh
        self._stream_cap = cap
        self._stream_len = 0
        self._stream_h = h[0]
        if h.masked:
            memcpy(self._stream_key, payload - 4, 4)
        self._stream_bytes(payload, k)
        return 0

    cdef int _append(self, const unsigned char *src, Py_ssize_t n) except -1:
        """Keep ``n`` received bytes; the buffer grows only with what has arrived."""
        cdef Py_ssize_t need = self._buf_len + n
        cdef Py_ssize_t cap
        cdef unsigned char *grown
        if need > self._buf_cap:
            cap = max(need, self._buf_cap * 2, 256)
            grown = <unsigned char *>PyMem_Realloc(self._buf, cap)
            if grown == NULL:
                raise MemoryError()
            self._buf = grown
            self._buf_cap = cap
        memcpy(self._buf + self._buf_len, src, n)
        self._buf_len = need
        return 0

    cdef void _drop_buffer(self) noexcept:
        PyMem_Free(self._buf)
        self._buf = NULL
        self._buf_len = 0
        self._buf_cap = 0

    cdef int _stream_bytes(self, const unsigned char *src, Py_ssize_t k) except -1:
        """Unmask ``k`` more payload bytes into the stream, growing it (at most to the declared length)."""
        cdef Py_ssize_t need = self._stream_len + k
        cdef Py_ssize_t cap
        cdef unsigned char *dst
        if need > self._stream_cap:
            cap = <Py_ssize_t>min(self._stream_h.length, <uint64_t>max(need, 4 * self._stream_cap))
            _PyBytes_Resize(&self._stream, cap)  # on failure it frees the object and sets NULL
            self._stream_cap = cap
        dst = <unsigned char *>PyBytes_AS_STRING(<object>self._stream) + self._stream_len
        if k >= NOGIL_MIN:
            with nogil:
                self._copy_stream(dst, src, k)
        else:
            self._copy_stream(dst, src, k)
        self._stream_len = need
        return 0

    cdef inline void _copy_stream(self, unsigned char *dst, const unsigned char *src, Py_ssize_t k) noexcept nogil:
        if self._stream_h.masked:
            ws_mask_copy(dst, src, <size_t>k, self._stream_key, <size_t>(self._stream_len & 3))
        else:
            memcpy(dst, src, <size_t>k)

    cdef Py_ssize_t _continue_stream(self, const unsigned char *p, Py_ssize_t n, list out) except -1:
        """Feed the streamed frame from ``p``; deliver it when complete. Return how many bytes it took."""
        cdef Py_ssize_t take = <Py_ssize_t>min(<uint64_t>n, self._stream_h.length - <uint64_t>self._stream_len)
        cdef bytes ready
        self._stream_bytes(p, take)
        if <uint64_t>self._stream_len == self._stream_h.length:
            ready = <bytes>self._stream
            Py_CLEAR(self._stream)  # ``ready`` holds it now
            self._stream_len = 0
            self._deliver(&self._stream_h, NULL, ready, out)
        return take

    cdef void _drop_all(self) noexcept:
        """Free everything buffered: the decoder failed or saw a CLOSE frame and will deliver nothing more."""
        self._drop_buffer()
        Py_CLEAR(self._stream)
        self._stream_len = 0

    cdef Py_ssize_t _complete_pending(self, const unsigned char *p, Py_ssize_t n, list out) except -1:
        """Finish the frame begun in the buffer with bytes from ``p``; return how many of them it took."""
        cdef Py_ssize_t pos = 0, size, take, total
        cdef Header h
        while True:
            size = self._read_header(self._buf, self._buf_len, &h)
            if size < 0:
                # At most 14 header bytes: take just enough of them to read it.
                take = min(14 - self._buf_len, n - pos)
                if take <= 0:
                    return pos
                self._append(p + pos, take)
                pos += take
                continue
            if h.length > <uint64_t>(PY_SSIZE_T_MAX - size):
                # Legal, but more than this process could hold: keep buffering, as the pure version does.
                self._append(p + pos, n - pos)
                return n
            total = size + <Py_ssize_t>h.length
            if h.length >= <uint64_t>_STREAM_MIN and self._buf_len + (n - pos) < total:
                # A large frame still incomplete after this read: stream it from here on.
                self._start_stream(&h, self._buf + size, self._buf_len - size)
                self._buf_len = 0
                if self._buf_cap > _KEEP_MAX:
                    self._drop_buffer()
                return pos + self._continue_stream(p + pos, n - pos, out)
            if self._buf_len < total:
                take = min(total - self._buf_len, n - pos)
                self._append(p + pos, take)
                pos += take
                if self._buf_len < total:
                    return pos
            # The buffer may hold bytes past this frame, taken while reading its header: give them back.
            pos -= self._buf_len - total
            self._parse(self._buf, total, out)
            self._buf_len = 0
            if self._buf_cap > _KEEP_MAX:
                self._drop_buffer()
            return pos

    cdef list _feed(self, object data):
        # Large copies release the GIL (and suspend a free-threaded build's critical section), so a
        # second thread feeding the same decoder could resize a buffer under them: refuse it instead.
        if self._busy:
            raise RuntimeError(_rules.FEED_IN_ANOTHER_THREAD)
        self._busy = True
        try:
            return self._feed_locked(data)
        finally:
            self._busy = False

    cdef list _feed_locked(self, object data):
        cdef Input inp
        cdef Py_ssize_t pos = 0
        cdef list out = []
        if self._error_code:
            contiguous(data)
            raise ProtocolError(self._error_code, self._error_reason)
        data = contiguous(data)
        if self._closed:
            return out
        acquire(data, &inp)
        try:
            if self._stream != NULL:
                pos = self._continue_stream(inp.data, inp.size, out)
            elif self._buf_len:
                pos = self._complete_pending(inp.data, inp.size, out)
            if not self._buf_len and self._stream == NULL and pos < inp.size:
                pos += self._parse(inp.data + pos, inp.size - pos, out)
                if pos < inp.size and not self._closed and self._stream == NULL:
                    self._append(inp.data + pos, inp.size - pos)
            if self._closed:
                self._drop_all()
            elif self._buf_len or self._stream != NULL:
                self._pending()
        except ProtocolError as exc:
            exc.frames = out
            self._error_code = exc.code
            self._error_reason = exc.reason
            self._drop_all()
            raise
        finally:
            release(&inp)
        return out

    @property
    def buffered(self):
        """Bytes received but not yet part of a complete frame."""
        if self._stream != NULL:
            return self._stream_h.size + self._stream_len
        return self._buf_len


cdef class FrameDecoder(_FrameReader):
    """Streaming frame decoder: feed it bytes in any chunking, get back every frame they complete.

    ``client=True`` for a decoder on the client side (frames must arrive
    unmasked); a server's decoder requires masked frames. ``max_frame_size``
    bounds one frame's payload (``None``: no limit but the RFC's 2**63 - 1);
    ``rsv_allowed`` is the set of RSV bits an extension negotiated (RSV1=4,
    RSV2=2, RSV3=1).
    """

    def __init__(self, *, bint client=False, max_frame_size=DEFAULT_MAX_FRAME_SIZE, rsv_allowed=0):
        self._setup(client, max_frame_size, rsv_allowed)

    cdef int _deliver(self, Header *h, const unsigned char *payload, bytes ready, list out) except -1:
        cdef Frame frame = Frame.__new__(Frame)
        cdef int b0 = h.b0
        frame.fin = b0 & 0x80
        frame.opcode = _OPCODES[h.opcode]
        frame.payload = ready if ready is not None else _copy_out(payload, <Py_ssize_t>h.length, h.masked)
        frame.rsv1 = b0 & 0x40
        frame.rsv2 = b0 & 0x20
        frame.rsv3 = b0 & 0x10
        out.append(frame)
        return 0

    def feed(self, data):
        """Return every frame completed by ``data``, payloads unmasked.

        Raises :class:`ProtocolError` on a violation, with the frames completed
        before it in this call on ``.frames``; every later call raises again.
        """
        with cython.critical_section(self):
            return self._feed(data)


cdef class MessageDecoder(_FrameReader):
    """Streaming message decoder: whole messages out, control frames where they arrive.

    ``max_message_size`` bounds a whole message, all fragments counted, and
    is checked from each header before its payload is buffered (1009).
    After a CLOSE frame nothing more is delivered.
    """

    cdef uint64_t _max_message
    cdef uint64_t _max_compressed  # a compressed frame's payload limit
    cdef PerMessageDeflate _deflate
    cdef bint _compressed        # the message being reassembled is compressed (RSV1 on its first frame)
    cdef int _opcode             # of the message being reassembled; -1 between messages
    # The message being reassembled (or inflated), unmasked, in the bytes object it becomes.
    cdef Output _msg
    cdef ws_utf8_state _utf8
    # Fail fast inside a frame: the text of an incomplete frame is judged as it arrives, on a copy of
    # _utf8 (the frame is validated again when complete, unless it was streamed and judged whole).
    cdef ws_utf8_state _peek
    cdef Py_ssize_t _peeked      # payload bytes of the incomplete frame judged (or inflated) so far

    def __cinit__(self):
        self._peeked = 0
        self._msg.obj = NULL
        self._msg.small = NULL
        self._msg.small_cap = 0
        output_clear(&self._msg)
        self._opcode = -1
        ws_utf8_reset(&self._utf8)

    def __dealloc__(self):
        output_clear(&self._msg)

    cdef void _drop_all(self) noexcept:
        _FrameReader._drop_all(self)
        output_clear(&self._msg)

    def __init__(self, *, bint client=False, max_message_size=DEFAULT_MAX_MESSAGE_SIZE, max_frame_size=None,
                 deflate=None):
        check_size_limit("max_message_size", max_message_size)
        check_deflate(deflate, client, PerMessageDeflate)
        self._deflate = deflate
        limit = compressed_frame_limit(max_message_size, max_frame_size)
        if max_frame_size is None:
            max_frame_size = DEFAULT_MAX_FRAME_SIZE if max_message_size is None else max_message_size
        self._setup(client, max_frame_size, 4 if deflate is not None else 0)
        self._max_compressed = limit  # checked by _setup: not negative
        self._max_message = _NO_LIMIT if max_message_size is None else min(max_message_size, _NO_LIMIT)

    cdef int _accept(self, int opcode, int b0, uint64_t length) except -1:
        if b0 & 0x40:  # only when permessage-deflate was negotiated: the reader refuses it otherwise
            if opcode >= 8:
                raise ProtocolError(1002, _rules.RSV1_ON_CONTROL)
            if opcode == 0:
                raise ProtocolError(1002, _rules.RSV1_ON_CONTINUATION)
        if opcode >= 8:
            return 0
        if opcode == 0:
            if self._opcode < 0:
                raise ProtocolError(1002, _rules.ORPHAN_CONTINUATION)
        elif self._opcode >= 0:
            raise ProtocolError(1002, _rules.DATA_INSIDE_FRAGMENTED)
        cdef bint compressed = ((b0 & 0x40) != 0) if opcode else self._compressed
        cdef uint64_t limit = self._max_compressed if compressed else self._max_frame
        if length > limit:
            raise ProtocolError(1009, _rules.FRAME_TOO_BIG.format(length, limit))
        # A compressed message is bounded by what it inflates to, as it inflates.
        if not compressed and <uint64_t>self._msg.length + length > self._max_message:
            raise ProtocolError(
                1009, _rules.MESSAGE_TOO_BIG.format(self._msg.length + length, self._max_message))
        return 0

    cdef inline bint _is_text(self, int opcode) noexcept:
        """True if a data frame with this opcode carries text (a TEXT frame or a text message's continuation)."""
        return opcode == 1 or (opcode == 0 and self._opcode == 1)

    cdef int _take(self, int b0, const unsigned char *p, Py_ssize_t n, const unsigned char *key,
                   bint end) except -1:
        """Judge text, or inflate, ``n`` more payload bytes of the current data frame at once (fail fast);
        ``end``: they end the message.

        ``key``: the mask key while ``p`` is still masked (the phase is the count taken before), else NULL.
        Compressed bytes go to the inflater as one piece, as the pure implementation does.
        """
        cdef int opcode = b0 & 0x0F
        cdef bint compressed = ((b0 & 0x40) != 0) if opcode else self._compressed
        cdef bint text = self._is_text(opcode)
        cdef unsigned char scratch[4096]
        cdef unsigned char *plain = &scratch[0]
        cdef Py_ssize_t k
        if compressed:
            if key != NULL and n > <Py_ssize_t>sizeof(scratch):
                plain = <unsigned char *>PyMem_Malloc(<size_t>n)
                if plain == NULL:
                    raise MemoryError()
            try:
                if key != NULL:
                    ws_mask_copy(plain, p, <size_t>n, key, <size_t>(self._peeked & 3))
                    p = plain
                self._inflate(p, n, end, text)
            finally:
                if plain != &scratch[0]:
                    PyMem_Free(plain)
            self._peeked += n
            return 0
        if not text:
            return 0
        cdef const unsigned char *src
        while n > 0:
            k = n
            src = p
            if key != NULL:
                k = min(n, <Py_ssize_t>sizeof(scratch))
                ws_mask_copy(scratch, p, <size_t>k, key, <size_t>(self._peeked & 3))
                src = scratch
            if self._peeked == 0:
                self._peek = self._utf8
            if ws_utf8_feed(&self._peek, src, <size_t>k) >= 0:
                raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT)
            self._peeked += k
            p += k
            n -= k
        return 0

    cdef int _inflate(self, const unsigned char *src, Py_ssize_t n, bint end, bint text) except -1:
        """Inflate into the message buffer within the message budget; validate text as it comes."""
        cdef Py_ssize_t before = self._msg.length
        cdef uint64_t budget = self._max_message - <uint64_t>before
        self._deflate._inflate_to(src, n, end, &self._msg,
                                  <Py_ssize_t>min(budget, <uint64_t>(PY_SSIZE_T_MAX - 1 - before)))
        if text and self._msg.length > before:
            if ws_utf8_feed(&self._utf8, self._msg.data + before, <size_t>(self._msg.length - before)) >= 0:
                raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT)
        return 0

    cdef int _pending(self) except -1:
        """Take the payload bytes of the incomplete frame that arrived and are not taken yet."""
        cdef const unsigned char *buf = self._buf
        cdef Py_ssize_t size, pos
        if self._stream != NULL:  # streamed: unmasked already, in the bytes object it grows in
            if self._peeked < self._stream_len:
                self._take(self._stream_h.b0, <const unsigned char *>PyBytes_AS_STRING(<object>self._stream)
                           + self._peeked, self._stream_len - self._peeked, NULL, False)
            return 0
        if self._buf_len < 2 or (buf[0] & 0x0F) >= 8:
            return 0
        size = _header_size(buf[1])  # its rules were checked when the header was read
        pos = size + self._peeked
        if pos < self._buf_len:
            self._take(buf[0], buf + pos, self._buf_len - pos, buf + size - 4 if buf[1] & 0x80 else NULL, False)
        return 0

    cdef int _deliver(self, Header *h, const unsigned char *payload, bytes ready, list out) except -1:
        cdef Py_ssize_t n = <Py_ssize_t>h.length
        cdef bint masked = h.masked
        # A streamed text frame was judged whole as it arrived: its state is in _peek.
        cdef bint judged = ready is not None and self._peeked == n and self._is_text(h.opcode)
        cdef Py_ssize_t done = self._peeked
        cdef bytes data
        cdef Frame frame
        cdef Message message
        cdef unsigned char *dst
        cdef bint fin = h.b0 & 0x80
        if h.opcode >= 8:
            data = _copy_out(payload, n, h.masked)
            if h.opcode == 8:
                parse_close(data)
                self._closed = True
            frame = Frame.__new__(Frame)
            frame.fin = True
            frame.opcode = _OPCODES[h.opcode]
            frame.payload = data
            out.append(frame)
            return 0
        if h.opcode:
            self._opcode = h.opcode
            self._compressed = h.b0 & 0x40
        if ready is not None:  # streamed: already unmasked
            payload = <const unsigned char *>PyBytes_AS_STRING(ready)
            masked = False
        if self._compressed:
            self._take(h.b0, payload + done, n - done, payload - 4 if masked else NULL, fin)
            self._peeked = 0
            if not fin:
                return 0
            if self._opcode == 1 and not ws_utf8_complete(&self._utf8):
                raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT)
            data = self._take_message()
        else:
            self._peeked = 0
            if fin and not self._msg.length:
                # A whole message in one frame: straight into its bytes object.
                data = ready if ready is not None else _copy_out(payload, n, masked)
                if self._opcode == 1:
                    if judged:
                        if not ws_utf8_complete(&self._peek):
                            raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT)
                    elif not ws_utf8_valid(<const unsigned char *>PyBytes_AS_STRING(data), n):
                        raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT)
            else:
                self._grow_message(n)
                dst = self._msg.data + self._msg.length
                _unmask_into(dst, payload, n, masked)
                self._msg.length += n
                if self._opcode == 1:
                    if judged:
                        self._utf8 = self._peek
                    elif ws_utf8_feed(&self._utf8, dst, n) >= 0:
                        raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT)
                    if fin and not ws_utf8_complete(&self._utf8):
                        raise ProtocolError(1007, _rules.INVALID_UTF8_TEXT)
                if not fin:
                    return 0
                data = self._take_message()
        message = Message.__new__(Message)
        message.opcode = _OPCODES[self._opcode]
        message.payload = data
        out.append(message)
        self._opcode = -1
        return 0

    cdef bytes _take_message(self):
        """The reassembled message: the buffer itself, as bytes of its length; the next message starts another."""
        cdef bytes data = output_take(&self._msg)
        ws_utf8_reset(&self._utf8)
        return data

    cdef int _grow_message(self, Py_ssize_t n) except -1:
        """Make room for ``n`` more message bytes; the buffer grows only with what has arrived."""
        cdef Py_ssize_t need = self._msg.length + n
        if need > self._msg.cap:
            output_grow(&self._msg, max(need, self._msg.cap * 2))
        return 0

    def feed(self, data):
        """Return the messages and control frames completed by ``data``, in order.

        Raises :class:`ProtocolError` (1002, 1007, 1009) on a violation, with
        everything completed before it in this call on ``.frames``.
        """
        with cython.critical_section(self):
            return self._feed(data)
