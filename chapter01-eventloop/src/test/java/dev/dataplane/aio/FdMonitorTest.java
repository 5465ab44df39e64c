package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext.FdMonitorKind;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/** The two ways of waiting (ppoll, epoll) and the switch between them. */
class FdMonitorTest {

    @ParameterizedTest
    @EnumSource(value = FdMonitorKind.class, names = {"POLL", "EPOLL"})
    void bothMonitorsDispatchReadyHandlersAndForgetRemovedOnes(FdMonitorKind kind) {
        try (AioContext ctx = AioContext.builder().fdMonitor(kind).build();
             EventNotifier a = new EventNotifier(); EventNotifier b = new EventNotifier()) {
            assertThat(ctx.fdMonitorName()).isEqualTo(kind == FdMonitorKind.POLL ? "poll" : "epoll");
            AtomicInteger aCalls = new AtomicInteger();
            AtomicInteger bCalls = new AtomicInteger();
            TestSources.countReads(ctx, a, false, aCalls);
            TestSources.countReads(ctx, b, false, bCalls);
            a.set();
            assertThat(ctx.poll(true)).isTrue();
            assertThat(aCalls).hasValue(1);
            assertThat(bCalls).hasValue(0);

            // replaced: the new callback runs
            AtomicInteger replaced = new AtomicInteger();
            TestSources.countReads(ctx, b, false, replaced);
            b.set();
            assertThat(ctx.poll(true)).isTrue();
            assertThat(replaced).hasValue(1);
            assertThat(bCalls).hasValue(0);

            // removed: never again, even though it stays readable
            ctx.removeEventNotifier(a);
            a.set();
            assertThat(ctx.poll(false)).isFalse();
            assertThat(aCalls).hasValue(1);
            ctx.removeEventNotifier(b);
        }
    }

    @ParameterizedTest
    @EnumSource(value = FdMonitorKind.class, names = {"POLL", "EPOLL"})
    void bothMonitorsHonourATimeout(FdMonitorKind kind) {
        try (AioContext ctx = AioContext.builder().fdMonitor(kind).build()) {
            ctx.addEventSource(TestSources.fixedTimeout(1_500_000));
            ctx.poll(false);
            long start = System.nanoTime();
            assertThat(ctx.poll(true)).isFalse();
            assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(1_500_000);
        }
    }

    @Test
    void aContextMovesFromPpollToEpollOnceItWatchesManyFds() {
        List<EventNotifier> notifiers = new ArrayList<>();
        try (AioContext ctx = new AioContext()) {
            AtomicInteger calls = new AtomicInteger();
            for (int i = 0; i < AioContext.EPOLL_ENABLE_THRESHOLD; i++) {
                EventNotifier n = new EventNotifier();
                notifiers.add(n);
                TestSources.countReads(ctx, n, false, calls);
            }
            assertThat(ctx.fdMonitorName()).isEqualTo("poll");
            ctx.poll(false); // 65 fds with the context's own: the wait switches
            assertThat(ctx.fdMonitorName()).isEqualTo("epoll");

            notifiers.get(7).set();
            notifiers.get(42).set();
            while (calls.get() < 2) {
                ctx.poll(true);
            }
            assertThat(calls).hasValue(2);
            notifiers.forEach(ctx::removeEventNotifier);
        } finally {
            notifiers.forEach(EventNotifier::close);
        }
    }

    @Test
    void thePollOnlyMonitorNeverSwitches() {
        List<EventNotifier> notifiers = new ArrayList<>();
        try (AioContext ctx = AioContext.builder().fdMonitor(FdMonitorKind.POLL).build()) {
            for (int i = 0; i < 2 * AioContext.EPOLL_ENABLE_THRESHOLD; i++) {
                EventNotifier n = new EventNotifier();
                notifiers.add(n);
                ctx.setEventNotifier(n, false, EventNotifier::testAndClear, null, null);
            }
            ctx.poll(false);
            assertThat(ctx.fdMonitorName()).isEqualTo("poll");
            notifiers.forEach(ctx::removeEventNotifier);
        } finally {
            notifiers.forEach(EventNotifier::close);
        }
    }

    /**
     * QEMU e62da98527: the loop copies its handlers into epoll while another thread adds one;
     * without the list lock around the switch the newcomer lands in the old monitor and is never
     * watched. Every handler registered here must fire.
     */
    @Test
    void handlersRegisteredWhileTheLoopSwitchesToEpollAreNotLost() {
        int total = 300;
        List<EventNotifier> notifiers = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            notifiers.add(new EventNotifier());
        }
        CountDownLatch allFired = new CountDownLatch(total);
        try (LoopThread loop = new LoopThread("switching", b -> b.epollThreshold(16))) {
            Thread registrar = new Thread(() -> {
                for (EventNotifier n : notifiers) {
                    n.set(); // ready before it is even registered
                    loop.ctx.setEventNotifier(n, false, e -> {
                        if (e.testAndClear()) {
                            allFired.countDown();
                        }
                    }, null, null);
                }
            });
            registrar.start();
            LoopThread.join(registrar);
            LoopThread.await(allFired);
            assertThat(loop.ctx.fdMonitorName()).isEqualTo("epoll");
            loop.runAndWait(() -> notifiers.forEach(loop.ctx::removeEventNotifier));
            assertThat(loop.failure()).isNull();
        } finally {
            notifiers.forEach(EventNotifier::close);
        }
    }

    @Test
    void aNestedPollDoesNotSwitchToEpoll() {
        List<EventNotifier> extra = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            extra.add(new EventNotifier());
        }
        try (AioContext ctx = AioContext.builder().epollThreshold(8).build();
             EventNotifier trigger = new EventNotifier()) {
            String[] inside = new String[1];
            ctx.setEventNotifier(trigger, false, e -> {
                e.testAndClear();
                extra.forEach(x -> ctx.setEventNotifier(x, false, EventNotifier::testAndClear, null, null));
                ctx.poll(false);                         // a nested ppoll over 10 fds
                inside[0] = ctx.fdMonitorName();
            }, null, null);
            trigger.set();
            ctx.poll(false);
            assertThat(inside[0]).as("monitor after the nested poll").isEqualTo("poll");
            ctx.poll(false);
            assertThat(ctx.fdMonitorName()).as("the outermost poll switches").isEqualTo("epoll");
            extra.forEach(ctx::removeEventNotifier);
            ctx.removeEventNotifier(trigger);
        } finally {
            extra.forEach(EventNotifier::close);
        }
    }

    @Test
    void whileExternalIsDisabledAnEpollContextWaitsWithoutTheGuestFd() {
        List<int[]> sets = Collections.synchronizedList(new ArrayList<>());
        AioContext ctx = AioContext.builder().fdMonitor(AioContext.FdMonitorKind.EPOLL).probe(new PollProbe() {
            @Override
            public void beforeWait(AioContext c, int[] fds, long timeoutNs) {
                sets.add(fds);
            }
        }).build();
        try (EventNotifier guest = new EventNotifier()) {
            ctx.setEventNotifier(guest, true, EventNotifier::testAndClear, null, null);
            ctx.disableExternal();
            guest.set();
            sets.clear();
            assertThat(ctx.poll(false)).isFalse();
            assertThat(sets).hasSize(1);
            assertThat(sets.get(0)).as("a ppoll set, without the paused guest fd").isNotNull()
                    .doesNotContain(guest.fd());
            ctx.enableExternal();
            ctx.removeEventNotifier(guest);
        } finally {
            ctx.close();
        }
    }
}
