package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Arming, disarming and asking a single timer (QEMU's timer_mod, timer_del, timer_pending...). */
class AioTimerTest {

    private final ManualTimeSource time = new ManualTimeSource();
    private final Clocks clocks = Clocks.using(time);
    private final AtomicInteger notified = new AtomicInteger();
    private final TimerList list = new TimerList(clocks, ClockType.REALTIME, "test", notified::incrementAndGet);
    private final AtomicInteger runs = new AtomicInteger();

    private AioTimer timer(TimerScale scale) {
        return list.newTimer(scale, runs::incrementAndGet);
    }

    @Test
    void aNewTimerIsNotPendingAndHasNoExpireTime() {
        AioTimer t = timer(TimerScale.NS);

        assertThat(t.isPending()).isFalse();
        assertThat(t.expireTime()).isEqualTo(-1);
        assertThat(t.clockType()).isEqualTo(ClockType.REALTIME);
        assertThat(t.list()).isSameAs(list);
    }

    @Test
    void modTakesTheTimersScaleAndExpireTimeAnswersInNanoseconds() {
        AioTimer ms = timer(TimerScale.MS);
        AioTimer us = timer(TimerScale.US);
        AioTimer ns = timer(TimerScale.NS);

        ms.mod(5);
        us.mod(5);
        ns.mod(5);

        assertThat(ms.expireTime()).isEqualTo(5_000_000);
        assertThat(us.expireTime()).isEqualTo(5_000);
        assertThat(ns.expireTime()).isEqualTo(5);
        assertThat(ms.isPending()).isTrue();
    }

    @Test
    void modNsIgnoresTheScale() {
        AioTimer ms = timer(TimerScale.MS);

        ms.modNs(7);

        assertThat(ms.expireTime()).isEqualTo(7);
    }

    @Test
    void aNegativeExpiryIsClampedToZeroAndFiresInTheNextPass() {
        AioTimer t = timer(TimerScale.MS);

        t.mod(-3);

        assertThat(t.expireTime()).isZero();
        assertThat(list.runTimers()).isTrue();
        assertThat(runs).hasValue(1);
    }

    @Test
    void aHugeExpiryInACoarseScaleSaturatesInsteadOfWrappingIntoThePast() {
        AioTimer t = timer(TimerScale.MS);

        t.mod(Long.MAX_VALUE);
        time.advance(1_000_000_000);

        assertThat(t.expireTime()).isEqualTo(Long.MAX_VALUE);
        assertThat(list.runTimers()).isFalse();
        assertThat(TimerScale.MS.toNs(Long.MIN_VALUE / 2)).isEqualTo(Long.MIN_VALUE);
    }

    @Test
    void modReplacesTheEarlierExpiryInEitherDirection() {
        AioTimer t = timer(TimerScale.NS);
        t.modNs(10);
        t.modNs(30);

        time.advance(10);
        assertThat(list.runTimers()).as("the old expiry is gone").isFalse();
        assertThat(list.size()).as("one timer, armed once").isEqualTo(1);

        t.modNs(5);
        assertThat(list.runTimers()).isTrue();
        assertThat(runs).hasValue(1);
    }

    @Test
    void delDisarmsSoTheTimerNeverRunsAndDeletingTwiceIsHarmless() {
        AioTimer t = timer(TimerScale.NS);
        t.modNs(10);

        t.del();
        t.del();
        time.advance(100);

        assertThat(t.isPending()).isFalse();
        assertThat(t.expireTime()).isEqualTo(-1);
        assertThat(list.runTimers()).isFalse();
        assertThat(runs).hasValue(0);
    }

    @Test
    void aTimerIsNotPendingWhileItsCallbackRuns() {
        AioTimer[] self = new AioTimer[1];
        boolean[] pendingInside = {true};
        self[0] = list.newTimer(TimerScale.NS, () -> pendingInside[0] = self[0].isPending());
        self[0].modNs(0);

        list.runTimers();

        assertThat(pendingInside[0]).isFalse();
    }

    @Test
    void modAnticipateOnlyEverBringsTheExpiryCloser() {
        AioTimer t = timer(TimerScale.US);

        t.modAnticipate(50);
        assertThat(t.expireTime()).as("an unarmed timer is armed").isEqualTo(50_000);
        t.modAnticipate(80);
        assertThat(t.expireTime()).as("later: ignored").isEqualTo(50_000);
        t.modAnticipate(20);
        assertThat(t.expireTime()).as("earlier: taken").isEqualTo(20_000);
        t.modAnticipateNs(20_000);
        assertThat(t.expireTime()).as("equal: unchanged").isEqualTo(20_000);
        t.modAnticipateNs(-1);
        assertThat(t.expireTime()).as("negative: clamped, so earlier").isZero();
    }

    @Test
    void modAnticipateDoesNotMoveATimerBehindItsEqualsWhenNothingChanges() {
        AtomicInteger order = new AtomicInteger();
        int[] seen = new int[2];
        AioTimer a = list.newTimer(TimerScale.NS, () -> seen[0] = order.incrementAndGet());
        AioTimer b = list.newTimer(TimerScale.NS, () -> seen[1] = order.incrementAndGet());
        a.modNs(10);
        b.modNs(10);

        a.modAnticipateNs(10); // not earlier: a stays first

        time.advance(10);
        list.runTimers();
        assertThat(seen).containsExactly(1, 2);
    }

    @Test
    void modAnticipateThatMakesANewHeadNotifies() {
        AioTimer head = timer(TimerScale.NS);
        AioTimer other = timer(TimerScale.NS);
        head.modNs(100);
        other.modNs(200);
        int before = notified.get();

        other.modAnticipateNs(300);
        assertThat(notified).as("ignored: no notify").hasValue(before);
        other.modAnticipateNs(150);
        assertThat(notified).as("earlier but still behind the head").hasValue(before);
        other.modAnticipateNs(50);
        assertThat(notified).as("new head").hasValue(before + 1);
    }

    @Test
    void isExpiredComparesWithATimeInTheTimersScale() {
        AioTimer t = timer(TimerScale.MS);

        assertThat(t.isExpired(Long.MAX_VALUE)).as("not pending").isFalse();
        t.mod(3);
        assertThat(t.isExpired(2)).isFalse();
        assertThat(t.isExpired(3)).isTrue();
        assertThat(t.isExpired(4)).isTrue();
    }

    @Test
    void scalesConvertBothWays() {
        assertThat(TimerScale.US.toNs(7)).isEqualTo(7_000);
        assertThat(TimerScale.MS.fromNs(7_999_999)).isEqualTo(7);
        assertThat(clocks.now(ClockType.REALTIME, TimerScale.US)).isZero();
        time.advance(2_500_000);
        assertThat(clocks.now(ClockType.REALTIME, TimerScale.MS)).isEqualTo(2);
        assertThat(clocks.now(ClockType.REALTIME, TimerScale.US)).isEqualTo(2_500);
    }
}
