package dev.dataplane.threadpool;

import static dev.dataplane.threadpool.PoolTestSupport.await;
import static dev.dataplane.threadpool.PoolTestSupport.awaitPermits;
import static dev.dataplane.threadpool.PoolTestSupport.awaitUntil;
import static dev.dataplane.threadpool.PoolTestSupport.blockingWork;
import static dev.dataplane.threadpool.PoolTestSupport.join;
import static dev.dataplane.threadpool.PoolTestSupport.liveWorkers;
import static dev.dataplane.threadpool.PoolTestSupport.pollUntil;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.threadpool.PoolTestSupport.RecordingProbe;
import dev.dataplane.threadpool.ThreadPoolRequest.State;
import dev.dataplane.testsupport.Timeouts;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The thread pool's contract: where work and callbacks run, worker life cycle, cancel, close. */
class ThreadPoolTest {

    /** Long enough that no worker retires by itself while a test runs, even on a loaded machine. */
    private static final Duration NEVER = Duration.ofHours(1);

    private AioContext ctx;
    private final List<CountDownLatch> toRelease = new ArrayList<>();

    @BeforeEach
    void setUp() {
        ctx = AioContext.builder().name(PoolTestSupport.uniqueName("pool")).build();
    }

    @AfterEach
    void tearDown() {
        toRelease.forEach(CountDownLatch::countDown); // a failed test must not leave work blocked
        ctx.close();
        assertThat(liveWorkers(ctx)).as("worker threads left behind").isEmpty();
    }

    private CountDownLatch latch(int count) {
        CountDownLatch l = new CountDownLatch(count);
        toRelease.add(l);
        return l;
    }

    // ------------------------------------------------------------------------------------
    // Completion
    // ------------------------------------------------------------------------------------

    @Test
    @Tag("ch02-pool-completion")
    void workRunsOnAWorkerAndItsCallbackRunsInTheHomeThreadWithTheResult() {
        ThreadPool pool = ThreadPool.of(ctx);
        AtomicReference<Thread> workThread = new AtomicReference<>();
        AtomicReference<Thread> callbackThread = new AtomicReference<>();
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger got = new AtomicInteger();

        ThreadPoolRequest req = pool.submit("answer", () -> {
            workThread.set(Thread.currentThread());
            return 42;
        }, (r, ret) -> {
            callbackThread.set(Thread.currentThread());
            calls.incrementAndGet();
            got.set(ret);
        });
        assertThat(req.isCompleted()).isFalse();
        pollUntil(ctx, req::isCompleted);

        assertThat(workThread.get()).isNotSameAs(Thread.currentThread());
        assertThat(workThread.get().getName()).startsWith(ctx.name() + "/pool-worker-");
        assertThat(callbackThread.get()).isSameAs(Thread.currentThread());
        assertThat(calls.get()).isEqualTo(1);
        assertThat(got.get()).isEqualTo(42);
        assertThat(req.state()).isEqualTo(State.DONE);
        assertThat(req.ret()).isEqualTo(42);
        assertThat(req.failure()).isNull();
        assertThat(req.isCancelled()).isFalse();
        // The pass cancelled its self-reschedule (QEMU b7a745dc33): nothing is left to run, so
        // the next blocking poll may sleep.
        assertThat(BottomHalves.of(ctx).timeoutNs()).isEqualTo(-1);
        assertThat(pool.statistics().completed()).isEqualTo(1);
    }

    @Test
    @Tag("ch02-pool-completion")
    void theCompletionBottomHalfIsScheduledWhileACallbackRuns() {
        // QEMU's completion bottom half schedules itself before each callback; the 2015
        // ctx->dispatching hang needed exactly that, and nested waits depend on it.
        ThreadPool pool = ThreadPool.of(ctx);
        AtomicReference<Long> timeoutInCallback = new AtomicReference<>();
        ThreadPoolRequest req = pool.submit("r", () -> 0,
                (r, ret) -> timeoutInCallback.set(BottomHalves.of(ctx).timeoutNs()));
        pollUntil(ctx, req::isCompleted);

        assertThat(timeoutInCallback.get()).as("a bottom half is scheduled: don't sleep").isEqualTo(0L);
        assertThat(BottomHalves.of(ctx).timeoutNs()).as("and cancelled after the callback").isEqualTo(-1);
    }

