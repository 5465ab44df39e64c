package dev.dataplane.bh;

/**
 * Test-only hooks at the moments that decide the historical races, so a test can hold one thread
 * exactly where another must act. Package-private; production lists have none.
 */
interface BhProbe {
    BhProbe NONE = new BhProbe() {
    };

    /** {@code bh} has just been published on the list; its scheduler has not notified yet. */
    default void afterPublish(BottomHalf bh) {
    }

    /** The calling thread is about to walk the bottom halves (QEMU: entering {@code aio_bh_poll}). */
    default void beforeWalk() {
    }
}
