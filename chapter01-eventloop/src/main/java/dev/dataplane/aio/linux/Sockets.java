package dev.dataplane.aio.linux;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The few socket calls chapter 1's echo demo needs: a non-blocking TCP listener on the loopback
 * address and {@code accept4}. Data then flows through {@link LibC#read(int, byte[], int)} and
 * {@link LibC#write(int, byte[], int)}, and {@link LibC#closeFd(int)} closes a socket, because
 * to the kernel a socket is just another fd.
 *
 * <p>Implementation notes.
 *
 * <p>The bindings follow {@link LibC}: direct mapping, natives that return the raw C result, and
 * wrappers that read errno with {@link Native#getLastError()} only on failure and throw a
 * {@link LinuxException} naming the call. {@code EAGAIN} from {@code accept4} on a non-blocking
 * listener is the normal "nobody is waiting" answer and comes back as {@code -1}.
 *
 * <p>{@code struct sockaddr_in} is built by hand in a {@link Memory} block (16 bytes on Linux):
 * {@code sa_family_t sin_family} at 0 in host byte order, {@code in_port_t sin_port} at 2 and
 * {@code struct in_addr sin_addr} at 4 in <em>network</em> byte order (big-endian), and eight
 * bytes of zero padding. Writing the port and address byte by byte makes the byte order
 * explicit instead of depending on the host.
 *
 * <p>Only IPv4 loopback is supported: the demo is about the event loop, not about networking.
 */
public final class Sockets {

    // <sys/socket.h>, Linux x86-64 values
    public static final int AF_INET = 2;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SO_REUSEADDR = 2;
    /** The kernel caps a larger backlog at {@code net.core.somaxconn}; asking high is harmless. */
    public static final int SOMAXCONN = 4096;

    static final int SIZEOF_SOCKADDR_IN = 16;

    static {
        Native.register(Sockets.class, Platform.C_LIBRARY_NAME);
    }

    private Sockets() {
    }

    // ---- the raw natives (package-private: the typed wrappers below are the API) ----

    static native int socket(int domain, int type, int protocol);

    static native int setsockopt(int fd, int level, int optname, int[] optval, int optlen);

    static native int bind(int fd, Pointer addr, int addrlen);

    static native int listen(int fd, int backlog);

    static native int accept4(int fd, Pointer addr, int[] addrlen, int flags);

    static native int getsockname(int fd, Pointer addr, int[] addrlen);

    // ---- typed wrappers ----

    /** A new non-blocking, close-on-exec IPv4 TCP socket. */
    public static int tcpSocket() {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new LinuxException("socket(AF_INET, SOCK_STREAM)", Native.getLastError());
        }
        return fd;
    }

    /**
     * Sets {@code SO_REUSEADDR}, so that a restarted server can bind its port while connections
     * of the previous run are still in {@code TIME_WAIT}. It does not let two listeners share a
     * port: that still fails with {@code EADDRINUSE}.
     */
    public static void setReuseAddress(int fd) {
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, new int[] {1}, Integer.BYTES) < 0) {
            throw new LinuxException("setsockopt(fd=" + fd + ", SO_REUSEADDR)", Native.getLastError());
        }
    }

    /** Binds {@code fd} to 127.0.0.1:{@code port}; port 0 lets the kernel pick a free one. */
    public static void bindLoopback(int fd, int port) {
        if (port < 0 || port > 0xffff) {
            throw new IllegalArgumentException("port out of range 0..65535: " + port);
        }
        Memory addr = new Memory(SIZEOF_SOCKADDR_IN);
        addr.clear();
        addr.setShort(0, (short) AF_INET);          // host byte order
        addr.setByte(2, (byte) (port >>> 8));        // network byte order: high byte first
        addr.setByte(3, (byte) port);
        addr.setByte(4, (byte) 127);                 // 127.0.0.1, also high byte first
        addr.setByte(7, (byte) 1);
        if (bind(fd, addr, SIZEOF_SOCKADDR_IN) < 0) {
            throw new LinuxException("bind(fd=" + fd + ", 127.0.0.1:" + port + ")", Native.getLastError());
        }
    }

    /** Marks a bound socket as a listener with room for {@code backlog} unaccepted connections. */
    public static void startListening(int fd, int backlog) {
        if (listen(fd, backlog) < 0) {
            throw new LinuxException("listen(fd=" + fd + ")", Native.getLastError());
        }
    }

    /**
     * Accepts one connection from a listener. The new fd is non-blocking and close-on-exec.
     * Returns -1 if nobody is waiting ({@code EAGAIN} on a non-blocking listener).
     */
    public static int accept(int listenFd) {
        int fd = accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            throw new LinuxException("accept4(fd=" + listenFd + ")", errno);
        }
        return fd;
    }

    /** The local port {@code fd} is bound to: how a server bound to port 0 learns its port. */
    public static int localPort(int fd) {
        Memory addr = new Memory(SIZEOF_SOCKADDR_IN);
        int[] len = {SIZEOF_SOCKADDR_IN};
        if (getsockname(fd, addr, len) < 0) {
            throw new LinuxException("getsockname(fd=" + fd + ")", Native.getLastError());
        }
        return ((addr.getByte(2) & 0xff) << 8) | (addr.getByte(3) & 0xff);
    }

    /**
     * The usual sequence for a server: a non-blocking socket with {@code SO_REUSEADDR}, bound to
     * 127.0.0.1:{@code port} and listening. Returns the listening fd; on failure the socket is
     * closed before the exception propagates.
     */
    public static int listenLoopback(int port, int backlog) {
        int fd = tcpSocket();
        try {
            setReuseAddress(fd);
            bindLoopback(fd, port);
            startListening(fd, backlog);
            return fd;
        } catch (RuntimeException e) {
            LibC.closeFd(fd);
            throw e;
        }
    }
}