    @Test
    @Tag("ch02-pool-completion")
    void manyRequestsSubmittedFromTheLoopAreEachCompletedExactlyOnce() {
        ThreadPool pool = ThreadPool.of(ctx);
        pool.setMinMaxThreads(0, 4);
        int first = 200;
        int total = 2 * first;
        int[] calls = new int[total];
        int[] rets = new int[total];
        AtomicInteger nextFollowUp = new AtomicInteger(first);
        AtomicInteger completed = new AtomicInteger();
        List<ThreadPoolRequest> requests = new ArrayList<>();

        class Submitter {
            void submit(int i) {
                requests.add(pool.submit("r" + i, () -> i * 3, (r, ret) -> {
                    calls[i]++;
                    rets[i] = ret;
                    completed.incrementAndGet();
                    // A callback submits more, as a device completing one request starts the next.
                    int j = nextFollowUp.getAndIncrement();
                    if (j < total) {
                        submit(j);
                    }
                }));
            }
        }
        Submitter submitter = new Submitter();
        for (int i = 0; i < first; i++) {
            submitter.submit(i);
        }
        pollUntil(ctx, () -> completed.get() == total);

        for (int i = 0; i < total; i++) {
            assertThat(calls[i]).as("callbacks of request %d", i).isEqualTo(1);
            assertThat(rets[i]).as("ret of request %d", i).isEqualTo(i * 3);
        }
        assertThat(requests).allSatisfy(r -> assertThat(r.isCompleted()).isTrue());
        ThreadPool.Statistics stats = pool.statistics();
        assertThat(stats.submitted()).isEqualTo(total);
        assertThat(stats.completed()).isEqualTo(total);
        assertThat(stats.peakWorkers()).isBetween(1, 4);
        assertThat(stats.queued()).isZero();
    }

    @Test
    @Tag("ch02-pool-completion")
    void requestsDoneBeforeAPassCompleteInSubmissionOrder() {
        RecordingProbe probe = new RecordingProbe();
        ThreadPool pool = ThreadPool.attach(ctx, probe);
        List<String> order = new ArrayList<>();
        List<ThreadPoolRequest> reqs = new ArrayList<>();
        for (String name : List.of("first", "second", "third")) {
            reqs.add(pool.submit(name, () -> 0, (r, ret) -> order.add(r.name())));
        }
        assertThat(ctx.poll(false)).as("the new-thread bottom half ran").isTrue();
        awaitPermits(probe.finished, 3); // all DONE before the completion bottom half runs

        pollUntil(ctx, () -> reqs.stream().allMatch(ThreadPoolRequest::isCompleted));
        assertThat(order).containsExactly("first", "second", "third");
    }

    @Test
    @Tag("ch02-pool-completion")
    void aCallbackThatThrowsPropagatesOutOfPollAndTheOtherRequestsStillComplete() {
        RecordingProbe probe = new RecordingProbe();
        ThreadPool pool = ThreadPool.attach(ctx, probe);
        AtomicInteger bCalls = new AtomicInteger();
        ThreadPoolRequest a = pool.submit("a", () -> 1, (r, ret) -> {
            throw new IllegalStateException("callback failed");
        });
        ThreadPoolRequest b = pool.submit("b", () -> 2, (r, ret) -> bCalls.incrementAndGet());
        assertThat(ctx.poll(false)).as("the bottom half that starts the workers ran").isTrue();
        awaitPermits(probe.finished, 2);

        // Both are DONE before the pass, so one pass meets a's callback first (submission order).
        assertThatThrownBy(() -> pollUntil(ctx, b::isCompleted)).hasMessage("callback failed");
        assertThat(a.isCompleted()).as("a is off the list: its callback will not run again").isTrue();
        assertThat(b.isCompleted()).isFalse();
        assertThat(BottomHalves.of(ctx).timeoutNs()).as("the completion bottom half is still scheduled").isZero();

        pollUntil(ctx, b::isCompleted);
        assertThat(bCalls.get()).isEqualTo(1);
    }

    @Test
    void workThatThrowsCompletesWithEioAndHandsTheThrowableToTheCallback() {
        ThreadPool pool = ThreadPool.of(ctx);
        IOException boom = new IOException("read failed");
        AtomicReference<Throwable> seen = new AtomicReference<>();
        AtomicInteger got = new AtomicInteger();
        ThreadPoolRequest req = pool.submit("read", () -> {
            throw boom;
        }, (r, ret) -> {
            got.set(ret);
            seen.set(r.failure());
        });
        pollUntil(ctx, req::isCompleted);
        assertThat(got.get()).isEqualTo(-Errno.EIO);
        assertThat(seen.get()).isSameAs(boom);

        // The worker survived its work's exception and serves the next request.
        ThreadPoolRequest next = pool.submit("next", () -> 7, (r, ret) -> { });
        pollUntil(ctx, next::isCompleted);
        assertThat(next.ret()).isEqualTo(7);
    }

