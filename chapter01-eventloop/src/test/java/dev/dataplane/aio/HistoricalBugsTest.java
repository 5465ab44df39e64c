package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.PollFds;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * QEMU's event-loop bugs, reproduced on demand.
 *
 * <p>Each nested class drives the same scenario twice: once with the bug put back through the
 * package-private {@link HistoricalBug} seam, where the failure is shown deterministically, and
 * once with the real code, which survives it. "Deterministically" means the test holds threads
 * at the racy moment with {@link PollProbe} hooks instead of hoping for a lucky schedule. A hang
 * is shown, not waited for: the test proves that the sleeping thread is committed to a wait that
 * nothing pending can end (its fd set and the state of its eventfd), then rescues it.
 */
class HistoricalBugsTest {

    /** Whether {@code fd} is readable right now, without consuming anything. */
    static boolean readable(int fd) {
        PollFds one = new PollFds(1);
        one.set(0, fd, LibC.POLLIN);
        return LibC.ppoll(one, 1, 0) == 1;
    }

    /**
     * A probe that, once armed, holds the home thread just before its next blocking wait: the
     * thread has announced itself in notifyMe and found no notification, so it is committed to
     * sleeping. The test acts, then releases it.
     */
    static final class HoldBeforeSleep implements PollProbe {
        final AtomicBoolean armed = new AtomicBoolean();
        final CountDownLatch committed = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile Thread holdThread;

        @Override
        public void beforeWait(AioContext ctx, int[] fds, long timeoutNs) {
            if (timeoutNs == -1 && Thread.currentThread() == holdThread && armed.compareAndSet(true, false)) {
                committed.countDown();
                LoopThread.await(release);
            }
        }
    }

    /**
     * QEMU 321d1dba8b (2017): after a snapshot, a dataplane disk stopped responding. The
     * IOThread slept in ppoll with the guest's ioeventfds left out (external clients disabled);
     * {@code aio_enable_external} only decremented the counter, so nothing made it rebuild its set.
     */
    @Nested
    class MissingNotifyOnEnableExternal {

        // tag::bug-enable-external[]
        /** Runs the scenario; returns whether the guest's request was served without help. */
        boolean guestServedAfterEnable(HistoricalBug... bugs) {
            CountDownLatch asleepWithoutGuest = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicBoolean armed = new AtomicBoolean();
            AtomicInteger guestFd = new AtomicInteger(-1);
            PollProbe probe = new PollProbe() {
                @Override
                public void beforeWait(AioContext ctx, int[] fds, long timeoutNs) {
                    int g = guestFd.get();
                    // Committed to sleep: no timeout, the guest fd not watched, no kick pending.
                    if (timeoutNs == -1 && Arrays.stream(fds).noneMatch(fd -> fd == g)
                            && !ctx.isNotified() && !readable(ctx.contextNotifier().fd())
                            && armed.compareAndSet(true, false)) {
                        asleepWithoutGuest.countDown();
                        LoopThread.await(release);   // held here while the test looks
                    }
                }
            };
            try (LoopThread iothread = new LoopThread("iothread", b -> b.probe(probe)
                    .fdMonitor(AioContext.FdMonitorKind.POLL).reintroduce(bugs));
                 EventNotifier ioeventfd = new EventNotifier()) {
                AioContext ctx = iothread.ctx;
                CountDownLatch served = new CountDownLatch(1);
                ctx.disableExternal();                       // a drained section begins
                guestFd.set(ioeventfd.fd());
                ctx.setEventNotifier(ioeventfd, true, e -> {
                    e.testAndClear();
                    served.countDown();
                }, null, null);
                ioeventfd.set();                             // the guest kicks meanwhile
                armed.set(true);
                ctx.notifyEvent();                           // one more iteration, then it sleeps
                LoopThread.await(asleepWithoutGuest);

                ctx.enableExternal();                        // the drained section ends

                boolean woken = ctx.isNotified() || readable(ctx.contextNotifier().fd());
                release.countDown();                         // the IOThread enters ppoll now
                if (!woken) {
                    // Nothing can end that ppoll: its set lacks the guest fd and no kick is
                    // pending. This is the hang. Show it, then rescue the thread.
                    assertThat(served.getCount()).isEqualTo(1);
                    ctx.notifyEvent();
                }
                LoopThread.await(served);
                iothread.runAndWait(() -> ctx.removeEventNotifier(ioeventfd));
                return woken;
            }
        }
        // end::bug-enable-external[]

        @Test
        void withTheBugTheSleepingLoopNeverSeesTheGuestAgain() {
            assertThat(guestServedAfterEnable(HistoricalBug.MISSING_ENABLE_EXTERNAL_NOTIFY)).isFalse();
        }

