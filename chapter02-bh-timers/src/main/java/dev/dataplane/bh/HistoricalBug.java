package dev.dataplane.bh;

/**
 * Bugs from QEMU's bottom-half history that a test can put back into a {@link BottomHalves}, to
 * show the failure on demand and the real code surviving the same scenario. Package-private:
 * only tests in this package can build a broken list (through {@link BottomHalves#attach}).
 */
enum HistoricalBug {
    /**
     * The walker keeps its own cursor into the list across a callback (fixed by
     * {@code 7887f6201f} and {@code 648fb0ea5e}, 2011): a nested poll started from the callback
     * frees a deleted bottom half that the outer walker's cursor still points at.
     */
    WALKER_CACHES_NEXT,

    /**
     * {@code schedule()} reads the bottom half's context after publishing it (fixed by
     * {@code 924fe1293c}, 2014): by then the home thread may have run the bottom half and freed it.
     */
    READ_OWNER_AFTER_PUBLISH,

    /**
     * The loop's clear of the scheduled flag becomes visible only after the callback returns, as
     * the weak barriers of 2015 allowed (fixed by {@code e8d3b1a25f}): a producer that schedules
     * during the callback sees the flag still set, adds nothing, and its work is never run.
     */
    LATE_SCHEDULED_CLEAR,

    /**
     * {@code schedule()} skips the wake-up when the bottom half was already scheduled or when some
     * thread is running bottom halves (the {@code ctx->dispatching} shortcut, fixed by
     * {@code eabc977973}, 2015): the question "is anyone dispatching?" lets a loop that sleeps in
     * another thread sleep on.
     */
    DISPATCHING_SHORTCUT
}
