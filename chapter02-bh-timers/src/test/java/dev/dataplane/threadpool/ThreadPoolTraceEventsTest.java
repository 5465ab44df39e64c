package dev.dataplane.threadpool;

import static dev.dataplane.threadpool.PoolTestSupport.await;
import static dev.dataplane.threadpool.PoolTestSupport.blockingWork;
import static dev.dataplane.threadpool.PoolTestSupport.pollUntil;
import static dev.dataplane.threadpool.PoolTestSupport.spinUntil;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.testsupport.JfrEvents;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import java.util.stream.Collectors;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Test;

/** The pool's JFR events: recorded when asked for, with the fields that matter. */
class ThreadPoolTraceEventsTest {

    @Test
    void submitAndCompleteEventsAreRecorded() throws Exception {
        String name = PoolTestSupport.uniqueName("pool-traced");
        List<RecordedEvent> events = JfrEvents.record(() -> exercise(name),
                "dataplane.threadpool.Submit", "dataplane.threadpool.Complete");
        List<RecordedEvent> ours = events.stream().filter(e -> name.equals(e.getString("context"))).toList();
        Map<String, RecordedEvent> submits = byRequest(ours, "dataplane.threadpool.Submit");
        Map<String, RecordedEvent> completes = byRequest(ours, "dataplane.threadpool.Complete");

        assertThat(submits).containsOnlyKeys("ok", "queued", "fails");
        assertThat(submits.get("ok").getBoolean("spawn")).as("no idle worker: one was asked for").isTrue();
        assertThat(submits.get("queued").getInt("queued")).isEqualTo(2);
        assertThat(submits.get("queued").getBoolean("spawn")).as("the maximum of 1 was reached").isFalse();

        assertThat(completes).containsOnlyKeys("ok", "queued", "fails");
        RecordedEvent ok = completes.get("ok");
        assertThat(ok.getInt("ret")).isEqualTo(4096);
        assertThat(ok.getBoolean("cancelled")).isFalse();
        assertThat(ok.getBoolean("failed")).isFalse();
        assertThat(ok.getLong("queueWaitNs")).isNotNegative();
        assertThat(ok.getLong("runNs")).isPositive();
        assertThat(ok.getLong("handBackNs")).as("the test held the callback back for %d ns after DONE", HAND_BACK_NS)
                .isGreaterThanOrEqualTo(HAND_BACK_NS);
        RecordedEvent cancelled = completes.get("queued");
        assertThat(cancelled.getInt("ret")).isEqualTo(-ThreadPool.ECANCELED);
        assertThat(cancelled.getBoolean("cancelled")).isTrue();
        assertThat(cancelled.getLong("runNs")).isZero();
        RecordedEvent failed = completes.get("fails");
        assertThat(failed.getInt("ret")).isEqualTo(-Errno.EIO);
        assertThat(failed.getBoolean("failed")).isTrue();
        assertThat(failed.getThread().getJavaName()).as("callbacks run in the home thread")
                .isEqualTo(Thread.currentThread().getName());
    }

    /** How long the test keeps "ok"'s callback waiting after the request is done. */
    private static final long HAND_BACK_NS = 2_000_000;

    private static Map<String, RecordedEvent> byRequest(List<RecordedEvent> events, String type) {
        return events.stream().filter(e -> e.getEventType().getName().equals(type))
                .collect(Collectors.toMap(e -> e.getString("name"), Function.identity()));
    }

    private static void exercise(String name) {
        try (AioContext ctx = AioContext.builder().name(name).build()) {
            ThreadPool pool = ThreadPool.of(ctx);
            pool.setMinMaxThreads(0, 1);
            CountDownLatch running = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            ThreadPoolRequest ok = pool.submit("ok", blockingWork(running, release, 4096), (r, ret) -> { });
            ThreadPoolRequest queued = pool.submit("queued", () -> 0, (r, ret) -> { });
            ctx.poll(false);
            await(running);
            queued.cancel();
            release.countDown();
            // Nobody polls ctx until "ok" has been done for a while: its hand-back is at least that long.
            spinUntil(() -> ok.state() == ThreadPoolRequest.State.DONE);
            long done = System.nanoTime();
            while (System.nanoTime() - done < HAND_BACK_NS) {
                Thread.onSpinWait(); // a measured delay, not a synchronisation
            }
            pollUntil(ctx, () -> ok.isCompleted() && queued.isCompleted());
            ThreadPoolRequest fails = pool.submit("fails", () -> {
                throw new IOException("no disk");
            }, (r, ret) -> { });
            pollUntil(ctx, fails::isCompleted);
        }
    }
}
