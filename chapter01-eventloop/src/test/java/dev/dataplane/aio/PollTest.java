package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What {@code poll(blocking)} returns, where it may run, and the order of its phases. */
class PollTest {
    private final AioContext ctx = AioContext.builder().name("poll-test").build();
    private final List<EventNotifier> notifiers = new ArrayList<>();

    @AfterEach
    void tearDown() {
        ctx.close();
        notifiers.forEach(EventNotifier::close);
    }

    private EventNotifier notifier() {
        EventNotifier n = new EventNotifier();
        notifiers.add(n);
        return n;
    }

    @Test
    void aNonBlockingPollWithNothingReadyMakesNoProgress() {
        assertThat(ctx.poll(false)).isFalse();
        assertThat(ctx.poll(false)).isFalse();
    }

    @Test
    void aNonBlockingPollNeedsNoSystemCallWhenEveryHandlerCanBePolled() {
        // Only the context's notifier is registered and it has an io_poll: with nothing to
        // wait for and nothing that must be asked of the kernel, poll(false) stays in userspace.
        long waits = ctx.statistics().waits();
        ctx.poll(false);
        assertThat(ctx.statistics().waits()).isEqualTo(waits);
    }

    @Test
    void aNonBlockingPollAsksTheKernelWhenSomeHandlerCannotBePolled() {
        EventNotifier n = notifier();
        ctx.setEventNotifier(n, false, EventNotifier::testAndClear, null, null);
        long waits = ctx.statistics().waits();
        ctx.poll(false);
        assertThat(ctx.statistics().waits()).isEqualTo(waits + 1);
    }

    @Test
    void aBlockingPollWithOnlyTheNotifierReturnsFalseAfterANotifyFromAnotherThread() {
        CountDownLatch sleeping = new CountDownLatch(1);
        AioContext c = AioContext.builder().name("sleeper").probe(new PollProbe() {
            @Override
            public void beforeWait(AioContext x, int[] fds, long timeoutNs) {
                if (timeoutNs != 0) {
                    sleeping.countDown();
                }
            }
        }).build();
        try {
            // Bounds the sleep: if the kick were lost, the poll would end after 10 s, without
            // the notifier's drain, and the dispatch count below would be short by one.
            c.addEventSource(TestSources.fixedTimeout(10_000_000_000L));
            Thread kicker = new Thread(() -> {
                LoopThread.await(sleeping);
                c.notifyEvent();
            });
            kicker.start();
            c.poll(false); // accept the notification that the registrations made
            long dispatches = c.statistics().dispatches();
            assertThat(c.poll(true)).as("a wake-up alone is not progress").isFalse();
            assertThat(c.statistics().dispatches()).as("woken through the eventfd").isEqualTo(dispatches + 1);
            LoopThread.join(kicker);
        } finally {
            c.close();
        }
    }

    @Test
    void aBlockingPollReturnsTrueWhenAHandlerRan() {
        EventNotifier n = notifier();
        ctx.setEventNotifier(n, false, EventNotifier::testAndClear, null, null);
        n.set();
        assertThat(ctx.poll(true)).isTrue();
    }

    @Test
    void onlyTheHomeThreadMayPoll() throws Exception {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread other = new Thread(() -> {
            try {
                ctx.poll(false);
            } catch (Throwable t) {
                thrown.set(t);
            }
        }, "intruder");
        other.start();
        other.join();
        assertThat(thrown.get())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("intruder")
                .hasMessageContaining(Thread.currentThread().getName());
    }

    @Test
    void theHomeThreadCanBeHandedOver() throws Exception {
        AtomicReference<Boolean> result = new AtomicReference<>();
        Thread loop = new Thread(() -> result.set(ctx.poll(false)));
        ctx.setHomeThread(loop);
        loop.start();
        loop.join();
        assertThat(result.get()).isFalse();
        ctx.setHomeThread(Thread.currentThread());
    }

