package dev.dataplane.iothread;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioEventSource;
import dev.dataplane.aio.HomeThreadRule;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoOrGsCode;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.Clocks;
import dev.dataplane.timer.TimerList;
import dev.dataplane.timer.TimerScale;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Objects;

/**
 * The main loop: the main {@link AioContext}, run by the main-loop thread with the {@link Bql}
 * held while it dispatches and released while it sleeps (QEMU: {@code util/main-loop.c},
 * {@code qemu_init_main_loop}, {@code main_loop_wait}).
 *
 * <pre>{@code
 * MainLoop main = MainLoop.create();   // this thread is now the main loop; it holds the BQL
 * ...                                  // create IOThreads, devices, timers
 * main.run();                          // until requestQuit()
 * main.close();
 * }</pre>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Who may poll the main context.</b> A thread holding this loop's BQL, and nobody else
 * (QEMU: {@code in_aio_context_home_thread} answers "the main thread, or any thread holding the
 * BQL"; here the main-loop thread holds the BQL whenever it runs code, so one test covers both).
 * That is the {@link HomeThreadRule} given to chapter 1's context. The lock is what keeps two
 * pollers apart and what publishes the context's bookkeeping from one to the next.
 *
 * <p><b>Sleeping without the lock.</b> One {@link #iterate} is one {@code poll(true)} of the
 * main context. When that poll (and only that one: the main-loop thread, inside
 * {@code iterate}, at poll depth 1) is about to sleep in the kernel, the rule releases the BQL,
 * so vCPU threads can take it; when the sleep ends the rule takes it back, and only then are the
 * ready handlers collected and run. A nested poll (an {@link AioWait} inside a main-loop callback)
 * keeps the lock: the caller is in the middle of global-state work.
 *
 * <p><b>Busy, yet not greedy.</b> An iteration whose poll did not sleep (work was pending, so the
 * timeout was zero) still lets go of the BQL once before it ends and takes it back. QEMU's main
 * loop unlocks around every poll, sleeping or not; without that window a main loop that always
 * has work (a bottom half that keeps rescheduling itself, a stream of completions) would keep
 * every vCPU waiting for as long as the work lasts. The lock is not fair, so a waiting vCPU is
 * not guaranteed the next turn, only a chance at every iteration.
 *
 * <p><b>Main-loop timers.</b> {@code timer_new_ms} in QEMU arms a timer on the main loop's own
 * timer lists ({@code main_loop_tlg}), not on the main context's: they run once per
 * {@code main_loop_wait}, never inside a nested {@code aio_poll}. Here too: an event source tells
 * the top-level poll how long it may sleep, and {@link #iterate} runs them after the poll.
 *
 * <p><b>Threads.</b> Everything here is main-loop-thread (or BQL-holder) only, except
 * {@link #requestQuit()}, {@link #context()}, {@link #bql()} and {@link #aioWait()}.
 */
public final class MainLoop implements AutoCloseable {

    private final String name;
    private final Thread thread;
    private final Bql bql;
    private final AioContext ctx;
    private final AioWait aioWait;
    private final Clocks clocks;
    private final EnumMap<ClockType, TimerList> timers = new EnumMap<>(ClockType.class);
    private final boolean bugPollMainWithoutBql;

    /** Main-loop thread only: inside {@link #iterate}. */
    private boolean iterating;
    /** Main-loop thread only: whether this iteration's poll let go of the BQL to sleep (and took it back). */
    private boolean releasedThisIteration;
    /** Set by the quit bottom half, in the main loop. */
    private boolean quit;
    private long iterations;
    private boolean closed;

    @GlobalStateCode
    private MainLoop(Builder b) {
        this.name = b.name;
        this.thread = Thread.currentThread();
        if (CurrentContext.own() != null) {
            throw new IllegalStateException("thread '" + thread.getName() + "' already runs the event loop '"
                    + CurrentContext.own().name() + "'; a main loop needs a thread of its own");
        }
        if (Bql.heldByCurrentThread() != null) {
            throw new IllegalStateException("thread '" + thread.getName()
                    + "' holds another machine's BQL; it cannot become a main-loop thread");
        }
        this.bugPollMainWithoutBql = b.bugs.contains(HistoricalBug.POLL_MAIN_WITHOUT_BQL);
        this.clocks = b.clocks;
        this.bql = new Bql(name, this);
        this.ctx = AioContext.builder().name(name).homeThreadRule(new MainContextRule()).build();
        bql.attach(ctx);
        bql.lock(); // the main-loop thread holds the BQL except while it sleeps
        CurrentContext.set(ctx);
        for (ClockType type : ClockType.values()) {
            timers.put(type, new TimerList(clocks, type, name + "-main-loop-timers", ctx::notifyEvent));
        }
        ctx.addEventSource(new MainLoopTimersDeadline());
        this.aioWait = new AioWait(this);
    }

