package dev.dataplane.aio;

/**
 * A callback for an {@link EventNotifier} registered with
 * {@link AioContext#setEventNotifier}; it receives the notifier, as QEMU's
 * {@code EventNotifierHandler} does. A read handler must call
 * {@link EventNotifier#testAndClear()}, or it runs again on every iteration.
 */
@FunctionalInterface
public interface EventNotifierHandler {
    void handle(EventNotifier notifier);
}
