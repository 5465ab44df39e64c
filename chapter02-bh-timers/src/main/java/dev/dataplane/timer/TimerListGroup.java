package dev.dataplane.timer;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioEventSource;
import java.util.Objects;

/**
 * An {@link AioContext}'s timers: one {@link TimerList} per {@link ClockType}, plugged into the
 * context's loop as an event source. QEMU's {@code QEMUTimerListGroup}, the {@code tlg} field of
 * {@code AioContext} ({@code include/qemu/timer.h}, {@code util/qemu-timer.c}, set up in
 * {@code aio_context_new} with {@code aio_timerlist_notify} as the notify callback).
 *
 * <pre>{@code
 * TimerListGroup timers = TimerListGroup.of(ctx);
 * AioTimer t = timers.newTimer(ClockType.REALTIME, TimerScale.MS, () -> System.out.println("tick"));
 * t.mod(timers.clocks().now(ClockType.REALTIME, TimerScale.MS) + 10);
 * while (t.isPending()) {
 *     ctx.poll(true);   // sleeps about 10 ms, then runs the callback
 * }
 * }</pre>
 *
 * <p>How it meets the loop:
 * <ul>
 *   <li><b>prepare</b>: {@link #timeoutNs()} is the nearest deadline over the enabled clocks, so
 *       a blocking {@code poll} sleeps no longer than until the first timer is due (QEMU's
 *       {@code aio_compute_timeout} takes {@code timerlistgroup_deadline_ns});</li>
 *   <li><b>dispatch</b>: {@link #dispatch()} runs the expired timers of every clock after the fd
 *       handlers, in the home thread ({@link AioEventSource.Phase#AFTER_HANDLERS}; QEMU calls
 *       {@code timerlistgroup_run_timers} at the end of {@code aio_dispatch});</li>
 *   <li><b>wake-up</b>: each list's notify callback is {@link AioContext#notifyEvent()}, so
 *       arming a timer that is due before everything else, from any thread, wakes a sleeping
 *       poll to recompute its timeout.</li>
 * </ul>
 */
public final class TimerListGroup implements AioEventSource, AutoCloseable {
    private final AioContext ctx;
    private final Clocks clocks;
    /** Indexed by {@link ClockType#ordinal()}. */
    private final TimerList[] lists = new TimerList[ClockType.values().length];

    private TimerListGroup(AioContext ctx, Clocks clocks) {
        this.ctx = ctx;
        this.clocks = clocks;
        for (ClockType type : ClockType.values()) {
            lists[type.ordinal()] = new TimerList(clocks, type, ctx.name(), ctx::notifyEvent);
        }
        ctx.addEventSource(this);
    }

    /**
     * The context's timer lists, created on first use on {@link Clocks#system()}. If a test (or
     * a machine) attached the group with clocks of its own, those are what every caller gets:
     * that is how injected time reaches code that simply asks for the context's timers.
     */
    public static TimerListGroup of(AioContext ctx) {
        return ctx.layer(TimerListGroup.class, c -> new TimerListGroup(c, Clocks.system()));
    }

    /**
     * The context's timer lists on {@code clocks}, created on first use.
     *
     * @throws IllegalStateException if the context already has timer lists on other clocks: a
     *         context's timers follow one set of clocks, and silently handing back the other set
     *         would let a test's manual time be ignored without a trace
     */
    public static TimerListGroup of(AioContext ctx, Clocks clocks) {
        Objects.requireNonNull(clocks, "clocks");
        TimerListGroup group = ctx.layer(TimerListGroup.class, c -> new TimerListGroup(c, clocks));
        if (group.clocks != clocks) {
            throw new IllegalStateException("context " + ctx.name() + " already has timer lists on " + group.clocks
                    + "; they cannot be attached again on " + clocks
                    + " (attach the group before anything calls TimerListGroup.of(ctx))");
        }
        return group;
    }

    /**
     * A new, unarmed timer on the list of {@code type} (QEMU: {@code aio_timer_new}). Its callback
     * runs in the context's home thread.
     */
    public AioTimer newTimer(ClockType type, TimerScale scale, Runnable callback) {
        return list(type).newTimer(scale, callback);
    }

    /** The list of one clock. */
    public TimerList list(ClockType type) {
        return lists[type.ordinal()];
    }

    /** The clocks the lists follow. */
    public Clocks clocks() {
        return clocks;
    }

    /** The context the group belongs to. */
    public AioContext context() {
        return ctx;
    }

    // tag::group-deadline[]
    /**
     * Nanoseconds until the first timer of any enabled clock expires; 0 if one has expired, -1
     * if none is armed (QEMU: {@code timerlistgroup_deadline_ns}).
     */
    public long deadlineNs() {
        long deadline = -1;
        for (TimerList list : lists) {
            long d = list.deadlineNs();
            // As unsigned numbers -1 is the largest, so "never" loses to any real deadline
            // (QEMU: qemu_soonest_timeout).
            if (Long.compareUnsigned(d, deadline) < 0) {
                deadline = d;
            }
        }
        return deadline;
    }
    // end::group-deadline[]

    /** Runs the expired timers of every clock; true if a callback ran (QEMU: {@code timerlistgroup_run_timers}). */
    public boolean runTimers() {
        boolean progress = false;
        for (TimerList list : lists) {
            progress |= list.runTimers();
        }
        return progress;
    }

    /** {@link #deadlineNs()}: a blocking poll sleeps at most until the first timer is due. */
    @Override
    public long timeoutNs() {
        return deadlineNs();
    }

    /** {@link #runTimers()}, called by the context's poll in its home thread. */
    @Override
    public boolean dispatch() {
        return runTimers();
    }

    /** Timers run after the fd handlers, as in QEMU's {@code aio_dispatch}. */
    @Override
    public Phase phase() {
        return Phase.AFTER_HANDLERS;
    }

    /**
     * Detaches the group from its context's loop and the lists from their clocks; called by
     * {@link AioContext#close()}. Armed timers never fire after this.
     */
    @Override
    public void close() {
        ctx.removeEventSource(this);
        for (TimerList list : lists) {
            list.close();
        }
    }

    @Override
    public String toString() {
        return "TimerListGroup[" + ctx.name() + " on " + clocks + "]";
    }
}
