package dev.dataplane.aio;

/**
 * How an {@link AioContext} waits for its file descriptors: QEMU's {@code FDMonOps}
 * ({@code util/aio-posix.h}), with the same three operations.
 *
 * <ul>
 *   <li>{@link #update}: a handler was added, replaced or removed. Called with the handler
 *       list's mutex held, from any thread.
 *   <li>{@link #await}: wait up to {@code timeoutNs} for fds to become ready and queue the ready
 *       handlers. Called by the home thread as a walker of the handler list (count raised,
 *       mutex not held).
 *   <li>{@link #needWait}: must the loop call {@code await} even when it does not want to
 *       block? A monitor that cannot see fd readiness from userspace answers {@code true}
 *       whenever some handler cannot be polled, so that userspace polling never starves fds.
 * </ul>
 *
 * <p>Two implementations exist: {@link PollFdMonitor} (ppoll over a freshly built array) and
 * {@link EpollFdMonitor} (a kernel interest list). A context starts on ppoll and moves to epoll
 * once it watches many fds, as QEMU does. An io_uring monitor would be a third.
 */
interface FdMonitor {

    /** A short name for traces and tests: {@code "poll"} or {@code "epoll"}. */
    String name();

    /**
     * Tells the monitor that {@code oldNode} (null for a new fd) is replaced by {@code newNode}
     * (null for a removal). Called with the list mutex held.
     */
    void update(AioHandler oldNode, AioHandler newNode);

    /**
     * Waits up to {@code timeoutNs} (-1 forever, 0 just look) and queues ready handlers on
     * {@code ready}. Returns the number queued.
     */
    int await(ReadyList ready, long timeoutNs);

    /**
     * Waits up to {@code timeoutNs} until some fd may be ready, queueing nothing and touching
     * none of the state {@link #await} uses: the caller has let go of the context
     * ({@link HomeThreadRule#releaseForSleep}) and another thread may be polling it meanwhile.
     * The caller collects the ready handlers with {@code await(ready, 0)} afterwards.
     */
    void sleep(long timeoutNs);

    /** Whether {@link #await} must be called even with a zero timeout. */
    boolean needWait();

    /** Releases the monitor's own kernel objects. */
    void close();
}
