package dev.dataplane.bh;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioEventSource;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A context's bottom halves: the list that schedulers push onto from any thread, and the pass
 * over it that the home thread makes in every {@code poll} (QEMU: {@code ctx->bh_list},
 * {@code ctx->bh_slice_list}, {@code aio_bh_poll} and the bottom-half half of
 * {@code aio_compute_timeout}, all in {@code util/async.c}).
 *
 * <pre>{@code
 * BottomHalves bhs = BottomHalves.of(ctx);
 * BottomHalf flush = bhs.newBh("flush", this::flush);
 * flush.schedule();                                   // from any thread
 * bhs.scheduleOneshot("reply", () -> reply(result));  // run once, then forget it
 * }</pre>
 *
 * <p>It plugs into chapter 1's loop as an {@link AioEventSource}: in the prepare phase it says
 * "don't sleep" while a bottom half is scheduled, and it runs them before the fd handlers.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>The list</b> is a lock-free stack (a Treiber stack): schedulers push with a
 * compare-and-set of {@code head}; the home thread takes the whole stack at once with
 * {@code getAndSet(null)}. So a pass runs bottom halves in the reverse of their scheduling order,
 * as QEMU does. A push never waits for anybody; under contention its compare-and-set may be
 * retried, so strictly it is lock-free rather than wait-free (QEMU's header says wait-free about
 * the same loop).
 *
 * <p><b>Slices.</b> What one pass took is a <em>slice</em>, appended to {@code slices}. A pass
 * always takes the next bottom half from the <em>first</em> slice and drops a slice only when it
 * is empty. A callback that polls again (a nested {@code poll}, typically waiting for some other
 * work to finish) therefore runs the outer pass's remaining bottom halves first, then its own,
 * and empties every slice; the outer pass then finds nothing left. A bottom half scheduled during
 * a pass goes to {@code head}, not into a slice, so it runs in the next pass: a bottom half that
 * reschedules itself runs once per poll, not forever.
 *
 * <p><b>No walker ever holds a bottom half it has not taken.</b> Taking one off a slice is
 * destructive, so a nested pass cannot free one that an outer pass is about to visit (QEMU's
 * 2011 crash, {@link HistoricalBug#WALKER_CACHES_NEXT}).
 *
 * <p><b>Threads.</b> {@link #timeoutNs()}, {@link #dispatch()} and the slices belong to the home
 * thread. {@code head} and the bottom halves' flags are shared; everything else is the home
 * thread's. Scheduling pairs with the context's wake-up protocol: the scheduler publishes the
 * bottom half and then calls {@link AioContext#notifyEvent()}, which writes the eventfd only if a
 * poll may be asleep.
 */
public final class BottomHalves implements AioEventSource, AutoCloseable {

    /** The longest a loop sleeps while an idle bottom half is scheduled (QEMU: 10 ms). */
    public static final long IDLE_TIMEOUT_NS = 10_000_000L;

    private static final VarHandle HEAD;

    static {
        try {
            HEAD = MethodHandles.lookup().findVarHandle(BottomHalves.class, "head", BottomHalf.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** What one pass took from {@code head}; walked from the front, shared with nested passes. */
    private static final class Slice {
        BottomHalf first;

        Slice(BottomHalf first) {
            this.first = first;
        }
    }

    private final AioContext ctx;
    private final String contextName;
    @SuppressWarnings("unused") // accessed through HEAD
    private volatile BottomHalf head;
    private final ArrayDeque<Slice> slices = new ArrayDeque<>();
    /** How deeply passes are nested right now (home thread); for traces. */
    private int depth;

    // ---- test seams ----
    private final BhProbe probe;
    private final boolean bugCachedNext;
    private final boolean bugOwnerAfterPublish;
    private final boolean bugLateClear;
    private final boolean bugDispatchingShortcut;
    /** Threads walking bottom halves right now; kept only for {@link HistoricalBug#DISPATCHING_SHORTCUT}. */
    private final AtomicInteger dispatching = new AtomicInteger();

    private BottomHalves(AioContext ctx, BhProbe probe, List<HistoricalBug> bugs, boolean registered) {
        this.ctx = ctx;
        this.contextName = ctx.name();
        this.probe = probe;
        this.bugCachedNext = bugs.contains(HistoricalBug.WALKER_CACHES_NEXT);
        this.bugOwnerAfterPublish = bugs.contains(HistoricalBug.READ_OWNER_AFTER_PUBLISH);
        this.bugLateClear = bugs.contains(HistoricalBug.LATE_SCHEDULED_CLEAR);
        this.bugDispatchingShortcut = bugs.contains(HistoricalBug.DISPATCHING_SHORTCUT);
        if (registered) { // false only for detached(): the test, not poll, drives that list
            ctx.addEventSource(this);
        }
    }

    /** The bottom halves of {@code ctx}, created on first use. Any thread. */
    public static BottomHalves of(AioContext ctx) {
        return ctx.layer(BottomHalves.class, c -> new BottomHalves(c, BhProbe.NONE, List.of(), true));
    }

    /** Test seam: attaches a list with probes and historical bugs; the context must have none yet. */
    static BottomHalves attach(AioContext ctx, BhProbe probe, HistoricalBug... bugs) {
        BottomHalves attached = ctx.layer(BottomHalves.class, c -> new BottomHalves(c, probe, List.of(bugs), true));
        if (attached.probe != probe) {
            throw new IllegalStateException(ctx.name() + " already has its bottom halves");
        }
        return attached;
    }

    /**
     * Test seam for model checking: a list that notifies {@code ctx} when a bottom half is
     * scheduled but is neither the context's layer nor one of its event sources, so
     * {@code ctx.poll} never sees it; the test calls {@link #dispatch()} and {@link #timeoutNs()}
     * itself. A model checker builds a fresh list for each of its thousands of runs; one shared
     * context that is never polled serves them all, and its {@code notifyEvent()} then never
     * writes the eventfd (no poll can be asleep).
     */
    static BottomHalves detached(AioContext ctx, HistoricalBug... bugs) {
        return new BottomHalves(ctx, BhProbe.NONE, List.of(bugs), false);
    }

    /** The context this list belongs to. */
    public AioContext context() {
        return ctx;
    }

    // ------------------------------------------------------------------------------------
    // Creating and scheduling
    // ------------------------------------------------------------------------------------

    /**
     * A new bottom half that runs {@code cb} in this context whenever scheduled (QEMU:
     * {@code aio_bh_new}). It starts unscheduled; {@link BottomHalf#delete()} it when done.
     */
    public BottomHalf newBh(String name, Runnable cb) {
        return new BottomHalf(this, name, cb, null, 0);
    }

    /**
     * A bottom half for device code (QEMU: {@code aio_bh_new_guarded}): while its callback runs,
     * {@code guard} is engaged, so the device refuses to be entered again from inside it.
     */
    public BottomHalf newBh(String name, Runnable cb, ReentrancyGuard guard) {
        return new BottomHalf(this, name, cb, Objects.requireNonNull(guard), 0);
    }

    // tag::oneshot[]
    /**
     * Runs {@code cb} exactly once in this context's home thread (QEMU:
     * {@code aio_bh_schedule_oneshot}). Any thread. The standard way to hand a piece of work to
     * another thread's loop; it cannot be cancelled, and the list frees it after it ran.
     */
    public void scheduleOneshot(String name, Runnable cb) {
        new BottomHalf(this, name, cb, null, BottomHalf.ONESHOT).schedule();
    }
    // end::oneshot[]

    // tag::push[]
    /** Publishes {@code bh} (whose PENDING flag the caller just set) at the head of the list. */
    void push(BottomHalf bh) {
        BottomHalf h;
        do {
            h = head;
            bh.next = h; // a plain write, published by the compare-and-set below
        } while (!HEAD.compareAndSet(this, h, bh));
    }
    // end::push[]

    /** The scheduler's last step: wake the loop if it may be asleep. */
    void afterEnqueue(BottomHalf bh, int oldFlags, int newFlags, boolean queued) {
        probe.afterPublish(bh);
        BottomHalves list = bugOwnerAfterPublish ? bh.ownerAfterPublish() : this;
        BottomHalf.traceSchedule(contextName, bh, oldFlags | newFlags, queued);
        if (bugDispatchingShortcut) {
            // The 2015 code: "already scheduled: somebody will run it", and "somebody is
            // dispatching: they will see it". The second question is the wrong one.
            if ((oldFlags & BottomHalf.SCHEDULED) != 0 || dispatching.get() > 0) {
                return;
            }
        }
        // The right question is asked inside notifyEvent(): "may a poll be asleep?"
        list.ctx.notifyEvent();
    }

    // ------------------------------------------------------------------------------------
    // The event source: prepare and dispatch
    // ------------------------------------------------------------------------------------

    // tag::timeout[]
    /**
     * The prepare phase (QEMU: the bottom-half part of {@code aio_compute_timeout}): 0 if a bottom
     * half is scheduled, so a blocking poll must not sleep; {@link #IDLE_TIMEOUT_NS} if only idle
     * ones are; -1 otherwise. Home thread.
     */
    @Override
    public long timeoutNs() {
        // tag::exercise-ch02-bh-timeout[]
        long timeout = -1;
        // Both the list and the slices of passes still running (a nested poll may sleep while
        // an outer pass has bottom halves left).
        for (BottomHalf bh = (BottomHalf) HEAD.getAcquire(this); bh != null; bh = bh.next) {
            int flags = bh.flagsAcquire();
            if ((flags & (BottomHalf.SCHEDULED | BottomHalf.DELETED)) == BottomHalf.SCHEDULED) {
                if ((flags & BottomHalf.IDLE) == 0) {
                    return 0;
                }
                timeout = IDLE_TIMEOUT_NS;
            }
        }
        for (Slice s : slices) {
            for (BottomHalf bh = s.first; bh != null; bh = bh.next) {
                int flags = bh.flagsAcquire();
                if ((flags & (BottomHalf.SCHEDULED | BottomHalf.DELETED)) == BottomHalf.SCHEDULED) {
                    if ((flags & BottomHalf.IDLE) == 0) {
                        return 0;
                    }
                    timeout = IDLE_TIMEOUT_NS;
                }
            }
        }
        return timeout;
        // end::exercise-ch02-bh-timeout[]
    }
    // end::timeout[]

    @Override
    public Phase phase() {
        return Phase.BEFORE_HANDLERS;
    }

    // tag::bh-poll[]
    /**
     * One pass over the bottom halves (QEMU: {@code aio_bh_poll}): runs every bottom half that
     * was scheduled when the pass began, and those an outer pass left. Returns whether a
     * non-idle callback ran. Home thread, called by {@code poll}.
     */
    @Override
    public boolean dispatch() {
        probe.beforeWalk();
        if (bugCachedNext || bugLateClear || bugDispatchingShortcut) {
            return dispatchHistorical();
        }
        return bhPoll();
    }

    private boolean bhPoll() {
        // tag::exercise-ch02-bh-poll[]
        // Look before taking: most polls find the list empty, and a (volatile) read keeps the
        // cache line shared with the schedulers instead of writing it on every poll.
        if (head != null) {
            slices.addLast(new Slice((BottomHalf) HEAD.getAndSet(this, null)));
        }
        if (slices.isEmpty()) {
            return false;
        }
        boolean progress = false;
        depth++;
        try {
            Slice s;
            while ((s = slices.peekFirst()) != null) {
                BottomHalf bh = s.first;
                if (bh == null) {
                    slices.pollFirst(); // empty, maybe emptied by a nested pass
                    continue;
                }
                s.first = bh.next; // take it off before running it: no walker keeps a cursor
                bh.next = null;
                progress |= runTaken(bh, bh.dequeue());
            }
        } finally {
            depth--;
        }
        return progress;
        // end::exercise-ch02-bh-poll[]
    }

    /** Runs a bottom half just taken off a slice, given its flags before the take. */
    private boolean runTaken(BottomHalf bh, int flags) {
        if ((flags & BottomHalf.FREED) != 0) {
            throw bh.usedAfterFree(); // only a broken walker can get here
        }
        boolean progress = false;
        try {
            if ((flags & (BottomHalf.SCHEDULED | BottomHalf.DELETED)) == BottomHalf.SCHEDULED) {
                boolean idle = (flags & BottomHalf.IDLE) != 0;
                progress = !idle; // idle bottom halves are never progress
                bh.call(contextName, depth - 1, idle);
            }
        } finally {
            if ((flags & (BottomHalf.DELETED | BottomHalf.ONESHOT)) != 0) {
                bh.free();
            }
        }
        return progress;
    }
    // end::bh-poll[]

    /** The pass with the historical bugs this list was built with. Tests only. */
    private boolean dispatchHistorical() {
        BottomHalf taken = (BottomHalf) HEAD.getAndSet(this, null);
        if (taken != null) {
            slices.addLast(new Slice(taken));
        }
        boolean progress = false;
        dispatching.incrementAndGet();
        depth++;
        try {
            Slice s;
            while ((s = slices.peekFirst()) != null) {
                BottomHalf bh = s.first;
                if (bh == null) {
                    slices.pollFirst();
                    continue;
                }
                // WALKER_CACHES_NEXT: walk the slice with a private cursor, as the 2011 loop did.
                // A nested pass may free the bottom half the cursor points at.
                do {
                    BottomHalf next = bh.next;
                    s.first = next;
                    bh.next = null;
                    if (bugLateClear) {
                        // The clear lands after the callback, as weak barriers allowed.
                        int flags = bh.peekFlags();
                        progress |= runTaken(bh, flags & ~BottomHalf.ONESHOT & ~BottomHalf.DELETED);
                        int old = bh.dequeue();
                        if ((old & (BottomHalf.DELETED | BottomHalf.ONESHOT)) != 0) {
                            bh.free();
                        }
                    } else {
                        progress |= runTaken(bh, bh.dequeue());
                    }
                    bh = bugCachedNext ? next : null;
                } while (bh != null);
            }
        } finally {
            depth--;
            dispatching.decrementAndGet();
        }
        return progress;
    }

    // ------------------------------------------------------------------------------------
    // Life cycle
    // ------------------------------------------------------------------------------------

    /**
     * Detaches the list from its context (QEMU: the bottom-half part of {@code aio_ctx_finalize}),
     * called by {@link AioContext#close()}. Deleted bottom halves are freed; a bottom half that is
     * still scheduled means somebody expects it to run, which is a bug in its owner's life cycle,
     * reported here instead of hanging that somebody.
     */
    @Override
    public void close() {
        ctx.removeEventSource(this);
        List<String> leaked = new ArrayList<>();
        for (BottomHalf bh = (BottomHalf) HEAD.getAndSet(this, null); bh != null; ) {
            BottomHalf next = bh.next;
            if ((bh.dequeue() & (BottomHalf.SCHEDULED | BottomHalf.DELETED)) == BottomHalf.SCHEDULED) {
                leaked.add(bh.name());
            }
            bh.free();
            bh = next;
        }
        if (!slices.isEmpty()) {
            leaked.add("(a pass still running)");
        }
        if (!leaked.isEmpty()) {
            throw new IllegalStateException(contextName + ": bottom halves still scheduled at close: " + leaked
                    + "; delete them, or let them run, before closing the context");
        }
    }

    @Override
    public String toString() {
        return "BottomHalves[" + contextName + "]";
    }
}
