package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.testsupport.Timeouts;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** One timer list on its own: the order timers run in and what one pass does. */
class TimerListTest {

    private final ManualTimeSource time = new ManualTimeSource();
    private final Clocks clocks = Clocks.using(time);
    private final AtomicInteger notified = new AtomicInteger();
    private final TimerList list = new TimerList(clocks, ClockType.REALTIME, "test", notified::incrementAndGet);
    private final List<String> ran = Collections.synchronizedList(new ArrayList<>());

    private AioTimer timer(String name) {
        return list.newTimer(TimerScale.NS, () -> ran.add(name));
    }

    @Test
    void timersWithEqualDeadlinesFireInTheOrderTheyWereArmed() {
        AioTimer a = timer("a");
        AioTimer b = timer("b");
        AioTimer c = timer("c");
        b.modNs(10);
        a.modNs(10);
        c.modNs(10);
        time.advance(10);

        list.runTimers();

        assertThat(ran).containsExactly("b", "a", "c");
    }

    @Test
    void reArmingAtTheSameDeadlineMovesATimerBehindItsEquals() {
        AioTimer a = timer("a");
        AioTimer b = timer("b");
        AioTimer c = timer("c");
        a.modNs(10);
        b.modNs(10);
        c.modNs(10);
        a.modNs(10); // removed and inserted again, as in QEMU: now the last of the three

        time.advance(10);
        list.runTimers();

        assertThat(ran).containsExactly("b", "c", "a");
    }

    @Test
    void timersRunInExpiryOrderThenArmingOrderWhateverTheArmingAndDeletingHistory() {
        // Many timers, few distinct deadlines (lots of ties), re-arms and deletes in random order:
        // the pass must run exactly the armed ones, sorted by (last expiry, last arming).
        Random random = new Random(42);
        int n = 2_000;
        List<AioTimer> timers = new ArrayList<>();
        List<Integer> order = Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < n; i++) {
            int id = i;
            timers.add(list.newTimer(TimerScale.NS, () -> order.add(id)));
        }
        Map<Integer, long[]> armed = new HashMap<>(); // id -> {expiry, arming stamp}
        long stamp = 0;
        for (int step = 0; step < 10 * n; step++) {
            int id = random.nextInt(n);
            if (random.nextInt(4) == 0) {
                timers.get(id).del();
                armed.remove(id);
            } else {
                long expire = random.nextInt(50);
                timers.get(id).modNs(expire);
                armed.put(id, new long[] {expire, stamp++});
            }
        }
        List<Integer> expected = new ArrayList<>(armed.keySet());
        expected.sort(Comparator.<Integer>comparingLong(id -> armed.get(id)[0]).thenComparingLong(id -> armed.get(id)[1]));
        assertThat(list.size()).isEqualTo(expected.size());

        time.advance(50);
        list.runTimers();

