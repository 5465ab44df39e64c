package dev.dataplane.bh.bench;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalf;
import dev.dataplane.bh.BottomHalves;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Same-thread bottom-half throughput: one thread schedules a batch of {@value #BATCH} callbacks
 * and then polls its own context until they have all run. One operation is one callback scheduled
 * and run, so the score is bottom halves per second.
 *
 * <ul>
 *   <li>{@link #bhReschedule}: the same {@value #BATCH} {@link BottomHalf} objects scheduled again
 *       each time (the device pattern: one bottom half per job, created once);</li>
 *   <li>{@link #bhOneshot}: {@value #BATCH} {@link BottomHalves#scheduleOneshot} calls (a new
 *       bottom half each, freed after it ran);</li>
 *   <li>{@link #concurrentLinkedQueue}, the peer: a lock-free multi-producer queue of
 *       {@code Runnable}s, offered to and drained on the same thread, which is what a bottom-half
 *       list is without the loop around it;</li>
 *   <li>{@link #arrayDeque}: the single-threaded floor, a queue with no atomics at all.</li>
 * </ul>
 *
 * <p>The bottom-half peers pay for more than their list: each {@code schedule} ends in
 * {@code notifyEvent()} (a full fence, no system call since nobody sleeps), and each
 * {@code poll(false)} walks the event sources and asks the fd monitor. That is the point: this is
 * the price of "schedule, then let the loop run it", against the price of a bare queue.
 *
 * <p>The context is created in the trial setup, which JMH runs on the benchmark thread for a
 * {@link Scope#Thread} state, so that thread is the context's home thread and may poll it.
 * Run it with {@link Chapter2BenchMain}; the annotations are the defaults for JMH's own command line.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@State(Scope.Thread)
public class SameThreadBhBenchmark {

    /** Callbacks per invocation: a batch, so that one poll's fixed cost is shared. */
    public static final int BATCH = 64;

    /** The method {@link Chapter2BenchMain} compares the others with. */
    public static final String PEER_METHOD = "concurrentLinkedQueue";

    private AioContext ctx;
    private BottomHalves list;
    private final BottomHalf[] batch = new BottomHalf[BATCH];
    private final ConcurrentLinkedQueue<Runnable> concurrentQueue = new ConcurrentLinkedQueue<>();
    private final ArrayDeque<Runnable> deque = new ArrayDeque<>(BATCH);
    /** Callbacks run in the current invocation; benchmark thread only. */
    private int ran;
    /** One callback object for every peer, so that none pays for allocating its callback. */
    private final Runnable callback = () -> ran++;

    @Setup(Level.Trial)
    public void open() {
        ctx = AioContext.builder().name("same-thread-bench").build();
        list = BottomHalves.of(ctx);
        for (int i = 0; i < BATCH; i++) {
            batch[i] = list.newBh("bench-" + i, callback);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        for (BottomHalf bh : batch) {
            bh.delete();
        }
        ctx.poll(false); // the pass that frees the deleted bottom halves
        ctx.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int bhReschedule() {
        ran = 0;
        for (BottomHalf bh : batch) {
            bh.schedule();
        }
        while (ran < BATCH) {
            ctx.poll(false);
        }
        return ran;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int bhOneshot() {
        ran = 0;
        for (int i = 0; i < BATCH; i++) {
            list.scheduleOneshot("bench-oneshot", callback);
        }
        while (ran < BATCH) {
            ctx.poll(false);
        }
        return ran;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int concurrentLinkedQueue() {
        ran = 0;
        for (int i = 0; i < BATCH; i++) {
            concurrentQueue.offer(callback);
        }
        Runnable r;
        while ((r = concurrentQueue.poll()) != null) {
            r.run();
        }
        return ran;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int arrayDeque() {
        ran = 0;
        for (int i = 0; i < BATCH; i++) {
            deque.addLast(callback);
        }
        Runnable r;
        while ((r = deque.pollFirst()) != null) {
            r.run();
        }
        return ran;
    }
}
