package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.MainLoopThread;
import dev.dataplane.testsupport.Timeouts;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * QEMU's bugs about stopping threads and waiting across threads, reproduced on demand: each
 * scenario runs once with the bug put back (the failure shown deterministically, threads held at
 * the racy moment by test seams) and once with the real code, which survives it. The third bug of
 * the issue, the notification stolen by another thread's non-blocking poll ({@code b37548fcd1}),
 * is chapter 1's ({@code HistoricalBugsTest.ForeignThreadPoll} there): since then only admitted
 * threads may poll a context, which is the rule this chapter's main loop builds on.
 */
class HistoricalBugsTest {

    /**
     * QEMU {@code 2362a28ea1} (2017): {@code iothread_stop} set a flag and kicked the context. The
     * IOThread had just read {@code running == true}; the kick found nobody about to sleep and, with
     * the notify of the time, left no trace; the IOThread then slept in {@code poll(-1)} and the
     * main loop's join never returned.
     */
    @Nested
    class StopFlagAndKick {

        /** What one run of the scenario observed. */
        record Outcome(boolean sleptAfterTheStop, boolean stopReturnedOnItsOwn, boolean kickPendingWhileAsleep,
                       int notifyMeWhileAsleep, boolean runningFlagWhileAsleep) {
        }

        private Outcome run(HistoricalBug... bugs) {
            AtomicBoolean armed = new AtomicBoolean();
            AtomicBoolean released = new AtomicBoolean();
            CountDownLatch atFlagCheck = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch asleep = new CountDownLatch(1);
            try (MainLoopThread main = new MainLoopThread()) {
                // Both variants get QEMU's notify of 2017: the real stop must not depend on the kick.
                IoThread io = main.call(() -> IoThread.builder("iothread0")
                        .contextOptions(b -> AioTestSeams.beforeWait(AioTestSeams.kickOnlyWhenSleeping(b), timeout -> {
                            if (timeout == -1 && released.get()) {
                                asleep.countDown();
                            }
                        }))
                        .probe(t -> {
                            if (armed.compareAndSet(true, false)) {
                                atFlagCheck.countDown(); // it has read running == true ...
                                Timeouts.await(release); // ... and is about to poll(true)
                            }
                        })
                        .reintroduce(bugs)
                        .start());

                // Make the thread go round its loop once more and hold it at the flag check. It
                // arms the probe itself, in the bottom half, so nothing of ours is still pending
                // when it stops there: a pending bottom half would keep even the buggy loop awake.
                BottomHalves.of(io.context()).scheduleOneshot("go-round", () -> armed.set(true));
                Timeouts.await(atFlagCheck);

                // The main loop stops it; stop() joins, so the main loop stays inside it.
                CountDownLatch stopped = new CountDownLatch(1);
                BottomHalves.of(main.loop().context()).scheduleOneshot("stop", () -> {
                    io.stop();
                    stopped.countDown();
                });
                long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
                while (!io.stopDelivered()) {
                    Thread.onSpinWait();
                    assertThat(System.nanoTime()).as("stop delivered").isLessThan(deadline);
                }
                released.set(true);
                release.countDown();

                // Either the IOThread ends (and the join returns), or it goes to sleep for good.
                deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
                while (stopped.getCount() > 0 && asleep.getCount() > 0) {
                    Thread.onSpinWait();
                    assertThat(System.nanoTime()).as("the IOThread ended or slept").isLessThan(deadline);
                }
                boolean stopReturned = stopped.getCount() == 0;
                Outcome outcome;
                if (stopReturned) {
                    outcome = new Outcome(false, true, false, 0, io.runningFlag());
                } else {
                    // tag::lost-kick-proof[]
                    // Asleep in poll(-1): read the state that proves nothing pending will wake it.
                    // notifyMe first: it stays raised for the whole sleep, so "no kick in the
                    // eventfd" read after it means none arrived since the thread went to sleep.
                    // (The 2017 loop never looks at the notified flag before sleeping, so the
                    // eventfd, not the flag, is what could still wake it.)
                    int notifyMe = AioTestSeams.notifyMeCount(io.context());
                    boolean kickPending = AioTestSeams.kickPendingInTheKernel(io.context());
                    outcome = new Outcome(true, false, kickPending, notifyMe, io.runningFlag());
                    io.context().notifyEvent(); // rescue: now somebody is asleep, so the kick is real
                    Timeouts.await(stopped);
                    // end::lost-kick-proof[]
                }
                assertThat(io.thread().isAlive()).isFalse();
                return outcome;
            }
        }

