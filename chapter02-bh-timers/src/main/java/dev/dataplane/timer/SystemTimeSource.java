package dev.dataplane.timer;

import java.time.Instant;

/** The host's clocks, behind {@link TimeSource#system()}. */
final class SystemTimeSource implements TimeSource {
    static final SystemTimeSource INSTANCE = new SystemTimeSource();

    /**
     * {@link System#nanoTime()} has an arbitrary origin and may be negative. Counting from the
     * moment this class loads keeps REALTIME non-negative, as {@link TimeSource#monotonicNs()}
     * promises (CLOCK_MONOTONIC in QEMU counts from boot, which is never negative either).
     */
    private final long origin = System.nanoTime();

    private SystemTimeSource() {
    }

    @Override
    public long monotonicNs() {
        return System.nanoTime() - origin;
    }

    @Override
    public long wallClockNs() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    @Override
    public String toString() {
        return "system time";
    }
}
