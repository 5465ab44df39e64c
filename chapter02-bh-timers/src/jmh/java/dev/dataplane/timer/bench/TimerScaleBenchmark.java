package dev.dataplane.timer.bench;

import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.Clocks;
import dev.dataplane.timer.ManualTimeSource;
import dev.dataplane.timer.TimerList;
import dev.dataplane.timer.TimerScale;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Does the cost per timer grow with the number of timers? One operation arms N timers with
 * random deadlines (spread over one second of a manual clock), moves the clock past all of them
 * and runs one pass that expires every one. JMH reports nanoseconds per operation; {@link #main}
 * divides by N, and the curve of nanoseconds per timer over N is the result.
 *
 * <ul>
 *   <li>{@code heapOnePass}: Dataplane's {@link TimerList}, N from a thousand to a million. The
 *       pass finds every timer due, so it takes them out as a radix-sorted due run
 *       ({@code TimerHeap}, "The due run");</li>
 *   <li>{@code heapThousandPasses}: the same, but the clock moves in a thousand steps with a
 *       pass after each, so each pass finds only a thousandth of the timers due and pops them
 *       from the heap one by one: the O(log N) path, shown for honesty;</li>
 *   <li>{@code floorOnePass}: no queue, the visiting order worked out beforehand: what touching
 *       N timers in expiry order costs by itself, the floor under every structure;</li>
 *   <li>{@code qemuListOnePass}: the one-pass workload on QEMU's structure
 *       ({@link SortedLinkedTimerList}), at the sizes it can finish: arming walks the list, so
 *       its cost per timer grows linearly with N.</li>
 * </ul>
 *
 * <p>The same timer objects are re-armed in every operation (all of them have fired by its end),
 * so nothing is allocated while measuring, and the deadlines are drawn once per trial with a
 * fixed seed, so every operation and every run sees the same order.
 *
 * <p>Run: {@code java -cp <test class path> dev.dataplane.timer.bench.TimerScaleBenchmark}
 * (JMH options may follow, e.g. {@code -p timers=1000}). About two minutes.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class TimerScaleBenchmark {

    /** Deadlines fall in (now, now + SPAN_NS]. */
    static final long SPAN_NS = TimeUnit.SECONDS.toNanos(1);
    /** Passes of {@link #heapThousandPasses}; SPAN_NS is a multiple. */
    static final int SLICES = 1_000;

    static long[] randomOffsets(int n) {
        SplittableRandom random = new SplittableRandom(20260213L);
        long[] offsets = new long[n];
        for (int i = 0; i < n; i++) {
            offsets[i] = 1 + random.nextLong(SPAN_NS);
        }
        return offsets;
    }

    /** Dataplane's timer list. */
    @State(Scope.Thread)
    public static class Heap {
        @Param({"1000", "10000", "100000", "1000000"})
        public int timers;

        ManualTimeSource time;
        TimerList list;
        AioTimer[] all;
        long[] offsets;
        long fired;

        @Setup(Level.Trial)
        public void setUp() {
            time = new ManualTimeSource();
            list = new TimerList(Clocks.using(time), ClockType.REALTIME, "bench", () -> { });
            Runnable callback = () -> fired++;
            all = new AioTimer[timers];
            for (int i = 0; i < timers; i++) {
                all[i] = list.newTimer(TimerScale.NS, callback);
            }
            offsets = randomOffsets(timers);
        }
    }

    /** QEMU's sorted singly linked list, modelled. */
    @State(Scope.Thread)
    public static class QemuList {
        @Param({"1000", "10000"})
        public int timers;

        long now;
        SortedLinkedTimerList list;
        SortedLinkedTimerList.Timer[] all;
        long[] offsets;
        long fired;

        @Setup(Level.Trial)
        public void setUp() {
            list = new SortedLinkedTimerList();
            Runnable callback = () -> fired++;
            all = new SortedLinkedTimerList.Timer[timers];
            for (int i = 0; i < timers; i++) {
                all[i] = new SortedLinkedTimerList.Timer(callback);
            }
            offsets = randomOffsets(timers);
        }
    }

    /** No queue at all: the floor. See {@link #floorOnePass}. */
    @State(Scope.Thread)
    public static class Floor {
        @Param({"1000", "10000", "100000", "1000000"})
        public int timers;

        long now;
        SortedLinkedTimerList.Timer[] all;
        long[] offsets;
        /** Indexes of {@link #all} in expiry order, worked out once. */
        int[] expiryOrder;
        long fired;

        @Setup(Level.Trial)
        public void setUp() {
            Runnable callback = () -> fired++;
            all = new SortedLinkedTimerList.Timer[timers];
            for (int i = 0; i < timers; i++) {
                all[i] = new SortedLinkedTimerList.Timer(callback);
            }
            offsets = randomOffsets(timers);
            long[] packed = new long[timers]; // offset < 2^30, index < 2^20: sort both as one long
            for (int i = 0; i < timers; i++) {
                packed[i] = offsets[i] << 20 | i;
            }
            Arrays.sort(packed);
            expiryOrder = new int[timers];
            for (int i = 0; i < timers; i++) {
                expiryOrder[i] = (int) (packed[i] & ((1 << 20) - 1));
            }
        }
    }

    // tag::bench-timer-scale[]
    @Benchmark
    public long heapOnePass(Heap s) {
        long base = s.time.monotonicNs();
        for (int i = 0; i < s.all.length; i++) {
            s.all[i].modNs(base + s.offsets[i]);
        }
        s.time.advance(SPAN_NS);
        s.list.runTimers();
        if (s.list.hasTimers()) {
            throw new IllegalStateException("a pass left timers behind");
        }
        return s.fired;
    }
    // end::bench-timer-scale[]

    /**
     * The same N timers, expired by a thousand passes that each find a thousandth of them due, as
     * a loop that wakes up often would: every pass pops its few timers from the heap.
     */
    @Benchmark
    public long heapThousandPasses(Heap s) {
        long base = s.time.monotonicNs();
        for (int i = 0; i < s.all.length; i++) {
            s.all[i].modNs(base + s.offsets[i]);
        }
        for (int pass = 0; pass < SLICES; pass++) {
            s.time.advance(SPAN_NS / SLICES);
            s.list.runTimers();
        }
        if (s.list.hasTimers()) {
            throw new IllegalStateException("the passes left timers behind");
        }
        return s.fired;
    }

    @Benchmark
    public long qemuListOnePass(QemuList s) {
        long base = s.now;
        for (int i = 0; i < s.all.length; i++) {
            s.list.mod(s.all[i], base + s.offsets[i]);
        }
        s.now += SPAN_NS;
        s.list.runTimers(s.now);
        if (s.list.hasTimers()) {
            throw new IllegalStateException("a pass left timers behind");
        }
        return s.fired;
    }

    /**
     * What any timer structure must do in the one-pass workload, with the sorting done for free
     * beforehand: write each timer's expiry in arming order, then visit the timers in expiry
     * order, clear each one and run its callback. The timers are visited in an order unrelated
     * to where they sit in memory, so this too slows down once they outgrow the caches; the gap
     * between this floor and {@link #heapOnePass} is what the heap itself costs.
     */
    @Benchmark
    public long floorOnePass(Floor s) {
        long base = s.now;
        for (int i = 0; i < s.all.length; i++) {
            s.all[i].expireNs = base + s.offsets[i];
        }
        s.now += SPAN_NS;
        for (int i : s.expiryOrder) {
            SortedLinkedTimerList.Timer t = s.all[i];
            t.expireNs = -1;
            t.callback.run();
        }
        return s.fired;
    }

    /** Runs the benchmarks and prints nanoseconds per timer for each N. */
    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include("^" + TimerScaleBenchmark.class.getName().replace(".", "\\.") + "\\.")
                .build()).run();

        List<RunResult> sorted = new ArrayList<>(results);
        sorted.sort((a, b) -> {
            int byName = a.getParams().getBenchmark().compareTo(b.getParams().getBenchmark());
            return byName != 0 ? byName : Integer.compare(timers(a), timers(b));
        });
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%n=== Arm N timers with random deadlines, then expire all in one pass ===%n"));
        out.append(String.format(Locale.ROOT, "%-18s %10s %16s %14s %14s%n", "structure", "N", "ns per op", "ns per timer",
                "+/- per timer"));
        for (RunResult r : sorted) {
            int n = timers(r);
            double score = r.getPrimaryResult().getScore();
            double error = r.getPrimaryResult().getScoreError();
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            out.append(String.format(Locale.ROOT, "%-18s %10d %16.0f %14.1f %14.1f%n", name, n, score, score / n,
                    Double.isNaN(error) ? 0 : error / n));
        }
        System.out.print(out);
    }

    private static int timers(RunResult r) {
        return Integer.parseInt(r.getParams().getParam("timers"));
    }
}
