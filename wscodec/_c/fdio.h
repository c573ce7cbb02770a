/* Non-blocking read(), write() and writev() on a descriptor, for the echo server's direct I/O (_echo_c.pyx).
 *
 * POSIX only: wscodec.server reads and writes sockets directly on POSIX alone, so on Windows these
 * fail with ENOSYS and are never reached. The GIL is kept: on a non-blocking socket neither call waits.
 */
#ifndef WSCODEC_FDIO_H
#define WSCODEC_FDIO_H

#include <errno.h>
#include <stddef.h>

#ifdef _WIN32
static long long ws_fd_read(int fd, char *buf, size_t n) { (void)fd; (void)buf; (void)n; errno = ENOSYS; return -1; }
static long long ws_fd_write(int fd, const char *buf, size_t n) { (void)fd; (void)buf; (void)n; errno = ENOSYS; return -1; }
static long long ws_fd_write2(int fd, const char *a, size_t na, const char *b, size_t nb) {
    (void)fd; (void)a; (void)na; (void)b; (void)nb; errno = ENOSYS; return -1;
}
static int ws_fd_retry(int err) { (void)err; return 0; }
#else
#include <sys/uio.h>
#include <unistd.h>
static long long ws_fd_read(int fd, char *buf, size_t n) { return (long long)read(fd, buf, n); }
static long long ws_fd_write(int fd, const char *buf, size_t n) { return (long long)write(fd, buf, n); }
/* Two buffers in one writev(): a header and the payload beside it, neither copied. */
static long long ws_fd_write2(int fd, const char *a, size_t na, const char *b, size_t nb) {
    struct iovec iov[2] = {{(void *)a, na}, {(void *)b, nb}};
    return (long long)writev(fd, iov, 2);
}
/* The errors after which the descriptor is fine and the call simply had nothing to do. */
static int ws_fd_retry(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }
#endif

#endif