        @Test
        void theRealCodeKicksTheLoopSoItRebuildsItsSet() {
            assertThat(guestServedAfterEnable()).isTrue();
        }
    }

    /**
     * QEMU 21a03d17f2/05e514b1d4 (2015): the main loop hung in ppoll. A vCPU thread ran a
     * temporary aio_poll on the main context (allowed then, under the AioContext lock) and, after
     * dispatching, cleared the eventfd: the notification a worker had just sent for the main
     * loop, which was asleep, was eaten. The fix accepts notifications before dispatching.
     */
    @Nested
    class NotificationEatenByClearingAfterDispatch {

        // tag::bug-accept-after-dispatch[]
        /** Returns whether the sleeping main loop ran the work without being rescued. */
        boolean mainLoopRunsWork(HistoricalBug... bugs) throws Exception {
            HoldBeforeSleep hold = new HoldBeforeSleep();
            WorkQueue work = new WorkQueue();
            try (LoopThread main = new LoopThread("main-loop", b -> b.probe(hold).reintroduce(bugs));
                 EventNotifier mmio = new EventNotifier()) {
                AioContext ctx = main.ctx;
                ctx.addEventSource(work);
                CountDownLatch workDone = new CountDownLatch(1);
                // The vCPU's "device": while the vCPU dispatches it, a worker completes a
                // request for the main loop and notifies it.
                ctx.setEventNotifier(mmio, false, e -> {
                    e.testAndClear();
                    work.add(workDone::countDown);
                    ctx.notifyEvent();                       // the main loop is asleep: eventfd written
                }, null, null);
                hold.holdThread = main.thread();
                hold.armed.set(true);
                main.execute(() -> { });                     // one more iteration, then sleep
                LoopThread.await(hold.committed);            // main loop: about to sleep in ppoll

                mmio.set();
                Thread vcpu = new Thread(() -> ctx.poll(false), "vcpu");
                vcpu.start();                                // a temporary poll in another thread
                LoopThread.join(vcpu);

                boolean wakeUpPending = ctx.isNotified() || readable(ctx.contextNotifier().fd());
                hold.release.countDown();                    // main loop goes to sleep now
                if (!wakeUpPending) {
                    assertThat(work.size()).isEqualTo(1);    // work queued, nobody will run it
                    ctx.notifyEvent();                       // rescue
                }
                LoopThread.await(workDone);
                main.runAndWait(() -> ctx.removeEventNotifier(mmio));
                return wakeUpPending;
            }
        }
        // end::bug-accept-after-dispatch[]

        @Test
        void withTheBugTheVcpuEatsTheMainLoopsWakeUp() throws Exception {
            assertThat(mainLoopRunsWork(HistoricalBug.ACCEPT_AFTER_DISPATCH, HistoricalBug.FOREIGN_THREAD_POLL))
                    .isFalse();
        }

        @Test
        void acceptingBeforeDispatchKeepsANotificationThatArrivesDuringDispatch() throws Exception {
            // Same two pollers (the 2015 world), only the accept moved: the wake-up survives.
            assertThat(mainLoopRunsWork(HistoricalBug.FOREIGN_THREAD_POLL)).isTrue();
        }
    }

    /**
     * QEMU b37548fcd1 (2018): a guest's virtio disk hung at boot. The main thread kicked an
     * IOThread and then ran a non-blocking aio_poll on the IOThread's context itself; that poll
     * found the eventfd readable and drained it, so the IOThread's ppoll never returned. Today
     * only the home thread may poll (0dc165c1bd).
     */
    @Nested
    class NotificationStolenByAForeignNonBlockingPoll {

