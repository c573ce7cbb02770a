# cython: language_level=3, freethreading_compatible=True, boundscheck=False, wraparound=False, cdivision=True
"""The echo server's work per read, compiled: the twin of _echo_py.EchoIO (read its docstrings).

What differs is how, not what: the read and the direct writes (a frame, or a
header beside its payload) are system calls made from C, and the common case
(a read completing one data message) runs without a Python frame. The codec
is still called through its Python entry points (``feed``, ``encode``), so
this module works with either implementation's decoder.
"""

import os

cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.buffer cimport PyBUF_READ
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.memoryview cimport PyMemoryView_FromMemory
from libc.errno cimport errno

from . import _echo_py  # the sizes and the stand-in, as a module, so that its names are not this one's
from .errors import ProtocolError


cdef extern from "fdio.h":
    long long ws_fd_read(int fd, char *buf, size_t n)
    long long ws_fd_write(int fd, const char *buf, size_t n)
    long long ws_fd_write2(int fd, const char *a, size_t na, const char *b, size_t nb)
    int ws_fd_retry(int err)


cdef Py_ssize_t _VECTORED_MIN = _echo_py.VECTORED_MIN
cdef Py_ssize_t _VIEW_MIN = _echo_py.VIEW_MIN
cdef Py_ssize_t _READ_MAX = _echo_py.READ_MAX
cdef object _os_write = os.write
cdef object _os_writev = getattr(os, "writev", None)
cdef object _unsent = _echo_py.unsent


@cython.final
cdef class EchoIO:
    """One connection's per-read path: read, decode, echo one data message with one write."""

    cdef public object protocol
    cdef public bytearray buffer
    cdef public object message_type
    cdef public object feed
    cdef public object encode
    cdef public object header
    cdef public object write
    cdef public object writev
    cdef public object transport
    cdef public int fd
    cdef public int read_fd
    cdef public bint open
    cdef public long long bytes_in
    cdef public long long bytes_out
    cdef public long long messages_in

    def __init__(self, protocol, bytearray buffer not None, message_type, encode, header):
        self.protocol = protocol
        self.buffer = buffer
        self.message_type = message_type
        self.encode = encode
        self.header = header
        self.feed = None
        self.write = _os_write
        self.writev = getattr(os, "writev", _echo_py._no_vectors)
        self.fd = -1
        self.read_fd = -1
        self.transport = None
        self.open = False
        self.bytes_in = self.bytes_out = self.messages_in = 0

    def readable(self):
        """Direct reads: the socket has bytes (or its end, or an error) to read."""
        cdef bytearray buffer = self.buffer
        cdef long long nbytes = ws_fd_read(self.read_fd, PyByteArray_AS_STRING(buffer), PyByteArray_GET_SIZE(buffer))
        if nbytes > 0:
            self._updated(<Py_ssize_t>nbytes)
        elif nbytes < 0 and ws_fd_retry(errno):
            return
        else:
            # the end of input or an error: the transport reads again and handles it
            self.protocol._stop_direct_reads()

    def updated(self, Py_ssize_t nbytes):
        """``nbytes`` were read into the buffer: feed them and echo what they complete."""
        self._updated(nbytes)

    def received(self, data):
        """Bytes of the echo loop: feed them to the decoder and echo what they complete."""
        self._received(data)

    cdef _updated(self, Py_ssize_t nbytes):
        cdef bytearray buffer = self.buffer
        if nbytes < _VIEW_MIN:
            data = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(buffer), nbytes)  # bytes: one allocation
            if self.open:
                self._received(data)
            else:
                self.protocol.data_received(data)
            return
        if nbytes == PyByteArray_GET_SIZE(buffer) and nbytes < _READ_MAX:
            self.buffer = bytearray(2 * nbytes)  # the next read may bring more
        # A read-only view of the bytes read, made directly (not a slice of a view of the whole buffer).
        # Nothing resizes ``buffer`` (a full one is replaced), and the view is released before it returns.
        view = PyMemoryView_FromMemory(PyByteArray_AS_STRING(buffer), nbytes, PyBUF_READ)
        try:
            if self.open:
                self._received(view)
            else:
                self.protocol.data_received(view)
        finally:
            view.release()

    cdef _received(self, data):
        self.bytes_in += len(data)
        try:
            events = self.feed(data)
        except ProtocolError as exc:
            self.protocol._fail(exc)
            return
        cdef int fd = self.fd
        cdef long long sent
        if len(events) == 1 and type(events[0]) is self.message_type:
            event = events[0]
            payload = event.payload
            if len(payload) < _VECTORED_MIN:
                # A TEXT payload arrives as bytes the decoder already validated: it goes back as it came.
                if fd >= 0:
                    frame = self.encode(event.opcode, payload)
                    self.messages_in += 1
                    if self.write is _os_write and type(frame) is bytes:
                        sent = ws_fd_write(fd, PyBytes_AS_STRING(frame), <size_t>PyBytes_GET_SIZE(frame))
                        if sent < 0:
                            sent = 0  # the transport's write meets the same error and handles it
                    else:
                        try:
                            sent = self.write(fd, frame)
                        except OSError:
                            sent = 0
                    self.bytes_out += sent
                    if sent != len(frame):
                        self.protocol._queue([memoryview(frame)[sent:]], 1)
                    return
                transport = self.transport
                if transport is not None and not transport.is_closing():
                    frame = self.encode(event.opcode, payload)
                    self.messages_in += 1
                    self.bytes_out += len(frame)
                    transport.write(frame)
                    return
            elif fd >= 0 and self.header is not None:
                # A large payload goes out as it is, beside its header: one system call, no copy.
                buffers = (self.header(event.opcode, len(payload)), payload)
                self.messages_in += 1
                if self.writev is _os_writev and type(buffers[0]) is bytes and type(payload) is bytes:
                    sent = ws_fd_write2(
                        fd,
                        PyBytes_AS_STRING(buffers[0]),
                        <size_t>PyBytes_GET_SIZE(buffers[0]),
                        PyBytes_AS_STRING(payload),
                        <size_t>PyBytes_GET_SIZE(payload),
                    )
                    if sent < 0:
                        sent = 0  # as with one buffer
                else:
                    try:
                        sent = self.writev(fd, buffers)
                    except OSError:
                        sent = 0
                self.bytes_out += sent
                if sent != len(buffers[0]) + len(payload):
                    self.protocol._queue(_unsent(buffers, sent), 1)
                return
            elif self.header is not None:
                transport = self.transport
                if transport is not None and not transport.is_closing():
                    buffers = (self.header(event.opcode, len(payload)), payload)
                    self.messages_in += 1
                    self.bytes_out += len(buffers[0]) + len(payload)
                    transport.writelines(buffers)
                    return
        if events:
            self.protocol._echo(events)
