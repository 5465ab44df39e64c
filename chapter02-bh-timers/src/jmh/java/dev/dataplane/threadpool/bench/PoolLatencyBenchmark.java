package dev.dataplane.threadpool.bench;

import dev.dataplane.aio.AioContext;
import dev.dataplane.threadpool.CompletionFunc;
import dev.dataplane.threadpool.ThreadPool;
import dev.dataplane.threadpool.ThreadPoolFunc;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The latency of one request handed to a worker thread and its result handed back, one request at
 * a time: the round trip a block device's synchronous path pays per I/O.
 *
 * <ul>
 *   <li>{@link #threadPool}: Dataplane's {@link ThreadPool}. The JMH thread is the context's home
 *       thread: it submits, then waits in {@code while (!done) ctx.poll(true)}; the worker's
 *       completion bottom half wakes it through the context's eventfd.</li>
 *   <li>{@link #threadPoolPolling}: the same, with the context busy-polling for up to QEMU's
 *       IOThread default of 32768 ns before it sleeps, so a quick completion is seen without the
 *       eventfd round trip.</li>
 *   <li>{@link #completableFuture}: {@code CompletableFuture.supplyAsync(work, executor).join()}.</li>
 *   <li>{@link #executorSubmitGet}: {@code executor.submit(work).get()}.</li>
 * </ul>
 *
 * <p>The executor is configured like the pool: no threads kept when idle, at most 64, an idle
 * thread leaves after 10 s, and a task goes straight to an idle thread (a
 * {@link SynchronousQueue}, as in {@code Executors.newCachedThreadPool}). With one request at a
 * time every peer settles on one warm worker, so the figures compare hand-off and wake-up paths:
 * a condition signal and an eventfd write plus {@code ppoll} for the pool, park/unpark for the
 * executor. The work itself is the same trivial function everywhere.
 *
 * <p>Run with the chapter's other benchmarks:
 * {@code ./mvnw -q -Pbench-ch02 -pl chapter02-bh-timers -am verify -DskipTests}
 * ({@code -Dbench.include=PoolLatency} for this one only).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class PoolLatencyBenchmark {

    /** The method {@code Chapter2BenchMain} compares the others with. */
    public static final String PEER_METHOD = "completableFuture";

    /** QEMU's default poll-max-ns for an IOThread. */
    static final long QEMU_IOTHREAD_POLL_MAX_NS = 32_768;

    /** The work of every peer: trivial, so that only the hand-offs are measured. */
    static int work(int x) {
        return x + 1;
    }

    /** A context owned by the JMH thread and its pool; one request in flight at a time. */
    @State(Scope.Thread)
    public static class Pool {
        AioContext ctx;
        ThreadPool pool;
        int input;
        boolean done;
        int result;
        final ThreadPoolFunc func = () -> work(input);
        final CompletionFunc cb = (req, ret) -> {
            result = ret;
            done = true;
        };

        long pollMaxNs() {
            return 0;
        }

        @Setup(Level.Trial)
        public void open() {
            ctx = AioContext.builder().name("pool-bench").build(); // home thread: this JMH thread
            ctx.setPollParams(pollMaxNs(), 0, 0);
            pool = ThreadPool.of(ctx);
        }

        // tag::bench-pool-roundtrip[]
        int roundTrip() {
            done = false;
            input++;
            pool.submit("bench", func, cb);
            while (!done) {
                ctx.poll(true);
            }
            return result;
        }
        // end::bench-pool-roundtrip[]

        @TearDown(Level.Trial)
        public void close() {
            ctx.close();
        }
    }

    /** The same pool, with its context busy-polling before it sleeps. */
    @State(Scope.Thread)
    public static class PollingPool extends Pool {
        @Override
        long pollMaxNs() {
            return QEMU_IOTHREAD_POLL_MAX_NS;
        }
    }

    /** A java.util.concurrent executor shaped like the pool. */
    @State(Scope.Thread)
    public static class Executor {
        ThreadPoolExecutor executor;
        int input;
        final Supplier<Integer> supplier = () -> work(input);
        final Callable<Integer> callable = () -> work(input);

        @Setup(Level.Trial)
        public void open() {
            executor = new ThreadPoolExecutor(ThreadPool.DEFAULT_MIN_THREADS, ThreadPool.DEFAULT_MAX_THREADS,
                    ThreadPool.DEFAULT_IDLE_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS, new SynchronousQueue<>());
        }

        @TearDown(Level.Trial)
        public void close() throws InterruptedException {
            executor.shutdown();
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("executor did not stop");
            }
        }
    }

    @Benchmark
    public int threadPool(Pool s) {
        return s.roundTrip();
    }

    @Benchmark
    public int threadPoolPolling(PollingPool s) {
        return s.roundTrip();
    }

    @Benchmark
    public int completableFuture(Executor s) {
        s.input++;
        return CompletableFuture.supplyAsync(s.supplier, s.executor).join();
    }

    @Benchmark
    public int executorSubmitGet(Executor s) throws InterruptedException, ExecutionException {
        s.input++;
        return s.executor.submit(s.callable).get();
    }
}
