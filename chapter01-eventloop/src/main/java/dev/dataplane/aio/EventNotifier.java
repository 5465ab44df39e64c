package dev.dataplane.aio;

import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.NativeScratch;

/**
 * A level-triggered wake-up flag that other threads can set and an event loop can wait for,
 * built on a Linux eventfd. QEMU's {@code EventNotifier} ({@code util/event_notifier-posix.c}).
 *
 * <p>The eventfd holds a 64-bit counter: {@link #set()} adds one, {@link #testAndClear()} reads
 * it back to zero. While the counter is non-zero the fd is readable, so an {@link AioContext}
 * that watches the fd keeps calling its read handler until someone clears it: a handler that
 * forgets {@code testAndClear()} runs on every loop iteration. The same fd can also be handed
 * to the kernel (chapter 4 gives one to KVM as an ioeventfd) so that the kernel sets it.
 *
 * <p>{@code set} is safe from any thread; {@code testAndClear} is meant for the thread that
 * handles the notification. The fd is non-blocking and close-on-exec.
 */
public final class EventNotifier implements AutoCloseable {
    private final int fd;
    /** Where a drain reads the counter to; the value itself is never used. */
    private final NativeScratch scratch = new NativeScratch(8);
    private volatile boolean closed;

    /** Creates a notifier in the cleared state. */
    public EventNotifier() {
        this.fd = LibC.eventfdCreate(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
    }

    /** The eventfd, for registering with an {@link AioContext} or handing to the kernel. */
    public int fd() {
        return fd;
    }

    // tag::event-notifier[]
    /** Makes the notifier readable (QEMU: {@code event_notifier_set}). Any thread. */
    public void set() {
        // If the counter is about to overflow the write fails with EAGAIN; the fd is then
        // readable anyway, which is all a notification promises.
        LibC.eventfdWrite(fd, 1);
    }

    /**
     * Clears the notifier and says whether it was set (QEMU:
     * {@code event_notifier_test_and_clear}). Several {@link #set()} calls since the last clear
     * collapse into one {@code true}: a notification is a flag, not a count.
     */
    public boolean testAndClear() {
        return LibC.eventfdDrain(fd, scratch);
    }
    // end::event-notifier[]

    /** Closes the eventfd. The notifier must no longer be registered anywhere. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.closeFd(fd);
        }
    }

    @Override
    public String toString() {
        return "EventNotifier[fd=" + fd + "]";
    }
}
