package dev.dataplane.bh;

import static dev.dataplane.testsupport.Timeouts.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioEventSource;
import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.testsupport.EventLoopThread;
import dev.dataplane.testsupport.Timeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Bottom halves on a context polled by the test thread itself: deterministic by construction. */
class BottomHalfTest {
    private final List<Long> waits = new CopyOnWriteArrayList<>();
    private final AioContext ctx = AioTestSeams.beforeWait(AioContext.builder().name("bh-test"), waits::add).build();
    private final BottomHalves bhs = BottomHalves.of(ctx);
    private final List<String> ran = new ArrayList<>();

    @AfterEach
    void close() {
        ctx.close();
    }

    private BottomHalf recording(String name) {
        return bhs.newBh(name, () -> ran.add(name));
    }

    /** A source that bounds a blocking poll, so a bottom half that fails to stop the sleep fails the test instead of hanging it. */
    private void boundBlockingPolls() {
        ctx.addEventSource(new AioEventSource() {
            @Override
            public long timeoutNs() {
                return Timeouts.HANDSHAKE.toNanos();
            }

            @Override
            public boolean dispatch() {
                return false;
            }

            @Override
            public Phase phase() {
                return Phase.AFTER_HANDLERS;
            }
        });
        ctx.poll(false); // accept the notification that adding the source made
        waits.clear();
    }

    @Test
    void the_everyday_calls_run_a_bottom_half_and_a_oneshot_in_the_next_poll() {
        List<String> log = new ArrayList<>();
        // tag::bh-usage[]
        BottomHalves bhs = BottomHalves.of(ctx);
        BottomHalf flush = bhs.newBh("flush", () -> log.add("flush"));
        flush.schedule();                                      // from any thread
        bhs.scheduleOneshot("reply", () -> log.add("reply"));  // run once, then forget it
        ctx.poll(false);                                       // the home thread runs both
        // end::bh-usage[]
        assertThat(log).containsExactlyInAnyOrder("flush", "reply");
        flush.delete();
    }

    @Test
    @Tag("ch02-bh-poll")
    void a_scheduled_bottom_half_runs_once_in_the_next_poll_however_often_it_was_scheduled() {
        BottomHalf a = recording("a");
        a.schedule();
        a.schedule();
        assertThat(ctx.poll(false)).as("running a bottom half is progress").isTrue();
        assertThat(ran).containsExactly("a");
        assertThat(ctx.poll(false)).isFalse();
        assertThat(ran).containsExactly("a");
    }

    @Test
    @Tag("ch02-bh-poll")
    void a_pass_runs_bottom_halves_in_reverse_scheduling_order() {
        BottomHalf a = recording("a");
        BottomHalf b = recording("b");
        BottomHalf c = recording("c");
        a.schedule();
        b.schedule();
        c.schedule();
        ctx.poll(false);
        assertThat(ran).containsExactly("c", "b", "a");
    }

    @Test
    @Tag("ch02-bh-poll")
    void a_bottom_half_that_reschedules_itself_runs_once_per_poll() {
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<BottomHalf> self = new AtomicReference<>();
        self.set(bhs.newBh("again", () -> {
            runs.incrementAndGet();
            self.get().schedule();
        }));
        self.get().schedule();
        for (int i = 1; i <= 10; i++) {
            ctx.poll(false);
            assertThat(runs).as("after poll %d", i).hasValue(i);
        }
        self.get().cancel();
    }

    @Test
    @Tag("ch02-bh-poll")
    void a_nested_poll_runs_the_outer_pass_remaining_bottom_halves_first_then_its_own() {
        BottomHalf a = recording("a");
        BottomHalf b = recording("b");
        BottomHalf d = recording("d");
        BottomHalf c = bhs.newBh("c", () -> {
            ran.add("c");
            d.schedule();          // new work: joins the list, not the running slice
            ctx.poll(false);       // nested: finishes the outer slice (b, a), then d
            ran.add("c-after-nested-poll");
        });
        a.schedule();
        b.schedule();
        c.schedule();
        ctx.poll(false);
        assertThat(ran).containsExactly("c", "b", "a", "d", "c-after-nested-poll");
        ran.clear();
        ctx.poll(false);
        assertThat(ran).as("the outer pass found its slice empty: nothing ran twice").isEmpty();
    }

    @Test
    @Tag("ch02-bh-timeout")
    void a_blocking_poll_never_sleeps_while_a_bottom_half_is_scheduled() {
        boundBlockingPolls();
        recording("a").schedule();
        assertThat(bhs.timeoutNs()).isZero();
        ctx.poll(true);
        assertThat(ran).containsExactly("a");
        assertThat(waits).as("no wait in the kernel with a non-zero timeout").allSatisfy(ns -> assertThat(ns).isZero());
    }

