/**
 * JFR events for clocks and timers ({@code dataplane.timer.*}), in the style of chapter 1's
 * {@code dev.dataplane.aio.trace}: {@code jfr print --events 'dataplane.timer.*' run.jfr} lists
 * every timer callback with its clock, lateness and duration.
 */
package dev.dataplane.timer.trace;
