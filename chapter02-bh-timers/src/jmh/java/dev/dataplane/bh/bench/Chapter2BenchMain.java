package dev.dataplane.bh.bench;

import dev.dataplane.bh.bench.CrossThreadHandOff.Counts;
import dev.dataplane.bh.bench.CrossThreadHandOff.Peer;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.testsupport.BenchHost;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs every chapter-2 benchmark and prints one summary table per benchmark family:
 * <ul>
 *   <li>every JMH benchmark whose name matches {@code -Dbench.include} (a regex, found anywhere
 *       in the name as JMH does; default {@value #DEFAULT_INCLUDE}), one JMH run per benchmark
 *       class, so a family that lands later (the timer scale curve, the thread-pool latency) is
 *       picked up without touching this class;</li>
 *   <li>{@link CrossThreadHandOff}, the free-running cross-thread hand-off, if its class name
 *       matches too: each peer in a JVM of its own, in interleaved rounds.</li>
 * </ul>
 *
 * <p><b>Peers.</b> A family's table gives every row's time per operation as a multiple of its
 * peer's with the same parameters. A benchmark class names its peer method in a
 * {@code public static final String PEER_METHOD}; without one, the first method (in name order)
 * whose name looks like a {@code java.util.concurrent} peer ({@value #PEER_NAMES}) is taken, and
 * without such a method the table has no ratio column.
 *
 * <p><b>Curves.</b> If a family has a numeric {@code @Param} with at least two values (the timer
 * benchmark's N), the table is followed by each method's curve over it and the growth factor from
 * the smallest to the largest value; 1.0 means the time per operation does not grow with N.
 *
 * <p><b>Budget.</b> A full run gives each JMH benchmark one fork, 2 × 1 s warm-up and 3 × 1 s
 * measurement, and the hand-off 3 rounds × 2 peers × (1 s warm-up + 10 s, QEMU's slow mode): a few
 * minutes in all. {@code -Dbench.quick=true} is a smoke run: one 0.5 s warm-up and one 1 s
 * measurement per JMH benchmark, a numeric parameter cut to its smallest and largest values, and
 * one hand-off round of 1 s per peer (QEMU's quick mode). Absolute figures from this 2-vCPU
 * virtual machine move with whatever else runs, so the ratios are the result; the load averages
 * before and after are printed with them. JMH's own logs and JSON results go to
 * {@code target/bench/} ({@code -Dbench.outputDir} to move them).
 *
 * <p>Other knobs: {@code -Dbench.handoff.tokens=5,10} (token counts for the hand-off, default
 * {@value CrossThreadHandOff#DEFAULT_TOKENS}), {@code -Dbench.handoff.rounds},
 * {@code -Dbench.handoff.seconds}, {@code -Dbench.seed}.
 */
public final class Chapter2BenchMain {

    static final String DEFAULT_INCLUDE = "dev\\.dataplane\\..*\\.bench\\..*";
    static final String PEER_NAMES = "(?i).*(concurrentlinkedqueue|completablefuture|executor|jdk|juc|peer|baseline).*";
    /** The target: cross-thread BH hand-off within 1.2 × the executor's time per hop. */
    static final double HANDOFF_TARGET = 1.2;

    private final boolean quick;
    private final Pattern include;
    private final Path outDir;
    private final PrintStream out = System.out;

    private Chapter2BenchMain(boolean quick, Pattern include, Path outDir) {
        this.quick = quick;
        this.include = include;
        this.outDir = outDir;
    }

    public static void main(String[] args) throws IOException, InterruptedException, RunnerException {
        boolean quick = Boolean.getBoolean("bench.quick");
        Pattern include = Pattern.compile(System.getProperty("bench.include", DEFAULT_INCLUDE));
        Path outDir = Path.of(System.getProperty("bench.outputDir", "target/bench"));
        Files.createDirectories(outDir);
        new Chapter2BenchMain(quick, include, outDir).run();
    }

    private void run() throws IOException, InterruptedException, RunnerException {
        long start = System.nanoTime();
        String loadBefore = BenchHost.loadAverage();
        Map<String, List<BenchmarkListEntry>> families = jmhFamilies();
        boolean handOff = include.matcher(CrossThreadHandOff.class.getName()).find();
        out.printf(Locale.ROOT, "chapter 2 benchmarks (%s run): %d JMH famil%s%s; logs in %s%n",
                quick ? "QUICK smoke" : "full", families.size(), families.size() == 1 ? "y" : "ies",
                handOff ? " + the cross-thread hand-off" : "", outDir.toAbsolutePath());
        for (String family : families.keySet()) {
            out.printf(Locale.ROOT, "  %s%n", family);
        }

        List<String> report = new ArrayList<>();
        if (handOff) {
            report.add(runHandOff());
        }
        for (Map.Entry<String, List<BenchmarkListEntry>> f : families.entrySet()) {
            report.add(runFamily(f.getKey(), f.getValue()));
        }
        String loadAfter = BenchHost.loadAverage();

        out.println();
        for (String table : report) {
            out.print(table);
            out.println();
        }
        out.printf(Locale.ROOT, "load average (1/5/15 min): before %s, after %s; %d CPUs; %.0f s in all%n",
                loadBefore, loadAfter, Runtime.getRuntime().availableProcessors(), (System.nanoTime() - start) / 1e9);
        out.println("Figures from a shared 2-vCPU virtual machine: compare ratios within this run, not absolute numbers.");
        out.flush();
    }

    // ------------------------------------------------------------------------------------
    // JMH families
    // ------------------------------------------------------------------------------------

    /** The JMH benchmarks matching the include pattern, grouped by class, in name order. */
    private Map<String, List<BenchmarkListEntry>> jmhFamilies() {
        Map<String, List<BenchmarkListEntry>> families = new TreeMap<>();
        SortedSet<BenchmarkListEntry> entries = BenchmarkList.defaultList().find(
                OutputFormatFactory.createFormatInstance(out, VerboseMode.SILENT),
                List.of(include.pattern()), List.of());
        for (BenchmarkListEntry e : entries) {
            families.computeIfAbsent(e.getUserClassQName(), k -> new ArrayList<>()).add(e);
        }
        return families;
    }

    private String runFamily(String family, List<BenchmarkListEntry> entries) throws RunnerException {
        String simple = family.substring(family.lastIndexOf('.') + 1);
        ChainedOptionsBuilder options = new OptionsBuilder()
                .forks(1)
                .warmupIterations(quick ? 1 : 2)
                .warmupTime(quick ? TimeValue.milliseconds(500) : TimeValue.seconds(1))
                .measurementIterations(quick ? 1 : 3)
                .measurementTime(TimeValue.seconds(1))
                .shouldFailOnError(true)
                .output(outDir.resolve("jmh-" + simple + ".log").toString())
                .result(outDir.resolve("jmh-" + simple + ".json").toString())
                .resultFormat(ResultFormatType.JSON);
        // Forks inherit this JVM's flags (--enable-native-access for JNA) unless told otherwise.
        for (BenchmarkListEntry e : entries) {
            options.include("^" + Pattern.quote(e.getUsername()) + "$");
        }
        if (quick) {
            trimNumericParams(entries, options);
        }
        long t0 = System.nanoTime();
        out.printf(Locale.ROOT, "running %s (%d benchmark method%s) ...%n", simple, entries.size(),
                entries.size() == 1 ? "" : "s");
        Collection<RunResult> results = new Runner(options.build()).run();
        out.printf(Locale.ROOT, "  done in %.0f s%n", (System.nanoTime() - t0) / 1e9);
        return familyTable(family, results);
    }

    /** Quick runs keep only the ends of a numeric parameter's range: still a growth factor. */
    private void trimNumericParams(List<BenchmarkListEntry> entries, ChainedOptionsBuilder options) {
        Map<String, String[]> params = new TreeMap<>();
        for (BenchmarkListEntry e : entries) {
            if (e.getParams().hasValue()) {
                params.putAll(e.getParams().get());
            }
        }
        for (Map.Entry<String, String[]> p : params.entrySet()) {
            String[] values = p.getValue();
            if (values.length > 2 && Arrays.stream(values).allMatch(Chapter2BenchMain::isNumber)) {
                double[] v = Arrays.stream(values).mapToDouble(Double::parseDouble).toArray();
                int min = 0;
                int max = 0;
                for (int i = 1; i < v.length; i++) {
                    min = v[i] < v[min] ? i : min;
                    max = v[i] > v[max] ? i : max;
                }
                options.param(p.getKey(), values[min], values[max]);
            }
        }
    }

    /** One row of a family's table. */
    private record Row(String method, Map<String, String> params, Result<?> primary, Mode mode) {
        double nsPerOp() {
            return toNsPerOp(primary.getScore(), primary.getScoreUnit());
        }
    }

    private String familyTable(String family, Collection<RunResult> results) {
        List<Row> rows = new ArrayList<>();
        for (RunResult r : results) {
            BenchmarkParams bp = r.getParams();
            Map<String, String> params = new LinkedHashMap<>();
            for (String k : bp.getParamsKeys()) {
                params.put(k, bp.getParam(k));
            }
            String method = bp.getBenchmark().substring(bp.getBenchmark().lastIndexOf('.') + 1);
            rows.add(new Row(method, params, r.getPrimaryResult(), bp.getMode()));
        }
        rows.sort(Chapter2BenchMain::compareRows);
        String peer = peerMethod(family, rows);

        StringBuilder t = new StringBuilder();
        t.append(String.format(Locale.ROOT, "=== %s (JMH, %s; 1 fork, %s) ===%n", family,
                rows.isEmpty() ? "?" : rows.get(0).mode().shortLabel(),
                quick ? "QUICK: 0.5 s warm-up + 1 x 1 s" : "2 x 1 s warm-up + 3 x 1 s"));
        t.append(peer == null ? "no peer method: no ratio column\n" : "peer: " + peer
                + " (ratio = time per op / the peer's, same parameters; > 1 is slower)\n");
        t.append(String.format(Locale.ROOT, "%-26s %-22s %16s %12s %-10s %12s %8s%n", "method", "params", "score",
                "+-error", "unit", "ns/op", peer == null ? "" : "x peer"));
        for (Row row : rows) {
            Row peerRow = peer == null ? null : find(rows, peer, row.params());
            String ratio = peerRow == null ? "" : String.format(Locale.ROOT, "%8.3f", row.nsPerOp() / peerRow.nsPerOp());
            t.append(String.format(Locale.ROOT, "%-26s %-22s %16.3f %12.3f %-10s %12.2f %8s%n", row.method(),
                    paramString(row.params()), row.primary().getScore(), row.primary().getScoreError(),
                    row.primary().getScoreUnit(), row.nsPerOp(), ratio));
        }
        appendCurves(t, rows);
        return t.toString();
    }

    /** For each numeric parameter with two or more values: every method's curve and growth. */
    private static void appendCurves(StringBuilder t, List<Row> rows) {
        Map<String, List<String>> values = new TreeMap<>();
        for (Row r : rows) {
            r.params().forEach((k, v) -> {
                List<String> vs = values.computeIfAbsent(k, x -> new ArrayList<>());
                if (!vs.contains(v)) {
                    vs.add(v);
                }
            });
        }
        for (Map.Entry<String, List<String>> p : values.entrySet()) {
            String key = p.getKey();
            if (p.getValue().size() < 2 || !p.getValue().stream().allMatch(Chapter2BenchMain::isNumber)) {
                continue;
            }
            // One curve per method and combination of the other parameters.
            Map<String, TreeMap<Double, Double>> curves = new TreeMap<>();
            for (Row r : rows) {
                Map<String, String> others = new LinkedHashMap<>(r.params());
                others.remove(key);
                String name = r.method() + (others.isEmpty() ? "" : " " + paramString(others));
                curves.computeIfAbsent(name, x -> new TreeMap<>())
                        .put(Double.parseDouble(r.params().get(key)), r.nsPerOp());
            }
            t.append(String.format(Locale.ROOT, "curve over %s: ns/op at each value, growth = largest / smallest%n", key));
            for (Map.Entry<String, TreeMap<Double, Double>> c : curves.entrySet()) {
                StringBuilder points = new StringBuilder();
                c.getValue().forEach((x, y) -> points.append(String.format(Locale.ROOT, "  %s=%s: %.2f", key,
                        x == Math.rint(x) ? String.valueOf((long) (double) x) : String.valueOf(x), y)));
                double growth = c.getValue().lastEntry().getValue() / c.getValue().firstEntry().getValue();
                t.append(String.format(Locale.ROOT, "  %-30s growth %7.2f x  |%s%n", c.getKey(), growth, points));
            }
        }
    }

    /** By method, then by parameters, numerically where both values are numbers. */
    private static int compareRows(Row a, Row b) {
        int c = a.method().compareTo(b.method());
        if (c != 0) {
            return c;
        }
        for (Map.Entry<String, String> p : a.params().entrySet()) {
            String va = p.getValue();
            String vb = b.params().getOrDefault(p.getKey(), "");
            c = isNumber(va) && isNumber(vb) ? Double.compare(Double.parseDouble(va), Double.parseDouble(vb))
                    : va.compareTo(vb);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    private static Row find(List<Row> rows, String method, Map<String, String> params) {
        for (Row r : rows) {
            if (r.method().equals(method) && r.params().equals(params)) {
                return r;
            }
        }
        return null;
    }

    /** The family's {@code PEER_METHOD} constant, else the first method named like a peer. */
    private static String peerMethod(String family, List<Row> rows) {
        try {
            Field f = Class.forName(family).getField("PEER_METHOD");
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                return (String) f.get(null);
            }
        } catch (ReflectiveOperationException | LinkageError e) {
            // no declared peer: fall back to the name
        }
        return rows.stream().map(Row::method).filter(m -> m.matches(PEER_NAMES)).sorted().findFirst().orElse(null);
    }

    /** JMH score units are "ops/&lt;time unit&gt;" (throughput) or "&lt;time unit&gt;/op". */
    static double toNsPerOp(double score, String unit) {
        String[] parts = unit.split("/");
        if (parts.length != 2) {
            return Double.NaN;
        }
        if (parts[1].equals("op")) {
            return score * nanosIn(parts[0]);
        }
        if (parts[0].equals("ops")) {
            return nanosIn(parts[1]) / score;
        }
        return Double.NaN;
    }

    private static double nanosIn(String unit) {
        return switch (unit) {
            case "ns" -> 1;
            case "us" -> 1e3;
            case "ms" -> 1e6;
            case "s" -> 1e9;
            case "min" -> 60e9;
            default -> Double.NaN;
        };
    }

    private static String paramString(Map<String, String> params) {
        StringBuilder s = new StringBuilder();
        params.forEach((k, v) -> s.append(s.length() == 0 ? "" : ",").append(k).append('=').append(v));
        return s.toString();
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------------------------
    // The cross-thread hand-off: each peer in a JVM of its own, interleaved rounds
    // ------------------------------------------------------------------------------------

    private String runHandOff() throws IOException, InterruptedException {
        int rounds = Integer.getInteger("bench.handoff.rounds", quick ? 1 : 3);
        double seconds = Double.parseDouble(System.getProperty("bench.handoff.seconds", quick ? "1" : "10"));
        long warmupMs = quick ? 500 : 1000;
        long seed = Long.decode(System.getProperty("bench.seed", String.valueOf(CrossThreadHandOff.DEFAULT_SEED)));
        StringBuilder t = new StringBuilder();
        for (String tk : System.getProperty("bench.handoff.tokens", String.valueOf(CrossThreadHandOff.DEFAULT_TOKENS))
                .split(",")) {
            int tokens = Integer.parseInt(tk.trim());
            Map<Peer, List<Counts>> byPeer = new LinkedHashMap<>();
            for (Peer p : Peer.values()) {
                byPeer.put(p, new ArrayList<>());
            }
            out.printf(Locale.ROOT, "running the cross-thread hand-off, %d tokens: %d round(s) x %d peers x"
                    + " (%d ms warm-up + %.1f s), one JVM each ...%n", tokens, rounds, Peer.values().length, warmupMs, seconds);
            for (int round = 0; round < rounds; round++) {
                for (int i = 0; i < Peer.values().length; i++) {
                    // Rotate the order so that neither peer always runs first.
                    Peer p = Peer.values()[(i + round) % Peer.values().length];
                    Counts c = runHandOffChild(p, tokens, seed, warmupMs, seconds);
                    byPeer.get(p).add(c);
                    out.printf(Locale.ROOT, "  round %d/%d  %-38s %10.0f hops/s   load %s%n", round + 1, rounds,
                            p.label(), c.hopsPerSecond(), BenchHost.loadAverage());
                }
            }
            t.append(handOffTable(tokens, seed, rounds, warmupMs, seconds, byPeer));
        }
        return t.toString();
    }

    private Counts runHandOffChild(Peer peer, int tokens, long seed, long warmupMs, double seconds)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments()); // --enable-native-access etc.
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), CrossThreadHandOff.class.getName(),
                "--peer", peer.id(), "--tokens", String.valueOf(tokens), "--seed", String.valueOf(seed),
                "--warmup-ms", String.valueOf(warmupMs), "--seconds", String.valueOf(seconds)));
        Process child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Counts counts = null;
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                lines.add(line);
                if (line.startsWith(CrossThreadHandOff.RESULT_PREFIX)) {
                    counts = Counts.parse(line);
                }
            }
        }
        if (!child.waitFor(Timeouts.CHILD_PROCESS.toMillis(), TimeUnit.MILLISECONDS)) {
            child.destroyForcibly();
            throw new IllegalStateException("hand-off child (" + peer.id() + ") did not finish within " + Timeouts.CHILD_PROCESS);
        }
        Files.write(outDir.resolve("handoff-" + peer.id() + "-" + tokens + ".log"), lines,
                StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        if (child.exitValue() != 0 || counts == null) {
            throw new IllegalStateException("hand-off child (" + peer.id() + ") failed with exit code "
                    + child.exitValue() + ": " + lines);
        }
        return counts;
    }

    private String handOffTable(int tokens, long seed, int rounds, long warmupMs, double seconds,
                                Map<Peer, List<Counts>> byPeer) {
        StringBuilder t = new StringBuilder();
        t.append(String.format(Locale.ROOT,
                "=== Cross-thread hand-off, QEMU /aio/multi/schedule shape (%s%d contexts, %d tokens, seed %#x;"
                        + " %d round(s) x (%d ms warm-up + %.1f s) per peer, each in a fresh JVM) ===%n",
                quick ? "QUICK: " : "", CrossThreadHandOff.CONTEXTS, tokens, seed, rounds, warmupMs, seconds));
        t.append(String.format(Locale.ROOT, "%-38s %12s %11s %10s   %s%n", "peer", "hops/s", "CPU us/hop",
                "waits/hop", "hops/s per round"));
        Map<Peer, Counts> pooled = new LinkedHashMap<>();
        for (Map.Entry<Peer, List<Counts>> e : byPeer.entrySet()) {
            long sched = 0;
            long queued = 0;
            long retry = 0;
            long cpu = 0;
            long waits = 0;
            double secs = 0;
            StringBuilder perRound = new StringBuilder();
            for (Counts c : e.getValue()) {
                sched += c.scheduled();
                queued += c.queued();
                retry += c.retry();
                cpu = cpu < 0 || c.cpuNs() < 0 ? -1 : cpu + c.cpuNs();
                waits = waits < 0 || c.waits() < 0 ? -1 : waits + c.waits();
                secs += c.seconds();
                perRound.append(String.format(Locale.ROOT, " %.0f", c.hopsPerSecond()));
            }
            Counts p = new Counts(e.getKey(), tokens, sched, queued, retry, secs, cpu, waits);
            pooled.put(e.getKey(), p);
            t.append(String.format(Locale.ROOT, "%-38s %12.0f %11s %10s  %s%n", e.getKey().label(), p.hopsPerSecond(),
                    cpu < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", cpu / 1e3 / p.hops()),
                    waits < 0 ? "-" : String.format(Locale.ROOT, "%.3f", (double) waits / p.hops()), perRound));
        }
        t.append("QEMU's line, summed over the rounds:\n");
        for (Counts p : pooled.values()) {
            t.append(String.format(Locale.ROOT, "  %-9s %s%n", p.peer().id() + ":", p.qemuLine()));
        }
        t.append("  (retry is always 0 here: a token moves itself, so no slot can be found empty; see CrossThreadHandOff)\n");

        Counts bh = pooled.get(Peer.BH);
        Counts ex = pooled.get(Peer.EXECUTOR);
        double ratio = ex.hopsPerSecond() / bh.hopsPerSecond(); // time per hop, BH over executor
        List<Counts> bhRounds = byPeer.get(Peer.BH);
        List<Counts> exRounds = byPeer.get(Peer.EXECUTOR);
        double[] perRound = new double[bhRounds.size()];
        for (int i = 0; i < perRound.length; i++) {
            perRound[i] = exRounds.get(i).hopsPerSecond() / bhRounds.get(i).hopsPerSecond();
        }
        t.append(String.format(Locale.ROOT, "time per hop, BH / executor: %.3f x pooled, %.3f x median of rounds;"
                        + " CPU per hop, BH / executor: %s%n", ratio, BenchHost.median(perRound),
                bh.cpuNs() < 0 || ex.cpuNs() < 0 ? "n/a" : String.format(Locale.ROOT, "%.3f x",
                        ((double) bh.cpuNs() / bh.hops()) / ((double) ex.cpuNs() / ex.hops()))));
        t.append(String.format(Locale.ROOT, "  target: BH hand-off within %.1f x the executor's    %s%n", HANDOFF_TARGET,
                ratio <= HANDOFF_TARGET ? "PASS" : "MISS"));
        return t.toString();
    }


}
