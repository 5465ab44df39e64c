package dev.dataplane.threadpool;

/**
 * Test-only hooks at the moments that decide the thread pool's races and its thread life cycle,
 * so a test can wait for exactly the state it needs (latches, not sleeps) or hold one thread where
 * another must act. Package-private; production pools have none. Hooks marked "under the lock" run
 * with the pool lock held and must not block.
 */
interface PoolProbe {
    PoolProbe NONE = new PoolProbe() {
    };

    /** {@code creator} has just started {@code worker} (under the lock). */
    default void workerCreated(Thread creator, Thread worker) {
    }

    /** The calling worker is about to wait for work, counted as idle (under the lock). */
    default void workerIdle() {
    }

    /** The calling worker is leaving its loop and will exit (under the lock). */
    default void workerExiting() {
    }

    /** A worker has stored DONE for {@code request} and scheduled the completion bottom half. */
    default void workerFinished(ThreadPoolRequest request) {
    }

    /**
     * The completion pass has called {@code request}'s callback and has not yet cancelled its own
     * bottom half. Home thread.
     */
    default void afterCallback(ThreadPoolRequest request) {
    }
}
