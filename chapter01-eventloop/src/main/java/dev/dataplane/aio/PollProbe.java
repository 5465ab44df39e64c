package dev.dataplane.aio;

/**
 * Test-only hooks at the moments that decide the historical races: just before the loop makes
 * its waiting system call, and halfway through an in-place handler rewrite. A test uses them to
 * hold one thread at exactly the point where another must act, which turns a one-in-a-million
 * interleaving into a deterministic one. Package-private; production contexts have none.
 */
interface PollProbe {

    /**
     * The calling thread is about to wait in the kernel for up to {@code timeoutNs} (-1 forever)
     * on {@code fds} (the ppoll set; null when waiting on an epoll fd).
     */
    default void beforeWait(AioContext ctx, int[] fds, long timeoutNs) {
    }

    /** {@link HistoricalBug#REPLACE_HANDLER_IN_PLACE} has rewritten some fields of a node but not all. */
    default void midHandlerRewrite(AioContext ctx, int fd) {
    }
}
