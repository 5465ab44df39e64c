package dev.dataplane.virtio;

import dev.dataplane.aio.EventNotifier;
import dev.dataplane.iothread.rules.GlobalStateCode;

/**
 * How the machine lets a guest write to a notify register reach an {@link EventNotifier}
 * directly, without a vCPU exit to userspace (QEMU: {@code memory_region_add_eventfd}, KVM's
 * {@code KVM_IOEVENTFD}). The transport says which register and value; the machine knows where
 * the BAR is mapped and does the ioctl.
 *
 * <p>With {@link #NONE} (the {@code ioeventfd=off} option) every notify write exits to the vCPU
 * thread, which runs the register block with the BQL held.
 */
@FunctionalInterface
public interface NotifyBinder {

    /**
     * From now on, a guest write of {@code value} ({@code size} bytes) at {@code offset} in BAR
     * {@code bar} of this function only sets {@code notifier}. BQL held.
     *
     * @return the binding; closing it restores the normal exit path. Null if the machine cannot
     *         bind (the transport then keeps the exit path).
     */
    @GlobalStateCode
    Binding bind(int bar, long offset, int size, long value, EventNotifier notifier);

    /** One bound register. {@link #close()} is synchronous: no write reaches the notifier afterwards. */
    interface Binding extends AutoCloseable {
        @Override
        void close();
    }

    /** No ioeventfd: notify writes exit to the vCPU thread. */
    NotifyBinder NONE = (bar, offset, size, value, notifier) -> null;
}
