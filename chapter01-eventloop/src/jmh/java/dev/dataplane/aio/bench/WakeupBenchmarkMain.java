package dev.dataplane.aio.bench;

import dev.dataplane.aio.AioContext;
import dev.dataplane.testsupport.BenchHost;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.util.Statistics;

/**
 * Runs {@link WakeupBenchmark} through JMH's Runner API, then measures what an idle polling
 * context costs, and prints one table with the targets:
 * <ul>
 *   <li>AioContext blocking p50 at most 1.2 × Netty's p50 (a Java loop on JNA should wake about as
 *       fast as Netty's C-backed loop), judged for both blocking shapes: a message handed over
 *       with notifyEvent() and a mailbox (what Netty's execute() does) and one rung on a user
 *       EventNotifier (always an eventfd write, wait and read);</li>
 *   <li>AioContext polling p50 at most 0.25 × Netty's p50 (busy polling must buy a lot);</li>
 *   <li>an idle polling loop burns under 1 ms of CPU per 10 s (it must go back to sleep once
 *       its poll window has passed).</li>
 * </ul>
 * Ratios, not absolute figures, are the result: on a virtual machine a blocking wake-up costs
 * anywhere from 5 to 50 µs depending on what else runs, so the peers run in interleaved rounds
 * (one JMH fork per peer per round, order rotated) and their samples are pooled per peer.
 *
 * <p>{@code -Dbench.quick=true} makes a smoke run: one round, one measurement second per peer and
 * a 2 s idle check (its target scaled to 0.2 ms). JMH's own reports go to
 * {@code target/bench/} ({@code -Dbench.outputDir} to move them).
 */
public final class WakeupBenchmarkMain {

    private record Peer(String method, String label) {
    }

    private static final List<Peer> PEERS = List.of(
            new Peer("aioBlocking", "AioContext, EventNotifier"),
            new Peer("aioNotify", "AioContext, notifyEvent+mailbox"),
            new Peer("aioPolling", "AioContext, polling " + AioPingPong.QEMU_IOTHREAD_POLL_MAX_NS + " ns"),
            new Peer("nioSelector", "java.nio Selector.wakeup()"),
            new Peer("nettyEpoll", "Netty epoll execute()"));

    /**
     * Rounds of a full run. A blocking wake-up here costs either ~5 µs or ~45 µs, depending on
     * whether other processes keep the second vCPU busy (see machine-facts); that changes from
     * second to second. Running every peer once per round, in rotating order, exposes all peers
     * to the same mix, and the per-round column shows how much it moved.
     */
    private static final int FULL_ROUNDS = 8;
    /** One-second measurement iterations per fork in a full run. */
    private static final int FULL_MEASUREMENTS = 3;

    private static final double BLOCKING_TARGET = 1.2;
    private static final double POLLING_TARGET = 0.25;
    private static final double IDLE_TARGET_MS_PER_10S = 1.0;

    private WakeupBenchmarkMain() {
    }

