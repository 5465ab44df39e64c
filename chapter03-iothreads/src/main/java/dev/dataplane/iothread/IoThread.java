package dev.dataplane.iothread;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoOrGsCode;
import dev.dataplane.iothread.trace.IoThreadStartEvent;
import dev.dataplane.iothread.trace.IoThreadStopEvent;
import dev.dataplane.threadpool.ThreadPool;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;

/**
 * A named thread that owns an {@link AioContext} and runs its blocking poll loop until stopped
 * (QEMU: {@code IOThread}, {@code iothread.c}; {@code -object iothread,id=...}).
 *
 * <pre>{@code
 * IoThread io = IoThread.start("iothread0");          // from the main loop
 * AioContext ctx = io.context();                      // give this to a device
 * BottomHalves.of(ctx).scheduleOneshot("work", ...);  // any thread
 * io.stop();                                          // from the main loop: stops and joins
 * }</pre>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>The loop.</b> The thread makes the context its current one and runs
 * {@code while (running) ctx.poll(true)}. {@code running} belongs to the thread: only code
 * running <em>in</em> it (the stop bottom half) clears it.
 *
 * <p><b>Stopping.</b> {@link #stop()} schedules a oneshot bottom half that clears
 * {@code running}, then joins. A bottom half is work that the loop must find and run before it
 * can sleep; a flag set from outside plus a kick is only a promise that the loop looks again,
 * and QEMU's notify of 2017 kept no trace of a kick that came while nobody was about to sleep, so
 * a stop landing between the thread's flag check and its next poll hung for ever
 * ({@code 2362a28ea1}). Chapter 1's notify would survive that particular race, but the bottom half
 * does not depend on how the kick is implemented. Stopping twice is harmless; stopping from
 * inside the IOThread is refused, because it would join itself.
 *
 * <p><b>Ownership of the context.</b> The thread closes its context when the loop ends (only the
 * home thread may), which also joins the context's thread-pool workers. Before that it runs what
 * is still scheduled (a completion that raced with the stop), a bounded number of times: a bottom
 * half that keeps rescheduling itself is a bug of its owner and is reported by {@link #stop()}. A stopped IOThread cannot
 * be started again; make a new one.
 *
 * <p><b>Parameters</b> (QEMU's {@code poll-max-ns}, {@code poll-grow}, {@code poll-shrink},
 * {@code thread-pool-min}, {@code thread-pool-max}) can be given at start and changed while the
 * thread runs, from any thread.
 */
public final class IoThread implements AutoCloseable {

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final String name;
    private final Thread thread;
    private final AioContext ctx;
    private final CountDownLatch started = new CountDownLatch(1);
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final boolean bugStopFlagAndKick;
    private final IoThreadProbe probe;
    private final long startNs;

    /**
     * Cleared only by the stop bottom half, in this thread. Volatile only for the historical bug,
     * whose stop() writes it from outside.
     */
    private volatile boolean running = true;
    /** Written by this thread only; read by anyone. */
    private volatile long iterations;
    private volatile Throwable failure;
    private volatile long stoppedNs;
    /** Test seam: the stop has been handed to the loop (flag set, or bottom half scheduled). */
    private volatile boolean stopDelivered;

    private IoThread(Builder b) {
        CodeRules.globalStateCode();
        IoThreadStartEvent trace = new IoThreadStartEvent();
        trace.begin();
        this.name = b.name;
        this.bugStopFlagAndKick = b.bugs.contains(HistoricalBug.STOP_FLAG_AND_KICK);
        this.probe = b.probe;
        this.thread = new Thread(this::run, name);
        thread.setDaemon(true); // a forgotten IOThread must not keep the JVM alive
        this.ctx = b.contextOptions.apply(AioContext.builder().name(name).homeThread(thread)).build();
        if (b.pollMaxNs >= 0) {
            ctx.setPollParams(b.pollMaxNs, b.pollGrow, b.pollShrink);
        }
        if (b.poolMax > 0) {
            ThreadPool.of(ctx).setMinMaxThreads(b.poolMin, b.poolMax);
        }
        this.startNs = System.nanoTime();
        thread.start();
        // QEMU waits on a semaphore until the thread has published itself; so do we, so that a
        // caller can rely on the thread running (and owning its context) once start() returns.
        awaitUninterruptibly(started);
        trace.name = name;
        trace.commit();
    }

    /** Starts an IOThread with default parameters. Main loop only (global-state code). */
    @GlobalStateCode
    public static IoThread start(String name) {
        return builder(name).start();
    }

    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Parameters of a new IOThread (QEMU: the {@code iothread} object's properties). */
    public static final class Builder {
        private final String name;
        private long pollMaxNs = -1;
        private long pollGrow;
        private long pollShrink;
        private int poolMin;
        private int poolMax;
        private final EnumSet<HistoricalBug> bugs = EnumSet.noneOf(HistoricalBug.class);
        private IoThreadProbe probe;
        private UnaryOperator<AioContext.Builder> contextOptions = UnaryOperator.identity();

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "name");
        }

        /** Adaptive polling: {@code poll-max-ns} (0 = off), {@code poll-grow}, {@code poll-shrink}. */
        public Builder pollParams(long maxNs, long grow, long shrink) {
            if (maxNs < 0 || grow < 0 || shrink < 0) {
                throw new IllegalArgumentException("poll parameters must not be negative");
            }
            this.pollMaxNs = maxNs;
            this.pollGrow = grow;
            this.pollShrink = shrink;
            return this;
        }

