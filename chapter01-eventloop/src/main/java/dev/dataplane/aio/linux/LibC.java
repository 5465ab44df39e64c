package dev.dataplane.aio.linux;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The system calls chapter 1 is built on, bound with JNA <em>direct mapping</em>.
 *
 * <p>Implementation notes.
 *
 * <p>Every native method below is a {@code static native} method registered with
 * {@link Native#register(Class, String)}. Direct mapping costs roughly a tenth of JNA's
 * interface mapping per call, which matters on the event loop's hot path ({@code ppoll},
 * {@code epoll_wait}, eventfd reads and writes happen once or more per loop iteration). Only
 * primitives, primitive arrays and {@link Pointer}s cross the boundary: no {@code Structure}
 * is allocated per call, because reflective structure marshalling costs microseconds.
 *
 * <p>The natives do not declare {@code LastErrorException}; they return the C result and the
 * wrappers read errno with {@link Native#getLastError()} only when the result says the call
 * failed. That keeps the expected failures cheap: a non-blocking eventfd that is not set answers
 * {@code EAGAIN}, and building an exception with a stack trace for that would cost more than
 * the system call itself. Real failures become a {@link LinuxException} that names the call.
 *
 * <p>{@code EINTR} from a waiting call is reported as "nothing ready": the event loop simply
 * goes round again, which is what QEMU's {@code qemu_poll_ns} callers do too.
 *
 * <p>This class is the only place (with its siblings in this package) that may reference JNA;
 * an ArchUnit rule enforces that.
 */
public final class LibC {

    // <sys/eventfd.h>
    public static final int EFD_SEMAPHORE = 1;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;
    // <fcntl.h>
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    // <sys/epoll.h>
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLPRI = 0x002;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    // <poll.h>: the same bit values as epoll's, which is why the event loop can share them.
    public static final int POLLIN = 0x001;
    public static final int POLLPRI = 0x002;
    public static final int POLLOUT = 0x004;
    public static final int POLLERR = 0x008;
    public static final int POLLHUP = 0x010;
    public static final int POLLNVAL = 0x020;

    static {
        Native.register(LibC.class, Platform.C_LIBRARY_NAME);
    }

    private LibC() {
    }

    // ---- the raw natives (package-private: the typed wrappers below are the API) ----

    static native int eventfd(int initval, int flags);

    static native int eventfd_write(int fd, long value);

    static native int epoll_create1(int flags);

    static native int epoll_ctl(int epfd, int op, int fd, Pointer event);

    static native int epoll_wait(int epfd, Pointer events, int maxevents, int timeoutMs);

    static native int ppoll(Pointer fds, long nfds, Pointer timeout, Pointer sigmask);

    static native long read(int fd, Pointer buf, long count);

    static native long read(int fd, byte[] buf, long count);

    static native long write(int fd, Pointer buf, long count);

    static native long write(int fd, byte[] buf, long count);

    static native int close(int fd);

    static native int pipe2(int[] fds, int flags);


    // ---- typed wrappers ----

    /** Creates an eventfd; see eventfd(2). */
    public static int eventfdCreate(int initval, int flags) {
        int fd = eventfd(initval, flags);
        if (fd < 0) {
            throw new LinuxException("eventfd", Native.getLastError());
        }
        return fd;
    }

    /**
     * Adds {@code value} to an eventfd's counter. Returns {@code false} if the counter would
     * overflow on a non-blocking eventfd ({@code EAGAIN}); the eventfd is then certainly readable,
     * which is all an event notifier needs.
     */
    public static boolean eventfdWrite(int fd, long value) {
        if (eventfd_write(fd, value) < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return false;
            }
            throw new LinuxException("eventfd_write(fd=" + fd + ")", errno);
        }
        return true;
    }

    /**
     * Resets an eventfd's counter, reading it into {@code scratch} (8 bytes of native memory the
     * caller keeps, so the hot path allocates nothing). Returns whether it was set. Several
     * threads may share one scratch buffer: the value read is never looked at, only whether the
     * read succeeded.
     */
    public static boolean eventfdDrain(int fd, NativeScratch scratch) {
        if (read(fd, scratch.pointer(), 8L) < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return false;
            }
            throw new LinuxException("read(eventfd=" + fd + ")", errno);
        }
        return true;
    }

    /** Creates an epoll instance; see epoll_create1(2). */
    public static int epollCreate(int flags) {
        int fd = epoll_create1(flags);
        if (fd < 0) {
            throw new LinuxException("epoll_create1", Native.getLastError());
        }
        return fd;
    }

    /**
     * Adds, modifies or removes {@code fd} in the interest list of {@code epfd}. The 64-bit
     * {@code data} word comes back with every event for that fd.
     */
    public static void epollCtl(int epfd, int op, int fd, int events, long data) {
        // struct epoll_event is packed on x86-64: u32 events at 0, u64 data at 4 (12 bytes).
        Memory ev = new Memory(EpollEvents.SIZEOF_EPOLL_EVENT);
        ev.setInt(0, events);
        ev.setLong(4, data);
        if (epoll_ctl(epfd, op, fd, ev) < 0) {
            throw new LinuxException("epoll_ctl(" + ctlName(op) + ", epfd=" + epfd + ", fd=" + fd + ")",
                    Native.getLastError());
        }
    }

    /**
     * Waits for events on {@code epfd}; returns how many entries of {@code events} are filled,
     * 0 on timeout or {@code EINTR}. A negative {@code timeoutMs} waits forever.
     */
    public static int epollWait(int epfd, EpollEvents events, int timeoutMs) {
        int n = epoll_wait(epfd, events.pointer(), events.capacity(), timeoutMs);
        if (n < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EINTR) {
                return 0;
            }
            throw new LinuxException("epoll_wait(epfd=" + epfd + ")", errno);
        }
        return n;
    }

    /**
     * ppoll(2) on the first {@code nfds} entries of {@code fds} with a nanosecond timeout
     * ({@code < 0}: forever, {@code 0}: just look). Returns the number of entries with non-zero
     * {@code revents}, 0 on timeout or {@code EINTR}.
     *
     * <p>ppoll rather than poll because its timeout is a {@code timespec}: the event loop's
     * deadlines are in nanoseconds (chapter 2's timers), and rounding them up to milliseconds
     * would make short timers late.
     */
    public static int ppoll(PollFds fds, int nfds, long timeoutNs) {
        Pointer ts = null;
        if (timeoutNs >= 0) {
            ts = fds.timespec();
            ts.setLong(0, timeoutNs / 1_000_000_000L);
            ts.setLong(8, timeoutNs % 1_000_000_000L);
        }
        int n = ppoll(fds.pointer(), nfds, ts, null);
        if (n < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EINTR) {
                return 0;
            }
            throw new LinuxException("ppoll(nfds=" + nfds + ")", errno);
        }
        return n;
    }

    /**
     * Reads up to {@code count} bytes into {@code buf}. Returns the number read, 0 at end of
     * file, or -1 if the non-blocking fd has nothing to read ({@code EAGAIN}).
     */
    public static int read(int fd, byte[] buf, int count) {
        if (count > buf.length) {
            throw new IndexOutOfBoundsException("count " + count + " > buffer " + buf.length);
        }
        long n = read(fd, buf, (long) count);
        if (n < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            throw new LinuxException("read(fd=" + fd + ")", errno);
        }
        return (int) n;
    }

    /**
     * Writes up to {@code count} bytes of {@code buf}. Returns the number written, or -1 if the
     * non-blocking fd cannot take any now ({@code EAGAIN}).
     */
    public static int write(int fd, byte[] buf, int count) {
        if (count > buf.length) {
            throw new IndexOutOfBoundsException("count " + count + " > buffer " + buf.length);
        }
        long n = write(fd, buf, (long) count);
        if (n < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            throw new LinuxException("write(fd=" + fd + ")", errno);
        }
        return (int) n;
    }

    /** Closes {@code fd}. */
    public static void closeFd(int fd) {
        if (close(fd) < 0) {
            throw new LinuxException("close(fd=" + fd + ")", Native.getLastError());
        }
    }

    /** Creates a pipe; returns {read end, write end}. */
    public static int[] pipe(int flags) {
        int[] fds = new int[2];
        if (pipe2(fds, flags) < 0) {
            throw new LinuxException("pipe2", Native.getLastError());
        }
        return fds;
    }

    /** The C library's description of {@code errno}. */
    public static String strerror(int errno) {
        Pointer p = Strerror.strerror(errno);
        return p == null ? "unknown error" : p.getString(0);
    }

    /** strerror(3) has the same Java name as the wrapper above, so it lives in its own class. */
    private static final class Strerror {
        static {
            Native.register(Strerror.class, Platform.C_LIBRARY_NAME);
        }

        static native Pointer strerror(int errnum);
    }

    private static String ctlName(int op) {
        return switch (op) {
            case EPOLL_CTL_ADD -> "ADD";
            case EPOLL_CTL_DEL -> "DEL";
            case EPOLL_CTL_MOD -> "MOD";
            default -> "op " + op;
        };
    }
}
