package dev.dataplane.bh;

import dev.dataplane.bh.trace.BhDispatchEvent;
import dev.dataplane.bh.trace.BhScheduleEvent;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * A callback that any thread can ask a context's home thread to run soon (QEMU: {@code QEMUBH},
 * {@code util/async.c}). Create one with {@link BottomHalves#newBh}; run it once with
 * {@link #schedule()}.
 *
 * <p>Scheduling is cheap and never blocks: it sets a flag, puts the bottom half on its context's
 * list if it is not there yet, and wakes the context if a poll may be sleeping. Scheduling it
 * again before it has run does nothing more: it runs once. A bottom half that schedules itself
 * from its own callback runs again in the <em>next</em> pass over the list, so it cannot starve
 * the loop.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>State</b> is one int of flags, changed only by atomic read-modify-write operations,
 * exactly as QEMU's {@code bh->flags}:
 * <ul>
 *   <li>{@code PENDING}: the bottom half is on the context's list or in a slice being walked.
 *       Whoever sets it (the {@code getAndBitwiseOr} that finds it clear) pushes the bottom half;
 *       the walker clears it when it takes the bottom half off. So a bottom half is on at most
 *       one list, once.</li>
 *   <li>{@code SCHEDULED}: run the callback when taken off. {@link #cancel()} clears only this.</li>
 *   <li>{@code DELETED}: free it when taken off, without running it.</li>
 *   <li>{@code ONESHOT}: free it after running it.</li>
 *   <li>{@code IDLE}: it does not count as progress and lets the loop sleep up to 10 ms.</li>
 *   <li>{@code FREED} (Java only): the walker has freed it. QEMU frees the memory; Java cannot,
 *       so this flag makes any later use fail loudly instead of silently.</li>
 * </ul>
 *
 * <p><b>Memory ordering.</b> A volatile read-modify-write in Java is a full barrier, like QEMU's
 * {@code qatomic_fetch_or}/{@code qatomic_fetch_and}. The scheduler's {@code getAndBitwiseOr}
 * orders the caller's earlier writes (the work it hands over) before the flag; the walker's
 * {@code getAndBitwiseAnd} clears the flags before the callback reads that work. Both matter: if
 * the walker's clear could become visible after the callback has read the work, a producer that
 * hands over more work in between would see the flag still set, add nothing, and its work would
 * never run ({@link HistoricalBug#LATE_SCHEDULED_CLEAR}, QEMU {@code e8d3b1a25f}).
 *
 * <p><b>Read the owner before publishing.</b> Once the bottom half is on the list, the home thread
 * may run it and free it before the scheduler's next instruction; so {@code enqueue} reads its
 * context first and never touches {@code this} after the push (QEMU {@code 924fe1293c}).
 */
public final class BottomHalf {
    static final int PENDING = 1;
    static final int SCHEDULED = 1 << 1;
    static final int DELETED = 1 << 2;
    static final int ONESHOT = 1 << 3;
    static final int IDLE = 1 << 4;
    static final int FREED = 1 << 5;

    private static final VarHandle FLAGS;

    static {
        try {
            FLAGS = MethodHandles.lookup().findVarHandle(BottomHalf.class, "flags", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String name;
    private final Runnable cb;
    /** The list it belongs to; null once freed. Read by schedulers before they publish. */
    private BottomHalves owner;
    /** The device's guard, or null; null once freed, which is why {@link #call} copies it first. */
    private ReentrancyGuard guard;
    @SuppressWarnings("unused") // accessed through FLAGS
    private volatile int flags;
    /** The next bottom half on the list or in the slice; written before publication. */
    BottomHalf next;

    BottomHalf(BottomHalves owner, String name, Runnable cb, ReentrancyGuard guard, int flags) {
        this.owner = owner;
        this.name = Objects.requireNonNull(name);
        this.cb = Objects.requireNonNull(cb);
        this.guard = guard;
        this.flags = flags;
    }

    /** The name given at creation, for traces and error messages (QEMU: {@code bh->name}). */
    public String name() {
        return name;
    }

    // tag::schedule[]
    /**
     * Runs the callback once, soon, in the context's home thread (QEMU: {@code qemu_bh_schedule}).
     * Any thread; never blocks; wakes the context's poll if it may be sleeping. Scheduling a
     * bottom half that has not run yet does nothing more.
     */
    public void schedule() {
        enqueue(SCHEDULED);
    }

    /**
     * Like {@link #schedule()}, but as an idle bottom half (QEMU: {@code qemu_bh_schedule_idle}):
     * its run does not count as progress, and a loop with nothing else to do may sleep up to
     * {@value BottomHalves#IDLE_TIMEOUT_NS} ns before running it.
     */
    public void scheduleIdle() {
        enqueue(SCHEDULED | IDLE);
    }

    private void enqueue(int newFlags) {
        // Read what we need BEFORE publishing: after the push the home thread may run and free
        // this bottom half at any moment.
        BottomHalves list = owner;
        if (list == null) {
            throw usedAfterFree();
        }
        int old = (int) FLAGS.getAndBitwiseOr(this, PENDING | newFlags);
        if ((old & (DELETED | FREED)) != 0) {
            // Do not push: a deleted bottom half is about to be freed by its list.
            throw new IllegalStateException("bottom half '" + name + "' used after delete()");
        }
        boolean queued = (old & PENDING) == 0;
        if (queued) {
            list.push(this); // the first to set PENDING owns the push
        }
        list.afterEnqueue(this, old, newFlags, queued);
    }
    // end::schedule[]

    /** The owner as the 2014 code read it: after publishing ({@link HistoricalBug#READ_OWNER_AFTER_PUBLISH}). */
    BottomHalves ownerAfterPublish() {
        BottomHalves list = owner;
        if (list == null) {
            throw usedAfterFree();
        }
        return list;
    }

    // tag::cancel[]
    /**
     * Withdraws a {@link #schedule()} that has not run yet (QEMU: {@code qemu_bh_cancel}). The
     * bottom half stays on the list and is skipped when its turn comes. Wait-free, but it races
     * with a callback about to start in the home thread, so it is reliable only from the home
     * thread (or under a lock shared with everyone who schedules this bottom half).
     */
    public void cancel() {
        // tag::exercise-ch02-bh-cancel[]
        // A full barrier, not a plain store: the thread pool cancels its completion bottom half
        // and THEN reads the requests' states. A plain store may become visible after those reads
        // (store-load reordering, even on x86), and a worker that finished a request in between
        // sees SCHEDULED still set and adds nothing: the request is never completed (QEMU
        // ef6dada8b4). A volatile read-modify-write is a full fence in Java.
        FLAGS.getAndBitwiseAnd(this, ~SCHEDULED);
        // end::exercise-ch02-bh-cancel[]
    }
    // end::cancel[]

    /**
     * Deletes the bottom half (QEMU: {@code qemu_bh_delete}). Asynchronous: it is queued with
     * the DELETED flag and freed by the next pass over its context's list, without running even
     * if it was scheduled. Any thread, including the bottom half's own callback. Do not touch the
     * bottom half afterwards: later calls fail with {@link IllegalStateException}.
     */
    public void delete() {
        enqueue(DELETED);
    }

    /** Whether it is scheduled and neither cancelled, run, nor deleted. A snapshot, for tests. */
    boolean isScheduled() {
        int f = (int) FLAGS.getAcquire(this);
        return (f & (SCHEDULED | DELETED | FREED)) == SCHEDULED;
    }

    /** Whether the walker has freed it. */
    boolean isFreed() {
        return ((int) FLAGS.getAcquire(this) & FREED) != 0;
    }

    /** The flags, with acquire semantics (QEMU {@code 5142397c79}): for the timeout scan. */
    int flagsAcquire() {
        return (int) FLAGS.getAcquire(this);
    }

    /**
     * Takes the bottom half off a list: clears PENDING, SCHEDULED and IDLE in one atomic step and
     * returns the flags it had (QEMU: {@code aio_bh_dequeue}). From now on a new
     * {@link #schedule()} puts it back on the list for the next pass.
     */
    int dequeue() {
        return (int) FLAGS.getAndBitwiseAnd(this, ~(PENDING | SCHEDULED | IDLE));
    }

    /** The flags without clearing them: the first half of {@link HistoricalBug#LATE_SCHEDULED_CLEAR}. */
    int peekFlags() {
        return (int) FLAGS.getVolatile(this);
    }

    // tag::call[]
    /** Runs the callback (QEMU: {@code aio_bh_call}). Home thread. */
    void call(String context, int depth, boolean idle) {
        // Copy the guard: the callback may delete this bottom half and poll again, and the nested
        // walk frees it, clearing the field (QEMU 7915bd06f2).
        ReentrancyGuard g = guard;
        boolean wasEngaged = g != null && g.engageForBottomHalf();
        BhDispatchEvent trace = new BhDispatchEvent();
        trace.begin();
        try {
            cb.run();
        } finally {
            if (g != null) {
                g.restore(wasEngaged);
            }
            if (trace.shouldCommit()) {
                trace.context = context;
                trace.name = name;
                trace.idle = idle;
                trace.depth = depth;
                trace.commit();
            }
        }
    }
    // end::call[]

    /** Drops the bottom half for good (QEMU: {@code g_free(bh)}). Home thread, after {@link #dequeue}. */
    void free() {
        FLAGS.getAndBitwiseOr(this, FREED);
        owner = null;
        guard = null;
        next = null;
    }

    IllegalStateException usedAfterFree() {
        return new IllegalStateException("bottom half '" + name + "' used after it was freed");
    }

    static void traceSchedule(String context, BottomHalf bh, int newFlags, boolean queued) {
        BhScheduleEvent trace = new BhScheduleEvent();
        if (trace.shouldCommit()) {
            trace.context = context;
            trace.name = bh.name;
            trace.queued = queued;
            trace.oneshot = (newFlags & ONESHOT) != 0;
            trace.idle = (newFlags & IDLE) != 0;
            trace.commit();
        }
    }

    @Override
    public String toString() {
        return "BottomHalf[" + name + "]";
    }
}
