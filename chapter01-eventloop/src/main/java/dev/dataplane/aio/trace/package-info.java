/**
 * QEMU's trace events for the event loop, as Java Flight Recorder events.
 *
 * <p>QEMU declares trace points in {@code util/trace-events} ({@code run_poll_handlers_begin},
 * {@code poll_grow}, ...) and compiles them to a back end of your choice. The JVM's own
 * equivalent is JFR: an event is a class, emitting it costs almost nothing while no recording
 * asks for it, and {@code jfr print --events 'dataplane.aio.*' recording.jfr} or JDK Mission
 * Control shows them on a timeline per thread. Record a run with
 * {@code -XX:StartFlightRecording=filename=run.jfr,settings=profile}.
 *
 * <p>Fields are public because that is how JFR events are filled in; nothing else reads them.
 */
package dev.dataplane.aio.trace;