    @Test
    void sourcesRunBeforeAndAfterTheFdHandlersAsBottomHalvesAndTimersWill() {
        List<String> order = new ArrayList<>();
        EventNotifier n = notifier();
        ctx.setEventNotifier(n, false, e -> {
            e.testAndClear();
            order.add("handler");
        }, null, null);
        ctx.addEventSource(source(AioEventSource.Phase.BEFORE_HANDLERS, "bh", order));
        ctx.addEventSource(source(AioEventSource.Phase.AFTER_HANDLERS, "timer", order));
        n.set();
        assertThat(ctx.poll(true)).isTrue();
        assertThat(order).containsExactly("bh", "handler", "timer");
    }

    @Test
    void aSourceWithWorkKeepsABlockingPollFromSleeping() {
        AtomicInteger pending = new AtomicInteger(1);
        ctx.addEventSource(new AioEventSource() {
            @Override
            public long timeoutNs() {
                return pending.get() > 0 ? 0 : -1;
            }

            @Override
            public boolean dispatch() {
                return pending.getAndSet(0) > 0;
            }

            @Override
            public Phase phase() {
                return Phase.BEFORE_HANDLERS;
            }
        });
        assertThat(ctx.poll(true)).isTrue(); // would block forever if the source were not asked
        assertThat(pending).hasValue(0);
    }

    @Test
    void aSourceTimeoutBoundsTheSleep() {
        ctx.addEventSource(TestSources.fixedTimeout(2_000_000)); // 2 ms
        ctx.poll(false); // accept the notification that addEventSource made
        long start = System.nanoTime();
        assertThat(ctx.poll(true)).isFalse();
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(2_000_000);
    }

    @Test
    void aNestedPollRunsHandlersTheOuterPollHadQueuedExactlyOnce() {
        EventNotifier a = notifier();
        EventNotifier b = notifier();
        AtomicInteger aCalls = new AtomicInteger();
        AtomicInteger bCalls = new AtomicInteger();
        ctx.setEventNotifier(a, false, e -> {
            e.testAndClear();
            aCalls.incrementAndGet();
            ctx.poll(false); // nested: may dispatch b, which the outer poll also found ready
        }, null, null);
        TestSources.countReads(ctx, b, false, bCalls);
        a.set();
        b.set();
        assertThat(ctx.poll(false)).isTrue();
        assertThat(aCalls).hasValue(1);
        assertThat(bCalls).hasValue(1);
    }

    @Test
    void soonestTimeoutTreatsMinusOneAsInfinity() {
        assertThat(AioContext.soonestTimeout(-1, 5)).isEqualTo(5);
        assertThat(AioContext.soonestTimeout(5, -1)).isEqualTo(5);
        assertThat(AioContext.soonestTimeout(-1, -1)).isEqualTo(-1);
        assertThat(AioContext.soonestTimeout(0, 7)).isEqualTo(0);
        assertThat(AioContext.soonestTimeout(9, 7)).isEqualTo(7);
    }

    @Test
    void theContextCannotBeClosedFromInsideACallback() {
        EventNotifier n = notifier();
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        ctx.setEventNotifier(n, false, e -> {
            e.testAndClear();
            try {
                ctx.close();
            } catch (Throwable t) {
                thrown.set(t);
            }
        }, null, null);
        n.set();
        ctx.poll(false);
        assertThatThrownBy(() -> {
            throw thrown.get();
        }).isInstanceOf(IllegalStateException.class).hasMessageContaining("inside poll");
        ctx.removeEventNotifier(n);
    }

    private static AioEventSource source(AioEventSource.Phase phase, String name, List<String> order) {
        return new AioEventSource() {
            @Override
            public long timeoutNs() {
                return -1;
            }

            @Override
            public boolean dispatch() {
                order.add(name);
                return false;
            }

            @Override
            public Phase phase() {
                return phase;
            }
        };
    }
}
