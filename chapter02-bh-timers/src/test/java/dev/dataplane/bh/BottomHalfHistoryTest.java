package dev.dataplane.bh;

import static dev.dataplane.testsupport.Timeouts.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.AioContext;
import dev.dataplane.testsupport.Timeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Bugs from QEMU's bottom-half history, put back through {@link HistoricalBug}: each scenario
 * is driven into the failure deterministically (a held thread, not a lucky schedule), and the
 * real code passes the same scenario. The 2015 {@code ctx->dispatching} hang has its own class,
 * {@link DispatchingShortcutTest}.
 */
class BottomHalfHistoryTest {
    private final List<String> ran = new ArrayList<>();

    // ---- 2011: a nested pass frees a bottom half the outer walker still points at ----

    // tag::nested-free[]
    private void nestedPassDeletesTheNextBottomHalf(AioContext ctx, BottomHalves bhs) {
        AtomicReference<BottomHalf> b = new AtomicReference<>();
        BottomHalf a = bhs.newBh("a", () -> {
            ran.add("a");
            b.get().delete();   // b is next in this very slice
            ctx.poll(false);    // ... and a nested pass frees it
        });
        b.set(bhs.newBh("b", () -> ran.add("b")));
        BottomHalf c = bhs.newBh("c", () -> ran.add("c"));
        c.schedule();
        b.get().schedule();
        a.schedule();           // the slice is a, b, c
        ctx.poll(false);
    }
    // end::nested-free[]

    @Test
    void a_walker_that_caches_its_next_pointer_visits_a_bottom_half_a_nested_pass_freed() {
        try (AioContext ctx = AioContext.builder().name("2011-broken").build()) {
            BottomHalves bhs = BottomHalves.attach(ctx, BhProbe.NONE, HistoricalBug.WALKER_CACHES_NEXT);
            assertThatThrownBy(() -> nestedPassDeletesTheNextBottomHalf(ctx, bhs))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("bottom half 'b' used after it was freed");
        }
    }

    @Test
    void taking_each_bottom_half_off_the_shared_slice_survives_the_same_nested_pass() {
        try (AioContext ctx = AioContext.builder().name("2011-fixed").build()) {
            nestedPassDeletesTheNextBottomHalf(ctx, BottomHalves.of(ctx));
            assertThat(ran).containsExactly("a", "c");
        }
    }

    // ---- 2014: schedule() reads the bottom half's context after publishing it ----

    /** Thread S schedules a oneshot and is held right after publishing it while the loop runs and frees it. */
    private Throwable scheduleRacesWithRunAndFree(HistoricalBug... bugs) throws InterruptedException {
        CountDownLatch published = new CountDownLatch(1);
        CountDownLatch freed = new CountDownLatch(1);
        AtomicReference<Thread> scheduler = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        try (AioContext ctx = AioContext.builder().name("2014").build()) {
            BottomHalves bhs = BottomHalves.attach(ctx, new BhProbe() {
                @Override
                public void afterPublish(BottomHalf bh) {
                    if (Thread.currentThread() == scheduler.get()) {
                        published.countDown();
                        await(freed);
                    }
                }
            }, bugs);
            Thread s = new Thread(() -> {
                try {
                    bhs.scheduleOneshot("reply", () -> ran.add("reply"));
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "scheduler");
            scheduler.set(s);
            s.start();
            await(published);
            ctx.poll(false); // runs the oneshot and frees it while S is between publish and notify
            assertThat(ran).containsExactly("reply");
            freed.countDown();
            s.join(Timeouts.HANDSHAKE.toMillis());
            ctx.poll(false); // accept S's notification, if it made one
        }
        return failure.get();
    }

    @Test
    void reading_the_context_after_publishing_touches_a_freed_bottom_half() throws InterruptedException {
        assertThat(scheduleRacesWithRunAndFree(HistoricalBug.READ_OWNER_AFTER_PUBLISH))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("bottom half 'reply' used after it was freed");
    }

    @Test
    void reading_the_context_before_publishing_survives_the_same_race() throws InterruptedException {
        assertThat(scheduleRacesWithRunAndFree()).isNull();
    }

    // ---- 2015: weak barriers let the loop's clear of SCHEDULED land after the callback ----

    private record Outcome(List<String> processed, List<String> leftInQueue, boolean scheduled, long timeoutNs) {
    }

    /**
     * A consumer bottom half drains a queue. While its callback runs, a producer queues more work
     * and schedules it. Afterwards the loop makes a few more non-blocking polls.
     */
    private Outcome producerSchedulesDuringTheCallback(HistoricalBug... bugs) throws InterruptedException {
        ConcurrentLinkedQueue<String> queue = new ConcurrentLinkedQueue<>();
        List<String> processed = new ArrayList<>();
        CountDownLatch inCallback = new CountDownLatch(1);
        CountDownLatch produced = new CountDownLatch(1);
        try (AioContext ctx = AioContext.builder().name("2015-barriers").build()) {
            BottomHalves bhs = BottomHalves.attach(ctx, BhProbe.NONE, bugs);
            BottomHalf consumer = bhs.newBh("consumer", () -> {
                for (String w; (w = queue.poll()) != null; ) {
                    processed.add(w);
                }
                inCallback.countDown();
                await(produced);
            });
            Thread producer = new Thread(() -> {
                await(inCallback);
                queue.add("w2");
                consumer.schedule();
                produced.countDown();
            }, "producer");
            producer.start();
            queue.add("w1");
            consumer.schedule();
            ctx.poll(false);
            producer.join(Timeouts.HANDSHAKE.toMillis());
            for (int i = 0; i < 3; i++) {
                ctx.poll(false);
            }
            Outcome outcome = new Outcome(processed, List.copyOf(queue), consumer.isScheduled(), bhs.timeoutNs());
            consumer.delete();
            ctx.poll(false);
            return outcome;
        }
    }

    @Test
    void a_late_clear_of_scheduled_loses_the_work_a_producer_handed_over_during_the_callback() throws InterruptedException {
        Outcome o = producerSchedulesDuringTheCallback(HistoricalBug.LATE_SCHEDULED_CLEAR);
        // Stuck for good: the work is queued, nobody will run the consumer, and a blocking poll
        // would sleep with no timeout.
        assertThat(o.processed()).containsExactly("w1");
        assertThat(o.leftInQueue()).containsExactly("w2");
        assertThat(o.scheduled()).isFalse();
        assertThat(o.timeoutNs()).isEqualTo(-1);
    }

    @Test
    void clearing_scheduled_before_the_callback_runs_the_consumer_again() throws InterruptedException {
        Outcome o = producerSchedulesDuringTheCallback();
        assertThat(o.processed()).containsExactly("w1", "w2");
        assertThat(o.leftInQueue()).isEmpty();
    }
}
