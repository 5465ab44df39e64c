package dev.dataplane.threadpool;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.bh.BottomHalf;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.threadpool.ThreadPoolRequest.State;
import dev.dataplane.threadpool.trace.ThreadPoolCompleteEvent;
import dev.dataplane.threadpool.trace.ThreadPoolSubmitEvent;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A context's worker threads for blocking work, completed back in the context's home thread
 * (QEMU: {@code ThreadPoolAio}, {@code util/thread-pool.c}).
 *
 * <p>An event loop must never block, but some work only comes in a blocking form: a positional
 * read of an image file, an {@code fsync}. The home thread hands such work to the pool and goes
 * on polling; a worker runs it; the pool's completion bottom half then calls the request's
 * callback in the home thread, where it may touch the same state as every other handler of the
 * context without a lock.
 *
 * <pre>{@code
 * ThreadPool pool = ThreadPool.of(ctx);                       // the context's pool, made on first use
 * pool.submit("read", () -> image.read(buf, offset),          // on a worker: bytes or -errno
 *         (req, ret) -> finishRequest(ret));                  // in ctx's home thread, once
 * }</pre>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Threads.</b> Three kinds of thread touch a pool.
 * <ul>
 *   <li>The context's <em>home thread</em> submits, cancels and closes (asserted), and runs the
 *       two bottom halves: {@code newThreadBh}, which starts workers, and {@code completionBh},
 *       which calls callbacks. It alone owns the list of requests not completed yet
 *       ({@code head}/{@code tail}, linked through the requests, QEMU's {@code pool->head}) and the
 *       {@code submitted}/{@code completed} counters.</li>
 *   <li><em>Workers</em> take requests from the queue, run them, store the result and schedule
 *       {@code completionBh}. Nothing else: they never call back into the context.</li>
 *   <li><em>Any thread</em> may change the limits and the idle timeout and read the statistics.</li>
 * </ul>
 *
 * <p><b>The lock</b> ({@code lock}, QEMU's {@code pool->lock}) guards the queue of requests no
 * worker has taken ({@code requestQueue}), the thread counts, the limits and {@code closed}. A
 * request's move from QUEUED to ACTIVE (a worker) or to DONE by cancellation (the home thread)
 * happens under it, so exactly one of the two wins. Work runs, and callbacks are called, without
 * it. Two conditions hang off it: {@code requestCond} (work was queued, or the limits changed:
 * idle workers look again) and {@code workerStopped} (for {@link #close()}).
 *
 * <p><b>Thread counts.</b> {@code curThreads} counts every worker that exists or has been asked
 * for; {@code newThreads} those asked for and not created yet; {@code pendingThreads} those
 * created that have not yet reached their loop; {@code idleThreads} those waiting for work. A
 * submit that finds no idle worker asks for one more (up to the maximum) and schedules
 * {@code newThreadBh} only if no creation is already under way: a worker that starts creates the
 * next one asked for, so a burst of N submissions starts a chain of N creations, one per thread,
 * and never a loop of N creations with the lock held.
 *
 * <p><b>Ordering pairs.</b>
 * <ol>
 *   <li><em>DONE store-release ↔ the completion walk's load-acquire.</em> A worker writes the
 *       result, then stores DONE with release semantics; the walk loads the state with acquire
 *       semantics and reads the result only if it saw DONE. So the callback sees the result and
 *       everything the work wrote (QEMU: {@code smp_wmb} / {@code smp_rmb}).</li>
 *   <li><em>Worker: DONE, then {@code schedule()} ↔ walk: {@code cancel()}, then load the
 *       states.</em> This is a Dekker pair, and both of its middle operations are full barriers
 *       (a volatile read-modify-write of the bottom half's flags). Either the worker's
 *       {@code schedule()} comes after the cancel, sets SCHEDULED again and there will be one more
 *       pass, or it came before, and then the walk's loads after the cancel see DONE. If the
 *       cancel were a plain store, the loads could be performed before it: the walk would see a
 *       stale state, the worker would see SCHEDULED still set and add nothing, and the request
 *       would never complete ({@link HistoricalBug#CANCEL_WITHOUT_BARRIER}, QEMU
 *       {@code ef6dada8b4}).</li>
 *   <li><em>{@code schedule()} ↔ a sleeping {@code poll}.</em> Kept by the bottom halves and
 *       chapter 1's notify protocol: a scheduled bottom half always wakes a poll that may be
 *       asleep.</li>
 * </ol>
 *
 * <p><b>The completion walk</b> restarts from the head after every callback, because a callback
 * may do anything to the list: submit (appends), cancel (makes a request DONE), or poll again and
 * so run a nested walk that completes others. Before each callback the walk schedules its own
 * bottom half, so that such a nested poll has the walk to run (QEMU {@code 3c80ca158c}); after it,
 * it cancels that again, because the restart will look anyway and a pass with nothing to do would
 * only cost a loop iteration (QEMU {@code b7a745dc33}).
 *
 * <p><b>Reading guide</b> (with the book's tag names): {@link #submit} ({@code pool-submit}), then a
 * worker's life, {@code workerLoop()} ({@code pool-worker}), then the completion bottom half,
 * {@code completeDoneRequests()} ({@code pool-completion}), then {@code cancel()}
 * ({@code pool-cancel}) and {@link #close()} ({@code pool-close}).
 */
public final class ThreadPool implements AutoCloseable {

    /** The default fewest workers kept alive when idle (QEMU: {@code thread-pool-min} 0). */
    public static final int DEFAULT_MIN_THREADS = 0;
    /** The default most workers (QEMU: {@code thread-pool-max} 64). */
    public static final int DEFAULT_MAX_THREADS = 64;
    /** How long an idle worker above the minimum waits for work before it exits (QEMU: 10 s). */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(10);
    /**
     * Linux's {@code ECANCELED} (125): a cancelled request completes with {@code ret = -ECANCELED}.
     * Chapter 1's {@code Errno} does not list it because nothing there is ever cancelled.
     */
    public static final int ECANCELED = 125;

    /**
     * A snapshot of the pool's counters. {@code workers} includes workers asked for and not
     * started yet; {@code submitted} and {@code completed} are the home thread's and may lag
     * slightly when read elsewhere.
     */
    public record Statistics(int workers, int idleWorkers, int queued, int peakWorkers, long workersStarted,
                             long submitted, long completed) {
    }

    private final AioContext ctx;
    private final String contextName;
    private final BottomHalf completionBh;
    private final BottomHalf newThreadBh;

    // ---- home thread only ----
    /** Requests not completed yet, oldest first (QEMU: {@code pool->head}). */
    private ThreadPoolRequest head;
    private ThreadPoolRequest tail;
    /** Written by the home thread only; volatile so {@link #statistics()} can read it anywhere. */
    private volatile long submitted;
    private volatile long completed;

    // ---- guarded by lock ----
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when work is queued or the limits change. */
    private final Condition requestCond = lock.newCondition();
    /** Signalled when a worker leaves its loop. */
    private final Condition workerStopped = lock.newCondition();
    /** Requests no worker has taken yet, oldest first (QEMU: {@code pool->request_list}). */
    private final ArrayDeque<ThreadPoolRequest> requestQueue = new ArrayDeque<>();
    /** Worker threads started and maybe still alive, for close() to join; pruned on each start. */
    private final Set<Thread> workerThreads = new HashSet<>();
    private int curThreads;
    private int idleThreads;
    private int newThreads;
    private int pendingThreads;
    private int minThreads = DEFAULT_MIN_THREADS;
    private int maxThreads = DEFAULT_MAX_THREADS;
    private long idleTimeoutNs = DEFAULT_IDLE_TIMEOUT.toNanos();
    private int peakThreads;
    private long workersStarted;
    private boolean closed;

    // ---- test seams ----
    private final PoolProbe probe;
    private final boolean bugNoReschedule;
    private final boolean bugCancelWithoutBarrier;

    private ThreadPool(AioContext ctx, PoolProbe probe, EnumSet<HistoricalBug> bugs) {
        this.ctx = ctx;
        this.contextName = ctx.name();
        this.probe = probe;
        this.bugNoReschedule = bugs.contains(HistoricalBug.NO_RESCHEDULE_BEFORE_CALLBACK);
        this.bugCancelWithoutBarrier = bugs.contains(HistoricalBug.CANCEL_WITHOUT_BARRIER);
        BottomHalves bhs = BottomHalves.of(ctx);
        this.completionBh = bhs.newBh("thread-pool-completion", this::completionBhCallback);
        this.newThreadBh = bhs.newBh("thread-pool-new-thread", this::newThreadBhCallback);
    }

    /** The thread pool of {@code ctx}, created on first use (QEMU: {@code aio_get_thread_pool}). Any thread. */
    public static ThreadPool of(AioContext ctx) {
        return ctx.layer(ThreadPool.class, c -> new ThreadPool(c, PoolProbe.NONE, EnumSet.noneOf(HistoricalBug.class)));
    }

    /** Test seam: attaches a pool with probes and historical bugs; the context must have none yet. */
    static ThreadPool attach(AioContext ctx, PoolProbe probe, HistoricalBug... bugs) {
        EnumSet<HistoricalBug> set = EnumSet.noneOf(HistoricalBug.class);
        set.addAll(List.of(bugs));
        ThreadPool attached = ctx.layer(ThreadPool.class, c -> new ThreadPool(c, probe, set));
        if (attached.probe != probe) {
            throw new IllegalStateException(ctx.name() + " already has its thread pool");
        }
        return attached;
    }

    /** The context whose home thread submits and completes this pool's requests. */
    public AioContext context() {
        return ctx;
    }

    // ------------------------------------------------------------------------------------
    // Submitting (home thread)
    // ------------------------------------------------------------------------------------

    // tag::pool-submit[]
    /**
     * Queues {@code func} to run on a worker and {@code cb} to run afterwards in this context's home
     * thread (QEMU: {@code thread_pool_submit_aio}). Home thread only: the completion comes back
     * to the thread that submitted, so that must be the one that polls this context. Never blocks:
     * a missing worker is started later by a bottom half.
     *
     * @param name a label for traces and error messages
     * @param func the blocking work; see {@link ThreadPoolFunc} for its return value
     * @param cb   called exactly once with the result, in the home thread
     * @return the request, which can be {@linkplain ThreadPoolRequest#cancel() cancelled} while queued
     * @throws IllegalStateException from another thread, or once the pool is closed
     */
    public ThreadPoolRequest submit(String name, ThreadPoolFunc func, CompletionFunc cb) {
        assertHomeThread("submit()");
        ThreadPoolRequest req = new ThreadPoolRequest(this, name, func, cb);
        boolean spawn;
        int queued;
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException(this + " is closed");
            }
            requestQueue.addLast(req);
            queued = requestQueue.size();
            // An idle worker will take it; otherwise ask for one more, if we may.
            spawn = idleThreads == 0 && curThreads < maxThreads;
            if (spawn) {
                spawnThreadLocked();
            }
            requestCond.signal();
        } finally {
            lock.unlock();
        }
        linkLast(req); // after the checks: a refused request must not wait in the list
        submitted++;
        traceSubmit(req, queued, spawn);
        return req;
    }
    // end::pool-submit[]

    private void linkLast(ThreadPoolRequest req) {
        req.prev = tail;
        if (tail == null) {
            head = req;
        } else {
            tail.next = req;
        }
        tail = req;
    }

    private void unlink(ThreadPoolRequest req) {
        if (req.prev == null) {
            head = req.next;
        } else {
            req.prev.next = req.next;
        }
        if (req.next == null) {
            tail = req.prev;
        } else {
            req.next.prev = req.prev;
        }
        req.prev = null;
        req.next = null;
    }

    // ------------------------------------------------------------------------------------
    // Starting workers
    // ------------------------------------------------------------------------------------

    /** Asks for one more worker (QEMU: {@code spawn_thread}). Under the lock. */
    private void spawnThreadLocked() {
        curThreads++;
        newThreads++;
        peakThreads = Math.max(peakThreads, curThreads);
        // If a creation is under way, the worker being created will create this one too. If not,
        // the home thread creates it from a bottom half, not the submitter: a new Java thread
        // inherits its creator's daemon flag, priority, group and inheritable thread-locals (QEMU
        // cares about CPU affinity: a vCPU thread's must not leak into the workers), and
        // creating a thread is slow enough that a submitter should not wait for it.
        if (pendingThreads == 0) {
            newThreadBh.schedule();
        }
    }

    /** Home thread: create the first worker of a chain (QEMU: {@code spawn_thread_bh_fn}). */
    private void newThreadBhCallback() {
        lock.lock();
        try {
            startNextWorkerLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Creates one worker asked for, if any (QEMU: {@code do_spawn_thread}). Under the lock. */
    private void startNextWorkerLocked() {
        if (newThreads == 0 || closed) {
            return;
        }
        newThreads--;
        pendingThreads++;
        workersStarted++;
        Thread worker = new Thread(this::workerLoop, contextName + "/pool-worker-" + workersStarted);
        worker.setDaemon(true); // like QEMU's detached threads: a forgotten pool must not keep the JVM up
        workerThreads.removeIf(t -> !t.isAlive()); // forget retired workers; close() joins the rest
        workerThreads.add(worker);
        worker.start();
        probe.workerCreated(Thread.currentThread(), worker);
    }

    // ------------------------------------------------------------------------------------
    // Workers
    // ------------------------------------------------------------------------------------

    // tag::pool-worker[]
    /** A worker's whole life (QEMU: {@code worker_thread}). */
    private void workerLoop() {
        lock.lock();
        try {
            pendingThreads--;
            startNextWorkerLocked(); // the chain: whoever starts creates the next one asked for
            // More workers than the maximum (it was lowered, or close() set it to 0): leave.
            while (curThreads <= maxThreads) {
                ThreadPoolRequest req = requestQueue.pollFirst();
                if (req == null) {
                    idleThreads++;
                    probe.workerIdle();
                    boolean timedOut;
                    try {
                        if (curThreads > minThreads) {
                            timedOut = requestCond.awaitNanos(idleTimeoutNs) <= 0;
                        } else {
                            // A worker the minimum keeps has no timeout to wait for (QEMU's wakes
                            // every 10 s for nothing). Untimed also means a zero idle timeout
                            // cannot make it spin. New limits signal, and it looks again.
                            requestCond.await();
                            timedOut = false;
                        }
                    } catch (InterruptedException e) {
                        // Nobody but the pool owns these threads; treat a stray interrupt as a
                        // wake-up (re-asserting it would make every later wait throw at once).
                        timedOut = false;
                    } finally {
                        idleThreads--;
                    }
                    // Retire only on a real timeout with nothing to do: a wake-up may have been
                    // for work that has just arrived, or for new limits, which the loop rechecks.
                    if (timedOut && requestQueue.isEmpty() && curThreads > minThreads) {
                        break;
                    }
                    continue;
                }
                req.markActive(System.nanoTime()); // under the lock: cancel() can no longer win
                lock.unlock();
                try {
                    runRequest(req);
                } finally {
                    lock.lock();
                }
            }
            probe.workerExiting();
            curThreads--;
            workerStopped.signalAll();
            // Pass on a wake-up this worker may have taken for itself (several may leave when
            // the maximum drops; a queued request still needs someone).
            requestCond.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Runs one request and hands it to the home thread. Worker, without the lock. */
    private void runRequest(ThreadPoolRequest req) {
        int ret;
        Throwable failure = null;
        try {
            ret = req.func.run();
        } catch (Throwable t) {
            ret = -Errno.EIO; // the callback can still look at the throwable
            failure = t;
        }
        req.markDone(ret, failure, false, System.nanoTime()); // store-release of DONE
        completionBh.schedule(); // a full barrier, and it wakes the home thread if it sleeps
        probe.workerFinished(req);
    }
    // end::pool-worker[]

    // ------------------------------------------------------------------------------------
    // Completion (home thread)
    // ------------------------------------------------------------------------------------

    private void completionBhCallback() {
        if (bugNoReschedule || bugCancelWithoutBarrier) {
            completeDoneRequestsHistorical();
        } else {
            completeDoneRequests();
        }
    }

    // tag::pool-completion[]
    /**
     * The completion bottom half (QEMU: {@code thread_pool_completion_bh}): calls the callback of
     * every DONE request, oldest first. Home thread.
     *
     * <p>A callback that throws propagates out of the context's {@code poll}, like an exception
     * from any handler or bottom half. The request that threw is completed (it is off the list and
     * its callback will not run again); the others are not lost, because the bottom half was
     * scheduled before the call and is not cancelled: the next {@code poll} goes on with them.
     */
    private void completeDoneRequests() {
        // tag::exercise-ch02-pool-completion[]
        ThreadPoolRequest req = head;
        while (req != null) {
            if (req.stateAcquire() != State.DONE) { // acquire: pairs with the worker's release
                req = req.next;
                continue;
            }
            unlink(req);
            // If the callback polls again to wait for another request that is DONE already, the
            // nested poll must find this bottom half scheduled, or nothing will complete it.
            completionBh.schedule();
            complete(req);
            // Nothing left for that extra pass to do: the restart below looks at every request.
            // The cancel is a full barrier, so the loads of the restart cannot overtake it.
            completionBh.cancel();
            req = head; // the callback may have changed the list in any way
        }
        // end::exercise-ch02-pool-completion[]
    }

    /** Calls the callback of {@code req}, just unlinked after a load that saw it DONE. */
    private void complete(ThreadPoolRequest req) {
        callCallback(req);
        probe.afterCallback(req);
    }
    // end::pool-completion[]

    private void callCallback(ThreadPoolRequest req) {
        int ret = req.retAfterDone();
        req.markCompleted(); // before the call: whatever it does, it never runs twice
        completed++;
        ThreadPoolCompleteEvent trace = new ThreadPoolCompleteEvent();
        trace.begin();
        long callbackStart = trace.isEnabled() ? System.nanoTime() : 0; // no clock read when nobody records
        try {
            req.cb.complete(req, ret);
        } finally {
            if (trace.shouldCommit()) {
                trace.context = contextName;
                trace.name = req.name();
                trace.ret = ret;
                trace.cancelled = req.cancelledAfterDone();
                trace.failed = req.failureAfterDone() != null;
                trace.queueWaitNs = req.queueWaitNanos();
                trace.runNs = req.runNanos();
                trace.handBackNs = req.handBackNanos(callbackStart);
                trace.commit();
            }
        }
    }

    /** The walk with the historical bugs this pool was built with. Tests only. */
    private void completeDoneRequestsHistorical() {
        // The states the walk uses where a stale load stands in for a fresh one (CANCEL_WITHOUT_BARRIER).
        Map<ThreadPoolRequest, State> stale = Map.of();
        ThreadPoolRequest req = head;
        while (req != null) {
            State state = stale.containsKey(req) ? stale.get(req) : req.stateAcquire();
            if (state != State.DONE) {
                req = req.next;
                continue;
            }
            unlink(req);
            if (bugNoReschedule) {
                // The code before 3c80ca158c: nothing schedules the walk while a callback runs.
                complete(req);
            } else {
                completionBh.schedule();
                callCallback(req);
                // The cancel's store has not left the CPU yet when the restarted walk loads the
                // states: the loads are performed now, before it.
                stale = readStates();
                probe.afterCallback(req);
                completionBh.cancel();
            }
            req = head;
        }
    }

    private Map<ThreadPoolRequest, State> readStates() {
        Map<ThreadPoolRequest, State> states = new IdentityHashMap<>();
        for (ThreadPoolRequest r = head; r != null; r = r.next) {
            states.put(r, r.stateAcquire());
        }
        return states;
    }

    // ------------------------------------------------------------------------------------
    // Cancelling (home thread)
    // ------------------------------------------------------------------------------------

    // tag::pool-cancel[]
    /** See {@link ThreadPoolRequest#cancel()} (QEMU: {@code thread_pool_cancel_aio}). */
    boolean cancel(ThreadPoolRequest req) {
        assertHomeThread("cancel()");
        lock.lock();
        try {
            // Under the lock a worker cannot be taking it right now: QUEUED means nobody has.
            if (req.stateAcquire() != State.QUEUED || !requestQueue.remove(req)) {
                return false;
            }
            req.markDone(-ECANCELED, null, true, System.nanoTime());
        } finally {
            lock.unlock();
        }
        completionBh.schedule(); // its callback still runs, with -ECANCELED
        return true;
    }
    // end::pool-cancel[]

    // ------------------------------------------------------------------------------------
    // Limits (any thread)
    // ------------------------------------------------------------------------------------

    /**
     * Sets the fewest workers kept alive when idle and the most that may run (QEMU:
     * {@code thread_pool_update_params}). Any thread. Workers up to the new minimum are started
     * at once (by the bottom half); workers above a lowered maximum exit as soon as they are
     * between requests.
     */
    public void setMinMaxThreads(int min, int max) {
        if (min < 0 || max < 1 || min > max) {
            throw new IllegalArgumentException("need 0 <= min <= max and max >= 1: min=" + min + ", max=" + max);
        }
        lock.lock();
        try {
            checkOpenLocked();
            minThreads = min;
            maxThreads = max;
            while (curThreads < minThreads) {
                spawnThreadLocked();
            }
            requestCond.signalAll(); // idle workers recheck the maximum
        } finally {
            lock.unlock();
        }
    }

    /**
     * How long an idle worker above the minimum waits for work before it exits; default
     * {@link #DEFAULT_IDLE_TIMEOUT}. Any thread. Idle workers start waiting again with the new
     * timeout, so {@code Duration.ZERO} retires every idle worker above the minimum now.
     */
    public void setIdleTimeout(Duration timeout) {
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("negative idle timeout: " + timeout);
        }
        lock.lock();
        try {
            checkOpenLocked();
            idleTimeoutNs = timeout.toNanos();
            requestCond.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The pool's counters now. Any thread. */
    public Statistics statistics() {
        lock.lock();
        try {
            return new Statistics(curThreads, idleThreads, requestQueue.size(), peakThreads, workersStarted,
                    submitted, completed);
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------
    // Life cycle
    // ------------------------------------------------------------------------------------

    // tag::pool-close[]
    /**
     * Stops the workers, waits until every one has exited, and deletes the pool's bottom halves
     * (QEMU: {@code thread_pool_free_aio}). Called by {@link AioContext#close()}; home thread.
     *
     * <p>Every request must be completed first. If some are not, they are reported with an
     * {@link IllegalStateException}, after the workers have been stopped all the same: queued ones
     * are dropped, running ones are waited for, and no callback runs. A work function that never
     * returns therefore makes this wait for ever, as it would in QEMU.
     */
    @Override
    public void close() {
        assertHomeThread("close()");
        List<Thread> toJoin;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true; // no more submissions, and no more threads created
            requestQueue.clear();
            curThreads -= newThreads; // asked for but never created
            newThreads = 0;
            maxThreads = 0; // every worker's loop condition fails: each one leaves
            minThreads = 0;
            requestCond.signalAll();
            while (curThreads > 0) {
                workerStopped.awaitUninterruptibly();
            }
            toJoin = new ArrayList<>(workerThreads);
            workerThreads.clear();
        } finally {
            lock.unlock();
        }
        // Each has left its loop; joining waits for the last instructions of its run, so that no
        // thread of this pool outlives close().
        boolean interrupted = false;
        for (Thread t : toJoin) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        // No worker can schedule the completion bottom half any more.
        completionBh.delete();
        newThreadBh.delete();
        if (head != null) {
            List<String> names = new ArrayList<>();
            for (ThreadPoolRequest r = head; r != null; r = r.next) {
                names.add(r.name() + " (" + r.stateAcquire() + ")");
            }
            head = null;
            tail = null;
            throw new IllegalStateException(this + ": requests not completed at close: " + names
                    + "; poll until their callbacks have run before closing");
        }
    }
    // end::pool-close[]

    private void checkOpenLocked() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    private void assertHomeThread(String what) {
        if (!ctx.inHomeThread()) {
            throw new IllegalStateException(this + ": " + what + " called from thread '"
                    + Thread.currentThread().getName() + "', but only the context's home thread '"
                    + ctx.homeThread().getName() + "' may do that");
        }
    }

    private void traceSubmit(ThreadPoolRequest req, int queued, boolean spawn) {
        ThreadPoolSubmitEvent trace = new ThreadPoolSubmitEvent();
        if (trace.shouldCommit()) {
            trace.context = contextName;
            trace.name = req.name();
            trace.queued = queued;
            trace.spawn = spawn;
            trace.commit();
        }
    }

    @Override
    public String toString() {
        return "ThreadPool[" + contextName + "]";
    }
}
