package dev.dataplane.timer;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A machine's set of clocks: one per {@link ClockType}, each with its "enabled" switch and the
 * timer lists that follow it. QEMU keeps these as globals ({@code qemu_clocks[]} in
 * {@code util/qemu-timer.c}, the virtual-time bookkeeping in {@code system/cpu-timers.c}); here
 * they are an object so that a test can give a context clocks over a {@link ManualTimeSource}.
 *
 * <pre>{@code
 * ManualTimeSource time = new ManualTimeSource();
 * TimerListGroup timers = TimerListGroup.of(ctx, Clocks.using(time));
 * time.advance(5_000_000);   // 5 ms pass, instantly
 * }</pre>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Enabled.</b> A disabled clock has no deadline and runs no timers; its timers stay armed
 * and fire once it is enabled again. All clocks start enabled except {@link ClockType#VIRTUAL},
 * which waits for the machine to start. The flag is volatile: a poll reads it without a lock
 * when it computes its timeout, and a stale read there is repaired by the notification that
 * {@link #enable} sends when it turns a clock on.
 *
 * <p><b>Disabling waits.</b> {@code enable(type, false)} returns only once no timer callback of
 * that clock is running in any list (QEMU waits for each list's {@code timers_done_ev}). The
 * flag is written first, then each list is asked to wait for its running pass to end; the list
 * reads the flag after it has registered its pass under its own lock, so either the pass sees
 * the clock disabled or the disabler sees the pass (see {@link TimerList#runTimers()}).
 *
 * <p><b>Virtual time</b> is {@code monotonic + offset} while the machine runs and frozen at
 * {@code offset} while it is stopped (QEMU: {@code cpu_get_clock}, {@code cpu_enable_ticks},
 * {@code cpu_disable_ticks}). The pair (running, offset) lives in one immutable record behind a
 * volatile field, so a reader always sees a consistent pair without a lock (QEMU uses a seqlock
 * for the same purpose); the two writers, {@link #vmStart()} and {@link #vmStop()}, serialise on
 * a private lock.
 */
public final class Clocks {

    private static final Clocks SYSTEM = new Clocks(TimeSource.system());

    /** One clock: its switch and the lists that follow it (QEMU: {@code QEMUClock}). */
    private static final class Clock {
        volatile boolean enabled;
        /** Copy-on-write: lists come and go with contexts, while enable() iterates them. */
        final List<TimerList> lists = new CopyOnWriteArrayList<>();

        Clock(boolean enabled) {
            this.enabled = enabled;
        }
    }

    /** Virtual time's state: frozen at {@code offsetNs}, or {@code monotonic + offsetNs}. */
    private record VirtualTime(boolean running, long offsetNs) {
        long now(TimeSource time) {
            return running ? time.monotonicNs() + offsetNs : offsetNs;
        }
    }

    private final TimeSource time;
    private final Clock[] clocks = new Clock[ClockType.values().length];
    private final Object virtualLock = new Object();
    /** Replaced, never mutated; written under {@link #virtualLock}. */
    private volatile VirtualTime virtual = new VirtualTime(false, 0);

    private Clocks(TimeSource time) {
        this.time = Objects.requireNonNull(time, "time");
        for (ClockType type : ClockType.values()) {
            // QEMU's qemu_clock_init: every clock on, except guest time before the guest runs.
            clocks[type.ordinal()] = new Clock(type != ClockType.VIRTUAL);
        }
    }

    /**
     * The process's clocks over the host's time: what {@link TimerListGroup#of(dev.dataplane.aio.AioContext)}
     * uses. One shared object, as QEMU's clocks are one per process.
     */
    public static Clocks system() {
        return SYSTEM;
    }

    /** A new, independent set of clocks over {@code time}, e.g. a {@link ManualTimeSource}. */
    public static Clocks using(TimeSource time) {
        return new Clocks(time);
    }

    /** Where these clocks read the host's time. */
    public TimeSource timeSource() {
        return time;
    }

    /** The clock's current time in nanoseconds (QEMU: {@code qemu_clock_get_ns}). Any thread. */
    public long nowNs(ClockType type) {
        switch (type) {
            case REALTIME:
                return time.monotonicNs();
            case HOST:
                return time.wallClockNs();
            case VIRTUAL:
            case VIRTUAL_RT: // no icount: the same as VIRTUAL
                return virtual.now(time);
            default:
                throw new AssertionError(type);
        }
    }

    /**
     * The clock's current time in units of {@code scale} (QEMU: {@code qemu_clock_get_us},
     * {@code qemu_clock_get_ms}), handy for {@link AioTimer#mod(long)}.
     */
    public long now(ClockType type, TimerScale scale) {
        return scale.fromNs(nowNs(type));
    }

    /** Whether the clock's timers may run and count for deadlines. */
    public boolean isEnabled(ClockType type) {
        return clock(type).enabled;
    }

    // tag::clock-enable[]
    /**
     * Turns a clock's timers on or off (QEMU: {@code qemu_clock_enable}). Any thread.
     *
     * <p>Enabling a disabled clock notifies every list of it, so that a sleeping poll recomputes
     * its timeout with the clock's timers included. Disabling waits until no timer callback of
     * this clock is running in any list; once it returns, no callback of the clock starts until
     * it is enabled again. Unlike QEMU, a second {@code enable(type, false)} waits too, so every
     * caller gets that guarantee, not just the one that flipped the switch.
     *
     * @throws IllegalStateException if {@code enabled} is false and the calling thread is itself
     *         running a timer callback of this clock: it would wait for itself for ever (in QEMU
     *         this deadlocks). The clock is left as it was.
     */
    public void enable(ClockType type, boolean enabled) {
        Clock clock = clock(type);
        if (!enabled) {
            refuseFromOwnCallback(clock, type);
        }
        boolean old;
        synchronized (clock) { // read-and-flip as one step, so one of two racing enables notifies
            old = clock.enabled;
            clock.enabled = enabled;
        }
        if (enabled && !old) {
            for (TimerList list : clock.lists) {
                list.notifyClockEnabled();
            }
        } else if (!enabled) {
            for (TimerList list : clock.lists) {
                list.waitForRunningCallbacks();
            }
        }
    }
    // end::clock-enable[]

    private static void refuseFromOwnCallback(Clock clock, ClockType type) {
        for (TimerList list : clock.lists) {
            if (list.isRunningCallbacksIn(Thread.currentThread())) {
                throw new IllegalStateException("disabling " + type + " from inside a timer callback of " + type
                        + " (list of " + list.owner() + ") would wait for that very callback for ever");
            }
        }
    }

    // tag::virtual-clock[]
    /**
     * The machine starts or resumes: virtual time continues from where it stopped, and the
     * VIRTUAL clock is enabled (QEMU: {@code cpu_enable_ticks} in {@code vm_start}, then
     * {@code qemu_clock_enable(QEMU_CLOCK_VIRTUAL, true)} when the vCPUs resume). Idempotent.
     */
    public void vmStart() {
        synchronized (virtualLock) {
            VirtualTime v = virtual;
            if (!v.running()) {
                // Choose the offset so that monotonic + offset equals the frozen value now.
                virtual = new VirtualTime(true, v.offsetNs() - time.monotonicNs());
            }
        }
        enable(ClockType.VIRTUAL, true);
    }

    /**
     * The machine stops: virtual time freezes and the VIRTUAL clock is disabled, which waits for
     * running VIRTUAL callbacks (QEMU: {@code cpu_disable_ticks} in {@code do_vm_stop}, then
     * {@code qemu_clock_enable(QEMU_CLOCK_VIRTUAL, false)} when the vCPUs pause). Idempotent.
     *
     * @throws IllegalStateException if called from a VIRTUAL timer callback (see {@link #enable});
     *         nothing is changed then
     */
    public void vmStop() {
        refuseFromOwnCallback(clock(ClockType.VIRTUAL), ClockType.VIRTUAL);
        synchronized (virtualLock) {
            VirtualTime v = virtual;
            if (v.running()) {
                virtual = new VirtualTime(false, v.now(time));
            }
        }
        enable(ClockType.VIRTUAL, false);
    }
    // end::virtual-clock[]

    /** Whether virtual time is passing (between {@link #vmStart()} and {@link #vmStop()}). */
    public boolean isVmRunning() {
        return virtual.running();
    }

    /** Called by a new list (QEMU: {@code timerlist_new} links it into its clock). */
    void register(TimerList list) {
        clock(list.clockType()).lists.add(list);
    }

    /** Called by {@link TimerList#close()} (QEMU: {@code timerlist_free}). */
    void unregister(TimerList list) {
        clock(list.clockType()).lists.remove(list);
    }

    /** For tests: whether {@code list} is among its clock's lists. */
    boolean isAttached(TimerList list) {
        return clock(list.clockType()).lists.contains(list);
    }

    private Clock clock(ClockType type) {
        return clocks[type.ordinal()];
    }

    @Override
    public String toString() {
        return this == SYSTEM ? "Clocks.system()" : "Clocks.using(" + time + ")@" + Integer.toHexString(hashCode());
    }
}