    @Test
    @Tag("ch02-bh-timeout")
    void the_timeout_is_infinite_without_scheduled_bottom_halves_and_cancelled_or_deleted_ones_do_not_count() {
        assertThat(bhs.timeoutNs()).isEqualTo(-1);
        BottomHalf a = recording("a");
        BottomHalf b = recording("b");
        a.schedule();
        b.schedule();
        a.cancel();
        b.delete();
        assertThat(bhs.timeoutNs()).isEqualTo(-1);
    }

    @Test
    @Tag("ch02-bh-timeout")
    void a_bottom_half_left_by_an_outer_pass_stops_a_nested_blocking_poll_from_sleeping() {
        boundBlockingPolls();
        BottomHalf a = recording("a");
        AtomicInteger timeoutSeenInside = new AtomicInteger(99);
        BottomHalf b = bhs.newBh("b", () -> {
            timeoutSeenInside.set((int) bhs.timeoutNs()); // a is still in the outer slice
            ctx.poll(true);                               // must run a, not sleep
        });
        a.schedule();
        b.schedule();
        ctx.poll(false);
        assertThat(timeoutSeenInside).hasValue(0);
        assertThat(ran).containsExactly("a");
        assertThat(waits).allSatisfy(ns -> assertThat(ns).isZero());
    }

    @Test
    void an_idle_bottom_half_caps_the_timeout_at_10_ms_and_is_not_progress() {
        BottomHalf idle = recording("idle");
        idle.scheduleIdle();
        assertThat(bhs.timeoutNs()).isEqualTo(BottomHalves.IDLE_TIMEOUT_NS);
        assertThat(ctx.poll(false)).as("idle bottom halves are never progress").isFalse();
        assertThat(ran).containsExactly("idle");
    }

    @Test
    void a_nested_blocking_poll_sleeps_at_most_10_ms_for_an_idle_bottom_half_left_by_the_outer_pass() {
        // Scheduling an idle bottom half notifies like any other, so a fresh poll does not sleep;
        // the cap matters when the notification is already accepted: here, inside a pass.
        boundBlockingPolls();
        BottomHalf idle = recording("idle");
        BottomHalf outer = bhs.newBh("outer", () -> ctx.poll(true));
        idle.scheduleIdle();
        outer.schedule(); // runs first, polls while idle is still in the outer slice
        ctx.poll(false);
        assertThat(ran).containsExactly("idle");
        assertThat(waits).containsExactly(BottomHalves.IDLE_TIMEOUT_NS);
    }

    @Test
    @Tag("ch02-bh-cancel")
    void a_cancelled_bottom_half_does_not_run_and_can_be_scheduled_again() {
        BottomHalf a = recording("a");
        a.schedule();
        a.cancel();
        assertThat(ctx.poll(false)).isFalse();
        assertThat(ran).isEmpty();
        a.schedule();
        ctx.poll(false);
        assertThat(ran).containsExactly("a");
    }

    @Test
    @Tag("ch02-bh-cancel")
    void cancel_from_inside_a_pass_stops_a_bottom_half_that_has_not_run_yet() {
        BottomHalf a = recording("a");
        BottomHalf b = bhs.newBh("b", () -> {
            ran.add("b");
            a.cancel();
        });
        a.schedule();
        b.schedule(); // b runs first (LIFO) and cancels a, which is in the same slice
        ctx.poll(false);
        assertThat(ran).containsExactly("b");
    }

    @Test
    void delete_while_scheduled_frees_the_bottom_half_without_running_it() {
        BottomHalf a = recording("a");
        a.schedule();
        a.delete();
        assertThat(ctx.poll(false)).isFalse();
        assertThat(ran).isEmpty();
        assertThat(a.isFreed()).isTrue();
        assertThatThrownBy(a::schedule).isInstanceOf(IllegalStateException.class).hasMessageContaining("freed");
    }

    @Test
    void a_deleted_bottom_half_cannot_be_scheduled_before_it_is_freed_either() {
        BottomHalf a = recording("a");
        a.delete();
        assertThatThrownBy(a::schedule).isInstanceOf(IllegalStateException.class).hasMessageContaining("after delete()");
        ctx.poll(false);
        assertThat(ran).isEmpty();
        assertThat(a.isFreed()).isTrue();
    }

    @Test
    void a_bottom_half_that_deletes_itself_is_freed_by_the_following_pass() {
        AtomicReference<BottomHalf> self = new AtomicReference<>();
        self.set(bhs.newBh("self-delete", () -> {
            ran.add("ran");
            self.get().delete();
        }));
        self.get().schedule();
        ctx.poll(false);
        assertThat(ran).containsExactly("ran");
        assertThat(self.get().isFreed()).as("still queued with DELETED: one more pass frees it").isFalse();
        assertThat(bhs.timeoutNs()).as("a deleted bottom half is no reason to stay awake").isEqualTo(-1);
        ctx.poll(false);
        assertThat(self.get().isFreed()).isTrue();
        assertThat(ran).containsExactly("ran");
    }

