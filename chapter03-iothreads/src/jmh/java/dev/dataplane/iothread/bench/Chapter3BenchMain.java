package dev.dataplane.iothread.bench;

import dev.dataplane.iothread.bench.IoThreadsRig.Placement;
import dev.dataplane.iothread.bench.IoThreadsRig.Sample;
import dev.dataplane.iothread.bench.IoThreadsRig.Workload;
import dev.dataplane.testsupport.BenchHost;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Chapter 3's argument for IOThreads, measured: the same fixed amount of I/O-shaped work done by
 * the main loop, under the BQL, while vCPU stand-ins compete for that lock; then by one IOThread;
 * then by two. One run, one table, ratios against the main loop measured in the same run.
 *
 * <p><b>The work.</b> {@link RequestChains}: {@code bench.chains} (K) independent chains of
 * {@code bench.steps} (N) bottom-half steps, each step {@code bench.work} rounds of a
 * multiply-xorshift mix over the chain's 512-byte buffer and then a reschedule of the chain's
 * bottom half. The CPU cost of one step's work alone is measured first and printed.
 *
 * <p><b>The competitors.</b> {@link VcpuStandIns}: for each count in {@code bench.vcpus} (C), that
 * many threads take the BQL, busy-wait {@code bench.vcpu.criticalUs} inside it, release it and
 * busy-wait {@code bench.vcpu.outsideUs} outside, over and over, for the whole batch.
 *
 * <p><b>Rounds.</b> One warm-up round of every (placement, C) cell, not counted, then
 * {@code bench.rounds} rounds; each round runs every cell once, the order rotated from round to
 * round so that no cell always follows the same one. A cell's throughput is the median of its
 * rounds; its counters (BQL, exits, CPU) are summed over the rounds and given per second of wall
 * time. Everything runs in this one JVM: the cells share the JIT's work, and the interleaving
 * spreads whatever else the machine does over all of them.
 *
 * <p><b>Reading it on a bigger host.</b> On this 2-CPU machine the cells with more busy threads
 * than CPUs share cores, so the IOThread rows with stand-ins lose some throughput to plain time
 * slicing, and two IOThreads can at best double one only while nobody else runs. With a core per
 * thread, two IOThreads would come close to twice one whatever C is, and the stand-ins' exit rate
 * would approach {@code C / (critical + outside)} in the IOThread rows. The main-loop rows would
 * not improve: their limits are one thread and one lock, not the number of cores.
 *
 * <p><b>Budget.</b> The defaults (K=8, N=500000, 192 rounds of work, C in 0,1,2, 7 rounds) take
 * about three minutes on a quiet 2-vCPU machine, twice that under load. {@code -Dbench.quick=true}:
 * N=100000 and 2 rounds, some 15 seconds. Other knobs (the {@code bench-ch03} profile passes them
 * on): {@code -Dbench.chains}, {@code -Dbench.steps}, {@code -Dbench.work}, {@code -Dbench.vcpus=0,1,2},
 * {@code -Dbench.vcpu.criticalUs=3}, {@code -Dbench.vcpu.outsideUs=10}, {@code -Dbench.rounds}.
 * A copy of the table goes to {@code target/bench/ch03-iothreads.txt}
 * ({@code -Dbench.outputDir} to move it).
 */
public final class Chapter3BenchMain {

    private final PrintStream out = System.out;
    private final boolean quick;
    private final Workload workload;
    private final int[] vcpuCounts;
    private final int rounds;
    private final Path outDir;

    private Chapter3BenchMain(boolean quick, Workload workload, int[] vcpuCounts, int rounds, Path outDir) {
        this.quick = quick;
        this.workload = workload;
        this.vcpuCounts = vcpuCounts;
        this.rounds = rounds;
        this.outDir = outDir;
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        boolean quick = Boolean.getBoolean("bench.quick");
        Workload w = new Workload(
                intProperty("bench.chains", 8),
                intProperty("bench.steps", quick ? 100_000 : 500_000),
                intProperty("bench.work", 192),
                Math.round(doubleProperty("bench.vcpu.criticalUs", 3) * 1000),
                Math.round(doubleProperty("bench.vcpu.outsideUs", 10) * 1000));
        int[] vcpus = Arrays.stream(property("bench.vcpus", "0,1,2").split(","))
                .map(String::trim).mapToInt(Integer::parseInt).toArray();
        int rounds = intProperty("bench.rounds", quick ? 2 : 7);
        Path outDir = Path.of(System.getProperty("bench.outputDir", "target/bench"));
        Files.createDirectories(outDir);
        new Chapter3BenchMain(quick, w, vcpus, rounds, outDir).run();
    }

    /** A system property; blank or "auto" (the Maven profile's way of saying "not given") means the default. */
    private static String property(String name, String dflt) {
        String v = System.getProperty(name, "").trim();
        return v.isEmpty() || v.equals("auto") ? dflt : v;
    }

