package dev.dataplane.timer;

import dev.dataplane.timer.trace.TimerExpireEvent;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The armed timers of one clock for one owner, and the pass that runs the expired ones. QEMU's
 * {@code QEMUTimerList} ({@code util/qemu-timer.c}). An {@code AioContext} has one list per
 * clock, grouped in its {@link TimerListGroup}; a list can also stand alone (QEMU:
 * {@code timerlist_new}), with a notify callback of the owner's choosing.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Who calls what.</b> {@link #runTimers()} is called by one thread at a time, the owner's
 * loop thread (an {@code AioContext}'s home thread); every callback runs there. Arming and
 * disarming ({@link AioTimer#mod} and friends) may come from any thread. {@link #deadlineNs()}
 * is asked by the owner's loop before it sleeps.
 *
 * <p><b>The lock.</b> One {@link ReentrantLock} guards the heap of active timers, each timer's
 * {@code heapSeq}, and the pass bookkeeping ({@code passes}, {@code passThread}). It is never
 * held while calling out: not around a callback, a time-source read or the notify callback. So a
 * callback may arm or delete timers of its own list, and a notify that writes an eventfd never
 * blocks a thread that is arming a timer.
 *
 * <p><b>The head, without the lock.</b> {@link #headExpireNs} mirrors the heap's first expiry
 * in a field of its own, written under the lock (release) whenever the head changes.
 * {@link #deadlineNs()} and the empty check of {@link #runTimers()} read it lock-free
 * (acquire), as QEMU reads {@code active_timers} without its mutex. A stale value is harmless:
 * the write that makes it stale is either a new head, which notifies the owner, or a removal,
 * which at worst makes a poll wake up early and find nothing. The notify is what closes the race
 * with a poll that computed its timeout from the old head: {@code notifyEvent()} and the poll's
 * announcement that it may sleep are the Dekker pair of chapter 1, with full fences on both
 * sides, so either the poll sees the notification and does not sleep, or the notifier wakes it.
 * That is why this field needs no fence of its own.
 *
 * <p><b>Head notify.</b> When {@link AioTimer#mod} makes a timer the first to expire, the owner
 * may be asleep with a timeout computed from the old head; the notify callback (for a context,
 * {@code ctx.notifyEvent()}) wakes it so it recomputes. A mod that lands behind the head does
 * not notify: the sleeping poll's timeout is still right.
 *
 * <p><b>Running passes.</b> {@code passes} counts the {@link #runTimers()} calls in progress
 * (more than one only when a callback polls its context again). {@link Clocks#enable} with
 * {@code false} waits until it drops to 0, which is QEMU's {@code timers_done_ev}. A pass
 * registers itself under the lock <em>before</em> it reads the clock's enabled flag, and the
 * disabler writes the flag <em>before</em> it looks at {@code passes} under the lock, so a pass
 * either sees the clock disabled or is seen, and waited for, by the disabler.
 */
public final class TimerList implements AutoCloseable {
    private static final VarHandle HEAD_EXPIRE_NS;

    static {
        try {
            HEAD_EXPIRE_NS = MethodHandles.lookup().findVarHandle(TimerList.class, "headExpireNs", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Clocks clocks;
    private final ClockType type;
    private final String owner;
    private final Runnable notify;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when {@link #passes} drops to 0. */
    private final Condition passesDone = lock.newCondition();
    /** Guarded by {@link #lock}. */
    private final TimerHeap active = new TimerHeap();
    /**
     * The head's expiry, -1 if none. Through {@link #HEAD_EXPIRE_NS} only: release stores under
     * {@link #lock}, acquire loads without it (see "The head, without the lock").
     */
    @SuppressWarnings("unused")
    private long headExpireNs = -1;
    /** Running {@link #runTimers()} calls. Guarded by {@link #lock}. */
    private int passes;
    /** The thread running them while {@code passes > 0}. Guarded by {@link #lock}. */
    private Thread passThread;

    /**
     * A list of {@code type} timers on {@code clocks} (QEMU: {@code timerlist_new}).
     *
     * @param owner  a name for traces and messages, e.g. the context's name
     * @param notify called, in the thread that armed the timer, whenever a timer becomes the
     *               first to expire, and whenever the clock is enabled; it should make the
     *               owner's loop recompute its timeout (QEMU: {@code QEMUTimerListNotifyCB})
     */
    public TimerList(Clocks clocks, ClockType type, String owner, Runnable notify) {
        this.clocks = Objects.requireNonNull(clocks, "clocks");
        this.type = Objects.requireNonNull(type, "type");
        this.owner = Objects.requireNonNull(owner, "owner");
        this.notify = Objects.requireNonNull(notify, "notify");
        clocks.register(this); // last: the list is complete before the clock can see it
    }

    /** A new, unarmed timer on this list (QEMU: {@code timer_new_tl}). */
    public AioTimer newTimer(TimerScale scale, Runnable callback) {
        return new AioTimer(this, scale, callback);
    }

    /** The clock this list follows. */
    public ClockType clockType() {
        return type;
    }

    /** The clocks this list reads. */
    public Clocks clocks() {
        return clocks;
    }

    /** The name given at creation. */
    public String owner() {
        return owner;
    }

    /** Whether any timer is armed (QEMU: {@code timerlist_has_timers}). */
    public boolean hasTimers() {
        return headExpireNsAcquire() != -1;
    }

    // tag::timer-deadline[]
    /**
     * Nanoseconds until the first timer of this list expires: 0 if it has expired already, -1
     * if no timer is armed or the clock is disabled (QEMU: {@code timerlist_deadline_ns}).
     * Nanosecond precision; rounding to a coarser unit is the waiting side's business.
     */
    public long deadlineNs() {
        // tag::exercise-ch02-timer-deadline[]
        long expire = headExpireNsAcquire(); // no lock; see "The head, without the lock"
        if (expire == -1 || !clocks.isEnabled(type)) {
            return -1;
        }
        // Expiries are never negative, nor are clock readings (a HOST clock set before 1970
        // aside), so the difference cannot overflow.
        return Math.max(0, expire - clocks.nowNs(type));
        // end::exercise-ch02-timer-deadline[]
    }
    // end::timer-deadline[]

    // tag::run-timers[]
    /**
     * Runs every timer that has expired (QEMU: {@code timerlist_run_timers}): reads the clock
     * <em>once</em>, then pops timers in expiry order while their expiry is at or before that
     * reading, marks each not pending and runs its callback with the lock released. Returns
     * whether any callback ran.
     *
     * <p>Because the clock is read once, a callback that re-arms its own timer for a time after
     * that reading does not run again in this pass, however long the callbacks take; one that
     * re-arms it at or before the reading does. A disabled clock runs nothing.
     */
    public boolean runTimers() {
        if (headExpireNsAcquire() == -1) {
            return false; // nothing armed: not even a clock read
        }
        enterPass();
        try {
            if (!clocks.isEnabled(type)) {
                return false;
            }
            long now = clocks.nowNs(type);
            boolean progress = false;
            lock.lock();
            try {
                active.takeDue(now); // many due? then take them out in bulk (TimerHeap, "The due run")
                while (true) {
                    long expire = active.headExpireNs();
                    if (expire == -1 || expire > now) {
                        break;
                    }
                    AioTimer t = active.removeHead();
                    publishHead();
                    t.setExpireNsRelease(-1); // not pending while it runs: the callback may re-arm it
                    lock.unlock();
                    try {
                        runCallback(t, now - expire);
                    } finally {
                        lock.lock();
                    }
                    progress = true;
                }
            } finally {
                lock.unlock();
            }
            return progress;
        } finally {
            leavePass();
        }
    }
    // end::run-timers[]

    private void runCallback(AioTimer t, long latenessNs) {
        TimerExpireEvent trace = new TimerExpireEvent();
        trace.begin();
        t.callback().run();
        if (trace.shouldCommit()) {
            trace.context = owner;
            trace.clock = type.name();
            trace.latenessNs = latenessNs;
            trace.commit();
        }
    }

    private void enterPass() {
        lock.lock();
        try {
            passes++;
            passThread = Thread.currentThread();
        } finally {
            lock.unlock();
        }
    }

    private void leavePass() {
        lock.lock();
        try {
            if (--passes == 0) {
                passThread = null;
                passesDone.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    // tag::timer-mod[]
    /** {@link AioTimer#modNs}: remove, re-insert, and notify if the timer is now the head. */
    void mod(AioTimer t, long expireNs) {
        boolean newHead;
        lock.lock();
        try {
            removeLocked(t);
            newHead = insertLocked(t, expireNs);
        } finally {
            lock.unlock();
        }
        if (newHead) {
            notify.run(); // outside the lock: it may write an eventfd
        }
    }

    /** {@link AioTimer#modAnticipateNs}: as {@link #mod}, but only if that brings it earlier. */
    void modAnticipate(AioTimer t, long expireNs) {
        boolean newHead = false;
        lock.lock();
        try {
            long current = t.expireNsAcquire();
            if (current == -1 || current > Math.max(0, expireNs)) {
                removeLocked(t);
                newHead = insertLocked(t, expireNs);
            }
        } finally {
            lock.unlock();
        }
        if (newHead) {
            notify.run();
        }
    }
    // end::timer-mod[]

    /** {@link AioTimer#del()}. No notify: a later head only makes a sleeper wake early. */
    void del(AioTimer t) {
        lock.lock();
        try {
            removeLocked(t);
        } finally {
            lock.unlock();
        }
    }

    // tag::timer-insert[]
    /**
     * Arms {@code t} (not armed) for {@code expireNs}, clamped to 0, behind every timer that
     * expires at the same time or earlier. Returns whether it is now the first to expire.
     */
    private boolean insertLocked(AioTimer t, long expireNs) {
        long expire = Math.max(0, expireNs);
        t.setExpireNsRelease(expire);
        boolean head = active.insert(t, expire);
        if (head) {
            publishHead();
        }
        return head;
    }
    // end::timer-insert[]

    private void removeLocked(AioTimer t) {
        if (!active.contains(t)) {
            return; // not armed (or being run right now, which is the same thing)
        }
        boolean wasHead = active.remove(t);
        t.setExpireNsRelease(-1);
        if (wasHead) {
            publishHead();
        }
    }

    private long headExpireNsAcquire() {
        return (long) HEAD_EXPIRE_NS.getAcquire(this);
    }

    /** Under the lock, whenever the heap's head may have changed. */
    private void publishHead() {
        HEAD_EXPIRE_NS.setRelease(this, active.headExpireNs());
    }

    /** {@link Clocks#enable}: the clock was turned on, so this list's deadline may have appeared. */
    void notifyClockEnabled() {
        notify.run();
    }

    /** {@link Clocks#enable}: returns once no pass of this list is running. */
    void waitForRunningCallbacks() {
        lock.lock();
        try {
            while (passes > 0) {
                // Uninterruptible, as QEMU's qemu_event_wait: the caller's promise is "no
                // callback of this clock is running when I return", and it cannot keep it early.
                passesDone.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@code thread} is inside {@link #runTimers()} of this list, i.e. in one of its callbacks. */
    boolean isRunningCallbacksIn(Thread thread) {
        lock.lock();
        try {
            return passes > 0 && passThread == thread;
        } finally {
            lock.unlock();
        }
    }

    /** For tests: whether some thread is blocked in {@link #waitForRunningCallbacks()}. */
    boolean hasThreadsWaitingForCallbacks() {
        lock.lock();
        try {
            return lock.hasWaiters(passesDone);
        } finally {
            lock.unlock();
        }
    }

    /** For tests. Only under (or after releasing) {@link #lock} in the thread that changed it. */
    TimerHeap heapForTests() {
        return active;
    }

    /** The number of armed timers. */
    public int size() {
        lock.lock();
        try {
            return active.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Detaches the list from its clock (QEMU: {@code timerlist_free}); enabling or disabling the
     * clock no longer involves it. Armed timers stay armed but nothing will run them.
     */
    @Override
    public void close() {
        clocks.unregister(this);
    }

    @Override
    public String toString() {
        return "TimerList[" + owner + ", " + type + "]";
    }
}
