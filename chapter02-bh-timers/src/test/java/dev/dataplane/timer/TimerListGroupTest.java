package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioEventSource;
import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.aio.EventNotifier;
import dev.dataplane.testsupport.Timeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** A context's timers in its loop: the poll's timeout, the dispatch phase and the wake-ups. */
class TimerListGroupTest {

    private static final long HOUR_NS = TimeUnit.HOURS.toNanos(1);

    private final ManualTimeSource time = new ManualTimeSource(1_000, 1_000);
    private final Clocks clocks = Clocks.using(time);

    @Test
    void aContextHasOneGroupOnTheSystemClocksByDefault() {
        try (AioContext ctx = AioContext.builder().name("default").build()) {
            TimerListGroup group = TimerListGroup.of(ctx);

            assertThat(TimerListGroup.of(ctx)).isSameAs(group);
            assertThat(TimerListGroup.of(ctx, Clocks.system())).isSameAs(group);
            assertThat(group.clocks()).isSameAs(Clocks.system());
            assertThat(group.context()).isSameAs(ctx);
            assertThat(group.phase()).isEqualTo(AioEventSource.Phase.AFTER_HANDLERS);
            assertThat(group.list(ClockType.HOST).clockType()).isEqualTo(ClockType.HOST);
        }
    }

    @Test
    void aGroupAttachedWithInjectedClocksIsWhatEveryLaterCallerGets() {
        try (AioContext ctx = AioContext.builder().name("injected").build()) {
            TimerListGroup injected = TimerListGroup.of(ctx, clocks);

            assertThat(TimerListGroup.of(ctx)).isSameAs(injected);
            assertThat(TimerListGroup.of(ctx).clocks()).isSameAs(clocks);
        }
    }

