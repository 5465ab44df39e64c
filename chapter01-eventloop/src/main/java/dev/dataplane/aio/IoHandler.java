package dev.dataplane.aio;

/**
 * A callback the event loop runs when a file descriptor is ready, or around polling (QEMU's
 * {@code IOHandler}). QEMU passes an {@code opaque} pointer; a Java lambda captures whatever it
 * needs instead.
 */
@FunctionalInterface
public interface IoHandler {
    void handle();
}
