/**
 * Clocks and timers (chapter 2): QEMU's {@code util/qemu-timer.c} and {@code include/qemu/timer.h}.
 *
 * <ul>
 *   <li>{@link dev.dataplane.timer.Clocks}: a machine's clocks ({@link dev.dataplane.timer.ClockType}),
 *       over an injectable {@link dev.dataplane.timer.TimeSource};</li>
 *   <li>{@link dev.dataplane.timer.TimerListGroup}: a context's timer lists, one per clock, which
 *       its loop consults for the poll timeout and runs after the fd handlers;</li>
 *   <li>{@link dev.dataplane.timer.AioTimer}: one timer ({@code QEMUTimer}).</li>
 * </ul>
 */
package dev.dataplane.timer;
