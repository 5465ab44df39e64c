package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Collections;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The notifyMe / notified protocol: when a notification needs the eventfd, when it does not,
 * and that no wake-up is ever lost. Exercise {@code ch01-notify} is graded by these tests.
 */
@Tag("ch01-notify")
class NotifyProtocolTest {

    @Test
    void notifyingAContextThatNobodyPollsSkipsTheSystemCall() {
        try (AioContext ctx = new AioContext()) {
            ctx.notifyEvent();
            assertThat(ctx.isNotified()).isTrue();
            assertThat(ctx.contextNotifier().testAndClear())
                    .as("eventfd written although no poll could be sleeping").isFalse();
        }
    }

    @Test
    void aNotificationIsRememberedUntilThePollThatAcceptsIt() {
        try (AioContext ctx = new AioContext()) {
            // Bounds the sleep if the notification is lost, so a broken solution fails, not hangs.
            ctx.addEventSource(TestSources.fixedTimeout(5_000_000_000L));
            ctx.poll(false); // accept the notification that addEventSource made
            ctx.notifyEvent();
            long waits = ctx.statistics().waits();
            // Must not sleep: the notification happened before the poll announced itself.
            assertThat(ctx.poll(true)).isFalse();
            assertThat(ctx.statistics().waits()).as("no wait in the kernel").isEqualTo(waits);
            assertThat(ctx.isNotified()).as("accepted by that poll").isFalse();
        }
    }

    @Test
    void notifyingASleepingPollWritesTheEventfdAndWakesIt() {
        CountDownLatch sleeping = new CountDownLatch(1);
        AioContext ctx = AioContext.builder().probe(new PollProbe() {
            @Override
            public void beforeWait(AioContext c, int[] fds, long timeoutNs) {
                if (timeoutNs != 0) { // about to sleep (bounded by the 10 s source below)
                    assertThat(c.notifyMeCount()).as("announced before sleeping").isEqualTo(2);
                    sleeping.countDown();
                }
            }
        }).build();
        try {
            // Bounds the sleep if the kick never writes the eventfd: then the dispatch count
            // below is short by one and the test fails after 10 s instead of hanging.
            ctx.addEventSource(TestSources.fixedTimeout(10_000_000_000L));
            Thread kicker = new Thread(() -> {
                LoopThread.await(sleeping);
                ctx.notifyEvent();
            });
            kicker.start();
            ctx.poll(false); // every registration notifies: accept that one first
            long dispatches = ctx.statistics().dispatches();
            assertThat(ctx.poll(true)).isFalse();
            LoopThread.join(kicker);
            // The only callback that ran is the notifier draining its eventfd: it was written.
            assertThat(ctx.statistics().dispatches()).isEqualTo(dispatches + 1);
            assertThat(ctx.notifyMeCount()).as("withdrawn after waking").isZero();
        } finally {
            ctx.close();
        }
    }

    /**
     * A stress harness over the real protocol: producers publish work to an event source and
     * notify, the loop sleeps whenever it finds nothing. A single lost wake-up leaves the loop
     * asleep with work queued, and the join times out.
     */
    @Test
    void noWakeUpIsLostUnderConcurrentNotifiers() throws Exception {
        int producers = 4;
        int itemsEach = 20_000;
        for (int round = 0; round < 3; round++) {
            WorkQueue queue = new WorkQueue();
            long[] consumed = {0}; // only the loop thread counts
            AtomicLong done = new AtomicLong();
            AioContext[] holder = new AioContext[1];
            CyclicBarrier go = new CyclicBarrier(producers + 1);
            Thread loop = new Thread(() -> {
                AioContext ctx = holder[0];
                while (consumed[0] < (long) producers * itemsEach) {
                    ctx.poll(true);
                }
                done.set(consumed[0]);
            }, "consumer");
            holder[0] = AioContext.builder().name("stress").homeThread(loop).build();
            holder[0].addEventSource(queue);
            List<Thread> threads = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                Thread t = new Thread(() -> {
                    await(go);
                    for (int i = 0; i < itemsEach; i++) {
                        queue.add(() -> consumed[0]++);
                        holder[0].notifyEvent();
                    }
                }, "producer-" + p);
                threads.add(t);
                t.start();
            }
            loop.start();
            await(go);
            for (Thread t : threads) {
                LoopThread.join(t);
            }
            LoopThread.join(loop); // hangs (and fails) on a lost wake-up
            assertThat(done.get()).isEqualTo((long) producers * itemsEach);
            holder[0].setHomeThread(Thread.currentThread());
            holder[0].close();
        }
    }

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aNotificationMadeDuringDispatchKeepsTheNextPollAwake() {
        List<Long> timeouts = Collections.synchronizedList(new ArrayList<>());
        AioContext ctx = AioContext.builder().probe(new PollProbe() {
            @Override
            public void beforeWait(AioContext c, int[] fds, long timeoutNs) {
                timeouts.add(timeoutNs);
            }
        }).build();
        try (EventNotifier n = new EventNotifier()) {
            ctx.addEventSource(TestSources.fixedTimeout(5_000_000_000L)); // bounds a wrongful sleep
            ctx.setEventNotifier(n, false, e -> {
                e.testAndClear();
                ctx.notifyEvent();                       // nobody is about to sleep: flag only
            }, null, null);
            n.set();
            assertThat(ctx.poll(false)).isTrue();
            assertThat(ctx.isNotified()).as("notification from the handler still pending").isTrue();
            timeouts.clear();
            ctx.poll(true);
            assertThat(timeouts).as("the next blocking poll looks without sleeping").containsExactly(0L);
            ctx.removeEventNotifier(n);
        } finally {
            ctx.close();
        }
    }
}
