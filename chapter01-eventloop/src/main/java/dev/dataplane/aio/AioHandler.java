package dev.dataplane.aio;

import dev.dataplane.aio.linux.LibC;

/**
 * One registration of a file descriptor with an {@link AioContext}: QEMU's {@code AioHandler}
 * ({@code util/aio-posix.h}).
 *
 * <p>Implementation notes.
 *
 * <p>A node's callbacks never change after it is published. Replacing a handler builds a new
 * node and retires the old one (QEMU fix {@code fef1660132}): a walker that already holds the
 * old node keeps seeing one consistent registration, never half of the old and half of the new.
 * The only mutable state is the loop's bookkeeping, owned by the home thread ({@code revents},
 * {@code pollReady}, {@code pollNs}, the poll-list membership) and {@link #deleted}, which any
 * thread may set under the list lock and every walker checks before each callback.
 *
 * <p>"Freeing" a node, which happens only once no walker can reach it, poisons it: its
 * callbacks are dropped and {@link #freed} is set. A use after free then fails loudly instead
 * of quietly calling a stale callback, which is what it would do in C on a good day.
 */
final class AioHandler {
    /** Readiness bits that make {@code ioRead} run (QEMU: G_IO_IN | G_IO_HUP | G_IO_ERR). */
    static final int READ_EVENTS = LibC.POLLIN | LibC.POLLHUP | LibC.POLLERR;
    /** Readiness bits that make {@code ioWrite} run (QEMU: G_IO_OUT | G_IO_ERR). */
    static final int WRITE_EVENTS = LibC.POLLOUT | LibC.POLLERR;

    final int fd;
    final boolean isExternal;
    /** True only for the context's own wake-up notifier: its activity is never progress. */
    final boolean isContextNotifier;
    /** The poll(2) events to watch, derived from which callbacks exist. */
    final int events;

    IoHandler ioRead;
    IoHandler ioWrite;
    AioPollFn ioPoll;
    IoHandler ioPollReady;
    // Poll begin/end are the one pair QEMU sets on an existing node (aio_set_fd_poll); they are
    // only ever called by the home thread, and volatile makes a late setter visible.
    volatile IoHandler ioPollBegin;
    volatile IoHandler ioPollEnd;

    /** Next node in the context's handler list. Walkers follow it without a lock. */
    volatile AioHandler next;

    /** Set (under the list lock) when the node is removed or replaced; never cleared. */
    volatile boolean deleted;
    /** Set once the node is unreachable and poisoned. */
    boolean freed;

    // ---- home-thread bookkeeping ----
    /** Events reported by the last wait, not yet dispatched. */
    int revents;
    /** Set when userspace polling found this handler ready. */
    boolean pollReady;
    /** The ready list this node is currently queued on (a nested poll may steal it). */
    Object readyOwner;
    /** Whether the node is on the context's list of handlers that are polled in userspace. */
    boolean onPollList;
    /** This handler's current polling window in ns (QEMU: {@code AioPolledEvent.ns}). */
    long pollNs;

    AioHandler(int fd, boolean isExternal, boolean isContextNotifier, IoHandler ioRead, IoHandler ioWrite,
               AioPollFn ioPoll, IoHandler ioPollReady) {
        this.fd = fd;
        this.isExternal = isExternal;
        this.isContextNotifier = isContextNotifier;
        this.ioRead = ioRead;
        this.ioWrite = ioWrite;
        this.ioPoll = ioPoll;
        this.ioPollReady = ioPollReady;
        this.events = (ioRead != null ? READ_EVENTS : 0) | (ioWrite != null ? WRITE_EVENTS : 0);
    }

    /** Drops every callback once the node can no longer be reached by any walker. */
    void poison() {
        freed = true;
        ioRead = null;
        ioWrite = null;
        ioPoll = null;
        ioPollReady = null;
        ioPollBegin = null;
        ioPollEnd = null;
    }

    @Override
    public String toString() {
        return "AioHandler[fd=" + fd + (isExternal ? ", external" : "") + (deleted ? ", deleted" : "") + "]";
    }
}
