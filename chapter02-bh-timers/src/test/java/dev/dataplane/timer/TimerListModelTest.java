package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The timer list against the simplest thing that can be right: QEMU's sorted list, modelled in
 * a few lines. Both run the same random script (arm, re-arm, delete, let time pass, run a pass
 * whose callbacks arm and delete timers, some of them due in the same pass) and must run the
 * same callbacks in the same order, notify the owner on the same new heads, and agree on the
 * deadline at every step.
 *
 * <p>The scripts are sized so that every mechanism of {@link TimerHeap} is exercised: passes
 * that pop a few timers, passes that move many into the due run, deletions that leave stale
 * entries in the heap and in the run, and enough of them to force rebuilds.
 */
class TimerListModelTest {

    /** QEMU's structure: sorted by expiry, a new timer after every one due at or before it. */
    static final class ReferenceList {
        final List<long[]> active = new ArrayList<>(); // {id, expire}
        /** How often a mod made its timer the head: each must notify the owner. */
        int newHeads;

        void mod(int id, long expire) {
            del(id);
            long e = Math.max(0, expire);
            int at = 0;
            while (at < active.size() && active.get(at)[1] <= e) {
                at++;
            }
            active.add(at, new long[] {id, e});
            if (at == 0) {
                newHeads++;
            }
        }

        void del(int id) {
            active.removeIf(entry -> entry[0] == id);
        }

        long expireOf(int id) {
            for (long[] entry : active) {
                if (entry[0] == id) {
                    return entry[1];
                }
            }
            return -1;
        }

        long deadline(long now) {
            return active.isEmpty() ? -1 : Math.max(0, active.get(0)[1] - now);
        }
    }

    /** What a callback does, decided by the world's own random stream (same seed in both). */
    interface World {
        void mod(int id, long expire);

        void del(int id);
    }

    static void callbackBody(Random random, World world, int timers, long now) {
        int what = random.nextInt(10);
        int other = random.nextInt(timers);
        if (what == 0) {
            world.mod(other, now - random.nextInt(100));          // due in this very pass
        } else if (what == 1) {
            world.mod(other, now + 1 + random.nextInt(1_000));    // the next passes
        } else if (what <= 3) {
            world.del(other);                                     // maybe one waiting in this pass
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void theListRunsExactlyWhatASortedListWouldRun(long seed) {
        int timers = 600;
        ManualTimeSource time = new ManualTimeSource();
        AtomicInteger notified = new AtomicInteger();
        TimerList list = new TimerList(Clocks.using(time), ClockType.REALTIME, "model", notified::incrementAndGet);
        ReferenceList reference = new ReferenceList();
        List<Integer> ranReal = new ArrayList<>();
        List<Integer> ranModel = new ArrayList<>();
        Random realRandom = new Random(seed * 31);
        Random modelRandom = new Random(seed * 31);

        AioTimer[] real = new AioTimer[timers];
        World realWorld = new World() {
            @Override
            public void mod(int id, long expire) {
                real[id].modNs(expire);
            }

            @Override
            public void del(int id) {
                real[id].del();
            }
        };
        World modelWorld = new World() {
            @Override
            public void mod(int id, long expire) {
                reference.mod(id, expire);
            }

            @Override
            public void del(int id) {
                reference.del(id);
            }
        };
        for (int i = 0; i < timers; i++) {
            int id = i;
            real[i] = list.newTimer(TimerScale.NS, () -> {
                ranReal.add(id);
                callbackBody(realRandom, realWorld, timers, time.monotonicNs());
            });
        }

        Random script = new Random(seed);
        for (int step = 0; step < 4_000; step++) {
            int op = script.nextInt(100);
            long now = time.monotonicNs();
            if (op < 60) {
                int id = script.nextInt(timers);
                // Few distinct expiries, so ties are common.
                long expire = now + script.nextInt(4_000) / 8 * 8 - 20;
                real[id].modNs(expire);
                reference.mod(id, expire);
            } else if (op < 80) {
                int id = script.nextInt(timers);
                real[id].del();
                reference.del(id);
            } else if (op < 81) {
                // A cancel storm: most timers go, latest first, so the head stays and the stale
                // entries stay in the heap until they outnumber the live ones: a rebuild.
                int keep = reference.active.size() / 5;
                for (int i = reference.active.size() - 1; i >= keep; i--) {
                    int id = (int) reference.active.get(i)[0];
                    real[id].del();
                    reference.del(id);
                }
            } else if (op < 95) {
                // Mostly small steps, sometimes a leap that makes a crowd due at once.
                time.advance(script.nextInt(10) == 0 ? script.nextInt(3_000) : script.nextInt(50));            } else {
                ranReal.clear();
                ranModel.clear();
                boolean progress = list.runTimers();
                long passNow = time.monotonicNs();
                while (!reference.active.isEmpty() && reference.active.get(0)[1] <= passNow) {
                    int id = (int) reference.active.remove(0)[0];
                    ranModel.add(id);
                    callbackBody(modelRandom, modelWorld, timers, passNow);
                }
                assertThat(ranReal).as("step %d: the pass ran", step).containsExactlyElementsOf(ranModel);
                assertThat(progress).isEqualTo(!ranModel.isEmpty());
            }
            assertThat(notified.get()).as("step %d: head notifications", step).isEqualTo(reference.newHeads);
            assertThat(list.size()).as("step %d: armed timers", step).isEqualTo(reference.active.size());
            assertThat(list.deadlineNs()).as("step %d: deadline", step).isEqualTo(reference.deadline(time.monotonicNs()));
            int probe = script.nextInt(timers);
            assertThat(real[probe].expireTime()).as("step %d: timer %d", step, probe).isEqualTo(reference.expireOf(probe));
        }
        assertThat(list.heapForTests().dueRunsTaken).as("passes that used the due run").isPositive();
        assertThat(list.heapForTests().staleRebuilds).as("rebuilds to drop stale entries").isPositive();
    }
}
