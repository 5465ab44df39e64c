package dev.dataplane.virtio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * The device is about to serve a queue because it was kicked. Recorded by the thread that serves
 * it: the device's context (IOThread or main loop), or the vCPU thread when it serves the queue
 * itself ({@code ioeventfd=off}, device in the main loop). One event per notification seen, so
 * several guest kicks that land in one eventfd before it is read make one event.
 */
@Name("dataplane.virtio.Kick")
@Label("virtqueue kick")
@Category({"Dataplane", "Virtio"})
@Description("A virtqueue notification reached the device (QEMU: virtio_queue_notify / the host notifier's read).")
@StackTrace(false)
public final class KickEvent extends Event {
    /** The kick came through a KVM ioeventfd: no exit to user space. */
    public static final String VIA_IOEVENTFD = "ioeventfd";
    /** The kick was a notify-register write that exited to a vCPU thread. */
    public static final String VIA_REGISTER = "register";
    /** No guest write: the transport looks at the queue once when the driver sets DRIVER_OK. */
    public static final String VIA_START = "start";
    /** Found when the transport stopped listening: it arrived just before the ioeventfd was removed. */
    public static final String VIA_STOP = "stop";
    /** No kick: the context's busy polling saw the avail ring move (QEMU: the host notifier's poll_ready). */
    public static final String VIA_POLL = "poll";

    @Label("Queue")
    public int queue;

    @Label("Via")
    @Description("ioeventfd, register (a vCPU exit), start (DRIVER_OK) or stop (served while the notifier was removed)")
    public String via;
}
