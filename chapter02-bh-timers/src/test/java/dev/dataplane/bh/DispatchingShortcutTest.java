package dev.dataplane.bh;

import static dev.dataplane.testsupport.EventLoopThread.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.testsupport.EventLoopThread;
import dev.dataplane.testsupport.Timeouts;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
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
 * <p>Before 2019 a second thread could poll a context its IOThread was also polling (here through
 * {@link AioTestSeams#allowForeignPolls}). The timeline:
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
        CountDownLatch vcpuHasTheBh = new CountDownLatch(1);   // the vCPU's callback has started
        CountDownLatch iothreadMayWalk = new CountDownLatch(1); // gate for the IOThread's first walk
        CountDownLatch resumeCallback = new CountDownLatch(1);
        CountDownLatch vcpuDone = new CountDownLatch(1);
        CountDownLatch ranInIothread = new CountDownLatch(1);
        AtomicInteger walks = new AtomicInteger();

        try (EventLoopThread iothread = new EventLoopThread("iothread", b -> AioTestSeams.beforeWait(
                AioTestSeams.allowForeignPolls(b), ns -> {
                    if (ns == -1) {
                        asleep.get().countDown();
                    }
                }))) {
            iothreadRef.set(iothread.thread());
            BottomHalves bhs = BottomHalves.attach(iothread.ctx, new BhProbe() {
                @Override
                public void beforeWalk() {
                    if (Thread.currentThread() != iothreadRef.get()) {
                        return;
                    }
                    // The IOThread's first walk after the kick waits until the vCPU holds the
                    // bottom half; any later walk waits until the vCPU's poll is over, so that the
                    // two threads never walk at the same time (QEMU's AioContext lock did that).
                    if (walks.incrementAndGet() == 1) {
                        await(iothreadMayWalk);
                    } else {
                        await(vcpuDone);
                    }
                }
            }, bugs);
            Thread vcpu = new Thread(() -> iothread.ctx.poll(false), "vcpu");

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

            // The completion bottom half is scheduled; the IOThread is woken, but held before its
            // walk, while the vCPU thread polls the context and takes the bottom half.
            completion.get().schedule();
            vcpu.start();
            await(vcpuHasTheBh);
            // 1. Let the IOThread finish its (empty) pass and go back to sleep with no timeout.
            asleep.set(new CountDownLatch(1));
            iothreadMayWalk.countDown();
            await(asleep.get());
            // 2. The vCPU's callback reschedules the bottom half while the vCPU is dispatching.
            resumeCallback.countDown();
            vcpu.join(Timeouts.HANDSHAKE.toMillis());
            // 3. A pool worker completes a request.
            Thread worker = new Thread(() -> completion.get().schedule(), "worker");
            worker.start();
            worker.join(Timeouts.HANDSHAKE.toMillis());
            vcpuDone.countDown();

            // tag::stuck[]
            boolean stuck = completion.get().isScheduled()
                    && AioTestSeams.notifyMeCount(iothread.ctx) != 0
                    && !AioTestSeams.isNotified(iothread.ctx);
            if (stuck) {
                iothread.ctx.notifyEvent(); // the "keypress" that unstuck the 2015 guests
            }
            // end::stuck[]
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