        assertThat(order).containsExactlyElementsOf(expected);
        assertThat(list.hasTimers()).isFalse();
        assertThat(timers).noneMatch(AioTimer::isPending);
    }

    @Test
    void aPassRunsOnlyTheTimersThatHaveExpiredAndReportsWhetherAnyRan() {
        timer("early").modNs(5);
        timer("due").modNs(10);
        timer("late").modNs(11);

        assertThat(list.runTimers()).as("nothing due at 0").isFalse();
        time.advance(10);
        assertThat(list.runTimers()).isTrue();
        assertThat(ran).containsExactly("early", "due");
        assertThat(list.runTimers()).as("the late one is still not due").isFalse();
        assertThat(list.size()).isEqualTo(1);
    }

    @Test
    void aPassReadsTheClockOnceHoweverManyTimersItRuns() {
        CountingTimeSource counting = new CountingTimeSource();
        Clocks countedClocks = Clocks.using(counting);
        TimerList counted = new TimerList(countedClocks, ClockType.REALTIME, "counted", () -> { });
        AtomicInteger runs = new AtomicInteger();
        for (int i = 0; i < 5; i++) {
            // Each callback lets time pass; a pass that re-read the clock would notice nothing
            // different here, but it would show up in the count.
            counted.newTimer(TimerScale.NS, () -> {
                runs.incrementAndGet();
                counting.time.advance(1);
            }).modNs(1_000 + i);
        }
        counting.time.advance(4);
        int before = counting.monotonicReads.get();

        counted.runTimers();

        assertThat(runs).hasValue(5);
        assertThat(counting.monotonicReads.get() - before).isEqualTo(1);
    }

    @Test
    void aPassOverAnEmptyListDoesNotReadTheClock() {
        CountingTimeSource counting = new CountingTimeSource();
        TimerList empty = new TimerList(Clocks.using(counting), ClockType.REALTIME, "empty", () -> { });

        assertThat(empty.runTimers()).isFalse();

        assertThat(counting.monotonicReads).hasValue(0);
    }

    @Test
    void aCallbackThatReArmsItsTimerForAnAlreadyExpiredTimeRunsAgainInTheSamePass() {
        AtomicInteger runs = new AtomicInteger();
        AioTimer[] self = new AioTimer[1];
        self[0] = list.newTimer(TimerScale.NS, () -> {
            if (runs.incrementAndGet() < 3) {
                self[0].modNs(time.monotonicNs() - 5); // in the past: due in this very pass
            }
        });
        self[0].modNs(100);
        time.advance(100);

        list.runTimers();

        assertThat(runs).hasValue(3);
        assertThat(self[0].isPending()).isFalse();
    }

    @Test
    void aCallbackThatReArmsItsTimerForLaterWaitsForTheNextPassEvenIfTimeHasPassedMeanwhile() {
        AtomicInteger runs = new AtomicInteger();
        AioTimer[] self = new AioTimer[1];
        self[0] = list.newTimer(TimerScale.NS, () -> {
            // Bounded, so that a pass that re-read the clock fails this test instead of spinning.
            if (runs.incrementAndGet() < 10) {
                self[0].modNs(time.monotonicNs() + 10);
                time.advance(20); // the callback was slow: the new deadline has passed, but after the pass read the clock
            }
        });
        self[0].modNs(0);

        list.runTimers();
        assertThat(runs).as("first pass").hasValue(1);
        assertThat(self[0].isPending()).isTrue();

        list.runTimers();
        assertThat(runs).as("second pass").hasValue(2);
    }

    @Test
    void aCallbackCanDeleteAnotherExpiredTimerBeforeItRuns() {
        AioTimer victim = timer("victim");
        AioTimer killer = list.newTimer(TimerScale.NS, () -> {
            ran.add("killer");
            victim.del();
        });
        killer.modNs(1);
        victim.modNs(2);
        time.advance(2);

        list.runTimers();

        assertThat(ran).containsExactly("killer");
    }

    @Test
    void armingATimerThatBecomesTheFirstToExpireNotifiesTheOwner() {
        AioTimer a = timer("a");
        AioTimer b = timer("b");

        a.modNs(100);
        assertThat(notified).as("first timer: new head").hasValue(1);
        b.modNs(200);
        assertThat(notified).as("behind the head").hasValue(1);
        b.modNs(50);
        assertThat(notified).as("moved before the head").hasValue(2);
        a.modNs(50);
        assertThat(notified).as("equal to the head goes behind it").hasValue(2);
        b.del();
        assertThat(notified).as("a delete never notifies").hasValue(2);
        a.modNs(500);
        assertThat(notified).as("the only timer is the head wherever it goes").hasValue(3);
    }

    @Test
    void aCallbackThatThrowsLeavesTheListUsableAndTheClockDisableable() {
        timer("first").modNs(1);
        list.newTimer(TimerScale.NS, () -> {
            throw new IllegalStateException("boom");
        }).modNs(2);
        timer("after").modNs(3);
        time.advance(3);

        assertThatThrownBy(list::runTimers).hasMessage("boom");

        // The pass is over despite the exception: disabling does not wait for it for ever.
        clocks.enable(ClockType.REALTIME, false);
        clocks.enable(ClockType.REALTIME, true);
        list.runTimers();
        assertThat(ran).containsExactly("first", "after");
    }

    @Test
    void armingFromManyThreadsAtOnceKeepsTheListConsistent() throws Exception {
        int threads = 4;
        int perThread = 500;
        List<List<AioTimer>> owned = new ArrayList<>();
        AtomicInteger runs = new AtomicInteger();
        for (int t = 0; t < threads; t++) {
            List<AioTimer> mine = new ArrayList<>();
            for (int i = 0; i < perThread; i++) {
                mine.add(list.newTimer(TimerScale.NS, runs::incrementAndGet));
            }
            owned.add(mine);
        }
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Thread> workers = new ArrayList<>();
        int[] expectedArmed = new int[threads];
        for (int t = 0; t < threads; t++) {
            int me = t;
            Thread w = new Thread(() -> {
                Random random = new Random(me);
                try {
                    start.await();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                for (int round = 0; round < 20; round++) {
                    for (AioTimer timer : owned.get(me)) {
                        if (random.nextInt(3) == 0) {
                            timer.del();
                        } else {
                            timer.modNs(random.nextInt(1_000));
                        }
                    }
                }
                expectedArmed[me] = (int) owned.get(me).stream().filter(AioTimer::isPending).count();
            });
            workers.add(w);
            w.start();
        }
        for (Thread w : workers) {
            w.join(Timeouts.HANDSHAKE.toMillis());
            assertThat(w.isAlive()).isFalse();
        }
        int armed = java.util.Arrays.stream(expectedArmed).sum();
        assertThat(list.size()).isEqualTo(armed);

        time.advance(1_000);
        list.runTimers();

        assertThat(runs).hasValue(armed);
        assertThat(list.hasTimers()).isFalse();
    }
}
