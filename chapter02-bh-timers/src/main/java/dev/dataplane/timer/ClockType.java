package dev.dataplane.timer;

/**
 * The clocks a timer can follow: QEMU's {@code QEMUClockType} ({@code include/qemu/timer.h}).
 *
 * <p>Each constant says what its time means and when it moves; {@link Clocks} reads them and
 * keeps the per-clock "enabled" switch.
 */
public enum ClockType {
    /**
     * Host monotonic time (QEMU: {@code QEMU_CLOCK_REALTIME}). It runs whether the guest runs or
     * not and never goes backwards: the clock for things the host does on its own behalf, such
     * as retrying a request or refreshing a display.
     */
    REALTIME,

    /**
     * Guest time (QEMU: {@code QEMU_CLOCK_VIRTUAL}). It stands still while the machine is stopped
     * and continues from the same value when it resumes, so a guest never sees time jump across
     * a pause. The clock is <em>disabled</em> until the machine first starts
     * ({@link Clocks#vmStart()}).
     */
    VIRTUAL,

    /**
     * Host wall-clock time in nanoseconds since the epoch (QEMU: {@code QEMU_CLOCK_HOST}). It
     * follows the host's clock adjustments, so it can jump in either direction; use it only for
     * things that must follow the calendar, such as a guest's real-time clock.
     */
    HOST,

    /**
     * Virtual time as seen by real-time code (QEMU: {@code QEMU_CLOCK_VIRTUAL_RT}). QEMU needs it
     * for instruction counting ("icount"), where guest time is derived from executed
     * instructions; Dataplane has no icount, so it reads the same as {@link #VIRTUAL}.
     */
    VIRTUAL_RT
}