    public static void main(String[] args) throws RunnerException, IOException, InterruptedException {
        boolean quick = Boolean.getBoolean("bench.quick");
        int rounds = quick ? 1 : FULL_ROUNDS;
        Path logDir = Path.of(System.getProperty("bench.outputDir", "target/bench"));
        Files.createDirectories(logDir);
        String loadBefore = BenchHost.loadAverage();
        System.out.printf(Locale.ROOT, "wake-up benchmark: %d round(s) x %d peers, one JMH fork each; JMH logs in %s%n",
                rounds, PEERS.size(), logDir.toAbsolutePath());

        Map<String, List<BenchmarkResult>> pooled = new HashMap<>();
        Map<String, BenchmarkParams> params = new HashMap<>();
        Map<String, double[]> roundP50 = new HashMap<>();
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < PEERS.size(); i++) {
                // Rotate the order so that no peer always runs first, or right after another.
                Peer peer = PEERS.get((i + round) % PEERS.size());
                RunResult r = runOneFork(peer, quick, logDir.resolve("jmh-r" + (round + 1) + "-" + peer.method() + ".log"));
                pooled.computeIfAbsent(peer.method(), k -> new ArrayList<>()).addAll(r.getBenchmarkResults());
                params.put(peer.method(), r.getParams());
                double p50 = r.getPrimaryResult().getStatistics().getPercentile(50);
                roundP50.computeIfAbsent(peer.method(), k -> new double[rounds])[round] = p50;
                System.out.printf(Locale.ROOT, "  round %d/%d  %-32s p50 %9.2f us   load %s%n",
                        round + 1, rounds, peer.label(), p50, BenchHost.loadAverage());
            }
        }
        Map<String, Statistics> stats = new HashMap<>();
        for (Peer peer : PEERS) {
            stats.put(peer.method(), new RunResult(params.get(peer.method()), pooled.get(peer.method()))
                    .getPrimaryResult().getStatistics());
        }

        long idleSeconds = quick ? 2 : 10;
        IdleCost idle = measureIdleCost(TimeUnit.SECONDS.toMillis(quick ? 1 : 2), TimeUnit.SECONDS.toMillis(idleSeconds));
        String loadAfter = BenchHost.loadAverage();

        printReport(quick, rounds, stats, roundP50, idle, idleSeconds, loadBefore, loadAfter);
    }

    /** One JMH fork of one peer; JMH's own report goes to {@code log}. */
    private static RunResult runOneFork(Peer peer, boolean quick, Path log) throws RunnerException {
        // Forks inherit this JVM's flags (--enable-native-access for JNA) unless told otherwise.
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("^" + Pattern.quote(WakeupBenchmark.class.getName() + "." + peer.method()) + "$")
                .forks(1)
                .warmupIterations(1).warmupTime(TimeValue.seconds(1))
                .measurementIterations(quick ? 1 : FULL_MEASUREMENTS).measurementTime(TimeValue.seconds(1))
                .shouldFailOnError(true)
                .output(log.toString());
        Collection<RunResult> results = new Runner(options.build()).run();
        if (results.size() != 1) {
            throw new IllegalStateException("expected one result for " + peer.method() + ", got " + results.size()
                    + "; see " + log);
        }
        return results.iterator().next();
    }

    /** What loop B of a polling pair did while busy and then while nothing happened. */
    private record IdleCost(long roundTrips, AioContext.Statistics afterTraffic, AioContext.Statistics afterIdle,
                            long cpuNs, long wallNs) {
    }

    /**
     * Ping-pongs a polling pair back to back for {@code trafficMs}, which opens loop B's poll
     * window (from 0 to its first size, 4 µs) and keeps B in poll mode, then leaves B alone for
     * {@code idleMs}. B's thread CPU time is read just before the last ping and again at the end,
     * so the interval covers B handling that ping, its whole last poll window (spun in vain: the
     * price of polling a loop that has just gone idle, which poll-max-ns bounds) and the idle time.
     *
     * <p>Spacing the pings to push the window towards its 32 µs ceiling does not work reliably
     * here: a ping that misses the window has to wake B through the kernel, which on these
     * virtual machines adds 5–45 µs, and a total beyond poll-max-ns shrinks the window to zero
     * instead. Whatever the window, the spin after the last event is at most poll-max-ns.
     */
    private static IdleCost measureIdleCost(long trafficMs, long idleMs) throws InterruptedException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        if (!mx.isThreadCpuTimeSupported()) {
            return null;
        }
        if (!mx.isThreadCpuTimeEnabled()) {
            mx.setThreadCpuTimeEnabled(true);
        }
        try (AioPingPong pair = AioPingPong.polling(AioPingPong.QEMU_IOTHREAD_POLL_MAX_NS)) {
            long id = pair.loopBThread().getId();
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(trafficMs);
            long trips = 0;
            while (System.nanoTime() - end < 0) {
                pair.roundTrip();
                trips++;
            }
            AioContext.Statistics afterTraffic = pair.loopBStatistics();
            long cpu0 = mx.getThreadCpuTime(id);
            pair.roundTrip(); // the last event B sees
            long t0 = System.nanoTime();
            // Not synchronisation: the idle interval is what is being measured.
            Thread.sleep(idleMs);
            long cpu1 = mx.getThreadCpuTime(id);
            long t1 = System.nanoTime();
            return new IdleCost(trips + 1, afterTraffic, pair.loopBStatistics(), cpu1 - cpu0, t1 - t0);
        }
    }

    private static void printReport(boolean quick, int rounds, Map<String, Statistics> p,
                                    Map<String, double[]> roundP50, IdleCost idle, long idleSeconds,
                                    String loadBefore, String loadAfter) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT,
                "%n=== Cross-thread wake-up round trip (JMH SampleTime; %s%d round(s) x 1 fork x (1 s warm-up + %d x 1 s)"
                        + " per peer, pooled) ===%n",
                quick ? "QUICK smoke run: " : "", rounds, quick ? 1 : FULL_MEASUREMENTS));
        out.append("loop A = the JMH thread, loop B = a thread of its own; one op = ping + pong\n\n");
        double netty = p.get("nettyEpoll").getPercentile(50);
        out.append(String.format(Locale.ROOT, "%-32s %9s %9s %10s %10s %9s   %s%n", "peer", "p50 us", "p99 us",
                "p50/Netty", "rnd ratio", "samples", "p50 us per round"));
        double[] nettyRounds = roundP50.get("nettyEpoll");
        for (Peer peer : PEERS) {
            Statistics st = p.get(peer.method());
            double[] mine = roundP50.get(peer.method());
            StringBuilder perRound = new StringBuilder();
            double[] ratios = new double[mine.length];
            for (int i = 0; i < mine.length; i++) {
                perRound.append(String.format(Locale.ROOT, " %.2f", mine[i]));
                ratios[i] = mine[i] / nettyRounds[i];
            }
            out.append(String.format(Locale.ROOT, "%-32s %9.2f %9.2f %10.3f %10.3f %9d  %s%n", peer.label(),
                    st.getPercentile(50), st.getPercentile(99), st.getPercentile(50) / netty, BenchHost.median(ratios),
                    st.getN(), perRound));
        }
        out.append("(p50/Netty: pooled p50 over pooled Netty p50, what the targets use; rnd ratio: median over the\n"
                + " rounds of the same ratio within one round, less sensitive to the background load drifting)\n");

        out.append("\ntargets\n");
        double doorbell = p.get("aioBlocking").getPercentile(50) / netty;
        double notify = p.get("aioNotify").getPercentile(50) / netty;
        double polling = p.get("aioPolling").getPercentile(50) / netty;
        out.append(target("blocking (notifyEvent) p50 <= 1.20 x Netty",
                String.format(Locale.ROOT, "%.3f x", notify), notify <= BLOCKING_TARGET));
        out.append(target("blocking (EventNotifier) p50 <= 1.20 x Netty",
                String.format(Locale.ROOT, "%.3f x", doorbell), doorbell <= BLOCKING_TARGET));
        out.append(target("AioContext polling  p50 <= 0.25 x Netty p50",
                String.format(Locale.ROOT, "%.3f x", polling), polling <= POLLING_TARGET));
        if (idle == null) {
            out.append(target("idle polling loop CPU < 1 ms per 10 s", "n/a (no thread CPU time)", false));
        } else {
            double limitMs = IDLE_TARGET_MS_PER_10S * idleSeconds / 10.0;
            double cpuMs = idle.cpuNs() / 1e6;
            out.append(target(String.format(Locale.ROOT, "idle polling loop CPU < %.1f ms per %d s", limitMs,
                    idleSeconds), String.format(Locale.ROOT, "%.4f ms", cpuMs), cpuMs < limitMs));
            AioContext.Statistics a = idle.afterTraffic();
            AioContext.Statistics b = idle.afterIdle();
            out.append(String.format(Locale.ROOT,
                    "  (idle check, not JMH: %d round trips first; loop B's busy polling found the work of %d"
                            + " of its %d polls;%n   from the last ping through %.1f s of idleness loop B completed"
                            + " %d polls and %d kernel waits)%n",
                    idle.roundTrips(), a.pollModeHits(), a.polls(), idle.wallNs() / 1e9,
                    b.polls() - a.polls(), b.waits() - a.waits()));
        }
        out.append(String.format(Locale.ROOT, "%nload average (1/5/15 min): before %s, after %s; %d CPUs%n",
                loadBefore, loadAfter, Runtime.getRuntime().availableProcessors()));
        System.out.print(out);
        System.out.flush();
    }


    private static String target(String what, String measured, boolean pass) {
        return String.format(Locale.ROOT, "  %-46s %-14s %s%n", what, measured, pass ? "PASS" : "MISS");
    }

}
