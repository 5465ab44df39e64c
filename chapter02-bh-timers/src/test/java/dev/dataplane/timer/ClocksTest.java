package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.testsupport.Timeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** What each clock reads, and turning clocks on and off (QEMU's qemu_clock_get_ns, qemu_clock_enable). */
class ClocksTest {

    private final ManualTimeSource time = new ManualTimeSource(1_000, 1_700_000_000_000_000_000L);
    private final Clocks clocks = Clocks.using(time);

    @Test
    void realtimeIsTheMonotonicTimeAndHostTheWallClockWhichMayJump() {
        assertThat(clocks.nowNs(ClockType.REALTIME)).isEqualTo(1_000);
        assertThat(clocks.nowNs(ClockType.HOST)).isEqualTo(1_700_000_000_000_000_000L);

        time.advance(500);
        time.setWallClockNs(42); // an NTP step backwards
        assertThat(clocks.nowNs(ClockType.REALTIME)).isEqualTo(1_500);
        assertThat(clocks.nowNs(ClockType.HOST)).isEqualTo(42);
    }

    @Test
    void theVirtualClockIsDisabledAtStartUpAndItsTimeStandsAtZero() {
        assertThat(clocks.isEnabled(ClockType.VIRTUAL)).isFalse();
        assertThat(clocks.isVmRunning()).isFalse();
        assertThat(clocks.isEnabled(ClockType.REALTIME)).isTrue();
        assertThat(clocks.isEnabled(ClockType.HOST)).isTrue();
        assertThat(clocks.isEnabled(ClockType.VIRTUAL_RT)).isTrue();

        time.advance(1_000_000);
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).isZero();
    }

    @Test
    void virtualTimePassesOnlyWhileTheMachineRunsAndResumesWhereItStopped() {
        time.advance(5_000);
        clocks.vmStart();
        assertThat(clocks.isEnabled(ClockType.VIRTUAL)).isTrue();
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).isZero();

        time.advance(300);
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).isEqualTo(300);

        clocks.vmStop();
        assertThat(clocks.isEnabled(ClockType.VIRTUAL)).isFalse();
        time.advance(1_000_000);
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).as("stopped: frozen").isEqualTo(300);

        clocks.vmStart();
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).as("resumed from where it stopped").isEqualTo(300);
        time.advance(20);
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).isEqualTo(320);
        assertThat(clocks.nowNs(ClockType.VIRTUAL_RT)).as("no icount: VIRTUAL_RT reads VIRTUAL").isEqualTo(320);
    }

    @Test
    void startingAndStoppingTwiceChangesNothing() {
        clocks.vmStart();
        time.advance(10);
        clocks.vmStart();
        time.advance(10);
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).isEqualTo(20);

        clocks.vmStop();
        clocks.vmStop();
        time.advance(10);
        assertThat(clocks.nowNs(ClockType.VIRTUAL)).isEqualTo(20);
    }

    @Test
    void timersOfADisabledClockWaitAndFireOnceItIsEnabled() {
        List<String> ran = new ArrayList<>();
        TimerList virtual = new TimerList(clocks, ClockType.VIRTUAL, "test", () -> { });
        virtual.newTimer(TimerScale.NS, () -> ran.add("virtual")).modNs(0);

        assertThat(virtual.runTimers()).isFalse();
        assertThat(ran).isEmpty();

        clocks.vmStart();
        assertThat(virtual.runTimers()).isTrue();
        assertThat(ran).containsExactly("virtual");
    }

    @Test
    void enablingADisabledClockNotifiesEveryListOfThatClockOnly() {
        AtomicInteger virtualNotified = new AtomicInteger();
        AtomicInteger realtimeNotified = new AtomicInteger();
        new TimerList(clocks, ClockType.VIRTUAL, "a", virtualNotified::incrementAndGet);
        new TimerList(clocks, ClockType.VIRTUAL, "b", virtualNotified::incrementAndGet);
        new TimerList(clocks, ClockType.REALTIME, "c", realtimeNotified::incrementAndGet);

        clocks.enable(ClockType.VIRTUAL, true);
        assertThat(virtualNotified).hasValue(2);
        clocks.enable(ClockType.VIRTUAL, true);
        assertThat(virtualNotified).as("already enabled: nothing to tell").hasValue(2);
        assertThat(realtimeNotified).hasValue(0);
    }

    @Test
    void aClosedListIsNoLongerNotified() {
        AtomicInteger notified = new AtomicInteger();
        TimerList list = new TimerList(clocks, ClockType.VIRTUAL, "gone", notified::incrementAndGet);

        list.close();
        clocks.vmStart();

        assertThat(notified).hasValue(0);
    }

    @Test
    void disablingAClockWaitsForACallbackOfThatClockRunningInAnotherThread() throws Exception {
        TimerList list = new TimerList(clocks, ClockType.REALTIME, "busy", () -> { });
        CountDownLatch inCallback = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> ran = new ArrayList<>();
        list.newTimer(TimerScale.NS, () -> {
            inCallback.countDown();
            await(release);
            ran.add("slow");
        }).modNs(0);
        list.newTimer(TimerScale.NS, () -> ran.add("same pass")).modNs(1);
        time.advance(1);

        Thread home = new Thread(list::runTimers, "home");
        home.start();
        await(inCallback);

        CountDownLatch disabled = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread disabler = new Thread(() -> {
            try {
                clocks.enable(ClockType.REALTIME, false);
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                disabled.countDown();
            }
        }, "disabler");
        disabler.start();

        // The disabler is parked on the list's condition: it has seen the pass and waits for it
        // (or, if disabling did not wait, it is already done, which the next line reports).
        spinUntil(() -> list.hasThreadsWaitingForCallbacks() || disabled.getCount() == 0);
        assertThat(disabled.getCount()).as("disable returned while a callback was running").isOne();
        assertThat(clocks.isEnabled(ClockType.REALTIME)).as("the switch is off already").isFalse();

        release.countDown();
        assertThat(disabled.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        assertThat(failure.get()).isNull();
        home.join(Timeouts.HANDSHAKE.toMillis());
        assertThat(ran).as("the pass that had started ran to its end").containsExactly("slow", "same pass");

        list.newTimer(TimerScale.NS, () -> ran.add("after")).modNs(0);
        assertThat(list.runTimers()).as("disabled: nothing runs").isFalse();
    }

    @Test
    void disablingAClockFromACallbackOfThatClockThrowsInsteadOfWaitingForItself() throws Exception {
        TimerList list = new TimerList(clocks, ClockType.REALTIME, "self", () -> { });
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        list.newTimer(TimerScale.NS, () -> {
            try {
                clocks.enable(ClockType.REALTIME, false);
            } catch (Throwable t) {
                thrown.set(t);
            }
        }).modNs(0);

        runInOwnThread(list);

        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("REALTIME");
        assertThat(clocks.isEnabled(ClockType.REALTIME)).as("left as it was").isTrue();
    }

    @Test
    void stoppingTheMachineFromAVirtualCallbackThrowsAndLeavesTimeRunning() throws Exception {
        clocks.vmStart();
        TimerList list = new TimerList(clocks, ClockType.VIRTUAL, "self", () -> { });
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        list.newTimer(TimerScale.NS, () -> {
            try {
                clocks.vmStop();
            } catch (Throwable t) {
                thrown.set(t);
            }
        }).modNs(0);

        runInOwnThread(list);

        assertThat(thrown.get()).isInstanceOf(IllegalStateException.class);
        assertThat(clocks.isVmRunning()).isTrue();
        assertThat(clocks.isEnabled(ClockType.VIRTUAL)).isTrue();
    }

    @Test
    void disablingAnotherClockFromACallbackIsFine() {
        TimerList list = new TimerList(clocks, ClockType.REALTIME, "other", () -> { });
        new TimerList(clocks, ClockType.HOST, "host", () -> { });
        list.newTimer(TimerScale.NS, () -> clocks.enable(ClockType.HOST, false)).modNs(0);

        assertThat(list.runTimers()).isTrue();

        assertThat(clocks.isEnabled(ClockType.HOST)).isFalse();
    }

    @Test
    void systemClocksAreOneSharedSetAndUsingMakesAFreshOne() {
        assertThat(Clocks.system()).isSameAs(Clocks.system());
        assertThat(Clocks.system().timeSource()).isSameAs(TimeSource.system());
        assertThat(Clocks.using(time)).isNotSameAs(Clocks.using(time));
        assertThat(TimeSource.system().monotonicNs()).isNotNegative();
    }

    @Test
    void manualTimeRefusesToGoBackwards() {
        assertThatThrownBy(() -> time.advance(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ManualTimeSource(-1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Runs a pass in a daemon thread and waits for it, bounded: a callback that deadlocks on its
     * own clock (the bug the tests pin down) then fails the test instead of hanging the build.
     */
    private static void runInOwnThread(TimerList list) throws InterruptedException {
        Thread home = new Thread(list::runTimers, "home");
        home.setDaemon(true);
        home.start();
        home.join(Timeouts.HANDSHAKE.toMillis());
        assertThat(home.isAlive()).as("the pass never ended: the callback waits for itself").isFalse();
    }

    private static void await(CountDownLatch latch) {
        Timeouts.await(latch);
    }

    /** Busy-waits (no sleep) for a condition another thread will make true, bounded by HANDSHAKE. */
    private static void spinUntil(BooleanSupplier condition) {
        long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("condition not reached in time").isNegative();
            Thread.yield(); // two cores shared with other builds: let the other thread run
        }
    }
}
