package dev.dataplane.timer;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link TimeSource} that moves only when told to: tests (and benchmarks) advance it by hand,
 * so that "the deadline has passed" is a statement they make, not something they wait for.
 *
 * <p>Both clocks start where the constructor puts them. {@link #advance} moves both, as real
 * time passing would; {@link #setWallClockNs} moves only the wall clock, in either direction,
 * like an NTP step on the host. Thread-safe.
 */
public final class ManualTimeSource implements TimeSource {
    private final AtomicLong monotonic;
    private final AtomicLong wallClock;

    /** Both clocks at 0. */
    public ManualTimeSource() {
        this(0, 0);
    }

    /** Monotonic time at {@code monotonicNs} (not negative), wall-clock time at {@code wallClockNs}. */
    public ManualTimeSource(long monotonicNs, long wallClockNs) {
        if (monotonicNs < 0) {
            throw new IllegalArgumentException("monotonic time must not be negative: " + monotonicNs);
        }
        this.monotonic = new AtomicLong(monotonicNs);
        this.wallClock = new AtomicLong(wallClockNs);
    }

    @Override
    public long monotonicNs() {
        return monotonic.get();
    }

    @Override
    public long wallClockNs() {
        return wallClock.get();
    }

    /** Lets {@code ns} nanoseconds pass on both clocks. Monotonic time cannot go back. */
    public void advance(long ns) {
        if (ns < 0) {
            throw new IllegalArgumentException("time cannot go backwards: advance(" + ns + ")");
        }
        monotonic.addAndGet(ns);
        wallClock.addAndGet(ns);
    }

    /** Lets {@code d} pass on both clocks. */
    public void advance(Duration d) {
        advance(d.toNanos());
    }

    /** Sets the wall clock alone, as a host clock adjustment would; it may go backwards. */
    public void setWallClockNs(long ns) {
        wallClock.set(ns);
    }

    @Override
    public String toString() {
        return "manual time (monotonic " + monotonic.get() + " ns, wall clock " + wallClock.get() + " ns)";
    }
}