    private static int intProperty(String name, int dflt) {
        return Integer.parseInt(property(name, String.valueOf(dflt)));
    }

    private static double doubleProperty(String name, double dflt) {
        return Double.parseDouble(property(name, String.valueOf(dflt)));
    }

    /** One (placement, C) cell of the table. */
    private record Cell(Placement placement, int vcpus) {
    }

    private void run() throws IOException, InterruptedException {
        long start = System.nanoTime();
        String loadBefore = BenchHost.loadAverage();
        double workNs = calibrateWork();
        List<Cell> cells = new ArrayList<>();
        for (int c : vcpuCounts) {
            for (Placement p : Placement.values()) {
                cells.add(new Cell(p, c));
            }
        }
        Map<Cell, List<Sample>> samples = new LinkedHashMap<>();
        cells.forEach(c -> samples.put(c, new ArrayList<>()));

        out.printf(Locale.ROOT, "chapter 3 benchmark (%s run): %d chains x %d steps per batch, %d cells,"
                        + " 1 warm-up round + %d rounds; load before: %s%n",
                quick ? "QUICK smoke" : "full", workload.chains(), workload.steps(), cells.size(), rounds, loadBefore);
        try (IoThreadsRig rig = new IoThreadsRig()) {
            for (int round = 0; round <= rounds; round++) {
                long r0 = System.nanoTime();
                for (int i = 0; i < cells.size(); i++) {
                    Cell cell = cells.get((i + round) % cells.size());
                    Sample s = rig.measure(cell.placement(), cell.vcpus(), workload);
                    if (round > 0) {
                        samples.get(cell).add(s);
                    }
                }
                out.printf(Locale.ROOT, "  %s %d/%d done in %.1f s, load %s%n", round == 0 ? "warm-up round" : "round",
                        round, rounds, (System.nanoTime() - r0) / 1e9, BenchHost.loadAverage());
            }
        }
        String table = table(samples, workNs, loadBefore, BenchHost.loadAverage(), (System.nanoTime() - start) / 1e9);
        out.println();
        out.print(table);
        out.flush();
        Files.writeString(outDir.resolve("ch03-iothreads.txt"), table);
    }

    /** The CPU cost of one step's work alone, in this thread: what the loops add is the difference. */
    private double calibrateWork() {
        long[] buf = new long[RequestChains.BUFFER_LONGS];
        Arrays.fill(buf, 42);
        long sink = 0;
        int n = 200_000;
        for (int i = 0; i < n; i++) {
            sink += RequestChains.work(buf, workload.workRounds()); // warm-up
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            sink += RequestChains.work(buf, workload.workRounds());
        }
        double ns = (System.nanoTime() - t0) / (double) n;
        if (sink == 42) {
            out.println("(unlikely checksum)"); // keeps sink alive
        }
        return ns;
    }

    /** A cell's samples, summed. */
    private record Totals(double median, double min, double max, long nanos, long steps, long exits, long vcpuWaitNs,
                          long acquisitions, long contended, long waitedNs, long loopCpuNs, long ioCpuNs,
                          long vcpuCpuNs) {

        static Totals of(List<Sample> list) {
            double[] v = list.stream().mapToDouble(Sample::stepsPerSecond).sorted().toArray();
            int n = v.length;
            double median = BenchHost.median(v);
            long nanos = 0;
            long steps = 0;
            long exits = 0;
            long vcpuWait = 0;
            long acq = 0;
            long contended = 0;
            long waited = 0;
            long loopCpu = 0;
            long ioCpu = 0;
            long vcpuCpu = 0;
            for (Sample s : list) {
                nanos += s.nanos();
                steps += s.steps();
                exits += s.vcpuExits();
                vcpuWait += s.vcpuWaitNs();
                acq += s.bql().acquisitions();
                contended += s.bql().contended();
                waited += s.bql().waitedNs();
                loopCpu = add(loopCpu, s.loopCpuNs());
                ioCpu = add(ioCpu, s.ioCpuNs());
                vcpuCpu = add(vcpuCpu, s.vcpuCpuNs());
            }
            return new Totals(median, n == 0 ? Double.NaN : v[0], n == 0 ? Double.NaN : v[n - 1], nanos, steps, exits,
                    vcpuWait, acq, contended, waited, loopCpu, ioCpu, vcpuCpu);
        }

        double perSecond(long count) {
            return count * 1e9 / nanos;
        }
    }

