package dev.dataplane.bh;

import static dev.dataplane.testsupport.Timeouts.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.testsupport.EventLoopThread;
import dev.dataplane.testsupport.Timeouts;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * QEMU's 2015 {@code ctx->dispatching} hang ({@code eabc977973}), three threads, made
 * deterministic.
 *
 * <p>The shortcut: "if some thread is dispatching bottom halves, it will see the one I am
 * scheduling, so I need not wake anybody". Invariant it relied on (wrong): <em>if nobody is
 * dispatching, the wake-up may be needed</em>. The invariant QEMU adopted (right): <em>if some poll
 * is in its prepare or wait phase, it may be asleep, so the wake-up is needed</em>; chapter 1's
 * {@code notifyMe} counter is exactly that question, asked in {@code notifyEvent()}.
 *
 * <p>Before 2019 a second thread could poll a context its IOThread was also polling; here the
 * vCPU thread runs the part of that poll the bug needs, a pass over the context's bottom halves,
 * and a gate keeps the two threads from walking at the same time, as QEMU's AioContext lock did.
 * The timeline:
 * <ol>
 *   <li>The IOThread ({@code iothread}) is asleep in its poll, no timeout.</li>
 *   <li>A vCPU thread ({@code vcpu}) polls the same context and runs the thread pool's completion
 *       bottom half, which reschedules itself, as the pool's does. The vCPU is dispatching, so
 *       with the shortcut nobody is woken.</li>
 *   <li>A pool worker finishes a request and schedules the completion bottom half: it is already
 *       scheduled, so with the shortcut nothing happens at all.</li>
 *   <li>The IOThread sleeps on, with a scheduled bottom half and no wake-up pending.</li>
 * </ol>
 * With the bug the test ends in that state and proves it is stuck: the bottom half is scheduled,
 * the IOThread is inside a poll that may sleep ({@code notifyMe != 0}) and no notification is
 * pending, so nothing will ever wake it. With the real code the IOThread runs the bottom half.
 */
class DispatchingShortcutTest {

    /**
     * Runs the timeline; returns whether the IOThread was provably stuck at the end. Either way
     * the bottom half must then run in the IOThread (after a kick if it was stuck), or this
     * fails on the latch's timeout.
     */
    private boolean threeThreads(HistoricalBug... bugs) throws InterruptedException {
        AtomicReference<CountDownLatch> asleep = new AtomicReference<>(new CountDownLatch(0));
        AtomicReference<Thread> iothreadRef = new AtomicReference<>();
        // The IOThread walks bottom halves only while this gate is open: QEMU's AioContext lock
        // kept the two pollers from dispatching at the same time, and the gate does that here.
        AtomicReference<CountDownLatch> gate = new AtomicReference<>(new CountDownLatch(1));
        CountDownLatch vcpuHasTheBh = new CountDownLatch(1);   // the vCPU's callback has started
        CountDownLatch resumeCallback = new CountDownLatch(1);
        CountDownLatch ranInIothread = new CountDownLatch(1);

        CountDownLatch atGate = new CountDownLatch(1);
        try (EventLoopThread iothread = new EventLoopThread("iothread", b -> AioTestSeams.beforeWait(b, ns -> {
                    if (ns == -1) {
                        asleep.get().countDown();
                    }
                }))) {
            iothreadRef.set(iothread.thread());
            BottomHalves bhs = BottomHalves.attach(iothread.ctx, new BhProbe() {
                @Override
                public void beforeWalk() {
                    if (Thread.currentThread() == iothreadRef.get()) {
                        atGate.countDown();
                        await(gate.get());
                    }
                }
            }, bugs);
            // The vCPU's nested aio_poll, reduced to the part the bug needs: its pass over the
            // IOThread's bottom halves. (A whole foreign poll would also share chapter 1's
            // home-thread bookkeeping, which QEMU's AioContext lock protected in 2015.)
            Thread vcpu = new Thread(bhs::dispatch, "vcpu");

            AtomicReference<BottomHalf> completion = new AtomicReference<>();
            completion.set(bhs.newBh("thread-pool-completion", () -> {
                if (Thread.currentThread() == vcpu) {
                    vcpuHasTheBh.countDown();
                    await(resumeCallback);
                    completion.get().schedule(); // the pool reschedules itself before each callback
                } else {
                    ranInIothread.countDown();
                }
            }));

            // The completion bottom half is scheduled; the IOThread is woken, but its walk waits
            // at the closed gate while the vCPU thread polls the context and takes the bottom half.
            completion.get().schedule();
            await(atGate);
            vcpu.start();
            await(vcpuHasTheBh);
            // 1. Let the IOThread finish its (empty) pass and go back to sleep with no timeout,
            //    then close the gate again: from now on it may not walk until the vCPU is done.
            asleep.set(new CountDownLatch(1));
            gate.get().countDown();
            await(asleep.get());
            // That sleep may end at once if an earlier wake-up is still readable in the eventfd.
            // One more kick makes the IOThread drain the eventfd and accept every notification;
            // after the next sleep nothing is pending that could wake it.
            asleep.set(new CountDownLatch(1));
            iothread.ctx.notifyEvent();
            await(asleep.get());
            gate.set(new CountDownLatch(1));
            // 2. The vCPU's callback reschedules the bottom half while the vCPU is dispatching.
            resumeCallback.countDown();
            vcpu.join(Timeouts.HANDSHAKE.toMillis());
            // 3. A pool worker completes a request.
            Thread worker = new Thread(() -> completion.get().schedule(), "worker");
            worker.start();
            worker.join(Timeouts.HANDSHAKE.toMillis());

            // tag::stuck[]
            // Read in this order: a poll that wakes lowers notifyMe BEFORE it clears notified,
            // so a waking IOThread can never look stuck.
            boolean stuck = !AioTestSeams.isNotified(iothread.ctx)
                    && AioTestSeams.notifyMeCount(iothread.ctx) != 0
                    && completion.get().isScheduled();
            if (stuck) {
                iothread.ctx.notifyEvent(); // the "keypress" that unstuck the 2015 guests
            }
            // end::stuck[]
            gate.get().countDown();
            await(ranInIothread);
            iothread.runAndWait(() -> completion.get().delete());
            return stuck;
        }
    }

    @Test
    void asking_is_anyone_dispatching_leaves_the_iothread_asleep_with_work_scheduled() throws InterruptedException {
        assertThat(threeThreads(HistoricalBug.DISPATCHING_SHORTCUT)).isTrue();
    }

    @Test
    void asking_may_anyone_be_asleep_wakes_the_iothread() throws InterruptedException {
        assertThat(threeThreads()).isFalse();
    }
}
