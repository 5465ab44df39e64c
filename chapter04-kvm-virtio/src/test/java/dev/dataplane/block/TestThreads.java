package dev.dataplane.block;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.testsupport.Timeouts;

/** Small shared test helpers. */
final class TestThreads {
    private TestThreads() {
    }

    static void join(Thread t) {
        try {
            t.join(Timeouts.HANDSHAKE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assertThat(t.isAlive()).isFalse();
    }
}