        // tag::bug-stolen-notification[]
        /** Returns whether the IOThread stopped without being rescued. */
        boolean iothreadStops(HistoricalBug... bugs) {
            HoldBeforeSleep hold = new HoldBeforeSleep();
            AtomicBoolean stopRequested = new AtomicBoolean();
            AioContext[] ctxRef = new AioContext[1];
            Thread iothread = new Thread(() -> {
                while (!stopRequested.get()) {
                    ctxRef[0].poll(true);
                }
            }, "iothread");
            AioContext ctx = AioContext.builder().homeThread(iothread).probe(hold).reintroduce(bugs).build();
            ctxRef[0] = ctx;
            // A handler without io_poll (like the IOThread's virtqueue kicks then) makes every
            // poll, even a non-blocking one, ask the kernel: that is the call that steals.
            EventNotifier virtqueue = new EventNotifier();
            ctx.setEventNotifier(virtqueue, false, EventNotifier::testAndClear, null, null);
            hold.holdThread = iothread;
            hold.armed.set(true);
            iothread.start();
            LoopThread.await(hold.committed);               // the IOThread is about to sleep

            stopRequested.set(true);
            ctx.notifyEvent();                               // kick: eventfd written
            AtomicReference<Throwable> refused = new AtomicReference<>();
            try {
                ctx.poll(false);                             // main thread "helps" by polling
            } catch (IllegalStateException e) {
                refused.set(e);
            }
            boolean wakeUpPending = readable(ctx.contextNotifier().fd());
            hold.release.countDown();
            if (!wakeUpPending) {
                assertThat(iothread.isAlive()).isTrue();     // asleep, with the kick consumed
                ctx.notifyEvent();                           // rescue
            } else {
                assertThat(refused.get()).hasMessageContaining("home thread");
            }
            LoopThread.join(iothread);
            ctx.setHomeThread(Thread.currentThread());
            ctx.removeEventNotifier(virtqueue);
            ctx.close();
            virtqueue.close();
            return wakeUpPending;
        }
        // end::bug-stolen-notification[]

        @Test
        void withTheBugTheForeignPollConsumesTheKick() {
            assertThat(iothreadStops(HistoricalBug.FOREIGN_THREAD_POLL)).isFalse();
        }

        @Test
        void theRealCodeRefusesTheForeignPollAndTheIothreadStops() {
            assertThat(iothreadStops()).isTrue();
        }
    }

    /**
     * QEMU 2ea9b58f0b/acfb23ad3d (2013-14) and cfeb35d677 (2018): when a wake-up counted as
     * progress, "poll until it returns false" never ended while anybody kept notifying the
     * context, and a thread that only wanted to finish pending work spun instead.
     */
    @Nested
    class KickCountedAsProgress {

