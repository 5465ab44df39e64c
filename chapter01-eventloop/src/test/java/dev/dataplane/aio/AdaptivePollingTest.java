package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Userspace busy polling with per-handler windows (QEMU: try_poll_mode, adjust_polling_time). */
class AdaptivePollingTest {
    static final long MAX = 32_768;

    /** The window rule itself. Exercise {@code ch01-poll-window} is graded by these tests. */
    @Nested
    @Tag("ch01-poll-window")
    class WindowRule {
        @Test
        void anEventWithinTheWindowKeepsIt() {
            assertThat(AioContext.adjustPollNs(8_000, 8_000, MAX, 0, 0)).isEqualTo(8_000);
            assertThat(AioContext.adjustPollNs(8_000, 100, MAX, 0, 0)).isEqualTo(8_000);
        }

        @Test
        void aHandlerThatNeverPolledStartsAtFourMicroseconds() {
            assertThat(AioContext.adjustPollNs(0, 1_000, MAX, 0, 0)).isEqualTo(4_000);
        }

        @Test
        void aLateButCatchableEventDoublesTheWindowByDefault() {
            assertThat(AioContext.adjustPollNs(4_000, 6_000, MAX, 0, 0)).isEqualTo(8_000);
        }

        @Test
        void aCustomGrowFactorIsUsed() {
            assertThat(AioContext.adjustPollNs(4_000, 6_000, MAX, 3, 0)).isEqualTo(12_000);
        }

        @Test
        void growingNeverPassesTheMaximum() {
            assertThat(AioContext.adjustPollNs(20_000, 30_000, MAX, 0, 0)).isEqualTo(MAX);
        }

        @Test
        void anEventLaterThanTheMaximumDropsTheWindowToZeroByDefault() {
            assertThat(AioContext.adjustPollNs(16_000, MAX + 1, MAX, 0, 0)).isZero();
        }

        @Test
        void aShrinkFactorDividesInstead() {
            assertThat(AioContext.adjustPollNs(16_000, MAX + 1, MAX, 0, 4)).isEqualTo(4_000);
        }

        @Test
        void aWindowAlreadyAtTheMaximumStaysThere() {
            assertThat(AioContext.adjustPollNs(MAX, MAX, MAX, 0, 0)).isEqualTo(MAX);
        }
    }

