package dev.dataplane.virtio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * After the device pushed to a queue: whether the guest was interrupted or the driver's
 * suppression (no-interrupt flag, or {@code used_event} not yet passed) saved the interrupt.
 * Recorded by the thread that completed the request, without the BQL.
 */
@Name("dataplane.virtio.Interrupt")
@Label("virtqueue interrupt")
@Category({"Dataplane", "Virtio"})
@Description("A completion's interrupt decision (QEMU: virtio_notify): injected or suppressed by the driver.")
@StackTrace(false)
public final class InterruptEvent extends Event {
    @Label("Queue")
    public int queue;

    @Label("Injected")
    @Description("true: the ISR bit was set and the line raised; false: the driver asked for no interrupt")
    public boolean injected;

    @Label("Used index")
    @Description("The device's used index after the push")
    public int usedIndex;
}