    // ------------------------------------------------------------------------------------
    // Workers
    // ------------------------------------------------------------------------------------

    @Test
    void workersAreStartedOnDemandByABottomHalfEachStartingTheNextUpToTheMaximum() {
        RecordingProbe probe = new RecordingProbe();
        ThreadPool pool = ThreadPool.attach(ctx, probe);
        pool.setMinMaxThreads(0, 3);
        CountDownLatch running = latch(3);
        CountDownLatch release = latch(1);
        List<ThreadPoolRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            reqs.add(pool.submit("blocked" + i, blockingWork(running, release, i), (r, ret) -> { }));
        }
        // Submitting asked for three workers and created none: creating is the bottom half's job.
        ThreadPool.Statistics asked = pool.statistics();
        assertThat(asked.workersStarted()).isZero();
        assertThat(asked.workers()).isEqualTo(3);
        assertThat(asked.queued()).isEqualTo(5);
        assertThat(liveWorkers(ctx)).isEmpty();

        assertThat(ctx.poll(false)).as("the new-thread bottom half ran").isTrue();
        await(running);

        // The home thread created the first worker; each worker created the next one.
        assertThat(probe.created).hasSize(3);
        assertThat(probe.created.get(0)[0]).isSameAs(Thread.currentThread());
        assertThat(probe.created.get(1)[0]).isSameAs(probe.created.get(0)[1]);
        assertThat(probe.created.get(2)[0]).isSameAs(probe.created.get(1)[1]);
        ThreadPool.Statistics busy = pool.statistics();
        assertThat(busy.workers()).isEqualTo(3);
        assertThat(busy.workersStarted()).isEqualTo(3);
        assertThat(busy.peakWorkers()).isEqualTo(3);
        assertThat(busy.idleWorkers()).isZero();
        assertThat(busy.queued()).as("two wait: the maximum is 3").isEqualTo(2);
        assertThat(liveWorkers(ctx)).hasSize(3);

