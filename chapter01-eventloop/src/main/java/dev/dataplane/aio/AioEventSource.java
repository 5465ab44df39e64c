package dev.dataplane.aio;

/**
 * The extension point through which later layers add work that is not a file descriptor.
 *
 * <p>Chapter 1's loop only knows fds. Chapter 2 adds bottom halves and timers, and
 * {@link AioContext#poll(boolean)} must consult them at two moments, exactly as QEMU's
 * {@code aio_poll} consults {@code aio_compute_timeout}, {@code aio_bh_poll} and
 * {@code timerlistgroup_run_timers}:
 *
 * <ul>
 *   <li><b>prepare</b> ({@link #timeoutNs()}): before the loop may sleep it asks every source
 *       how long it may sleep; a scheduled bottom half says 0, a timer says "until my
 *       deadline", a source with nothing to do says -1 (forever);
 *   <li><b>dispatch</b> ({@link #dispatch()}): after the wait, in the source's {@link #phase()}:
 *       bottom halves run before the fd handlers, timers after them (and after the handler
 *       list lock is dropped).
 * </ul>
 *
 * <p>This is the same shape as a GLib {@code GSource} (prepare, check, dispatch), which is what
 * QEMU's {@code AioContext} is when the main loop runs it. A source that gains work from another
 * thread must call {@link AioContext#notifyEvent()} after publishing the work, so that a sleeping
 * loop wakes up and asks again.
 *
 * <p>Both methods run only in the context's home thread.
 */
public interface AioEventSource {

    /** When, relative to the fd handlers, a source's {@link #dispatch()} runs. */
    enum Phase {
        /** Before the fd handlers, with the handler list held (QEMU: {@code aio_bh_poll}). */
        BEFORE_HANDLERS,
        /** After the fd handlers and after the handler list is released (QEMU: timers). */
        AFTER_HANDLERS
    }

    /**
     * How long, in nanoseconds, a blocking poll may sleep as far as this source is concerned:
     * -1 for "as long as you like", 0 for "do not sleep at all".
     */
    long timeoutNs();

    /** Runs the work that is due. Returns {@code true} if that counted as progress. */
    boolean dispatch();

    /** Where {@link #dispatch()} runs; fixed for the life of the source. */
    Phase phase();
}