    @Test
    void attachingOtherClocksToAContextThatHasTimersFails() {
        try (AioContext ctx = AioContext.builder().name("twice").build()) {
            TimerListGroup.of(ctx, clocks);

            assertThatThrownBy(() -> TimerListGroup.of(ctx, Clocks.using(time)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("twice")
                    .hasMessageContaining("already has timer lists");
        }
    }

    @Test
    void timerCallbacksRunAfterTheFdHandlersOfTheSamePoll() {
        List<String> order = new ArrayList<>();
        try (AioContext ctx = AioContext.builder().name("order").build();
             EventNotifier n = new EventNotifier()) {
            TimerListGroup timers = TimerListGroup.of(ctx, clocks);
            ctx.setEventNotifier(n, false, e -> {
                e.testAndClear();
                order.add("fd");
            }, null, null);
            timers.newTimer(ClockType.REALTIME, TimerScale.NS, () -> order.add("timer")).modNs(0);
            n.set();

            assertThat(ctx.poll(false)).isTrue();

            assertThat(order).containsExactly("fd", "timer");
            ctx.removeEventNotifier(n);
        }
    }

    @Test
    void aPollMakesProgressWhenATimerRanAndOnlyThen() {
        try (AioContext ctx = AioContext.builder().name("progress").build()) {
            TimerListGroup timers = TimerListGroup.of(ctx, clocks);
            AioTimer t = timers.newTimer(ClockType.REALTIME, TimerScale.NS, () -> { });
            t.modNs(2_000);
            ctx.poll(false); // takes the notifications of the set-up; nothing is due

            assertThat(ctx.poll(false)).as("not due").isFalse();
            time.advance(1_000);
            assertThat(ctx.poll(false)).as("due").isTrue();
            assertThat(t.isPending()).isFalse();
        }
    }

    @Test
    @Tag("ch02-timer-deadline")
    void reArmingATimerToAnEarlierDeadlineWakesAPollAsleepOnTheOldOne() throws Exception {
        ConcurrentLinkedQueue<Long> sleeps = new ConcurrentLinkedQueue<>();
        CountDownLatch asleep = new CountDownLatch(1);
        try (HomeLoop loop = new HomeLoop("sleeper", b -> AioTestSeams.beforeWait(b, ns -> {
            if (ns != 0) {
                sleeps.add(ns);
                asleep.countDown();
            }
        }))) {
            TimerListGroup timers = TimerListGroup.of(loop.ctx, clocks);
            AtomicReference<Thread> ranIn = new AtomicReference<>();
            AioTimer head = timers.newTimer(ClockType.REALTIME, TimerScale.NS, () -> { });
            AioTimer later = timers.newTimer(ClockType.REALTIME, TimerScale.NS, () -> ranIn.set(Thread.currentThread()));
            head.modNs(time.monotonicNs() + HOUR_NS);
            later.modNs(time.monotonicNs() + 2 * HOUR_NS);
            loop.start(() -> ranIn.get() != null);

            assertThat(asleep.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            assertThat(sleeps.peek()).as("the poll sleeps until the first deadline").isEqualTo(HOUR_NS);

            time.advance(500);
            later.modNs(clocks.nowNs(ClockType.REALTIME)); // due now, and the new head: must wake the sleeper

            assertThat(loop.awaitFinished()).as("the sleeping poll was not woken by the new head").isTrue();
            assertThat(ranIn.get()).isSameAs(loop.thread());
            assertThat(loop.lastProgress).as("running a timer is progress").isTrue();
            assertThat(head.isPending()).isTrue();
        }
    }

    @Test
    void startingTheMachineWakesAPollThatSleptWhileVirtualTimeWasOff() throws Exception {
        CountDownLatch asleep = new CountDownLatch(1);
        ConcurrentLinkedQueue<Long> sleeps = new ConcurrentLinkedQueue<>();
        try (HomeLoop loop = new HomeLoop("vm", b -> AioTestSeams.beforeWait(b, ns -> {
            if (ns != 0) {
                sleeps.add(ns);
                asleep.countDown();
            }
        }))) {
            TimerListGroup timers = TimerListGroup.of(loop.ctx, clocks);
            CountDownLatch ran = new CountDownLatch(1);
            timers.newTimer(ClockType.VIRTUAL, TimerScale.NS, ran::countDown).modNs(0);
            loop.start(() -> ran.getCount() == 0);

            assertThat(asleep.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            assertThat(sleeps.peek()).as("a disabled clock's timer gives no deadline").isEqualTo(-1);

            clocks.vmStart();

            assertThat(loop.awaitFinished()).as("enabling the clock did not wake the poll").isTrue();
        }
    }

    @Test
    @Tag("ch02-timer-deadline")
    void aBlockingPollSleepsUntilTheFirstTimerIsDueAndRunsIt() throws Exception {
        // Real time, because this is about the kernel wait ending by its timeout; nothing here
        // asserts how long anything took.
        Clocks real = Clocks.using(TimeSource.system());
        long inNs = TimeUnit.MILLISECONDS.toNanos(20);
        ConcurrentLinkedQueue<Long> sleeps = new ConcurrentLinkedQueue<>();
        try (HomeLoop loop = new HomeLoop("deadline", b -> AioTestSeams.beforeWait(b, sleeps::add))) {
            TimerListGroup timers = TimerListGroup.of(loop.ctx, real);
            CountDownLatch ran = new CountDownLatch(1);
            AioTimer t = timers.newTimer(ClockType.REALTIME, TimerScale.NS, ran::countDown);
            t.modNs(real.nowNs(ClockType.REALTIME) + inNs);
            loop.start(() -> ran.getCount() == 0);

            assertThat(loop.awaitFinished()).as("the poll never ran the timer").isTrue();
            assertThat(loop.lastProgress).isTrue();
            assertThat(sleeps).as("every wait was bounded by the timer's deadline").allSatisfy(
                    ns -> assertThat(ns).isBetween(0L, inNs));
        }
    }

    @Test
    void closingTheContextDetachesItsTimersFromTheClocks() {
        AioContext ctx = AioContext.builder().name("closed").build();
        TimerListGroup timers = TimerListGroup.of(ctx, clocks);
        assertThat(ClockType.values()).allMatch(type -> clocks.isAttached(timers.list(type)));

        ctx.close();

        // Still attached, the lists would keep the dead context reachable from the clocks and
        // notify it whenever a clock is enabled.
        assertThat(ClockType.values()).noneMatch(type -> clocks.isAttached(timers.list(type)));
    }
}
