package dev.dataplane.block;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.testsupport.Timeouts;

/** Small shared test helpers. */
public final class TestThreads {
    private TestThreads() {
    }

    /** Joins {@code t}, bounded by HANDSHAKE, and fails if it is still running. */
    public static void join(Thread t) {
        try {
            t.join(Timeouts.HANDSHAKE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assertThat(t.isAlive()).isFalse();
    }
}
