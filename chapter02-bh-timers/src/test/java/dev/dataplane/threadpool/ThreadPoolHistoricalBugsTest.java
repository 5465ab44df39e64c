package dev.dataplane.threadpool;

import static dev.dataplane.threadpool.PoolTestSupport.awaitPermits;
import static dev.dataplane.threadpool.PoolTestSupport.liveWorkers;
import static dev.dataplane.threadpool.PoolTestSupport.pollUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.threadpool.PoolTestSupport.RecordingProbe;
import dev.dataplane.threadpool.ThreadPoolRequest.State;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Two bugs from the history of QEMU's thread pool, each put back on demand: the broken variant
 * fails the scenario and the real code passes the same one. Nothing here depends on timing: the
 * probe holds threads where the race needs them, and "it would hang" is shown directly, as a
 * blocking poll that is about to sleep with no timeout while a request is DONE and not completed,
 * and nothing scheduled that could complete it.
 */
class ThreadPoolHistoricalBugsTest {

    /**
     * A context whose blocking polls say when they are about to sleep for ever. Armed, the hook
     * records it and kicks the context, so that the poll returns and the test can report a hang
     * instead of living it.
     */
    private static final class Watched implements AutoCloseable {
        private AioContext ctx;
        private boolean armed;        // home thread only
        private boolean sleptForever; // home thread only

        Watched() {
            ctx = AioTestSeams.beforeWait(AioContext.builder().name(PoolTestSupport.uniqueName("pool-bug")),
                    timeoutNs -> {
                        if (armed && timeoutNs == -1) {
                            sleptForever = true;
                            armed = false;
                            ctx.notifyEvent(); // we are registered as sleeping: this writes the eventfd
                        }
                    }).build();
        }

        /** Polls as a waiter would, at most {@code polls} times, stopping at a sleep-for-ever. */
        boolean wouldSleepForever(int polls) {
            armed = true;
            for (int i = 0; i < polls && !sleptForever; i++) {
                ctx.poll(true);
            }
            armed = false;
            return sleptForever;
        }

        @Override
        public void close() {
            ctx.close();
            assertThat(liveWorkers(ctx)).isEmpty();
        }
    }

    // ------------------------------------------------------------------------------------
    // 3c80ca158c (2014): nested thread-pool completions deadlock
    // ------------------------------------------------------------------------------------

    /** What A's callback saw while it waited for B. */
    private record NestedWait(long completionTimeoutAtStart, boolean sleptForever, boolean bCompletedInside,
                              State bStateInside) {
    }

    /**
     * A and B are both DONE before the completion bottom half runs. A's callback waits for B with
     * {@code while (!b.isCompleted()) ctx.poll(true)}, as QEMU callers that wait synchronously did.
     */
    private static NestedWait waitForAnotherDoneRequestInsideACallback(HistoricalBug... bugs) {
        try (Watched w = new Watched()) {
            RecordingProbe probe = new RecordingProbe();
            ThreadPool pool = ThreadPool.attach(w.ctx, probe, bugs);
            AtomicReference<ThreadPoolRequest> bRef = new AtomicReference<>();
            AtomicReference<NestedWait> seen = new AtomicReference<>();
            ThreadPoolRequest a = pool.submit("a", () -> 1, (r, ret) -> {
                ThreadPoolRequest b = bRef.get();
                long timeout = BottomHalves.of(w.ctx).timeoutNs();
                w.armed = true;
                while (!b.isCompleted() && !w.sleptForever) {
                    w.ctx.poll(true);
                }
                w.armed = false;
                seen.set(new NestedWait(timeout, w.sleptForever, b.isCompleted(), b.state()));
            });
            ThreadPoolRequest b = pool.submit("b", () -> 2, (r, ret) -> { });
            bRef.set(b);
            assertThat(w.ctx.poll(false)).as("the new-thread bottom half ran").isTrue();
            awaitPermits(probe.finished, 2); // both DONE, and the completion bottom half scheduled

            pollUntil(w.ctx, a::isCompleted);
            pollUntil(w.ctx, b::isCompleted); // the broken walk completes b once a's callback gave up
            return seen.get();
        }
    }

    @Test
    void noRescheduleBeforeCallback_aNestedWaitForAnotherDoneRequestSleepsForEver() {
        NestedWait seen = waitForAnotherDoneRequestInsideACallback(HistoricalBug.NO_RESCHEDULE_BEFORE_CALLBACK);

        assertThat(seen.completionTimeoutAtStart()).as("nothing scheduled while a's callback runs").isEqualTo(-1);
        assertThat(seen.bStateInside()).isEqualTo(State.DONE);
        assertThat(seen.bCompletedInside()).isFalse();
        assertThat(seen.sleptForever()).as("the nested poll had nothing to run and went to sleep for good").isTrue();
    }

