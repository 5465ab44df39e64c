package dev.dataplane.timer;

/**
 * The unit a timer's expiry is given in (QEMU: {@code SCALE_NS}, {@code SCALE_US},
 * {@code SCALE_MS} in {@code include/qemu/timer.h}).
 *
 * <p>Timer lists keep every expiry in nanoseconds; the scale only converts what a caller passes
 * to {@link AioTimer#mod(long)}, so that a device which thinks in milliseconds can write
 * {@code timer.mod(clocks.now(REALTIME, MS) + 100)}.
 */
public enum TimerScale {
    /** Nanoseconds. */
    NS(1),
    /** Microseconds. */
    US(1_000),
    /** Milliseconds. */
    MS(1_000_000);

    private final long nsPerUnit;

    TimerScale(long nsPerUnit) {
        this.nsPerUnit = nsPerUnit;
    }

    /** How many nanoseconds one unit of this scale is. */
    public long nsPerUnit() {
        return nsPerUnit;
    }

    /**
     * {@code time} units of this scale in nanoseconds, saturating at {@link Long#MAX_VALUE} and
     * {@link Long#MIN_VALUE}.
     *
     * <p>QEMU multiplies without a check. Saturating matters for a "practically never" expiry:
     * {@code timer.mod(Long.MAX_VALUE)} on a millisecond timer would otherwise wrap to a negative
     * number, which is clamped to 0, and the timer would fire at once instead of never.
     */
    public long toNs(long time) {
        if (time > Long.MAX_VALUE / nsPerUnit) {
            return Long.MAX_VALUE;
        }
        if (time < Long.MIN_VALUE / nsPerUnit) {
            return Long.MIN_VALUE;
        }
        return time * nsPerUnit;
    }

    /** {@code ns} nanoseconds in units of this scale, rounded towards zero. */
    public long fromNs(long ns) {
        return ns / nsPerUnit;
    }
}
