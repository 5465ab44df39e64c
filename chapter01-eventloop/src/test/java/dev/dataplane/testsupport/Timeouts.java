package dev.dataplane.testsupport;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Generous upper bounds for tests that wait. They bound how long a broken build takes to say so,
 * not how long the work normally takes: a loaded two-core CI machine must never hit them when
 * the code is right.
 */
public final class Timeouts {

    /** A child JVM or tool (javac, the student-version script, later QEMU) running to completion. */
    public static final Duration CHILD_PROCESS = Duration.ofMinutes(3);

    /** A thread of the test's own reaching an agreed point (a latch, a join). */
    public static final Duration HANDSHAKE = Duration.ofSeconds(20);

    private Timeouts() {
    }

    /** Waits for {@code latch} at most {@link #HANDSHAKE}; fails the test if it does not open. */
    public static void await(CountDownLatch latch) {
        try {
            if (!latch.await(HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("timed out after " + HANDSHAKE + " waiting for a latch");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Joins {@code thread} at most {@link #HANDSHAKE}; fails the test if it is still running. */
    public static void join(Thread thread) {
        try {
            thread.join(HANDSHAKE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        if (thread.isAlive()) {
            throw new AssertionError("timed out after " + HANDSHAKE + " joining thread '" + thread.getName() + "'");
        }
    }
}