    @Test
    @Tag("ch02-pool-completion")
    void realCode_aNestedWaitForAnotherDoneRequestCompletesItInTheNestedPoll() {
        NestedWait seen = waitForAnotherDoneRequestInsideACallback();

        assertThat(seen.completionTimeoutAtStart()).as("the walk rescheduled itself before the callback").isZero();
        assertThat(seen.bCompletedInside()).isTrue();
        assertThat(seen.sleptForever()).isFalse();
    }

    // ------------------------------------------------------------------------------------
    // ef6dada8b4 (2017): qemu_bh_cancel without a barrier
    // ------------------------------------------------------------------------------------

    /** The state after the pass that completed A, and what it took to complete B. */
    private record AfterPass(boolean bCompletedInThatPass, State bState, long completionTimeout,
                             boolean sleptForever, boolean bCompletedByALaterRequest) {
    }

    /**
     * A completes while B runs. Right after A's callback, before the walk cancels its own bottom
     * half, B's worker stores DONE and schedules the bottom half, finding it still scheduled (the
     * walk scheduled it before calling A's callback), so its schedule() adds nothing.
     */
    private static AfterPass workerFinishesBetweenCallbackAndCancel(HistoricalBug... bugs) {
        try (Watched w = new Watched()) {
            RecordingProbe probe = new RecordingProbe();
            ThreadPool pool = ThreadPool.attach(w.ctx, probe, bugs);
            CountDownLatch releaseB = new CountDownLatch(1);
            AtomicReference<ThreadPoolRequest> aRef = new AtomicReference<>();
            probe.afterCallback = req -> {
                if (req == aRef.get()) {
                    releaseB.countDown();
                    awaitPermits(probe.finished, 2); // a's and b's: b is DONE and its schedule() returned
                }
            };
            ThreadPoolRequest a = pool.submit("a", () -> 1, (r, ret) -> { });
            aRef.set(a);
            ThreadPoolRequest b = pool.submit("b", () -> {
                if (!releaseB.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("b was never released");
                }
                return 2;
            }, (r, ret) -> { });

            try {
                pollUntil(w.ctx, a::isCompleted);
            } finally {
                releaseB.countDown(); // if the walk failed, close() must not wait for b's worker
            }
            boolean bInThatPass = b.isCompleted();
            State bState = b.state();
            long timeout = BottomHalves.of(w.ctx).timeoutNs();
            // The worker's notifyEvent() found the loop awake and left one wake-up; after it, does a
            // blocking poll sleep with b DONE and not completed?
            boolean sleptForever = !bInThatPass && w.wouldSleepForever(5) && !b.isCompleted();

            // Any later completion schedules the walk again, which then finds b too: in QEMU the
            // guest's next I/O rescued a stuck request, if the guest was not waiting for it.
            boolean rescued = false;
            if (!b.isCompleted()) {
                ThreadPoolRequest c = pool.submit("c", () -> 3, (r, ret) -> { });
                pollUntil(w.ctx, c::isCompleted);
                rescued = b.isCompleted();
            }
            return new AfterPass(bInThatPass, bState, timeout, sleptForever, rescued);
        }
    }

    @Test
    void cancelWithoutBarrier_aRequestThatFinishesBeforeTheCancelIsNeverCompleted() {
        AfterPass after = workerFinishesBetweenCallbackAndCancel(HistoricalBug.CANCEL_WITHOUT_BARRIER);

        assertThat(after.bCompletedInThatPass()).isFalse();
        assertThat(after.bState()).isEqualTo(State.DONE);
        assertThat(after.completionTimeout()).as("the completion bottom half is not scheduled").isEqualTo(-1);
        assertThat(after.sleptForever()).as("a blocking poll sleeps with b DONE and not completed").isTrue();
        assertThat(after.bCompletedByALaterRequest()).isTrue();
    }

    @Test
    @Tag("ch02-pool-completion")
    void realCode_aRequestThatFinishesBeforeTheCancelIsSeenByTheRestartedWalk() {
        AfterPass after = workerFinishesBetweenCallbackAndCancel();

        assertThat(after.bCompletedInThatPass()).isTrue();
        assertThat(after.bState()).isEqualTo(State.DONE);
        assertThat(after.completionTimeout()).as("and the extra pass was cancelled").isEqualTo(-1);
        assertThat(after.sleptForever()).isFalse();
    }
}
