package dev.dataplane.threadpool;

/**
 * Bugs from the history of QEMU's thread pool that a test can put back into a {@link ThreadPool},
 * to show the failure on demand and the real code surviving the same scenario. Package-private:
 * only tests in this package can build a broken pool (through {@link ThreadPool#attach}).
 */
enum HistoricalBug {
    /**
     * The completion bottom half calls each callback without scheduling itself first, as before
     * {@code 3c80ca158c} (2014). Requests A and B are both DONE when the pass starts; A's callback
     * waits for B in a nested {@code poll}, but the bottom half that would complete B is running
     * (it is A's caller) and no longer scheduled, so the nested poll has nothing to run: it sleeps
     * for ever.
     */
    NO_RESCHEDULE_BEFORE_CALLBACK,

    /**
     * The completion pass cancels its own bottom half with a store that later loads can overtake,
     * as {@code qemu_bh_cancel} allowed until {@code ef6dada8b4} (2017). The walk's loads of the
     * requests' states are performed before the cancel's store is visible; a worker that finishes
     * a request in between finds the bottom half still scheduled and adds nothing; the cancel
     * then clears it and the walk acts on the stale state: the request is DONE and never
     * completed. The variant performs the loads first, on purpose, to show what the reordering
     * does.
     */
    CANCEL_WITHOUT_BARRIER
}
