package dev.dataplane.iothread;

/**
 * Bugs from QEMU's history that chapter 3's tests put back, to show the failure on demand and the
 * real code surviving the same scenario. Package-private: no production code can switch one on.
 */
enum HistoricalBug {
    /**
     * {@link IoThread#stop()} sets the loop's flag and kicks the context instead of scheduling a
     * oneshot bottom half (fixed by {@code 2362a28ea1}, 2017). With QEMU's notify of the time
     * (chapter 1's {@code KICK_ONLY_WHEN_SLEEPING}) a kick that lands between the thread's check of
     * the flag and its next {@code poll(true)} is lost, and the join hangs.
     */
    STOP_FLAG_AND_KICK,

    /**
     * A thread without a context of its own counts as a main-loop thread even without the BQL
     * (fixed by {@code 3c18a92dc4}, 2020, and {@code 5f50be9b58}, 2021): the migration thread's
     * {@code AIO_WAIT_WHILE} polled the main context while the main loop was running it.
     */
    POLL_MAIN_WITHOUT_BQL
}
