package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * How long a poll may sleep as far as timers are concerned: the list deadline and the group's
 * nearest deadline (exercise ch02-timer-deadline).
 */
@Tag("ch02-timer-deadline")
class DeadlineTest {

    private final ManualTimeSource time = new ManualTimeSource(1_000_000, 5_000_000);
    private final Clocks clocks = Clocks.using(time);
    private final TimerList list = new TimerList(clocks, ClockType.REALTIME, "test", () -> { });
    private final AioContext ctx = AioContext.builder().name("deadlines").build();

    @AfterEach
    void close() {
        ctx.close();
    }

    @Test
    void aListWithoutTimersHasNoDeadline() {
        assertThat(list.deadlineNs()).isEqualTo(-1);

        AioTimer t = list.newTimer(TimerScale.NS, () -> { });
        t.modNs(2_000_000);
        t.del();

        assertThat(list.deadlineNs()).as("after its only timer was deleted").isEqualTo(-1);
    }

    @Test
    void theDeadlineIsTheDistanceToTheFirstTimerToTheNanosecond() {
        list.newTimer(TimerScale.NS, () -> { }).modNs(1_000_000 + 7_654_321);
        list.newTimer(TimerScale.NS, () -> { }).modNs(1_000_000 + 1_234_567);

        assertThat(list.deadlineNs()).isEqualTo(1_234_567);
        time.advance(567);
        assertThat(list.deadlineNs()).isEqualTo(1_234_000);
    }

    @Test
    void theDeadlineFollowsTheHeadWhenTheHeadIsDeletedOrMoved() {
        AioTimer first = list.newTimer(TimerScale.NS, () -> { });
        AioTimer second = list.newTimer(TimerScale.NS, () -> { });
        first.modNs(1_000_100);
        second.modNs(1_000_300);

        first.del();
        assertThat(list.deadlineNs()).isEqualTo(300);
        first.modNs(1_000_200);
        assertThat(list.deadlineNs()).isEqualTo(200);
        first.modNs(1_000_900);
        assertThat(list.deadlineNs()).isEqualTo(300);
    }

    @Test
    void anExpiredTimerMakesTheDeadlineZeroNotNegative() {
        list.newTimer(TimerScale.NS, () -> { }).modNs(1_000_010);

        time.advance(10);
        assertThat(list.deadlineNs()).as("exactly due").isZero();
        time.advance(1_000);
        assertThat(list.deadlineNs()).as("overdue").isZero();
    }

    @Test
    void aDisabledClockHasNoDeadline() {
        list.newTimer(TimerScale.NS, () -> { }).modNs(0);

        clocks.enable(ClockType.REALTIME, false);
        assertThat(list.deadlineNs()).isEqualTo(-1);
        clocks.enable(ClockType.REALTIME, true);
        assertThat(list.deadlineNs()).isZero();
    }

    @Test
    void theGroupTimeoutIsTheNearestDeadlineOverAllClocks() {
        TimerListGroup group = TimerListGroup.of(ctx, clocks);
        group.newTimer(ClockType.REALTIME, TimerScale.NS, () -> { }).modNs(1_000_000 + 500);
        group.newTimer(ClockType.HOST, TimerScale.NS, () -> { }).modNs(5_000_000 + 300);

        assertThat(group.timeoutNs()).isEqualTo(300);
        assertThat(group.deadlineNs()).isEqualTo(300);
        time.setWallClockNs(5_000_000 - 10_000); // the host clock steps back: HOST is now the later one
        assertThat(group.timeoutNs()).isEqualTo(500);
    }

    @Test
    void aGroupWithoutTimersLetsThePollSleepForEver() {
        TimerListGroup group = TimerListGroup.of(ctx, clocks);

        assertThat(group.timeoutNs()).isEqualTo(-1);
    }

    @Test
    void theGroupIgnoresTheDisabledVirtualClockUntilTheMachineStarts() {
        TimerListGroup group = TimerListGroup.of(ctx, clocks);
        group.newTimer(ClockType.VIRTUAL, TimerScale.NS, () -> { }).modNs(0);  // due at once, if it counted
        group.newTimer(ClockType.REALTIME, TimerScale.NS, () -> { }).modNs(1_000_000 + 400);

        assertThat(group.timeoutNs()).isEqualTo(400);
        clocks.vmStart();
        assertThat(group.timeoutNs()).isZero();
    }

    @Test
    void anExpiredTimerInOneClockMakesTheGroupTimeoutZero() {
        TimerListGroup group = TimerListGroup.of(ctx, clocks);
        group.newTimer(ClockType.HOST, TimerScale.NS, () -> { }).modNs(5_000_000 + 100);
        group.newTimer(ClockType.REALTIME, TimerScale.NS, () -> { }).modNs(0);

        assertThat(group.timeoutNs()).isZero();
    }
}