        /** {@code thread-pool-min} and {@code thread-pool-max} of the context's thread pool. */
        public Builder threadPool(int min, int max) {
            if (min < 0 || max < 1 || min > max) {
                throw new IllegalArgumentException("need 0 <= min <= max and max >= 1: min=" + min + ", max=" + max);
            }
            this.poolMin = min;
            this.poolMax = max;
            return this;
        }

        /** Test seam: historical bugs and chapter-1 context options. */
        Builder reintroduce(HistoricalBug... bugs) {
            this.bugs.addAll(Arrays.asList(bugs));
            return this;
        }

        Builder probe(IoThreadProbe probe) {
            this.probe = probe;
            return this;
        }

        Builder contextOptions(UnaryOperator<AioContext.Builder> options) {
            this.contextOptions = Objects.requireNonNull(options);
            return this;
        }

        @GlobalStateCode
        public IoThread start() {
            return new IoThread(this);
        }
    }

    // tag::iothread-run[]
    private void run() {
        CurrentContext.set(ctx);
        started.countDown();
        try {
            while (running) {
                if (probe != null) {
                    probe.beforePoll(this);
                }
                ctx.poll(true);
                iterations++; // single writer
            }
        } catch (Throwable t) {
            failure = t;
        } finally {
            try {
                if (failure == null) {
                    MainLoop.runWhatIsScheduled(ctx);
                }
                ctx.close(); // the home thread closes what it ran (joins pool workers too)
            } catch (Throwable t) {
                if (failure == null) {
                    failure = t;
                }
            }
            CurrentContext.set(null);
            stoppedNs = System.nanoTime();
        }
    }
    // end::iothread-run[]

    // tag::iothread-stop[]
    /**
     * Stops the thread and waits for it to end (QEMU: {@code iothread_stop}). Main loop only. Work
     * already scheduled before the stop runs first; nothing scheduled afterwards runs.
     *
     * @throws IllegalStateException if called from the IOThread itself, or if the loop failed
     *                               (the failure is the cause)
     */
    @GlobalStateCode
    public void stop() {
        if (Thread.currentThread() == thread) {
            throw new IllegalStateException("IOThread '" + name + "' cannot stop itself: stop() joins the"
                    + " thread. Ask the main loop to stop it.");
        }
        CodeRules.globalStateCode();
        IoThreadStopEvent trace = new IoThreadStopEvent();
        trace.begin();
        if (stopping.compareAndSet(false, true) && thread.isAlive()) {
            if (bugStopFlagAndKick) {
                running = false;    // 2017: a flag and a kick ...
                ctx.notifyEvent();  // ... which may be lost
            } else {
                requestStop();
            }
            stopDelivered = true;
        }
        joinUninterruptibly();
        trace.name = name;
        trace.iterations = iterations;
        trace.commit();
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException("IOThread '" + name + "' failed: " + f, f);
        }
    }

    /** The stop itself: work for the loop, run in the loop, owned by the loop. */
    private void requestStop() {
        // tag::exercise-ch03-iothread-stop[]
        BottomHalves.of(ctx).scheduleOneshot("iothread-stop", () -> running = false);
        // end::exercise-ch03-iothread-stop[]
    }
    // end::iothread-stop[]

    /** {@link #stop()}. */
    @Override
    @GlobalStateCode
    public void close() {
        stop();
    }

    private void joinUninterruptibly() {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (latch.getCount() > 0) {
            try {
                latch.await();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Test seam: whether stop() has handed the stop to the loop. */
    boolean stopDelivered() {
        return stopDelivered;
    }

    /** Test seam: the loop's own flag. */
    boolean runningFlag() {
        return running;
    }

    /** The IOThread's context (QEMU: {@code iothread_get_aio_context}). Any thread. */
    @IoOrGsCode
    public AioContext context() {
        return ctx;
    }

    public String name() {
        return name;
    }

    /** The thread itself, for joins in tests and for statistics. */
    public Thread thread() {
        return thread;
    }

    /** Whether the loop is running (not yet stopped). */
    public boolean isRunning() {
        return thread.isAlive();
    }

    /** Changes adaptive polling while the thread runs (QEMU: the {@code poll-*} properties). Any thread. */
    public void setPollParams(long maxNs, long grow, long shrink) {
        ctx.setPollParams(maxNs, grow, shrink);
    }

    /** Changes the size limits of the context's thread pool while the thread runs. Any thread. */
    public void setThreadPoolLimits(int min, int max) {
        ThreadPool.of(ctx).setMinMaxThreads(min, max);
    }

    /**
     * What the thread has been doing. {@code busyPollNs} and {@code blockedNs} come from the
     * context: time spent polling in userspace and asleep in the kernel. {@code cpuNs} is the
     * thread's CPU time as the JVM measures it (-1 if unavailable); {@code aliveNs} is wall time
     * since the start.
     */
    public record Statistics(String name, boolean running, long iterations, long dispatches, long waits,
                             long busyPollNs, long blockedNs, long cpuNs, long aliveNs) {
    }

    /** A snapshot; from another thread the context's counters may be a little stale. */
    public Statistics statistics() {
        AioContext.Statistics s = ctx.statistics();
        long cpu = -1;
        if (THREADS.isThreadCpuTimeSupported() && thread.isAlive()) {
            cpu = THREADS.getThreadCpuTime(thread.getId());
        }
        long end = thread.isAlive() ? System.nanoTime() : stoppedNs;
        return new Statistics(name, thread.isAlive(), iterations, s.dispatches(), s.waits(),
                s.busyPollNs(), s.blockedNs(), cpu, Math.max(0, end - startNs));
    }

    @Override
    public String toString() {
        return "IoThread[" + name + (thread.isAlive() ? ", running" : ", stopped") + "]";
    }
}
