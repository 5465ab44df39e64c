package dev.dataplane.aio;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** Test helpers: small event sources and probes that several tests need. */
final class TestSources {
    private TestSources() {
    }

    /** A source that never has work but lets a blocking poll sleep at most {@code ns}. */
    static AioEventSource fixedTimeout(long ns) {
        return new AioEventSource() {
            @Override
            public long timeoutNs() {
                return ns;
            }

            @Override
            public boolean dispatch() {
                return false;
            }

            @Override
            public Phase phase() {
                return Phase.AFTER_HANDLERS;
            }
        };
    }

    /** A probe that counts {@code latch} down whenever a poll is about to sleep without a timeout. */
    static PollProbe onSleep(CountDownLatch latch) {
        return new PollProbe() {
            @Override
            public void beforeWait(AioContext ctx, int[] fds, long timeoutNs) {
                if (timeoutNs == -1) {
                    latch.countDown();
                }
            }
        };
    }

    /** Registers {@code n} with a read handler that clears it and counts the call in {@code calls}. */
    static void countReads(AioContext ctx, EventNotifier n, boolean isExternal, AtomicInteger calls) {
        ctx.setEventNotifier(n, isExternal, e -> {
            e.testAndClear();
            calls.incrementAndGet();
        }, null, null);
    }

    /**
     * Accepts whatever notifications registrations left pending, makes {@code n} ready and runs
     * one blocking poll: {@code n}'s handler is dispatched through its fd and, if it has a poll
     * function, joins userspace polling (its first window opens when polling is enabled).
     */
    static void dispatchThroughFd(AioContext ctx, EventNotifier n) {
        ctx.poll(false);
        n.set();
        ctx.poll(true);
    }
}
