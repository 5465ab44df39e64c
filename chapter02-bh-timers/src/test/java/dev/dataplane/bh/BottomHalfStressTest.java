package dev.dataplane.bh;

import static dev.dataplane.testsupport.Timeouts.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.testsupport.EventLoopThread;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Many threads scheduling into one loop at once, with real threads. A lost bottom half shows up as
 * a latch that never opens (bounded, so it fails instead of hanging); a duplicated one as a count
 * above one. {@link BottomHalfLincheckTest} explores the interleavings systematically; this test
 * adds the real eventfd wake-ups and a sleeping loop.
 */
class BottomHalfStressTest {
    private static final int THREADS = 4;

    @Test
    void oneshots_from_many_threads_each_run_exactly_once_in_the_home_thread() throws Exception {
        int perThread = 20_000;
        AtomicIntegerArray runs = new AtomicIntegerArray(THREADS * perThread);
        AtomicInteger wrongThread = new AtomicInteger();
        CountDownLatch all = new CountDownLatch(THREADS * perThread);
        try (EventLoopThread loop = new EventLoopThread("stress-oneshot")) {
            BottomHalves bhs = BottomHalves.of(loop.ctx);
            CyclicBarrier start = new CyclicBarrier(THREADS);
            Thread[] producers = new Thread[THREADS];
            for (int t = 0; t < THREADS; t++) {
                int base = t * perThread;
                producers[t] = new Thread(() -> {
                    awaitBarrier(start);
                    for (int i = 0; i < perThread; i++) {
                        int slot = base + i;
                        bhs.scheduleOneshot("op", () -> {
                            if (Thread.currentThread() != loop.thread()) {
                                wrongThread.incrementAndGet();
                            }
                            runs.incrementAndGet(slot);
                            all.countDown();
                        });
                    }
                });
                producers[t].start();
            }
            await(all);
            for (Thread p : producers) {
                p.join();
            }
            loop.runAndWait(() -> { }); // one more pass: a duplicate would have shown by now
        }
        for (int i = 0; i < runs.length(); i++) {
            assertThat(runs.get(i)).as("oneshot %d", i).isEqualTo(1);
        }
        assertThat(wrongThread).hasValue(0);
    }

    @Test
    void a_shared_bottom_half_scheduled_from_many_threads_never_misses_work_handed_to_it() throws Exception {
        // Each producer adds to a shared counter, then schedules; the callback takes what is
        // there. A schedule whose work the callback never takes would leave the total short.
        int perThread = 50_000;
        long expected = (long) THREADS * perThread;
        AtomicLong handedOver = new AtomicLong();
        AtomicLong taken = new AtomicLong();
        AtomicLong callbacks = new AtomicLong();
        CountDownLatch allTaken = new CountDownLatch(1);
        try (EventLoopThread loop = new EventLoopThread("stress-shared")) {
            BottomHalf consumer = BottomHalves.of(loop.ctx).newBh("consumer", () -> {
                callbacks.incrementAndGet();
                if (taken.addAndGet(handedOver.getAndSet(0)) == expected) {
                    allTaken.countDown();
                }
            });
            CyclicBarrier start = new CyclicBarrier(THREADS);
            Thread[] producers = new Thread[THREADS];
            for (int t = 0; t < THREADS; t++) {
                producers[t] = new Thread(() -> {
                    awaitBarrier(start);
                    for (int i = 0; i < perThread; i++) {
                        handedOver.incrementAndGet();
                        consumer.schedule();
                    }
                });
                producers[t].start();
            }
            await(allTaken);
            for (Thread p : producers) {
                p.join();
            }
            loop.runAndWait(consumer::delete);
        }
        assertThat(taken).hasValue(expected);
        assertThat(callbacks.get()).as("schedules coalesce while pending").isLessThanOrEqualTo(expected);
    }

    @Test
    void delete_from_another_thread_while_scheduled_frees_it_without_running() throws Exception {
        try (EventLoopThread loop = new EventLoopThread("stress-delete")) {
            BottomHalves bhs = BottomHalves.of(loop.ctx);
            AtomicInteger ranAfterDelete = new AtomicInteger();
            for (int round = 0; round < 1_000; round++) {
                int r = round;
                CountDownLatch held = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                // Hold the loop inside a oneshot so the victim is certainly still scheduled when
                // another thread deletes it.
                bhs.scheduleOneshot("hold", () -> {
                    held.countDown();
                    await(release);
                });
                await(held);
                BottomHalf victim = bhs.newBh("victim", ranAfterDelete::incrementAndGet);
                victim.schedule();
                Thread deleter = new Thread(victim::delete);
                deleter.start();
                deleter.join();
                release.countDown();
                // The victim shares a pass with the first of these (and runs after it: LIFO); the
                // second starts after that pass has ended.
                loop.runAndWait(() -> { });
                loop.runAndWait(() -> { });
                assertThat(victim.isFreed()).as("round %d", r).isTrue();
            }
            assertThat(ranAfterDelete).hasValue(0);
        }
    }

    private static void awaitBarrier(CyclicBarrier b) {
        try {
            b.await();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
