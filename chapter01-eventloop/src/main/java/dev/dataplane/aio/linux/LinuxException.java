package dev.dataplane.aio.linux;

/**
 * A system call failed. The message names the call (with the arguments that identify it) and
 * the errno, symbolically and as the C library describes it, for example
 * {@code epoll_ctl(ADD, fd=7): EBADF (Bad file descriptor)}.
 *
 * <p>It is unchecked because almost every failure here is a programming error or a resource
 * limit that the event loop cannot repair; the few errno values that are part of normal
 * operation ({@code EAGAIN} on a non-blocking fd, {@code EINTR}) are handled inside the
 * bindings and never reach callers as exceptions.
 */
public final class LinuxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public LinuxException(String call, int errno) {
        super(call + ": " + Errno.name(errno) + " (" + LibC.strerror(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The failed call as written in the message, e.g. {@code eventfd}. */
    public String call() {
        return call;
    }

    /** The errno the kernel returned. */
    public int errno() {
        return errno;
    }
}