        @Test
        void withTheBugTheKickIsLostAndTheJoinHangs() {
            Outcome o = run(HistoricalBug.STOP_FLAG_AND_KICK);
            assertThat(o.sleptAfterTheStop()).isTrue();
            assertThat(o.stopReturnedOnItsOwn()).isFalse();
            assertThat(o.runningFlagWhileAsleep()).as("the flag says stop ...").isFalse();
            assertThat(o.notifyMeWhileAsleep()).as("... the thread sleeps in poll").isGreaterThanOrEqualTo(2);
            assertThat(o.kickPendingWhileAsleep()).as("... and no kick is pending to wake it").isFalse();
        }

        @Test
        @Tag("ch03-iothread-stop")
        void theOneshotBottomHalfIsWorkTheLoopFindsBeforeItSleeps() {
            Outcome o = run();
            assertThat(o.stopReturnedOnItsOwn()).isTrue();
            assertThat(o.sleptAfterTheStop()).isFalse();
        }
    }

    /**
     * QEMU {@code 3c18a92dc4} (2020): a thread without a context of its own counted as a main-loop
     * thread, so the migration thread's {@code AIO_WAIT_WHILE} polled the main context while the
     * main loop was in the middle of dispatching it, and ran main-loop work without the BQL.
     */
    @Nested
    class PollMainWithoutBql {

        record Outcome(Throwable waitError, String updateRanOn, boolean updateHadTheBql, boolean mainLoopWasBusy) {
        }

        private Outcome run(HistoricalBug... bugs) {
            try (MainLoopThread main = new MainLoopThread(() -> MainLoop.builder().reintroduce(bugs).build())) {
                CountDownLatch mainBusy = new CountDownLatch(1);
                CountDownLatch releaseMain = new CountDownLatch(1);
                BottomHalves.of(main.loop().context()).scheduleOneshot("long-global-work", () -> {
                    mainBusy.countDown();
                    Timeouts.await(releaseMain); // the main loop is dispatching, BQL held
                });
                Timeouts.await(mainBusy);

                AtomicReference<String> ranOn = new AtomicReference<>();
                AtomicBoolean ranWithBql = new AtomicBoolean();
                CountDownLatch updated = new CountDownLatch(1);
                BottomHalves.of(main.loop().context()).scheduleOneshot("global-state-update", () -> {
                    ranOn.set(Thread.currentThread().getName());
                    ranWithBql.set(main.loop().bql().isHeld());
                    updated.countDown();
                });

                // This test thread is the "migration thread": no context of its own, no BQL.
                Throwable error = null;
                try {
                    main.loop().aioWait().waitWhile(null, () -> updated.getCount() > 0);
                } catch (Throwable t) {
                    error = t;
                }
                boolean busy = releaseMain.getCount() > 0 && main.thread().isAlive();
                String ranOnBeforeRelease = ranOn.get();
                releaseMain.countDown();
                Timeouts.await(updated);
                return new Outcome(error, ranOnBeforeRelease != null ? ranOnBeforeRelease : ranOn.get(),
                        ranWithBql.get(), busy);
            }
        }

        @Test
        void withTheBugTheMigrationThreadRunsMainLoopWorkWithoutTheBql() {
            Outcome o = run(HistoricalBug.POLL_MAIN_WITHOUT_BQL);
            assertThat(o.waitError()).isNull();
            assertThat(o.mainLoopWasBusy()).as("while the main loop was dispatching").isTrue();
            assertThat(o.updateRanOn()).isEqualTo(Thread.currentThread().getName());
            assertThat(o.updateHadTheBql()).isFalse();
        }

        @Test
        @Tag("ch03-wait-context")
        void theRealCodeRefusesTheWaitAndTheWorkRunsInTheMainLoopWithTheBql() {
            Outcome o = run();
            assertThat(o.waitError()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("may poll neither");
            assertThat(o.updateRanOn()).isEqualTo("main-loop");
            assertThat(o.updateHadTheBql()).isTrue();
        }
    }

    @Test
    void historicalBugsCannotBeSwitchedOnFromOutsideThePackage() throws Exception {
        assertThat(java.lang.reflect.Modifier.isPublic(HistoricalBug.class.getModifiers())).isFalse();
        assertThat(java.lang.reflect.Modifier.isPublic(
                MainLoop.Builder.class.getDeclaredMethod("reintroduce", HistoricalBug[].class).getModifiers())).isFalse();
        assertThat(java.lang.reflect.Modifier.isPublic(
                IoThread.Builder.class.getDeclaredMethod("reintroduce", HistoricalBug[].class).getModifiers())).isFalse();
    }
}