        // tag::bug-kick-progress[]
        /** A caller drains with {@code while (poll(true))} while a neighbour keeps kicking. */
        int iterationsOfTheDrainLoop(HistoricalBug... bugs) throws Exception {
            Semaphore aboutToSleep = new Semaphore(0);
            PollProbe probe = new PollProbe() {
                @Override
                public void beforeWait(AioContext c, int[] fds, long timeoutNs) {
                    if (timeoutNs == -1) {
                        aboutToSleep.release();
                    }
                }
            };
            AioContext ctx = AioContext.builder().probe(probe).reintroduce(bugs).build();
            AtomicBoolean done = new AtomicBoolean();
            Thread neighbour = new Thread(() -> {
                try {
                    while (!done.get()) {
                        if (aboutToSleep.tryAcquire(50, TimeUnit.MILLISECONDS)) {
                            ctx.notifyEvent();               // e.g. a timer re-armed elsewhere
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "neighbour");
            neighbour.start();
            try {
                ctx.poll(false);                             // accept the construction's notify
                int iterations = 0;
                while (ctx.poll(true)) {                     // the anti-pattern
                    if (++iterations == 100) {
                        break;                               // it would never end on its own
                    }
                }
                return iterations;
            } finally {
                done.set(true);
                LoopThread.join(neighbour);
                ctx.close();
            }
        }
        // end::bug-kick-progress[]

        @Test
        void withTheBugEveryKickLooksLikeProgressAndTheLoopSpins() throws Exception {
            assertThat(iterationsOfTheDrainLoop(HistoricalBug.KICK_IS_PROGRESS)).isEqualTo(100);
        }

        @Test
        void theRealCodeReturnsFalseForAKickAndTheLoopEnds() throws Exception {
            assertThat(iterationsOfTheDrainLoop()).isZero();
        }
    }

    /**
     * QEMU fef1660132 (2018): aio_set_fd_handler updated a registered node field by field while
     * another thread's polling loop was using it; that thread could combine the new io_poll_ready
     * (or a NULL) with the old io_poll. Now a new node is published and the old one retired.
     */
    @Nested
    class HandlerRewrittenWhileItIsPolled {

        // tag::bug-rewrite-in-place[]
        /** Returns what went wrong, or null if nothing did. */
        String replaceWhilePolling(HistoricalBug... bugs) throws Exception {
            CountDownLatch replacerAtWork = new CountDownLatch(1);
            CountDownLatch pollerDone = new CountDownLatch(1);
            PollProbe probe = new PollProbe() {
                @Override
                public void midHandlerRewrite(AioContext c, int fd) {
                    replacerAtWork.countDown();              // half old, half new
                    LoopThread.await(pollerDone);
                }
            };
            AioContext ctx = AioContext.builder().probe(probe).reintroduce(bugs).build();
            AtomicReference<String> problem = new AtomicReference<>();
            AtomicBoolean newPollSaidReady = new AtomicBoolean();
            AtomicInteger newReads = new AtomicInteger();
            try (EventNotifier vq = new EventNotifier()) {
                AtomicBoolean replacing = new AtomicBoolean();
                Thread[] replacer = new Thread[1];
                // Registration A: polls "queue A", and its ready callback processes queue A.
                ctx.setPollParams(10_000_000_000L, 0, 0);
                ctx.setEventNotifier(vq, false, EventNotifier::testAndClear, () -> {
                    if (replacing.compareAndSet(false, true)) {
                        Runnable replace = () -> ctx.setEventNotifier(vq, false, e -> {
                            e.testAndClear();
                            newReads.incrementAndGet();
                        }, () -> {
                            newPollSaidReady.set(true);
                            return true;
                        }, e -> {
                            if (!newPollSaidReady.get()) {
                                problem.compareAndSet(null, "B's ready callback ran on A's poll result");
                            }
                        });
                        // Real code: the replacement is complete here. With the bug the probe
                        // has already counted down, half-way through.
                        replacer[0] = new Thread(() -> {
                            replace.run();
                            replacerAtWork.countDown();
                        }, "replacer");
                        replacer[0].start();
                        // Wait until the replacement is published (real code) or half-done (bug).
                        LoopThread.await(replacerAtWork);
                        return true;                         // A's queue has work
                    }
                    return false;
                }, e -> problem.compareAndSet(null, "A's ready callback ran after A was replaced"));
                TestSources.dispatchThroughFd(ctx, vq); // A joins userspace polling

                ctx.poll(true);                              // A's poll runs while B is registered
                pollerDone.countDown();
                LoopThread.join(replacer[0]);

                if (problem.get() == null) {
                    vq.set();                                // the new registration works
                    ctx.poll(true);
                    assertThat(newReads).hasValue(1);
                }
                ctx.removeEventNotifier(vq);
            } finally {
                ctx.close();
            }
            return problem.get();
        }
        // end::bug-rewrite-in-place[]

        @Test
        void withTheBugTheLoopMixesTheOldPollWithTheNewReadyCallback() throws Exception {
            assertThat(replaceWhilePolling(HistoricalBug.REPLACE_HANDLER_IN_PLACE))
                    .isEqualTo("B's ready callback ran on A's poll result");
        }

        @Test
        void theRealCodeRetiresTheOldNodeAndNeverMixesRegistrations() throws Exception {
            assertThat(replaceWhilePolling()).isNull();
        }
    }

    /**
     * QEMU's {@code aio_notify} until 2020 kicked only when a poll was about to sleep, and left no
     * trace otherwise; a flag plus such a kick, landing just before the loop's next poll, was lost
     * (chapter 3 shows the IOThread stop that hung on it, {@code 2362a28ea1}). Today's kick is
     * remembered in {@code notified} until a poll has looked.
     */
    @Nested
    class KickOnlyWhenSleeping {
        @Test
        void withTheBugAKickWhileNobodySleepsLeavesNoTrace() {
            try (AioContext ctx = AioContext.builder().reintroduce(HistoricalBug.KICK_ONLY_WHEN_SLEEPING).build()) {
                ctx.notifyEvent();
                assertThat(ctx.isNotified()).isFalse();
                assertThat(readable(ctx.contextNotifier().fd())).isFalse();
            }
        }

        @Test
        void theRealKickIsRememberedAndTheNextBlockingPollDoesNotSleep() {
            AtomicBoolean sleptForever = new AtomicBoolean();
            try (AioContext ctx = AioTestSeams.beforeWait(AioContext.builder(), timeout -> {
                if (timeout == -1) {
                    sleptForever.set(true);
                }
            }).build()) {
                ctx.notifyEvent();
                assertThat(ctx.isNotified()).isTrue();
                assertThat(ctx.poll(true)).isFalse(); // returns at once: a kick is not progress
                assertThat(sleptForever.get()).isFalse();
                assertThat(ctx.isNotified()).as("accepted by that poll").isFalse();
            }
        }
    }

    @Test
    void historicalBugsCannotBeSwitchedOnFromOutsideThePackage() throws Exception {
        int reintroduce = AioContext.Builder.class.getDeclaredMethod("reintroduce", HistoricalBug[].class).getModifiers();
        int probe = AioContext.Builder.class.getDeclaredMethod("probe", PollProbe.class).getModifiers();
        assertThat(java.lang.reflect.Modifier.isPublic(reintroduce)).isFalse();
        assertThat(java.lang.reflect.Modifier.isPublic(probe)).isFalse();
        assertThat(java.lang.reflect.Modifier.isPublic(HistoricalBug.class.getModifiers())).isFalse();
    }
}
