package dev.dataplane.timer;

/**
 * Where {@link Clocks} get the host's time from. QEMU reads {@code clock_gettime} directly
 * ({@code get_clock()} and {@code get_clock_realtime()} in {@code include/qemu/timer.h}); a Java
 * object in between lets a test drive time by hand ({@link ManualTimeSource}) so that no test
 * ever waits for real time to pass.
 *
 * <p>Implementations must be thread-safe: any thread may read a clock.
 */
public interface TimeSource {

    /**
     * Monotonic time in nanoseconds: never decreases, unrelated to the calendar, and never
     * negative (a negative expiry means "clamp to 0" to a timer list, so a negative clock would
     * make every timer look far in the future). Backs {@link ClockType#REALTIME} and the passing
     * of {@link ClockType#VIRTUAL} time.
     */
    long monotonicNs();

    /** Wall-clock time in nanoseconds since the Unix epoch; may jump. Backs {@link ClockType#HOST}. */
    long wallClockNs();

    /** The host's clocks: {@link System#nanoTime()} and {@link java.time.Instant#now()}. */
    static TimeSource system() {
        return SystemTimeSource.INSTANCE;
    }
}
