package dev.dataplane.virtio.trace;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One request: a chain from the moment the device popped it to the moment it pushed it back.
 * Committed by the thread that pushes, which is the device's context (an IOThread when the queue
 * lives in one); JFR's event thread says which.
 */
@Name("dataplane.virtio.Request")
@Label("virtio request")
@Category({"Dataplane", "Virtio"})
@Description("A virtqueue chain from pop to push (QEMU: virtqueue_pop .. virtqueue_push).")
@StackTrace(false)
public final class RequestEvent extends Event {
    @Label("Queue")
    public int queue;

    @Label("Head")
    @Description("The chain's head descriptor index")
    public int head;

    @Label("Type")
    @Description("The device's request type, e.g. IN, OUT, FLUSH, GET_ID for virtio-blk; ? if the header was unreadable")
    public String type = "?";

    @Label("Sector")
    @Description("The first sector (virtio-blk), -1 if none")
    public long sector = -1;

    @Label("Bytes")
    @Description("The data the request asked to move (its buffers without header and status)")
    @DataAmount
    public long bytes;

    @Label("Status")
    @Description("The status byte the device wrote (virtio-blk: 0 OK, 1 IOERR, 2 UNSUPP), -1 if none")
    public int status = -1;

    @Label("Written")
    @Description("The used length: bytes the device wrote into the chain's writable buffers")
    @DataAmount
    public long written;

    /**
     * A begun event if a recording wants {@code dataplane.virtio.Request}, else null. The probe
     * that asks does not escape, so with JFR off the JIT removes it and nothing is allocated.
     */
    public static RequestEvent beginIfEnabled() {
        if (!new RequestEvent().isEnabled()) {
            return null;
        }
        RequestEvent e = new RequestEvent();
        e.begin();
        return e;
    }
}
