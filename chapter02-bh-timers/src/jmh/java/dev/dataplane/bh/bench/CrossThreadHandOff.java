package dev.dataplane.bh.bench;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.EventLoopThread;
import dev.dataplane.testsupport.Timeouts;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Cross-thread hand-off throughput in the shape of QEMU's {@code test-aio-multithread}
 * {@code /aio/multi/schedule}: five contexts, each run by a loop thread of its own, and a few
 * tokens that keep hopping between them. Every time a token runs it draws the next context at
 * random; if it drew the context it is running in, it schedules itself there again ("queued",
 * QEMU's {@code count_here}); otherwise it hands itself to the other context's thread
 * ("scheduled", QEMU's {@code count_other}), which must be woken if it sleeps. At the end it prints
 * QEMU's line {@code scheduled A, queued B, retry C, total D}.
 *
 * <p>Two peers run the same protocol, with the same per-token random sequences:
 * <ul>
 *   <li>{@link Peer#BH}: five {@link AioContext}s, each on an {@link EventLoopThread}
 *       ({@code while (running) ctx.poll(true)}, stopped with a oneshot bottom half); a token
 *       moves with {@link BottomHalves#scheduleOneshot}.</li>
 *   <li>{@link Peer#EXECUTOR}: five {@link Executors#newSingleThreadExecutor()}s; a token moves
 *       with {@code execute(token)}.</li>
 * </ul>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Why a timed harness and not JMH.</b> The system is free-running: once the tokens are
 * injected, the five loop threads move them by themselves, and the benchmark thread has nothing to
 * do but watch the clock. A JMH {@code @Benchmark} would have to impose a per-invocation shape on
 * it, either "inject the tokens, let them make H hops, wait until all are back" (which measures a
 * ramp-up, a tail where fewer tokens are in flight, and a wake-up of the JMH thread, none of which
 * QEMU's test has) or "wait until a shared hop counter has advanced by H" (which adds a contended
 * counter to every hop). QEMU's figure is simply hops counted over a fixed wall-clock window with
 * all tokens in flight, so that is what this class measures. What JMH would add is isolation;
 * {@link Chapter2BenchMain} gets it the same way JMH does, by running every peer in a fresh JVM
 * ({@link #main}), with a warm-up period that is not counted, in interleaved rounds.
 *
 * <p><b>Counting.</b> Each token keeps its own counters in plain fields. A token runs on one thread
 * at a time, and moving it (a bottom half's compare-and-set push, a blocking queue's lock) orders
 * everything it did on the old thread before what it does on the new one, so the fields need no
 * atomics; QEMU's test uses shared atomic counters, which would add contention of their own. A
 * token reads {@link #phase} (volatile) once per hop: it counts only while it reads
 * {@code MEASURING}, and retires on {@code STOPPING}. The totals are read after every token has
 * retired ({@link #retired}, a latch: happens-before).
 *
 * <p><b>Retry is always 0.</b> In QEMU's test a context does not hand off <em>itself</em>: each
 * context has one slot in which its coroutine parks, and a running coroutine tries to take the
 * coroutine parked in the slot of a randomly chosen context and wake it there; if that coroutine is
 * not parked at the moment (it is running, or on its way), the slot is empty and the attempt
 * counts as a retry. Here a token moves itself, so there is no slot that could be empty and every
 * draw is a hand-off. The nearest thing to contention in our protocol is a compare-and-set that
 * has to be repeated when two threads push onto the same bottom-half list at once (the executor
 * peer takes a lock instead); that is internal to {@code BottomHalves} and not counted.
 *
 * <p><b>Diagnostics.</b> Besides hops, a run reports the CPU time the five loop threads used per
 * hop (less sensitive to other processes on the machine than the wall clock) and, for the
 * bottom-half peer, how many kernel waits the loops made per hop (each an {@code epoll_wait} or
 * {@code ppoll}, and most of them paired with an eventfd write by the scheduler that woke it).
 * The contexts' counters are read from the main thread, so they may be slightly stale.
 */
public final class CrossThreadHandOff {

    /** QEMU's {@code NUM_CONTEXTS}. */
    public static final int CONTEXTS = 5;
    /** One token per context by default, as QEMU's test has one coroutine per context. */
    public static final int DEFAULT_TOKENS = 5;
    /** Printed with every run, so that a run can be repeated hop for hop. */
    public static final long DEFAULT_SEED = 0x5EED_2011L;

    /** The line {@link #main} prints for {@link Chapter2BenchMain} to parse. */
    static final String RESULT_PREFIX = "#handoff ";

    /** The two implementations of the same protocol. */
    public enum Peer {
        BH("bh", "BottomHalves.scheduleOneshot()"),
        EXECUTOR("executor", "newSingleThreadExecutor().execute()");

        private final String id;
        private final String label;

        Peer(String id, String label) {
            this.id = id;
            this.label = label;
        }

        public String id() {
            return id;
        }

        public String label() {
            return label;
        }

        static Peer byId(String id) {
            for (Peer p : values()) {
                if (p.id.equals(id)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("unknown peer '" + id + "' (bh or executor)");
        }
    }

    /**
     * What one run counted in its measurement window. {@code waits} is -1 for the executor peer.
     * {@code cpuNs} is the loop threads' CPU time in the window, -1 if the JVM cannot tell.
     */
    public record Counts(Peer peer, int tokens, long scheduled, long queued, long retry, double seconds,
                         long cpuNs, long waits) {

        public long total() {
            return scheduled + queued + retry;
        }

        public long hops() {
            return scheduled + queued;
        }

        public double hopsPerSecond() {
            return hops() / seconds;
        }

        /** QEMU's line, word for word the same shape. */
        public String qemuLine() {
            return String.format(Locale.ROOT, "scheduled %d, queued %d, retry %d, total %d",
                    scheduled, queued, retry, total());
        }

        String resultLine() {
            return String.format(Locale.ROOT,
                    "%speer=%s tokens=%d scheduled=%d queued=%d retry=%d seconds=%.6f cpuNs=%d waits=%d",
                    RESULT_PREFIX, peer.id(), tokens, scheduled, queued, retry, seconds, cpuNs, waits);
        }

        static Counts parse(String line) {
            if (!line.startsWith(RESULT_PREFIX)) {
                throw new IllegalArgumentException("not a result line: " + line);
            }
            Map<String, String> kv = new HashMap<>();
            for (String f : line.substring(RESULT_PREFIX.length()).trim().split("\\s+")) {
                int eq = f.indexOf('=');
                kv.put(f.substring(0, eq), f.substring(eq + 1));
            }
            return new Counts(Peer.byId(kv.get("peer")), Integer.parseInt(kv.get("tokens")),
                    Long.parseLong(kv.get("scheduled")), Long.parseLong(kv.get("queued")),
                    Long.parseLong(kv.get("retry")), Double.parseDouble(kv.get("seconds")),
                    Long.parseLong(kv.get("cpuNs")), Long.parseLong(kv.get("waits")));
        }
    }

    private static final int WARMING_UP = 0;
    private static final int MEASURING = 1;
    private static final int STOPPING = 2;

    /** What the tokens do now; written by the main thread, read once per hop. */
    private volatile int phase = WARMING_UP;
    private final CountDownLatch retired;
    private final List<Token> tokens = new ArrayList<>();

    private CrossThreadHandOff(int tokenCount) {
        this.retired = new CountDownLatch(tokenCount);
    }

    /**
     * A unit of work that moves itself. Subclasses say how it moves; each JVM runs one peer, so
     * the call to {@link #handOff} stays monomorphic.
     */
    private abstract static class Token implements Runnable {
        private final CrossThreadHandOff run;
        private final SplittableRandom random;
        /** The context this token is running in, or about to run in. */
        private int here;
        long scheduled;
        long queued;

        Token(CrossThreadHandOff run, SplittableRandom random, int start) {
            this.run = run;
            this.random = random;
            this.here = start;
        }

        @Override
        public final void run() {
            int p = run.phase;
            if (p == STOPPING) {
                run.retired.countDown(); // not handed on: this token is done
                return;
            }
            int next = random.nextInt(CONTEXTS);
            if (p == MEASURING) {
                if (next == here) {
                    queued++;
                } else {
                    scheduled++;
                }
            }
            here = next;
            handOff(next);
        }

        /** Makes context {@code target} run this token (again). Any thread. */
        abstract void handOff(int target);
    }

    private static final class BhToken extends Token {
        private final BottomHalves[] lists;

        BhToken(CrossThreadHandOff run, SplittableRandom random, int start, BottomHalves[] lists) {
            super(run, random, start);
            this.lists = lists;
        }

        @Override
        void handOff(int target) {
            lists[target].scheduleOneshot("token", this);
        }
    }

    private static final class ExecutorToken extends Token {
        private final ExecutorService[] executors;

        ExecutorToken(CrossThreadHandOff run, SplittableRandom random, int start, ExecutorService[] executors) {
            super(run, random, start);
            this.executors = executors;
        }

        @Override
        void handOff(int target) {
            executors[target].execute(this);
        }
    }

    /**
     * Runs one peer: starts its five threads, injects {@code tokenCount} tokens (token i starts in
     * context i mod 5), lets them run unmeasured for {@code warmupMs}, counts for
     * {@code measureMs}, then retires the tokens and stops the threads.
     */
    public static Counts run(Peer peer, int tokenCount, long seed, long warmupMs, long measureMs)
            throws InterruptedException {
        return run(peer, tokenCount, seed, warmupMs, measureMs, AioContext.FdMonitorKind.AUTO);
    }

    /**
     * As {@link #run(Peer, int, long, long, long)}, with the bottom-half peer's contexts on the
     * given fd monitor (a diagnostic: with only their own notifier, {@code AUTO} means ppoll).
     */
    public static Counts run(Peer peer, int tokenCount, long seed, long warmupMs, long measureMs,
                             AioContext.FdMonitorKind fdMonitor) throws InterruptedException {
        if (tokenCount < 1) {
            throw new IllegalArgumentException("need at least one token: " + tokenCount);
        }
        CrossThreadHandOff run = new CrossThreadHandOff(tokenCount);
        // Token i's sequence depends only on (seed, i): both peers make the same draws.
        SplittableRandom root = new SplittableRandom(seed);
        return switch (peer) {
            case BH -> run.runBottomHalves(tokenCount, root, warmupMs, measureMs, fdMonitor);
            case EXECUTOR -> run.runExecutors(tokenCount, root, warmupMs, measureMs);
        };
    }

    private Counts runBottomHalves(int tokenCount, SplittableRandom root, long warmupMs, long measureMs,
                                   AioContext.FdMonitorKind fdMonitor) throws InterruptedException {
        EventLoopThread[] loops = new EventLoopThread[CONTEXTS];
        BottomHalves[] lists = new BottomHalves[CONTEXTS];
        Thread[] threads = new Thread[CONTEXTS];
        try {
            for (int i = 0; i < CONTEXTS; i++) {
                loops[i] = new EventLoopThread("handoff-bh-" + i, b -> b.fdMonitor(fdMonitor));
                lists[i] = BottomHalves.of(loops[i].ctx);
                threads[i] = loops[i].thread();
            }
            for (int i = 0; i < tokenCount; i++) {
                tokens.add(new BhToken(this, root.split(), i % CONTEXTS, lists));
            }
            return measure(Peer.BH, tokenCount, threads, () -> {
                long waits = 0;
                for (EventLoopThread l : loops) {
                    waits += l.ctx.statistics().waits();
                }
                return waits;
            }, warmupMs, measureMs);
        } finally {
            for (EventLoopThread l : loops) {
                if (l != null) {
                    l.close(); // a oneshot bottom half clears its running flag; then join and close
                }
            }
        }
    }

    private Counts runExecutors(int tokenCount, SplittableRandom root, long warmupMs, long measureMs)
            throws InterruptedException {
        ExecutorService[] executors = new ExecutorService[CONTEXTS];
        Thread[] threads = new Thread[CONTEXTS];
        try {
            for (int i = 0; i < CONTEXTS; i++) {
                int index = i;
                // The worker thread starts with the first task; prestart it so the thread exists
                // (for its CPU time) and its start-up is not part of any hop.
                CountDownLatch started = new CountDownLatch(1);
                executors[i] = Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "handoff-executor-" + index);
                    t.setDaemon(true);
                    threads[index] = t;
                    return t;
                });
                executors[i].execute(started::countDown);
                Timeouts.await(started);
            }
            for (int i = 0; i < tokenCount; i++) {
                tokens.add(new ExecutorToken(this, root.split(), i % CONTEXTS, executors));
            }
            return measure(Peer.EXECUTOR, tokenCount, threads, () -> -1L, warmupMs, measureMs);
        } finally {
            for (ExecutorService e : executors) {
                if (e != null) {
                    e.shutdown();
                }
            }
            for (ExecutorService e : executors) {
                if (e != null && !e.awaitTermination(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("an executor did not terminate within " + Timeouts.HANDSHAKE);
                }
            }
        }
    }

    private Counts measure(Peer peer, int tokenCount, Thread[] threads, LongSupplier waits,
                           long warmupMs, long measureMs) throws InterruptedException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        boolean cpu = mx.isThreadCpuTimeSupported();
        if (cpu && !mx.isThreadCpuTimeEnabled()) {
            mx.setThreadCpuTimeEnabled(true);
        }
        // Inject: the first run of each token is scheduled from this thread, like QEMU's
        // aio_co_schedule of the entry coroutines; it is not counted (phase is WARMING_UP).
        for (Token t : tokens) {
            t.handOff(t.here);
        }
        // Not synchronisation: these sleeps are the warm-up and measurement windows.
        Thread.sleep(warmupMs);
        long waits0 = waits.getAsLong();
        long cpu0 = cpu ? cpuTime(mx, threads) : 0;
        long t0 = System.nanoTime();
        phase = MEASURING;
        Thread.sleep(measureMs);
        phase = STOPPING;
        long t1 = System.nanoTime();
        long cpu1 = cpu ? cpuTime(mx, threads) : 0;
        long waits1 = waits.getAsLong();
        if (!retired.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException(retired.getCount() + " of " + tokenCount
                    + " tokens did not retire within " + Timeouts.HANDSHAKE + " (a lost hand-off?)");
        }
        long scheduled = 0;
        long queued = 0;
        for (Token t : tokens) { // after the latch: every token's last write happens-before this
            scheduled += t.scheduled;
            queued += t.queued;
        }
        return new Counts(peer, tokenCount, scheduled, queued, 0, (t1 - t0) / 1e9,
                cpu ? cpu1 - cpu0 : -1, waits0 < 0 ? -1 : waits1 - waits0);
    }

    private static long cpuTime(ThreadMXBean mx, Thread[] threads) {
        long sum = 0;
        for (Thread t : threads) {
            sum += Math.max(0, mx.getThreadCpuTime(t.getId()));
        }
        return sum;
    }

    /**
     * Runs one peer in this JVM and prints QEMU's line, a one-line summary, and a machine-readable
     * line for {@link Chapter2BenchMain}. Arguments, all optional:
     * {@code --peer bh|executor} (default bh), {@code --slow} (10 s instead of 1 s, like QEMU's
     * {@code -m slow}), {@code --seconds S}, {@code --warmup-ms MS} (default 1000),
     * {@code --tokens T} (default 5), {@code --seed N}, {@code --fdmon auto|poll|epoll} (the
     * bottom-half contexts' fd monitor, default auto).
     */
    public static void main(String[] args) throws InterruptedException {
        Peer peer = Peer.BH;
        double seconds = 1;
        long warmupMs = 1000;
        int tokenCount = DEFAULT_TOKENS;
        long seed = DEFAULT_SEED;
        AioContext.FdMonitorKind fdMonitor = AioContext.FdMonitorKind.AUTO;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--peer" -> peer = Peer.byId(args[++i]);
                case "--slow" -> seconds = 10;
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--warmup-ms" -> warmupMs = Long.parseLong(args[++i]);
                case "--tokens" -> tokenCount = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.decode(args[++i]);
                case "--fdmon" -> fdMonitor = AioContext.FdMonitorKind.valueOf(args[++i].toUpperCase(Locale.ROOT));
                default -> throw new IllegalArgumentException("unknown argument: " + args[i]);
            }
        }
        Counts c = run(peer, tokenCount, seed, warmupMs, Math.round(seconds * 1000), fdMonitor);
        System.out.printf(Locale.ROOT, "%s (%d contexts, %d tokens, seed %#x, %.1f s): %s%n",
                peer.label(), CONTEXTS, tokenCount, seed, c.seconds(), c.qemuLine());
        System.out.printf(Locale.ROOT, "  %.0f hops/s, loop threads' CPU %.2f us per hop%s%n", c.hopsPerSecond(),
                c.cpuNs() < 0 ? Double.NaN : c.cpuNs() / 1e3 / c.hops(),
                c.waits() < 0 ? "" : String.format(Locale.ROOT, ", %.3f kernel waits per hop",
                        (double) c.waits() / c.hops()));
        System.out.println(c.resultLine());
    }
}
