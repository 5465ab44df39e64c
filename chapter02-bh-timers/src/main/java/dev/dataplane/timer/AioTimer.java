package dev.dataplane.timer;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * A timer: a callback that one {@link TimerList} runs once the list's clock reaches the timer's
 * expiry. QEMU's {@code QEMUTimer} ({@code include/qemu/timer.h}, {@code util/qemu-timer.c}).
 *
 * <pre>{@code
 * AioTimer retry = TimerListGroup.of(ctx).newTimer(ClockType.REALTIME, TimerScale.MS, this::retry);
 * retry.mod(clocks.now(ClockType.REALTIME, TimerScale.MS) + 100);   // in 100 ms, in ctx's home thread
 * }</pre>
 *
 * <p><b>The name.</b> The project drops QEMU's prefix ({@code QEMUBH} became {@code BottomHalf}),
 * but plain {@code Timer} would collide with {@link java.util.Timer}, a different design (a
 * thread of its own) that an IDE would happily import instead. {@code AioTimer} says what this
 * is, a timer that an {@code AioContext}'s loop runs, and it leads straight to QEMU's own
 * constructor for such timers, {@code aio_timer_new} ({@code include/block/aio.h}).
 *
 * <p><b>Threads.</b> The callback runs in the home thread of the list's context (whichever
 * thread runs {@link TimerList#runTimers()}), never while the list's lock is held, so it may
 * re-arm or delete any timer, itself included. {@link #mod}, {@link #modNs},
 * {@link #modAnticipate}, {@link #del()} and the queries are safe from any thread.
 *
 * <p>A timer belongs to its list for life; there is nothing to free (QEMU's
 * {@code timer_free} is the garbage collector's job), but a timer that is armed stays reachable
 * from its list until it fires or is deleted.
 */
public final class AioTimer {
    private static final VarHandle EXPIRE_NS;

    static {
        try {
            EXPIRE_NS = MethodHandles.lookup().findVarHandle(AioTimer.class, "expireNs", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final TimerList list;
    private final TimerScale scale;
    private final Runnable callback;

    /**
     * The expiry in nanoseconds of the list's clock, or -1 when not pending (QEMU:
     * {@code expire_time}). Accessed through {@link #EXPIRE_NS} only: written under the list's
     * lock with release stores, read with acquire loads so that {@link #isPending()} and
     * {@link #expireTime()} can answer without the lock. Release rather than volatile because
     * the writer holds a lock anyway and nobody pairs these with a store-load fence; a volatile
     * store would cost a full fence on every arm and every expiry.
     */
    @SuppressWarnings("unused")
    private long expireNs = -1;

    /**
     * The sequence number of the timer's live entry in its list's heap, -1 if it has none (see
     * {@link TimerHeap}, "Lazy deletion"). Guarded by the list's lock.
     */
    long heapSeq = -1;

    AioTimer(TimerList list, TimerScale scale, Runnable callback) {
        this.list = list;
        this.scale = Objects.requireNonNull(scale, "scale");
        this.callback = Objects.requireNonNull(callback, "callback");
    }

    /**
     * Arms the timer for {@code expireTime}, in units of its {@link #scale()}, replacing any
     * earlier expiry (QEMU: {@code timer_mod}). A negative time is taken as 0; a time at or before
     * the clock's current time makes the timer fire in the next pass. If the timer becomes the
     * first of its list to expire, the list's owner is notified, so that a poll asleep on a later
     * deadline wakes up and sleeps again for the right time. Any thread.
     */
    public void mod(long expireTime) {
        list.mod(this, scale.toNs(expireTime));
    }

    /** {@link #mod} with the expiry in nanoseconds, whatever the scale (QEMU: {@code timer_mod_ns}). */
    public void modNs(long expireNs) {
        list.mod(this, expireNs);
    }

    /**
     * Like {@link #mod}, but only ever brings the expiry closer: if the timer is already pending
     * at or before {@code expireTime}, nothing changes (QEMU: {@code timer_mod_anticipate}). Lets
     * several producers each ask for "no later than" without undoing each other. Any thread.
     */
    public void modAnticipate(long expireTime) {
        list.modAnticipate(this, scale.toNs(expireTime));
    }

    /** {@link #modAnticipate} in nanoseconds (QEMU: {@code timer_mod_anticipate_ns}). */
    public void modAnticipateNs(long expireNs) {
        list.modAnticipate(this, expireNs);
    }

    /**
     * Disarms the timer (QEMU: {@code timer_del}). Any thread. If the callback is running right
     * now in the home thread, it runs to the end; deleting does not wait for it.
     */
    public void del() {
        list.del(this);
    }

    /** Whether the timer is armed (QEMU: {@code timer_pending}). */
    public boolean isPending() {
        return expireNsAcquire() != -1;
    }

    /**
     * The expiry in nanoseconds of the clock, or -1 if not pending (QEMU:
     * {@code timer_expire_time_ns}). Always nanoseconds, so that it compares directly with
     * {@link Clocks#nowNs}.
     */
    public long expireTime() {
        return expireNsAcquire();
    }

    /**
     * Whether the timer is pending and due at {@code currentTime}, given in units of its
     * {@link #scale()} (QEMU: {@code timer_expired}).
     */
    public boolean isExpired(long currentTime) {
        long e = expireNsAcquire();
        return e != -1 && e <= scale.toNs(currentTime);
    }

    /** The clock the timer follows. */
    public ClockType clockType() {
        return list.clockType();
    }

    /** The unit of {@link #mod} and {@link #isExpired}. */
    public TimerScale scale() {
        return scale;
    }

    /** The list that runs the timer. */
    public TimerList list() {
        return list;
    }

    long expireNsAcquire() {
        return (long) EXPIRE_NS.getAcquire(this);
    }

    /** Only under the list's lock. */
    void setExpireNsRelease(long ns) {
        EXPIRE_NS.setRelease(this, ns);
    }

    Runnable callback() {
        return callback;
    }

    @Override
    public String toString() {
        long e = expireNsAcquire();
        return "AioTimer[" + list.clockType() + ", " + scale + ", " + (e == -1 ? "not pending" : "expires " + e + " ns")
                + "]";
    }
}