    /** A main loop on the calling thread, which becomes the main-loop thread and takes the BQL. */
    @GlobalStateCode
    public static MainLoop create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Options for a new main loop. */
    public static final class Builder {
        private String name = "main-loop";
        private Clocks clocks = Clocks.system();
        private final EnumSet<HistoricalBug> bugs = EnumSet.noneOf(HistoricalBug.class);

        private Builder() {
        }

        /** The name of the main context and the BQL, for traces and messages. */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name);
            return this;
        }

        /** The clocks the main-loop timers read (default: the system clocks). */
        public Builder clocks(Clocks clocks) {
            this.clocks = Objects.requireNonNull(clocks);
            return this;
        }

        /** Test seam: a main loop with a historical bug put back. */
        Builder reintroduce(HistoricalBug... bugs) {
            this.bugs.addAll(Arrays.asList(bugs));
            return this;
        }

        @GlobalStateCode
        public MainLoop build() {
            return new MainLoop(this);
        }
    }

    // tag::main-context-rule[]
    /** Chapter 1's hook: who may poll the main context, and when its poller lets go of the BQL. */
    private final class MainContextRule implements HomeThreadRule {
        @Override
        public boolean admits(Thread t) {
            if (t == Thread.currentThread() && bql.isHeld()) {
                return true;
            }
            // The 2020 bug: a thread without a context of its own counted as a main-loop thread.
            return bugPollMainWithoutBql && t == Thread.currentThread() && CurrentContext.own() == null;
        }

        @Override
        public String describe() {
            return "a thread holding the BQL of '" + name + "' (the main-loop thread holds it except"
                    + " while it sleeps)";
        }

        @Override
        @GlobalStateCode // the main-loop thread, in its own iterate(): see isTopLevelIteration
        public boolean releaseForSleep(AioContext c) {
            // tag::exercise-ch03-main-loop-sleep[]
            if (isTopLevelIteration()) {
                bql.unlock(); // vCPUs may take it while we sleep
                return true;
            }
            return false;     // a nested wait keeps the lock: its caller is mid-way through global state
            // end::exercise-ch03-main-loop-sleep[]
        }

        @Override
        @GlobalStateCode // only after releaseForSleep returned true, in the same thread
        public void reacquireAfterSleep(AioContext c) {
            bql.lock();
            releasedThisIteration = true; // called only after releaseForSleep let go of it
        }
    }
    // end::main-context-rule[]

    /** Whether the calling poll is {@link #iterate}'s own, not a nested one or another thread's. */
    private boolean isTopLevelIteration() {
        return Thread.currentThread() == thread && iterating && ctx.pollDepth() == 1;
    }

    /** Tells the top-level poll how long the main-loop timers allow it to sleep. */
    private final class MainLoopTimersDeadline implements AioEventSource {
        @Override
        public long timeoutNs() {
            if (!isTopLevelIteration()) {
                return -1; // nested polls never run main-loop timers, so they must not wake for them
            }
            long deadline = -1;
            for (TimerList list : timers.values()) {
                long d = list.deadlineNs();
                if (Long.compareUnsigned(d, deadline) < 0) {
                    deadline = d;
                }
            }
            return deadline;
        }

        @Override
        public boolean dispatch() {
            return false; // iterate() runs them after the poll
        }

        @Override
        public Phase phase() {
            return Phase.AFTER_HANDLERS;
        }
    }

    // tag::iterate[]
    /**
     * One iteration of the main loop (QEMU: {@code main_loop_wait}): poll the main context,
     * sleeping without the BQL if {@code nonblocking} is false, then run the main-loop timers
     * that are due. Main-loop thread only, not from inside a main-loop callback.
     *
     * @return whether anything ran
     */
    @GlobalStateCode
    public boolean iterate(boolean nonblocking) {
        assertMainLoopThread("iterate()");
        if (iterating) {
            throw new IllegalStateException("main loop '" + name + "': iterate() called from inside a"
                    + " main-loop callback; wait for a condition with AioWait.waitWhile instead");
        }
        iterating = true;
        releasedThisIteration = false;
        boolean progress;
        try {
            progress = ctx.poll(!nonblocking);
        } finally {
            iterating = false;
        }
        if (!releasedThisIteration) {
            // The poll did not sleep (work was pending), so it kept the lock. QEMU's main loop
            // lets go of the BQL around every poll, sleeping or not: without this window a main
            // loop that always has work would lock the vCPUs out for as long as the work lasts.
            bql.unlock();
            bql.lock();
        }
        for (TimerList list : timers.values()) {
            progress |= list.runTimers();
        }
        iterations++;
        return progress;
    }
    // end::iterate[]

    /** Runs {@link #iterate} until {@link #requestQuit()} (QEMU: {@code qemu_main_loop}). */
    @GlobalStateCode
    public void run() {
        assertMainLoopThread("run()");
        while (!quit) {
            iterate(false);
        }
        quit = false; // a later run() runs again
    }

    /**
     * Makes {@link #run()} return after the current iteration. Any thread. It is a oneshot bottom
     * half, not a flag and a kick, for the reason {@link IoThread#stop()} explains.
     */
    @IoOrGsCode
    public void requestQuit() {
        BottomHalves.of(ctx).scheduleOneshot("main-loop-quit", () -> quit = true);
    }

    /** A timer on the main loop's own timer lists; see {@link MainLoopHelpers#timerNew}. */
    AioTimer newTimer(ClockType type, TimerScale scale, Runnable cb) {
        return timers.get(type).newTimer(scale, cb);
    }

    /** The main context (QEMU: {@code qemu_get_aio_context}). */
    @IoOrGsCode
    public AioContext context() {
        return ctx;
    }

    /** This machine's Big QEMU Lock. */
    @IoOrGsCode
    public Bql bql() {
        return bql;
    }

    /** This machine's {@link AioWait}: cross-thread waits and the kicks that end them. */
    @IoOrGsCode
    public AioWait aioWait() {
        return aioWait;
    }

    /** The main-loop thread. */
    public Thread thread() {
        return thread;
    }

    public String name() {
        return name;
    }

    /** The clocks of the main-loop timers. */
    public Clocks clocks() {
        return clocks;
    }

    /** Iterations run so far. Main-loop thread (or a BQL holder). */
    public long iterations() {
        return iterations;
    }

    /**
     * The main loop of the calling thread: the one whose BQL it holds, or null. This is how the
     * {@link MainLoopHelpers} find their implicit context.
     */
    @IoOrGsCode
    public static MainLoop current() {
        Bql held = Bql.heldByCurrentThread();
        return held != null ? held.owner() : null;
    }

    /** Whether the calling thread is this loop's main-loop thread (QEMU: {@code qemu_in_main_thread} for it). */
    public boolean inMainLoopThread() {
        return Thread.currentThread() == thread;
    }

    private void assertMainLoopThread(String what) {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("main loop '" + name + "': " + what + " called from thread '"
                    + Thread.currentThread().getName() + "', but only the main-loop thread '" + thread.getName()
                    + "' may do that");
        }
    }

    /**
     * Runs what is still scheduled in the main context (bounded), closes it (its bottom halves,
     * timers and thread pool) and releases the BQL. Main-loop thread. Stop the IOThreads first.
     */
    @Override
    @GlobalStateCode
    public void close() {
        if (closed) {
            return;
        }
        assertMainLoopThread("close()");
        closed = true;
        try {
            runWhatIsScheduled(ctx); // e.g. an AioWait kick that arrived after its waiter had finished
            for (TimerList list : timers.values()) {
                list.close();
            }
            ctx.close();
        } finally {
            CurrentContext.set(null);
            if (bql.isHeld()) {
                bql.unlock();
            }
        }
    }

    /** The most non-blocking polls a closing loop makes to run what is still scheduled. */
    static final int CLOSE_DRAIN_LIMIT = 1000;

    /**
     * Runs the bottom halves (and ready handlers) still pending in {@code ctx}, so that closing it
     * does not report a late oneshot as a leak. Bounded: something that keeps rescheduling itself
     * is left for the close to report. Home thread.
     */
    static void runWhatIsScheduled(AioContext ctx) {
        for (int i = 0; i < CLOSE_DRAIN_LIMIT && ctx.poll(false); i++) {
            // each poll ran something; look again
        }
    }

    @Override
    public String toString() {
        return "MainLoop[" + name + ", " + bql + "]";
    }
}