    @Test
    void a_oneshot_runs_exactly_once_and_is_freed_after_running() {
        List<BottomHalf> published = new ArrayList<>();
        try (AioContext c = AioContext.builder().name("oneshot").build()) {
            BottomHalves list = BottomHalves.attach(c, new BhProbe() {
                @Override
                public void afterPublish(BottomHalf bh) {
                    published.add(bh);
                }
            });
            list.scheduleOneshot("once", () -> ran.add("once"));
            c.poll(false);
            c.poll(false);
            assertThat(ran).containsExactly("once");
            assertThat(published).singleElement().satisfies(bh -> assertThat(bh.isFreed()).isTrue());
        }
    }

    @Test
    void a_callback_exception_propagates_out_of_poll_and_the_rest_of_the_pass_runs_in_the_next_poll() {
        BottomHalf a = recording("a");
        BottomHalf boom = bhs.newBh("boom", () -> {
            throw new IllegalStateException("boom");
        });
        a.schedule();
        boom.schedule();
        assertThatThrownBy(() -> ctx.poll(false)).hasMessage("boom");
        assertThat(ran).isEmpty();
        ctx.poll(false);
        assertThat(ran).containsExactly("a");
    }

    @Test
    void closing_the_context_reports_a_bottom_half_that_is_still_scheduled() {
        AioContext c = AioContext.builder().name("leaky").build();
        BottomHalves list = BottomHalves.of(c);
        list.newBh("forgotten", () -> { }).schedule();
        list.newBh("deleted", () -> { }).delete();
        assertThatThrownBy(c::close).hasRootCauseMessage(
                "leaky: bottom halves still scheduled at close: [forgotten]; delete them, or let them run, before closing the context");
    }

    // ---- the re-entrancy guard ----

    @Test
    void a_guarded_bottom_half_engages_its_device_so_io_from_inside_it_is_refused() {
        ReentrancyGuard guard = new ReentrancyGuard("disk0");
        List<Boolean> entered = new ArrayList<>();
        BottomHalf bh = bhs.newBh("dma", () -> entered.add(guard.enter(() -> ran.add("mmio"))), guard);
        bh.schedule();
        ctx.poll(false);
        assertThat(entered).containsExactly(false);
        assertThat(ran).isEmpty();
        assertThat(guard.refusals()).isEqualTo(1);
        assertThat(guard.isEngaged()).isFalse();
        assertThat(guard.enter(() -> ran.add("mmio"))).as("outside the bottom half the device is open").isTrue();
        assertThat(ran).containsExactly("mmio");
    }

    @Test
    void an_unguarded_bottom_half_does_not_engage_the_device() {
        ReentrancyGuard guard = new ReentrancyGuard("disk0");
        bhs.newBh("plain", () -> guard.enter(() -> ran.add("mmio"))).schedule();
        ctx.poll(false);
        assertThat(ran).containsExactly("mmio");
    }

    @Test
    void device_io_that_polls_runs_a_guarded_bottom_half_reentrantly_and_it_is_counted_but_runs() {
        ReentrancyGuard guard = new ReentrancyGuard("disk0");
        BottomHalf bh = bhs.newBh("completion", () -> ran.add("completion"), guard);
        guard.enter(() -> {
            bh.schedule();
            ctx.poll(false); // the device waits inside its own I/O
            assertThat(guard.isEngaged()).as("still inside the access").isTrue();
        });
        assertThat(ran).containsExactly("completion");
        assertThat(guard.reentrantBottomHalves()).isEqualTo(1);
        assertThat(guard.isEngaged()).isFalse();
    }

    @Test
    void the_guard_is_restored_even_when_the_callback_deletes_its_bottom_half_and_a_nested_pass_frees_it() {
        ReentrancyGuard guard = new ReentrancyGuard("disk0");
        AtomicReference<BottomHalf> self = new AtomicReference<>();
        self.set(bhs.newBh("self-delete", () -> {
            self.get().delete();
            ctx.poll(false); // frees the bottom half, clearing its guard field (QEMU 7915bd06f2)
        }, guard));
        self.get().schedule();
        ctx.poll(false);
        assertThat(self.get().isFreed()).isTrue();
        assertThat(guard.isEngaged()).isFalse();
    }

    // ---- across threads ----

    @Test
    void scheduling_from_another_thread_wakes_a_sleeping_loop() {
        CountDownLatch asleep = new CountDownLatch(1);
        CountDownLatch ran = new CountDownLatch(1);
        try (EventLoopThread loop = new EventLoopThread("sleeper",
                b -> AioTestSeams.beforeWait(b, ns -> {
                    if (ns == -1) {
                        asleep.countDown();
                    }
                }))) {
            BottomHalf bh = BottomHalves.of(loop.ctx).newBh("wake", ran::countDown);
            await(asleep);
            bh.schedule();
            await(ran);
            loop.runAndWait(bh::delete);
        }
    }
}