        release.countDown();
        pollUntil(ctx, () -> reqs.stream().allMatch(ThreadPoolRequest::isCompleted));
        assertThat(pool.statistics().workersStarted()).isEqualTo(3);
    }

    @Test
    void anIdleWorkerTakesTheNextRequestAndNoThreadIsStarted() {
        RecordingProbe probe = new RecordingProbe();
        ThreadPool pool = ThreadPool.attach(ctx, probe);
        pool.setIdleTimeout(NEVER);
        ThreadPoolRequest first = pool.submit("first", () -> 1, (r, ret) -> { });
        pollUntil(ctx, first::isCompleted);
        awaitUntil(probe.idle, () -> pool.statistics().idleWorkers() == 1);

        ThreadPoolRequest second = pool.submit("second", () -> 2, (r, ret) -> { });
        assertThat(pool.statistics().workers()).as("no worker asked for").isEqualTo(1);
        pollUntil(ctx, second::isCompleted);
        assertThat(pool.statistics().workersStarted()).isEqualTo(1);
    }

    @Test
    void idleWorkersAboveTheMinimumRetireWhenTheIdleTimeoutExpires() {
        RecordingProbe probe = new RecordingProbe();
        ThreadPool pool = ThreadPool.attach(ctx, probe);
        pool.setIdleTimeout(NEVER);
        startBusyWorkers(pool, 3);
        awaitUntil(probe.idle, () -> pool.statistics().idleWorkers() == 3);
        pool.setMinMaxThreads(1, 3);

        // A zero timeout is the "it has expired" of a test: the waiting workers wake (the change
        // signals them), wait again for no time, and those above the minimum leave.
        pool.setIdleTimeout(Duration.ZERO);
        awaitUntil(probe.exiting, () -> pool.statistics().workers() == 1);
        assertThat(probe.exited).hasSize(2);
        join(probe.exited);
        assertThat(liveWorkers(ctx)).hasSize(1);
        // The one the minimum keeps waits without a timeout: it is idle, not gone, and not
        // spinning through zero-length waits. One request wakes it once and it waits once more.
        awaitUntil(probe.idle, () -> pool.statistics().idleWorkers() == 1);
        probe.idle.drainPermits();
        ThreadPoolRequest req = pool.submit("wake", () -> 0, (r, ret) -> { });
        pollUntil(ctx, req::isCompleted);
        awaitUntil(probe.idle, () -> pool.statistics().idleWorkers() == 1);
        assertThat(probe.idle.availablePermits()).as("further waits (a spinning worker makes thousands)")
                .isLessThanOrEqualTo(2);
        assertThat(pool.statistics().workers()).isEqualTo(1);
        assertThat(pool.statistics().workersStarted()).isEqualTo(3);
    }

    @Test
    void loweringTheMaximumMakesSurplusWorkersExit() {
        RecordingProbe probe = new RecordingProbe();
        ThreadPool pool = ThreadPool.attach(ctx, probe);
        pool.setIdleTimeout(NEVER);
        startBusyWorkers(pool, 3);
        awaitUntil(probe.idle, () -> pool.statistics().idleWorkers() == 3);

        pool.setMinMaxThreads(0, 1);
        awaitUntil(probe.exiting, () -> pool.statistics().workers() == 1);
        assertThat(probe.exited).hasSize(2);
        join(probe.exited);
        assertThat(liveWorkers(ctx)).hasSize(1);

        // The survivor still serves requests, and no thread is started for them.
        ThreadPoolRequest a = pool.submit("a", () -> 1, (r, ret) -> { });
        ThreadPoolRequest b = pool.submit("b", () -> 2, (r, ret) -> { });
        pollUntil(ctx, () -> a.isCompleted() && b.isCompleted());
        assertThat(pool.statistics().workersStarted()).isEqualTo(3);
    }

    /** Runs {@code n} requests at once, so that {@code n} workers exist, and completes them. */
    private void startBusyWorkers(ThreadPool pool, int n) {
        CountDownLatch running = latch(n);
        CountDownLatch release = latch(1);
        List<ThreadPoolRequest> reqs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            reqs.add(pool.submit("busy" + i, blockingWork(running, release, i), (r, ret) -> { }));
        }
        ctx.poll(false); // the new-thread bottom half
        await(running);
        release.countDown();
        pollUntil(ctx, () -> reqs.stream().allMatch(ThreadPoolRequest::isCompleted));
        assertThat(pool.statistics().workers()).isEqualTo(n);
    }

    // ------------------------------------------------------------------------------------
    // Cancel
    // ------------------------------------------------------------------------------------

    @Test
    void cancellingAQueuedRequestCompletesItWithMinusEcanceled() {
        ThreadPool pool = ThreadPool.of(ctx);
        pool.setMinMaxThreads(0, 1);
        CountDownLatch running = latch(1);
        CountDownLatch release = latch(1);
        AtomicBoolean queuedWorkRan = new AtomicBoolean();
        AtomicInteger queuedRet = new AtomicInteger();
        AtomicInteger queuedCalls = new AtomicInteger();
        ThreadPoolRequest busy = pool.submit("busy", blockingWork(running, release, 5), (r, ret) -> { });
        ThreadPoolRequest queued = pool.submit("queued", () -> {
            queuedWorkRan.set(true);
            return 6;
        }, (r, ret) -> {
            queuedCalls.incrementAndGet();
            queuedRet.set(ret);
        });
        ctx.poll(false);
        await(running); // the only worker is held: "queued" cannot be taken

        assertThat(queued.state()).isEqualTo(State.QUEUED);
        assertThat(queued.cancel()).isTrue();
        assertThat(queued.state()).isEqualTo(State.DONE);
        assertThat(queued.ret()).isEqualTo(-ThreadPool.ECANCELED);
        assertThat(queued.isCancelled()).isTrue();
        assertThat(queued.cancel()).as("only once").isFalse();
        assertThat(pool.statistics().queued()).isZero();

        // Its callback still runs, with -ECANCELED, without waiting for the busy worker.
        pollUntil(ctx, queued::isCompleted);
        assertThat(queuedCalls.get()).isEqualTo(1);
        assertThat(queuedRet.get()).isEqualTo(-ThreadPool.ECANCELED);
        assertThat(busy.isCompleted()).isFalse();

        release.countDown();
        pollUntil(ctx, busy::isCompleted);
        assertThat(busy.ret()).isEqualTo(5);
        assertThat(queuedWorkRan.get()).as("cancelled work never runs").isFalse();
        assertThat(queuedCalls.get()).isEqualTo(1);
    }

    @Test
    void cancellingAnActiveRequestFailsAndItCompletesNormally() {
        ThreadPool pool = ThreadPool.of(ctx);
        CountDownLatch running = latch(1);
        CountDownLatch release = latch(1);
        AtomicInteger got = new AtomicInteger();
        ThreadPoolRequest req = pool.submit("active", blockingWork(running, release, 9), (r, ret) -> got.set(ret));
        ctx.poll(false);
        await(running);

        assertThat(req.state()).isEqualTo(State.ACTIVE);
        assertThat(req.cancel()).isFalse();
        assertThat(req.state()).isEqualTo(State.ACTIVE);

        release.countDown();
        pollUntil(ctx, req::isCompleted);
        assertThat(got.get()).isEqualTo(9);
        assertThat(req.isCancelled()).isFalse();
        assertThat(req.cancel()).as("a completed request cannot be cancelled either").isFalse();
    }

    // ------------------------------------------------------------------------------------
    // Threads and life cycle
    // ------------------------------------------------------------------------------------

    @Test
    void submitAndCancelFromAnotherThreadAreRefused() throws Exception {
        ThreadPool pool = ThreadPool.of(ctx);
        CountDownLatch running = latch(1);
        CountDownLatch release = latch(1);
        ThreadPoolRequest req = pool.submit("mine", blockingWork(running, release, 0), (r, ret) -> { });

        FutureTask<Set<String>> foreign = new FutureTask<>(() -> {
            Set<String> refused = new HashSet<>();
            try {
                pool.submit("foreign", () -> 0, (r, ret) -> { });
            } catch (IllegalStateException e) {
                refused.add("submit: " + e.getMessage());
            }
            try {
                req.cancel();
            } catch (IllegalStateException e) {
                refused.add("cancel: " + e.getMessage());
            }
            return refused;
        });
        Thread other = new Thread(foreign, "not-home");
        other.start();
        Set<String> refused = foreign.get(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS);

        assertThat(refused).hasSize(2).allSatisfy(m -> assertThat(m).contains("not-home").contains("home thread"));
        assertThat(pool.statistics().submitted()).isEqualTo(1);
        release.countDown();
        pollUntil(ctx, req::isCompleted);
    }

    @Test
    void closingTheContextStopsEveryWorkerAndLeavesNoThreadBehind() {
        RecordingProbe probe = new RecordingProbe();
        ThreadPool pool = ThreadPool.attach(ctx, probe);
        pool.setMinMaxThreads(2, 4); // two workers stay alive, waiting without a timeout
        startBusyWorkers(pool, 4);
        assertThat(liveWorkers(ctx)).hasSize(4);

        ctx.close();

        assertThat(liveWorkers(ctx)).as("close() joined them").isEmpty();
        assertThat(probe.created).allSatisfy(pair -> assertThat(pair[1].isAlive()).isFalse());
        assertThat(pool.statistics().workers()).isZero();
        assertThatThrownBy(() -> pool.submit("late", () -> 0, (r, ret) -> { }))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void closingWithRequestsNotCompletedReportsThemAndStillStopsTheWorkers() {
        ThreadPool pool = ThreadPool.of(ctx);
        pool.setMinMaxThreads(0, 1);
        CountDownLatch running = latch(1);
        CountDownLatch release = latch(1);
        AtomicInteger callbacks = new AtomicInteger();
        pool.submit("first", blockingWork(running, release, 0), (r, ret) -> callbacks.incrementAndGet());
        pool.submit("second", () -> 0, (r, ret) -> callbacks.incrementAndGet());
        ctx.poll(false);
        await(running);
        release.countDown(); // "first" finishes; "second" may or may not be taken before close()

        assertThatThrownBy(pool::close).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("first").hasMessageContaining("second");
        assertThat(liveWorkers(ctx)).isEmpty();
        assertThat(callbacks.get()).isZero();
        pool.close(); // a second close is a no-op, and so the context's close() succeeds
    }

    @Test
    void aPoolThatNeverStartedAWorkerClosesAtOnce() {
        ThreadPool pool = ThreadPool.of(ctx);
        pool.setMinMaxThreads(3, 5); // asks for three workers; the bottom half never runs
        assertThat(pool.statistics().workers()).isEqualTo(3);
        ctx.close();
        assertThat(pool.statistics().workers()).isZero();
        assertThat(pool.statistics().workersStarted()).isZero();
    }

    @Test
    void limitsAreChecked() {
        ThreadPool pool = ThreadPool.of(ctx);
        assertThatThrownBy(() -> pool.setMinMaxThreads(2, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> pool.setMinMaxThreads(-1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> pool.setMinMaxThreads(0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> pool.setIdleTimeout(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThat(ThreadPool.of(ctx)).as("one pool per context").isSameAs(pool);
    }
}
