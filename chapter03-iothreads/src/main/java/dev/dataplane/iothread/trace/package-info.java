/**
 * JFR events of chapter 3: IOThread start and stop, BQL holds and cross-thread waits. Record them
 * with {@code -XX:StartFlightRecording} and look at them with {@code jfr print --categories Dataplane}.
 */
package dev.dataplane.iothread.trace;
