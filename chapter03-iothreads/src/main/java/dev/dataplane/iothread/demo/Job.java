package dev.dataplane.iothread.demo;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.AioWait;
import dev.dataplane.iothread.IoThread;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.threadpool.CompletionFunc;
import dev.dataplane.threadpool.ThreadPool;
import dev.dataplane.threadpool.ThreadPoolFunc;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.TimerListGroup;
import dev.dataplane.timer.TimerScale;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A piece of work that lives in one IOThread's {@link AioContext}: its timers are on that
 * context's timer lists, its blocking work goes to that context's thread pool, and every callback
 * of it runs in that IOThread.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>One home at a time.</b> A job's state (its counters, queues and timers) is plain fields
 * without a lock. That is safe because exactly one thread touches them at any moment: the home
 * thread of the context the job is attached to. The callbacks (timers, pool completions) all run
 * there, so they never race with each other. Touching the state from anywhere else, even to
 * read a counter for the console, would race with a callback in the IOThread; so the console
 * asks the job's own thread with {@link AioWait#callInContext} (see {@link #describe()}).
 *
 * <p><b>Moving.</b> The main loop moves a job in three steps (QEMU does the same for a block
 * device: drain, {@code detach_aio_context}, {@code attach_aio_context}):
 * <ol>
 *   <li>{@link #detach()} in the old IOThread: the job deletes its timers and submits nothing
 *       more;</li>
 *   <li>the main loop waits until {@link #busy()} is false: pool requests already submitted
 *       complete in the old IOThread, because a completion comes back to the context that
 *       submitted the request, and each one kicks the main loop's {@link AioWait};</li>
 *   <li>{@link #attach} in the new IOThread: new timers on the new context, and the work goes on.</li>
 * </ol>
 * Between 1 and 3 nothing of the job is left in either context, so no callback can run.
 *
 * <p><b>Publication.</b> The fields written in the old IOThread are seen by the new one
 * without volatile: the old thread's last write to {@code inFlight} (volatile) or the end of the
 * {@code runInContext} call (a volatile flag) happens before the main loop goes on, and the
 * main loop's scheduling of the bottom half that attaches the job (an atomic operation) happens
 * before the new IOThread runs it.
 *
 * <p><b>Live lines.</b> A report timer in the job's context builds a line prefixed with the name
 * of the thread that built it, and hands it to the console, which prints it in the main loop. The
 * prefix is the proof of where the job runs: after a move it changes.
 */
abstract class Job {

    /** What a job reports about itself, built in its home thread. */
    record Snapshot(String name, String kind, String summary) {
    }

    final String name;
    private final AioWait aioWait;
    private final Consumer<String> live;
    private final long reportMs;

    /** Which IOThread owns the job. Main loop only: the console and the moves read and write it. */
    private IoThread home;

    // ---- the home context's thread only (see "One home at a time") ----
    private AioContext ctx;             // null while detached
    private AioTimer reportTimer;
    private long reportDueMs;
    /** Thread name -> what it did for this job -> how often. Written in the home thread (moves along with the job). */
    private final Map<String, Map<String, Long>> activity = new LinkedHashMap<>();

    /**
     * Pool requests submitted and not completed yet. Written only by the home thread, read by the
     * main loop's drain condition, hence volatile.
     */
    private volatile int inFlight;

    Job(String name, AioWait aioWait, Consumer<String> live, long reportMs) {
        this.name = name;
        this.aioWait = aioWait;
        this.live = live;
        this.reportMs = reportMs;
    }

    /** "hasher" or "ticker". */
    abstract String kind();

    /** Starts the job's own timers and work. Home thread, just attached. */
    abstract void onAttach();

    /** Stops the job's own timers and new work. Home thread, just before being detached. */
    abstract void onDetach();

    /** What the job has done, in a few words. Home thread. */
    abstract String summary();

    // ------------------------------------------------------------------------------------
    // Main loop side
    // ------------------------------------------------------------------------------------

    @GlobalStateCode
    IoThread home() {
        return home;
    }

    @GlobalStateCode
    void setHome(IoThread home) {
        this.home = home;
    }

    /**
     * Whether pool requests of the job are still in flight; the drain condition of a move. Any
     * thread (a volatile read).
     */
    boolean busy() {
        return inFlight > 0;
    }

    // ------------------------------------------------------------------------------------
    // Home thread side
    // ------------------------------------------------------------------------------------

    /** Makes {@code ctx} the job's home and starts it. Called in {@code ctx}'s home thread. */
    @IoCode
    final void attach(AioContext ctx) {
        assertHome(ctx, "attach");
        this.ctx = ctx;
        if (reportMs > 0) {
            reportTimer = TimerListGroup.of(ctx).newTimer(ClockType.REALTIME, TimerScale.MS, this::report);
            reportDueMs = nowMs() + reportMs;
            reportTimer.mod(reportDueMs);
        }
        note(name + " attached");
        onAttach();
    }

    /**
     * Stops the job in its home context: no timer of it stays armed and it submits nothing more.
     * Requests already in the pool still complete here; see {@link #busy()}.
     */
    @IoCode
    final void detach() {
        assertHome(ctx, "detach");
        onDetach();
        if (reportTimer != null) {
            reportTimer.del();  // reliable here: the timer's callback runs only in this thread
            reportTimer = null;
        }
        ctx = null;
    }

    /** The job's state as its home thread sees it. */
    @IoCode
    final Snapshot describe() {
        return new Snapshot(name, kind(), summary());
    }

    /** Whether the job is attached (its callbacks may schedule more work). Home thread. */
    final boolean attached() {
        return ctx != null;
    }

    /** The context the job is attached to. Home thread, while attached. */
    final AioContext context() {
        return ctx;
    }

    // tag::demo-job-submit[]
    /**
     * Hands blocking work to the home context's thread pool; {@code done} runs later in this
     * thread. The wrapper counts the request in flight, and its last act is to count it out and
     * kick the main loop, which may be waiting for the job to drain: after that decrement the
     * main loop may hand the job to another thread, so nothing here may touch the job again.
     */
    @IoCode
    final void submit(String what, ThreadPoolFunc work, CompletionFunc done) {
        inFlight++; // single writer: the home thread
        ThreadPool.of(ctx).submit(name + ":" + what, work, (request, ret) -> {
            try {
                done.complete(request, ret);
            } finally {
                inFlight--;
                aioWait.kick();
            }
        });
    }
    // end::demo-job-submit[]

    /** Counts that the calling thread did {@code what} for this job. Home thread (it may name another thread). */
    final void note(String thread, String what) {
        activity.computeIfAbsent(thread, t -> new LinkedHashMap<>()).merge(what, 1L, Long::sum);
    }

    final void note(String what) {
        note(Thread.currentThread().getName(), what);
    }

    /**
     * Who did what for this job. Main loop, once the job is detached and drained (its last home
     * thread's writes are then visible, see "Publication").
     */
    final Map<String, Map<String, Long>> activity() {
        return activity;
    }

    /** The report timer: one live line, built here, printed by the console. Home thread. */
    private void report() {
        live.accept("[" + Thread.currentThread().getName() + "] " + name + ": " + summary());
        reportDueMs = nextDue(reportDueMs, reportMs);
        reportTimer.mod(reportDueMs);
    }

    /**
     * One period after the last deadline, so a periodic timer does not drift; but one period from
     * now if the loop fell a whole period behind, so it does not fire a burst to catch up.
     */
    final long nextDue(long lastDueMs, long periodMs) {
        long next = lastDueMs + periodMs;
        long now = nowMs();
        return next > now ? next : now + periodMs;
    }

    final long nowMs() {
        return TimerListGroup.of(ctx).clocks().now(ClockType.REALTIME, TimerScale.MS);
    }

    private void assertHome(AioContext c, String what) {
        if (c == null || !c.inHomeThread()) {
            throw new IllegalStateException("job '" + name + "': " + what + " called in thread '"
                    + Thread.currentThread().getName() + "', not in the home thread of its context");
        }
    }
}
