package dev.dataplane.aio;

/**
 * A userspace readiness check for adaptive polling (QEMU's {@code AioPollFn}, the
 * {@code io_poll} callback).
 *
 * <p>It must be cheap, must not block and must not consume the event: it only answers "would
 * the handler find work now?" (for a virtqueue: has the available index moved?). When it answers
 * {@code true} the loop later calls the handler's {@code ioPollReady} callback, which does the
 * work. Keeping the check and the work apart is what lets the loop measure how long it waited
 * without counting the time spent working.
 */
@FunctionalInterface
public interface AioPollFn {
    boolean poll();
}
