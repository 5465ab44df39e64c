package dev.dataplane.bh.demo;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.threadpool.ThreadPool;
import dev.dataplane.threadpool.ThreadPoolRequest;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.Clocks;
import dev.dataplane.timer.TimerListGroup;
import dev.dataplane.timer.TimerScale;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The loop side of the hash demo: one {@link AioContext}, polled by the thread that calls
 * {@link #run()}, hashes files with the context's {@link ThreadPool}, keeps time with two
 * periodic timers, and takes work and requests from other threads as oneshot bottom halves.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>One thread owns the state.</b> Everything here except {@link #handOver},
 * {@link #requestStop} and {@link #wantsFiles} runs in the context's home thread, the loop
 * thread: the pool's completion callbacks (from the pool's completion bottom half), the timer
 * callbacks, and the oneshot bottom halves that other threads schedule. So the counters, the
 * queue of files and the results are plain fields without a lock, and the loop thread itself
 * never reads a file or a directory: the workers and the walker do.
 *
 * <p><b>The three mechanisms.</b>
 * <ul>
 *   <li><em>Thread pool</em>: {@link #submitMore()} keeps at most {@code window} files in the
 *       pool (two per worker, so a worker that finishes finds its next file queued); a worker
 *       reads and hashes one file with plain blocking I/O; the pool's completion bottom half
 *       calls {@link #completed} here, which records the result and submits the next file.</li>
 *   <li><em>Timers</em>: the status timer and the tick are REALTIME timers that arm themselves
 *       again from their own callbacks. They run after the fd handlers of some poll, between
 *       bottom-half passes: the tick line counts the bottom halves that ran since the last tick.</li>
 *   <li><em>Cross-thread oneshots</em>: the walker hands over batches of files, and a Ctrl-C
 *       asks to stop, through {@link BottomHalves#scheduleOneshot}, which any thread may call and
 *       which wakes a sleeping poll. The callback then runs in the loop thread.</li>
 * </ul>
 *
 * <p><b>Publication.</b> A worker writes its {@link HashJob}'s fields and returns; the pool
 * stores the request's DONE state with release semantics and the completion pass loads it with
 * acquire semantics before calling back, so the callback sees the fields without a lock. A batch
 * travels inside its oneshot's callback: scheduling publishes the bottom half with an atomic
 * compare-and-set, and the pass takes it with an atomic swap before running it, so the loop sees
 * the whole list. The walker starts a new list after each hand-over and never touches the old one.
 *
 * <p><b>Batches may arrive out of order.</b> The bottom-half list is a stack: two oneshots
 * scheduled before one pass runs them newest first. So the walker numbers its batches and the
 * last one says how many there were; the input is complete when that many have arrived.
 *
 * <p><b>The gate.</b> {@code scheduleOneshot} needs no lock. The gate exists for the end of the
 * run: once the loop has finished, a late caller (the Ctrl-C hook, a walker still returning) must
 * not put a bottom half on a context that is about to close. Callers schedule only while the gate
 * is open; {@link #closeGate()} shuts it, then runs non-blocking polls until whatever got in before
 * it shut has run. A stop request also sets a volatile flag, so that the walker stops walking
 * without waiting for the loop.
 */
final class FileHasher {

    /** Lines about batches and failures printed live; the rest are only counted. */
    private static final int MAX_EVENT_LINES = 10;

    /** Files found by the walker, handed over in one oneshot bottom half. */
    record Batch(int number, List<Path> files, int skipped, List<String> problems, boolean last) {
    }

    /** What a run did; the maps are keyed by thread name. */
    record Result(String loopThread, int hashed, int failed, int skipped, int notHashed, String firstError,
                  long bytes, long elapsedNs, SortedMap<String, String> hashes, String treeDigest,
                  Map<String, Map<String, Integer>> activity, int batches, int oneshots,
                  long completionBhRuns, int timerRuns, String stoppedBy,
                  AioContext.Statistics loop, ThreadPool.Statistics pool) {

        boolean stopped() {
            return stoppedBy != null;
        }

        /** How often {@code what} happened in {@code thread}. */
        int count(String thread, String what) {
            return activity.getOrDefault(thread, Map.of()).getOrDefault(what, 0);
        }
    }

    // Activity names, for the summary's "threads" table.
    static final String COMPLETIONS = "completion callbacks";
    static final String BATCHES_TAKEN = "batches taken";
    static final String BATCHES_SENT = "batches handed over";
    static final String STOPS_TAKEN = "stop requests taken";
    static final String STOPS_SENT = "stop requested";
    static final String STATUS_RUNS = "status timer runs";
    static final String TICK_RUNS = "tick timer runs";
    static final String FILES_HASHED = "files hashed";
    static final String FILES_FAILED = "files failed";

    private final AioContext ctx;
    private final BottomHalves bhs;
    private final ThreadPool pool;
    private final Clocks clocks;
    private final AioTimer statusTimer;
    private final AioTimer tickTimer;
    private final long statusMs;        // 0: no status line
    private final long tickMs;          // 0: no tick
    private final int window;
    private final LiveLine live;        // null: quiet
    private final String loopThread;

    // ---- loop thread only ----
    private final ArrayDeque<Path> queued = new ArrayDeque<>();
    private int inPool;
    private int hashed;
    private int failed;
    private int skipped;
    private int notHashed;
    private long bytes;
    private String firstError;
    private final TreeMap<String, String> hashes = new TreeMap<>();
    private final Map<String, Map<String, Integer>> activity = new LinkedHashMap<>();
    private int batchesTaken;
    private int newestBatch;
    private int batchesExpected = -1;   // known once the last batch has arrived
    private int oneshots;
    private long completionBhRuns;
    private long pollOfLastCompletion = -1;
    private int timerRuns;
    private int ticks;
    private long bhRunsAtLastTick;
    private long startNs;
    private long elapsedNs = -1;        // set when the loop has finished
    private long statusDueMs;
    private long tickDueMs;
    private String stoppedBy;           // non-null once a stop request has run

    // ---- any thread ----
    private final Object gate = new Object();
    private volatile boolean gateOpen = true;       // written under gate
    private volatile boolean stopRequested;         // a hint for the walker; the loop acts on the oneshot

    private Result result;              // built once, after closeGate()

    /** Test seam: runs in the loop thread after each completion callback. */
    Runnable afterCompletion = () -> { };

    /**
     * Sets up the context's pool, bottom halves and timers. Home thread of {@code ctx}.
     *
     * @param workers  the most pool workers
     * @param statusMs period of the status line, 0 for none (also none without {@code live})
     * @param tickMs   period of the tick, 0 for none
     * @param live     where live lines go, or null for none
     */
    FileHasher(AioContext ctx, Clocks clocks, int workers, long statusMs, long tickMs, LiveLine live) {
        this.ctx = ctx;
        this.clocks = clocks;
        this.bhs = BottomHalves.of(ctx);
        this.pool = ThreadPool.of(ctx);
        pool.setMinMaxThreads(0, workers);
        TimerListGroup timers = TimerListGroup.of(ctx, clocks);
        this.statusTimer = timers.newTimer(ClockType.REALTIME, TimerScale.MS, this::onStatusTimer);
        this.tickTimer = timers.newTimer(ClockType.REALTIME, TimerScale.MS, this::onTick);
        this.statusMs = statusMs;
        this.tickMs = tickMs;
        this.window = 2 * workers;
        this.live = live;
        this.loopThread = Thread.currentThread().getName();
        activity.put(loopThread, new LinkedHashMap<>()); // the loop thread comes first in the summary
    }

    // ------------------------------------------------------------------------------------
    // The loop
    // ------------------------------------------------------------------------------------

    /**
     * Runs the context until every file handed over is hashed, or a stop request ran. Loop thread.
     * Then {@link #closeGate()}, and {@link #result()}.
     */
    void run() {
        startNs = clocks.nowNs(ClockType.REALTIME);
        long nowMs = nowMs();
        if (live != null && statusMs > 0) {
            statusDueMs = nowMs + statusMs;
            statusTimer.mod(statusDueMs);
        }
        if (tickMs > 0) {
            tickDueMs = nowMs + tickMs;
            tickTimer.mod(tickDueMs);
        }
        while (!finished()) {
            ctx.poll(true);     // sleeps until a bottom half is scheduled or a timer is due
        }
        elapsedNs = clocks.nowNs(ClockType.REALTIME) - startNs;
        statusTimer.del();
        tickTimer.del();
        if (live != null && statusMs > 0) {
            live.status(statusLine());  // the final numbers, as the last status
            live.finish();
        }
    }

    /** Test seam: the files handed over and not yet given to the pool. Loop thread. */
    List<Path> queuedFiles() {
        return List.copyOf(queued);
    }

    private boolean finished() {
        if (stoppedBy != null) {
            return inPool == 0;         // let the files in the pool finish; queue nothing new
        }
        return batchesTaken == batchesExpected && queued.isEmpty() && inPool == 0;
    }

    /**
     * Shuts the gate, then runs the oneshots that got in before it shut. Loop thread, after
     * {@link #run()}; once it returns, no thread can schedule anything on the context.
     */
    void closeGate() {
        synchronized (gate) {
            gateOpen = false;
        }
        while (ctx.poll(false)) {
            // each pass may run a late batch (counted as not hashed) or stop request
        }
    }

    /** What the run did. Loop thread after {@link #closeGate()}, or any thread once that thread is done. */
    Result result() {
        if (result == null) {
            result = buildResult();
        }
        return result;
    }

    // ------------------------------------------------------------------------------------
    // Thread pool: submit, hash on a worker, complete in the loop
    // ------------------------------------------------------------------------------------

    // tag::demo-completion[]
    /** Gives the pool more files while fewer than {@code window} are in it. Loop thread. */
    private void submitMore() {
        while (inPool < window && !queued.isEmpty()) {
            HashJob job = new HashJob(queued.removeFirst());
            inPool++;
            // job::hash runs on a worker; the lambda runs later in this thread, called by the
            // pool's completion bottom half.
            pool.submit("sha256", job::hash, (request, ret) -> completed(job, request));
        }
    }

    /** One file is done: record it and hand the pool the next. Loop thread. */
    private void completed(HashJob job, ThreadPoolRequest request) {
        inPool--;
        countCompletionBhRun();
        note(loopThread, COMPLETIONS);
        Throwable failure = request.failure();
        if (failure == null) {
            hashed++;
            bytes += job.bytes();
            hashes.put(job.path().toString(), job.hex());
            note(job.worker(), FILES_HASHED);
        } else {
            note(job.worker(), FILES_FAILED);
            fail(job.path() + ": " + HashJob.describe(failure));
        }
        submitMore();
        afterCompletion.run();
    }
    // end::demo-completion[]

    /**
     * Counts runs of the pool's completion bottom half that completed something. One run may
     * complete several files: a worker that finishes while the bottom half is already scheduled
     * adds nothing, and the next run completes both. A poll runs the bottom half at most once
     * here (nobody polls from inside a callback), and the context's poll counter moves only when
     * a poll ends, so a new counter value means a new run.
     */
    private void countCompletionBhRun() {
        long poll = ctx.statistics().polls();
        if (poll != pollOfLastCompletion) {
            pollOfLastCompletion = poll;
            completionBhRuns++;
        }
    }

    // ------------------------------------------------------------------------------------
    // Timers
    // ------------------------------------------------------------------------------------

    // tag::demo-timer[]
    /** The status timer. A periodic timer is a timer that arms itself again. Loop thread. */
    private void onStatusTimer() {
        timerRuns++;
        note(loopThread, STATUS_RUNS);
        live.status(statusLine());
        statusDueMs = nextDue(statusDueMs, statusMs);
        statusTimer.mod(statusDueMs);
    }

    /**
     * One period after the last deadline, not after now, so that the timer does not drift by the
     * loop's lateness; but if the loop fell more than a period behind, one period from now, so
     * that it does not fire a burst to catch up.
     */
    private long nextDue(long lastDueMs, long periodMs) {
        long next = lastDueMs + periodMs;
        long now = nowMs();
        return next > now ? next : now + periodMs;
    }
    // end::demo-timer[]

    /** The tick: shows that timers run between bottom-half passes, and how late. Loop thread. */
    private void onTick() {
        timerRuns++;
        ticks++;
        note(loopThread, TICK_RUNS);
        double lateMs = (clocks.nowNs(ClockType.REALTIME) - TimerScale.MS.toNs(tickDueMs)) / 1e6;
        long bhRuns = completionBhRuns + oneshots;
        if (live != null) {
            live.event(String.format("[%s] tick %d at %.1f s (%.1f ms late): %d bottom-half runs since the last tick",
                    loopThread, ticks, secondsSinceStart(), lateMs, bhRuns - bhRunsAtLastTick));
        }
        bhRunsAtLastTick = bhRuns;
        tickDueMs = nextDue(tickDueMs, tickMs);
        tickTimer.mod(tickDueMs);
    }

    private String statusLine() {
        double seconds = secondsSinceStart();
        ThreadPool.Statistics p = pool.statistics();
        AioContext.Statistics s = ctx.statistics();
        return String.format("[%s] %5.1f s  files %d done, %d in pool, %d queued  %s, %s  "
                        + "workers %d (peak %d)  BH runs %d  timer runs %d  polls %d (%d waits)",
                loopThread, seconds, hashed + failed, inPool, queued.size(), megabytes(bytes),
                rate(bytes, seconds), p.workers(), p.peakWorkers(), completionBhRuns + oneshots, timerRuns,
                s.polls(), s.waits());
    }

    // ------------------------------------------------------------------------------------
    // Oneshot bottom halves from other threads
    // ------------------------------------------------------------------------------------

    // tag::demo-oneshot[]
    /**
     * Hands a batch of files to the loop. Any thread (the walker). Returns false once the loop
     * wants no more files, so the walker can stop.
     */
    boolean handOver(Batch batch) {
        String sender = Thread.currentThread().getName();
        synchronized (gate) {           // not for the bottom half: see "The gate" above
            if (!gateOpen) {
                return false;
            }
            bhs.scheduleOneshot("hash-batch", () -> takeBatch(batch, sender));
        }
        return !stopRequested;
    }

    /** The batch's oneshot bottom half. Loop thread. */
    private void takeBatch(Batch batch, String sender) {
        oneshots++;
        note(sender, BATCHES_SENT);
        note(loopThread, BATCHES_TAKEN);
        batchesTaken++;
        if (batch.last()) {
            batchesExpected = batch.number();
        }
        skipped += batch.skipped();
        batch.problems().forEach(this::fail);
        if (stoppedBy != null) {
            notHashed += batch.files().size();
        } else {
            queued.addAll(batch.files());
            submitMore();
        }
        if (live != null && batchesTaken <= MAX_EVENT_LINES) {
            live.event(String.format("[%s] batch %d from %s: %d files%s (oneshot bottom half%s)", loopThread,
                    batch.number(), sender, batch.files().size(), batch.last() ? ", the last" : "",
                    batch.number() < newestBatch ? "; out of order: the list is a stack" : ""));
        }
        if (live != null && batchesTaken == MAX_EVENT_LINES + 1) {
            live.event("[" + loopThread + "] (more batches: the summary counts them)");
        }
        newestBatch = Math.max(newestBatch, batch.number());
    }
    // end::demo-oneshot[]

    /** Asks the loop to stop: no new files, finish those in the pool. Any thread (Ctrl-C). */
    void requestStop() {
        String requester = Thread.currentThread().getName();
        stopRequested = true;
        synchronized (gate) {
            if (gateOpen) {
                bhs.scheduleOneshot("hash-stop", () -> stop(requester));
            }
        }
    }

    /** The stop request's oneshot bottom half. Loop thread. */
    private void stop(String requester) {
        oneshots++;
        note(requester, STOPS_SENT);
        note(loopThread, STOPS_TAKEN);
        if (stoppedBy != null || elapsedNs >= 0) {
            return;                     // stopped already, or the loop had finished anyway
        }
        stoppedBy = requester;
        notHashed += queued.size();
        queued.clear();
        if (live != null) {
            live.event(String.format("[%s] stop requested by %s: %d files not hashed, waiting for the %d in the pool",
                    loopThread, requester, notHashed, inPool));
        }
    }

    /** Whether the loop still takes files. Any thread (the walker, between files). */
    boolean wantsFiles() {
        return gateOpen && !stopRequested;
    }

    // ------------------------------------------------------------------------------------
    // Bookkeeping (loop thread)
    // ------------------------------------------------------------------------------------

    private void fail(String problem) {
        failed++;
        if (firstError == null) {
            firstError = problem;
        }
        if (live != null && failed <= MAX_EVENT_LINES) {
            live.event("[" + loopThread + "] failed: " + problem);
        } else if (live != null && failed == MAX_EVENT_LINES + 1) {
            live.event("[" + loopThread + "] (more failures: the summary counts them)");
        }
    }

    private void note(String thread, String what) {
        activity.computeIfAbsent(thread, t -> new LinkedHashMap<>()).merge(what, 1, Integer::sum);
    }

    private Result buildResult() {
        // The loop thread first (it was put there first), then the others by name.
        Map<String, Map<String, Integer>> frozen = new LinkedHashMap<>();
        frozen.put(loopThread, Collections.unmodifiableMap(new LinkedHashMap<>(activity.get(loopThread))));
        new TreeMap<>(activity).forEach((thread, counts) ->
                frozen.putIfAbsent(thread, Collections.unmodifiableMap(new LinkedHashMap<>(counts))));
        return new Result(loopThread, hashed, failed, skipped, notHashed, firstError, bytes, elapsedNs,
                Collections.unmodifiableSortedMap(new TreeMap<>(hashes)), treeDigest(hashes),
                Collections.unmodifiableMap(frozen), batchesTaken, oneshots, completionBhRuns, timerRuns,
                stoppedBy, ctx.statistics(), pool.statistics());
    }

    /**
     * One digest for the whole run: SHA-256 over the lines {@code "<hash>  <path>\n"} (the format
     * of {@code sha256sum}) sorted by path. It does not depend on the order in which files were
     * hashed, so it is the same for any number of workers.
     */
    static String treeDigest(SortedMap<String, String> hashes) {
        MessageDigest sha = HashJob.newDigest();
        hashes.forEach((path, hash) -> sha.update((hash + "  " + path + "\n").getBytes(StandardCharsets.UTF_8)));
        return HexFormat.of().formatHex(sha.digest());
    }

    private long nowMs() {
        return clocks.now(ClockType.REALTIME, TimerScale.MS);
    }

    private double secondsSinceStart() {
        return (clocks.nowNs(ClockType.REALTIME) - startNs) / 1e9;
    }

    static String megabytes(long bytes) {
        return String.format("%.1f MB", bytes / 1e6);
    }

    /** Throughput in MB/s; "-" before any time has passed (a manual clock in a test, say). */
    static String rate(long bytes, double seconds) {
        return seconds > 0 ? String.format("%.1f MB/s", bytes / 1e6 / seconds) : "- MB/s";
    }
}
