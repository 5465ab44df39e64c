package dev.dataplane.iothread;

import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.testsupport.Timeouts;

/** Test helper: lets a thread that is about to end a wait make sure the waiter really waits. */
final class Waiters {
    private Waiters() {
    }

    /**
     * Spins (bounded) until somebody is inside {@code main}'s {@link AioWait#waitWhile} and is
     * polling the main context, i.e. it has tested its condition at least once and found it true.
     * Counting waiters alone is not enough: a waiter is counted just before it tests the condition,
     * so a condition changed at that moment ends the wait without a single poll.
     *
     * @param otherPollers how many polls of the main context are in progress anyway (1 while the
     *                     main loop sleeps in its own iteration and the waiter is another thread)
     */
    static void untilPolling(MainLoop main, int otherPollers) {
        long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
        while (main.aioWait().waiters() == 0
                || AioTestSeams.notifyMeCount(main.context()) < 2 * (otherPollers + 1)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("nobody started polling in a wait within " + Timeouts.HANDSHAKE);
            }
            Thread.onSpinWait();
        }
    }
}