    private String table(Map<Cell, List<Sample>> samples, double workNs, String loadBefore, String loadAfter,
                         double seconds) {
        Map<Cell, Totals> totals = new LinkedHashMap<>();
        samples.forEach((cell, list) -> totals.put(cell, Totals.of(list)));
        Map<Integer, Double> mainByC = new LinkedHashMap<>();
        totals.forEach((cell, t) -> {
            if (cell.placement() == Placement.MAIN_LOOP) {
                mainByC.put(cell.vcpus(), t.median());
            }
        });
        int baseC = mainByC.containsKey(0) ? 0 : vcpuCounts[0];
        double base = mainByC.getOrDefault(baseC, Double.NaN);

        StringBuilder t = new StringBuilder();
        Workload w = workload;
        t.append(String.format(Locale.ROOT, "=== IOThreads vs the main loop under the BQL (%s%d chains x %d bottom-half"
                        + " steps per batch; median of %d rounds) ===%n", quick ? "QUICK: " : "", w.chains(), w.steps(),
                rounds));
        t.append(String.format(Locale.ROOT, "step: %d mixing rounds over a 512-byte buffer (%.0f ns of work alone), then"
                        + " reschedule; vCPU stand-in: %.1f us holding the BQL, %.1f us outside, busy throughout%n",
                w.workRounds(), workNs, w.criticalNs() / 1e3, w.outsideNs() / 1e3));
        t.append(String.format(Locale.ROOT, "%-16s %5s %12s %23s %10s %10s %10s%n", "placement", "vCPUs", "steps/s",
                "(min..max)", "x main,C=" + baseC, "x main,C", "exits/s"));
        for (int c : vcpuCounts) {
            for (Placement p : Placement.values()) {
                Totals x = totals.get(new Cell(p, c));
                t.append(String.format(Locale.ROOT, "%-16s %5d %12.0f %23s %10.2f %10.2f %10.0f%n", p.label, c,
                        x.median(), String.format(Locale.ROOT, "(%.0f..%.0f)", x.min(), x.max()), x.median() / base,
                        x.median() / mainByC.getOrDefault(c, Double.NaN), x.perSecond(x.exits())));
            }
        }
        t.append(String.format(Locale.ROOT, "x main,C=%d: over the main loop without vCPUs; x main,C: over the main loop with"
                + " the same vCPUs (> 1 is faster). exits/s: BQL critical sections the stand-ins got through.%n", baseC));
        t.append('\n');
        t.append("Where the time went (counters summed over the rounds, per second of wall time)\n");
        t.append(String.format(Locale.ROOT, "%-16s %5s %10s %8s %14s %10s %7s %7s %7s %8s%n", "placement", "vCPUs",
                "BQL acq/s", "contend", "vCPU wait", "loop wait", "CPU:lp", "io", "vcpu", "ns/step"));
        for (int c : vcpuCounts) {
            for (Placement p : Placement.values()) {
                Totals x = totals.get(new Cell(p, c));
                long loopWait = Math.max(0, x.waitedNs() - x.vcpuWaitNs());
                t.append(String.format(Locale.ROOT, "%-16s %5d %10.0f %7.1f%% %14s %9.1f%% %7s %7s %7s %8s%n", p.label,
                        c, x.perSecond(x.acquisitions()),
                        x.acquisitions() == 0 ? 0.0 : 100.0 * x.contended() / x.acquisitions(),
                        x.exits() == 0 ? "-" : String.format(Locale.ROOT, "%.2f us/exit", x.vcpuWaitNs() / 1e3 / x.exits()),
                        p == Placement.MAIN_LOOP ? 100.0 * loopWait / x.nanos() : 0.0,
                        cores(x.loopCpuNs(), x.nanos()), cores(x.ioCpuNs(), x.nanos()), cores(x.vcpuCpuNs(), x.nanos()),
                        x.loopCpuNs() < 0 || x.ioCpuNs() < 0 ? "n/a" : String.format(Locale.ROOT, "%.0f",
                                (x.loopCpuNs() + x.ioCpuNs()) / (double) x.steps())));
            }
        }
        t.append("BQL acq/s: every holder, the main loop included (once per iteration); contend: share of acquisitions that\n"
                + "  had to wait; vCPU wait: time a stand-in spent in bql.lock() per exit; loop wait: share of wall time the\n"
                + "  main loop spent waiting for the BQL (the lock's total wait minus the stand-ins').\n");
        t.append("CPU: cores kept busy on average by the main-loop thread (lp), the two IOThreads (io) and the stand-ins;\n"
                + "  ns/step: main-loop + IOThread CPU per step, the work included.\n");
        int cpus = Runtime.getRuntime().availableProcessors();
        t.append(String.format(Locale.ROOT, "%d CPUs: a cell whose busy threads (1 main loop or 1-2 IOThreads, plus C"
                + " stand-ins) outnumber them shares cores by time slicing; its figures include that.%n", cpus));
        t.append(String.format(Locale.ROOT, "load average (1/5/15 min): before %s, after %s; %d CPUs; %.0f s in all%n",
                loadBefore, loadAfter, Runtime.getRuntime().availableProcessors(), seconds));
        return t.toString();
    }

    private static long add(long sum, long v) {
        return sum < 0 || v < 0 ? -1 : sum + v;
    }

    private static String cores(long cpuNs, long wallNs) {
        return cpuNs < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", cpuNs / (double) wallNs);
    }

}