    @Test
    void aHandlerJoinsPollingOnlyAfterItsFirstEventAndItsWindowThenGrows() {
        try (AioContext ctx = new AioContext(); EventNotifier n = new EventNotifier()) {
            ctx.setPollParams(10_000_000_000L, 0, 0); // a huge max, so the first event "was catchable"
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, () -> false, e -> { });
            ctx.poll(false);
            assertThat(ctx.pollNsOf(n.fd())).isZero();
            n.set();
            ctx.poll(true);
            assertThat(ctx.pollNsOf(n.fd())).isEqualTo(AioContext.INITIAL_POLL_NS);
            ctx.removeEventNotifier(n);
        }
    }

    @Test
    void pollingFindsAReadyHandlerWithoutASystemCall() {
        try (AioContext ctx = new AioContext(); EventNotifier n = new EventNotifier()) {
            AtomicBoolean work = new AtomicBoolean();
            AtomicInteger ready = new AtomicInteger();
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, work::get, e -> {
                work.set(false);
                ready.incrementAndGet();
            });
            TestSources.dispatchThroughFd(ctx, n); // the first event arrives through the fd
            assertThat(ctx.pollNsOf(n.fd())).isPositive();

            work.set(true); // the next one is only visible to the poll function: no fd write
            long waits = ctx.statistics().waits();
            long hits = ctx.statistics().pollModeHits();
            assertThat(ctx.poll(true)).isTrue();
            assertThat(ready).hasValue(1);
            assertThat(ctx.statistics().waits()).as("system calls").isEqualTo(waits);
            assertThat(ctx.statistics().pollModeHits()).isEqualTo(hits + 1);
            ctx.removeEventNotifier(n);
        }
    }

    @Test
    void afterAFruitlessWindowTheLoopEndsPollModeAndSleepsWithoutATimeout() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch sleeping = new CountDownLatch(1);
        AtomicInteger polls = new AtomicInteger();
        AtomicInteger pollsWhenSleeping = new AtomicInteger(-1);
        PollProbe probe = new PollProbe() {
            @Override
            public void beforeWait(AioContext c, int[] fds, long timeoutNs) {
                events.add("wait(" + timeoutNs + ")");
                if (timeoutNs == -1) {
                    pollsWhenSleeping.set(polls.get());
                    sleeping.countDown();
                }
            }
        };
        AioContext ctx = AioContext.builder().probe(probe).build();
        try (EventNotifier n = new EventNotifier()) {
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, () -> {
                polls.incrementAndGet();
                return false;
            }, e -> { });
            ctx.setEventNotifierPoll(n, e -> events.add("begin"), e -> events.add("end"));
            TestSources.dispatchThroughFd(ctx, n); // joins polling with a 4 µs window
            events.clear();
            polls.set(0);

            Thread waker = new Thread(() -> {
                LoopThread.await(sleeping);
                n.set();
            });
            waker.start();
            assertThat(ctx.poll(true)).isTrue();
            LoopThread.join(waker);

            // begin, busy polling for the window, end (plus one last look), then a wait with
            // no timeout at all: the thread sleeps in the kernel instead of spinning.
            assertThat(events).containsExactly("begin", "end", "wait(-1)");
            assertThat(pollsWhenSleeping.get()).as("io_poll calls before sleeping").isGreaterThanOrEqualTo(2);
            assertThat(polls.get()).as("no polling while asleep").isEqualTo(pollsWhenSleeping.get());
            ctx.removeEventNotifier(n);
        } finally {
            ctx.close();
        }
    }

    @Test
    void aHandlerWithoutAPollFunctionTurnsPollingOffForTheWholeContext() {
        try (AioContext ctx = new AioContext(); EventNotifier polled = new EventNotifier();
             EventNotifier plain = new EventNotifier()) {
            AtomicInteger polls = new AtomicInteger();
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(polled, false, EventNotifier::testAndClear, () -> {
                polls.incrementAndGet();
                return false;
            }, e -> { });
            TestSources.dispatchThroughFd(ctx, polled);
            polls.set(0);

            ctx.setEventNotifier(plain, false, EventNotifier::testAndClear, null, null);
            plain.set();
            ctx.poll(true);
            // Polling only the first would starve the second, which ppoll alone can see.
            assertThat(polls).hasValue(0);
            ctx.removeEventNotifier(plain);
            ctx.removeEventNotifier(polled);
        }
    }

    @Test
    void settingPollParametersResetsEveryWindow() {
        try (AioContext ctx = new AioContext(); EventNotifier n = new EventNotifier()) {
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, () -> false, e -> { });
            TestSources.dispatchThroughFd(ctx, n);
            assertThat(ctx.pollNsOf(n.fd())).isPositive();
            ctx.setPollParams(MAX, 2, 2);
            assertThat(ctx.pollNsOf(n.fd())).isZero();
            assertThat(ctx.pollMaxNs()).isEqualTo(MAX);
            ctx.removeEventNotifier(n);
        }
    }

    @Test
    void aPollReadyCallbackThatPollsAgainIsNotReenteredByABlockingNestedPoll() {
        try (AioContext ctx = new AioContext(); EventNotifier n = new EventNotifier()) {
            AtomicBoolean work = new AtomicBoolean();
            AtomicInteger depth = new AtomicInteger();
            AtomicInteger maxDepth = new AtomicInteger();
            ctx.addEventSource(TestSources.fixedTimeout(1_000_000L)); // bounds the nested sleep: 1 ms
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, work::get, e -> {
                int d = depth.incrementAndGet();
                maxDepth.accumulateAndGet(d, Math::max);
                if (d == 1) {
                    ctx.poll(true);                      // busy-polls and takes a last look
                }
                work.set(false);
                depth.decrementAndGet();
            });
            TestSources.dispatchThroughFd(ctx, n);
            work.set(true);
            ctx.poll(true);
            assertThat(maxDepth).hasValue(1);
            ctx.removeEventNotifier(n);
        }
    }

    @Test
    void anEventRaisedAsPollModeEndsIsCaughtByTheLastLook() {
        try (AioContext ctx = new AioContext(); EventNotifier n = new EventNotifier()) {
            AtomicBoolean work = new AtomicBoolean();
            AtomicInteger ready = new AtomicInteger();
            ctx.addEventSource(TestSources.fixedTimeout(5_000_000_000L)); // bounds a wrongful sleep
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, work::get, e -> {
                work.set(false);
                ready.incrementAndGet();
            });
            TestSources.dispatchThroughFd(ctx, n); // joins polling
            // The device posts its request exactly while notifications are re-enabled, and
            // (like a virtqueue whose guest saw notifications still off) does not kick the fd.
            ctx.setEventNotifierPoll(n, null, e -> work.set(true));
            assertThat(ctx.poll(true)).isTrue();
            assertThat(ready).hasValue(1);
            ctx.removeEventNotifier(n);
        }
    }
}
