package dev.dataplane.threadpool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * One piece of blocking work handed to a {@link ThreadPool} (QEMU: {@code ThreadPoolElementAio},
 * the {@code BlockAIOCB} that {@code thread_pool_submit_aio} returns).
 *
 * <p>A request moves through three states and never back:
 * <pre>
 *   QUEUED --(a worker takes it)--> ACTIVE --(its work returned)--> DONE
 *   QUEUED --(cancel())-----------------------------------------> DONE, ret = -ECANCELED
 * </pre>
 * DONE is not the end of its story: it is <em>completed</em> when its callback has run in the home
 * thread, which happens in the pool's completion bottom half some time after DONE.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>{@code ret} and {@code failure} are plain fields written by whoever makes the request DONE (a
 * worker, or the home thread in {@link #cancel()}) <em>before</em> its store-release of DONE. Any
 * reader first loads the state with acquire semantics and reads them only if it saw DONE; that
 * pair is what makes the result (and everything else the work wrote, such as guest memory)
 * visible to the callback without a lock. QEMU writes {@code ret}, issues {@code smp_wmb()}, then
 * stores DONE; the completion walk loads the state and issues {@code smp_rmb()} before reading
 * {@code ret}. {@code VarHandle.setRelease}/{@code getAcquire} say the same in one word each.
 *
 * <p>{@code prev}/{@code next} link the pool's list of requests not yet completed; only the home
 * thread touches them. The timestamps are for the trace and are ordered by the same pair.
 */
public final class ThreadPoolRequest {

    /** Where a request is in its life (QEMU: {@code enum ThreadState}). */
    public enum State {
        /** Waiting in the pool's queue for a worker; the only state in which it can be cancelled. */
        QUEUED,
        /** A worker is running its work. */
        ACTIVE,
        /** Its work is over (or it was cancelled); its callback runs in the next completion pass. */
        DONE
    }

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(ThreadPoolRequest.class, "state", State.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ThreadPool pool;
    private final String name;
    final ThreadPoolFunc func;
    final CompletionFunc cb;

    /** Changed only through STATE, with release stores; read with acquire loads. */
    private volatile State state = State.QUEUED;

    // Written before the store-release of DONE, read after a load-acquire that saw DONE.
    private int ret;
    private Throwable failure;
    private boolean cancelled;

    // Trace timestamps (System.nanoTime()). submitNanos is final; the others are published
    // like ret: startNanos by the ACTIVE store, doneNanos by the DONE store.
    final long submitNanos;
    private long startNanos;
    private long doneNanos;

    // ---- home thread only ----
    /** The pool's list of requests not completed yet, in submission order (QEMU: {@code pool->head}). */
    ThreadPoolRequest prev;
    ThreadPoolRequest next;
    private boolean completed;

    ThreadPoolRequest(ThreadPool pool, String name, ThreadPoolFunc func, CompletionFunc cb) {
        this.pool = pool;
        this.name = Objects.requireNonNull(name, "name");
        this.func = Objects.requireNonNull(func, "func");
        this.cb = Objects.requireNonNull(cb, "cb");
        this.submitNanos = System.nanoTime();
    }

    /** The name given at submission, for traces and error messages. */
    public String name() {
        return name;
    }

    /** Where the request is now; from another thread, a snapshot. Any thread. */
    public State state() {
        return stateAcquire();
    }

    /**
     * What the work returned ({@code -EIO} if it threw, {@code -ECANCELED} if cancelled). Any
     * thread, once the request is DONE.
     *
     * @throws IllegalStateException if the request is not DONE yet
     */
    public int ret() {
        if (stateAcquire() != State.DONE) {
            throw new IllegalStateException("request '" + name + "' is not done yet");
        }
        return ret;
    }

    /** What the work threw, or null. Any thread, once the request is DONE (null before). */
    public Throwable failure() {
        return stateAcquire() == State.DONE ? failure : null;
    }

    /** Whether {@link #cancel()} took the request off the queue before it ran. */
    public boolean isCancelled() {
        return stateAcquire() == State.DONE && cancelled;
    }

    /** Whether its callback has been called. Home thread. */
    public boolean isCompleted() {
        return completed;
    }

    // tag::request-cancel[]
    /**
     * Cancels the request if no worker has taken it yet (QEMU: {@code thread_pool_cancel_aio},
     * reached through {@code bdrv_aio_cancel_async}). A cancelled request is DONE with
     * {@code ret = -ECANCELED} and its callback <em>still runs</em>, in the next completion pass:
     * whoever submitted it is waiting for that callback, and it is the one place that frees what
     * the request held. A request that is ACTIVE or DONE cannot be taken back; it completes
     * normally and this returns false. Home thread.
     *
     * @return whether the request was cancelled
     */
    public boolean cancel() {
        return pool.cancel(this);
    }
    // end::request-cancel[]

    // ------------------------------------------------------------------------------------
    // State changes, each the release half of an ordering pair
    // ------------------------------------------------------------------------------------

    State stateAcquire() {
        return (State) STATE.getAcquire(this);
    }

    /** A worker took it off the queue (under the pool lock). */
    void markActive(long nanos) {
        startNanos = nanos;
        STATE.setRelease(this, State.ACTIVE);
    }

    /**
     * The result, then DONE with a store-release: whoever loads DONE with acquire semantics sees
     * {@code ret}, {@code failure} and everything the work wrote before returning.
     */
    void markDone(int result, Throwable thrown, boolean wasCancelled, long nanos) {
        ret = result;
        failure = thrown;
        cancelled = wasCancelled;
        doneNanos = nanos;
        STATE.setRelease(this, State.DONE);
    }

    /** The home thread is about to call the callback; call only after a load that saw DONE. */
    void markCompleted() {
        completed = true;
    }

    /** The result as the completion walk reads it, after its acquire load saw DONE. */
    int retAfterDone() {
        return ret;
    }

    Throwable failureAfterDone() {
        return failure;
    }

    boolean cancelledAfterDone() {
        return cancelled;
    }

    long queueWaitNanos() {
        return (cancelled ? doneNanos : startNanos) - submitNanos;
    }

    long runNanos() {
        return cancelled ? 0 : doneNanos - startNanos;
    }

    /** From DONE (or the cancel) until {@code now}, the start of the callback. */
    long handBackNanos(long now) {
        return now - doneNanos;
    }

    @Override
    public String toString() {
        return "ThreadPoolRequest[" + name + ", " + state + "]";
    }
}
