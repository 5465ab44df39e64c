package dev.dataplane.aio.demo;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.aio.linux.Sockets;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * An echo server made of {@link AioContext} fd handlers: whatever a client sends comes back.
 * Every callback runs in the context's home thread; nothing here blocks and nothing here is
 * locked.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Level-triggered handlers.</b> The context calls a read handler for as long as its fd is
 * readable, so a handler does one step ({@code accept4} one connection, {@code read} one
 * buffer) and returns; if there is more, the next {@code poll} calls it again. Nothing is lost
 * by stopping early, and one busy client cannot starve the others.
 *
 * <p><b>The write handler exists only while output is pending.</b> A socket is writable almost
 * all the time, so a permanently registered write handler would wake the loop on every
 * iteration for nothing. Each connection therefore echoes straight from its read handler and
 * registers {@code ioWrite} only when the kernel took part of the data ({@code write} returned
 * less, or {@code EAGAIN}); once the rest has gone out it registers the handler again without
 * {@code ioWrite}. Both changes go through {@link AioContext#setFdHandler}, which replaces the
 * fd's handler as a whole.
 *
 * <p><b>Back-pressure.</b> While a connection holds {@link #MAX_PENDING} bytes that the peer has
 * not taken, its {@code ioRead} is dropped too, so a client that sends without reading cannot
 * make the server buffer without limit; the kernel's socket buffers then push back on the client.
 *
 * <p><b>Closing.</b> At end of file a connection stops reading but first echoes what it still
 * holds, so a client that half-closes ({@code shutdown(SHUT_WR)}, or {@code nc -N}) gets
 * everything back. A connection leaves the context before its fd is closed: the fd monitor
 * must still be able to name the fd (epoll_ctl DEL) when the handler goes away.
 *
 * <p>Not thread-safe: construct it, and call everything, in the context's home thread.
 */
final class EchoServer {

    /** Unsent bytes at which a connection stops reading until the peer catches up. */
    static final int MAX_PENDING = 64 * 1024;
    private static final int READ_SIZE = 4096;

    private final AioContext ctx;
    private final int listenFd;
    private final int expectedClients;      // for the live output only; 0 = unknown
    private final PrintStream log;          // null = quiet
    private final Map<Integer, Connection> connections = new HashMap<>();

    private int accepted;
    private long bytesEchoed;
    private int writeHandlerAdds;
    private String lastMonitor;             // for the live output only

    /** Test seam: runs whenever a connection has to wait for its socket to become writable. */
    Runnable onOutputBlocked = () -> { };

    EchoServer(AioContext ctx, int listenFd, int expectedClients, PrintStream log) {
        this.ctx = ctx;
        this.listenFd = listenFd;
        this.expectedClients = expectedClients;
        this.log = log;
    }

    /** Starts accepting connections. */
    void start() {
        ctx.setFdHandler(listenFd, false, this::onAcceptable, null, null, null);
    }

    /** Stops accepting and closes every connection (their handlers go first). */
    void stop() {
        ctx.removeFdHandler(listenFd);
        for (Connection c : connections.values().toArray(new Connection[0])) {
            c.close("server stopping");
        }
    }

    int accepted() {
        return accepted;
    }

    int openConnections() {
        return connections.size();
    }

    long bytesEchoed() {
        return bytesEchoed;
    }

    /** How often a connection had to register its write handler. */
    int writeHandlerAdds() {
        return writeHandlerAdds;
    }

    // tag::echo-handlers[]
    /** ioRead of the listening socket: it is readable while a connection waits to be accepted. */
    private void onAcceptable() {
        int fd = Sockets.accept(listenFd);
        if (fd < 0) {
            return;                            // EAGAIN: another poll saw it first
        }
        accepted++;
        Connection c = new Connection(fd);
        connections.put(fd, c);
        live("accept  fd=%d  (client %d%s)", fd, accepted,
                expectedClients > 0 ? " of " + expectedClients : "");
        c.updateHandlers();
    }

    /** One client: its fd, and the bytes read from it that it has not taken back yet. */
    private final class Connection {
        final int fd;
        final byte[] in = new byte[READ_SIZE];
        byte[] out = new byte[READ_SIZE];      // pending output is out[0, outLen)
        int outLen;
        boolean peerDone;                      // end of file seen: no more input
        boolean reading;                       // what the registered handler has now
        boolean writing;

        Connection(int fd) {
            this.fd = fd;
        }

        /** Registers the handler this connection needs now, replacing the previous one. */
        void updateHandlers() {
            boolean wantRead = !peerDone && outLen < MAX_PENDING;
            boolean wantWrite = outLen > 0;
            if (wantRead == reading && wantWrite == writing) {
                return;                        // unchanged: don't churn the handler list
            }
            if (wantWrite && !writing) {
                writeHandlerAdds++;
            }
            reading = wantRead;
            writing = wantWrite;
            // Never both null (that would mean "remove"): callers close instead.
            ctx.setFdHandler(fd, false, wantRead ? this::onReadable : null,
                    wantWrite ? this::onWritable : null, null, null);
        }

        /** ioRead: the peer sent data, hung up, or the connection failed. */
        void onReadable() {
            int n;
            try {
                n = LibC.read(fd, in, in.length);
            } catch (LinuxException e) {       // e.g. ECONNRESET
                close(e.getMessage());
                return;
            }
            if (n < 0) {
                return;                        // EAGAIN: nothing after all
            }
            if (n == 0) {                      // end of file: the peer sends no more
                peerDone = true;
                if (outLen == 0) {
                    close("peer hung up");
                } else {
                    updateHandlers();          // stop reading; echo the rest, then close
                }
                return;
            }
            live("read    fd=%d  %d bytes -> %s", fd, n, writing ? "queue behind pending output" : "echo");
            if (outLen + n > out.length) {
                out = Arrays.copyOf(out, Math.max(2 * out.length, outLen + n));
            }
            System.arraycopy(in, 0, out, outLen, n);
            outLen += n;
            if (writing) {
                updateHandlers();              // the socket is full: onWritable sends it later
            } else {
                flush();
            }
        }

        /** ioWrite, registered only while output is pending: the socket has room again. */
        void onWritable() {
            flush();
        }

        /** Writes as much pending output as the socket takes, then adjusts the handler. */
        private void flush() {
            int pending = outLen;
            int n;
            try {
                n = LibC.write(fd, out, outLen);
            } catch (LinuxException e) {       // EPIPE, ECONNRESET: the peer is gone
                close(e.getMessage());
                return;
            }
            if (n > 0) {                       // -1 is EAGAIN: nothing went out
                System.arraycopy(out, n, out, 0, outLen - n);
                outLen -= n;
                bytesEchoed += n;
            }
            if (outLen == 0) {
                live("write   fd=%d  %d bytes%s", fd, n, writing ? "  (all sent: drop the write handler)" : "");
            } else {
                live("write   fd=%d  %d of %d bytes  (socket full: %s)", fd, Math.max(n, 0), pending,
                        writing ? "keep the write handler" : "add a write handler");
                if (!writing) {
                    onOutputBlocked.run();
                }
            }
            if (outLen == 0 && peerDone) {
                close("peer hung up, echo complete");
            } else {
                updateHandlers();
            }
        }

        void close(String why) {
            ctx.removeFdHandler(fd);           // leave the fd monitor first, then close
            connections.remove(fd);
            LibC.closeFd(fd);
            live("close   fd=%d  (%s)", fd, why);
        }
    }
    // end::echo-handlers[]

    private void live(String format, Object... args) {
        if (log == null) {
            return;
        }
        // The context changes monitors by itself, inside a wait: report it at the next event.
        String monitor = ctx.fdMonitorName();
        if (!monitor.equals(lastMonitor)) {
            if (lastMonitor != null) {
                log.println("[loop] switch  fd monitor " + lastMonitor + " -> " + monitor
                        + "  (the context watches " + AioContext.EPOLL_ENABLE_THRESHOLD + " fds or more)");
            }
            lastMonitor = monitor;
        }
        log.println("[loop] " + String.format(format, args));
    }
}
