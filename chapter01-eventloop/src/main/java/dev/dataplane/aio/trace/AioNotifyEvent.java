package dev.dataplane.aio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** AioContext.notifyEvent (QEMU: aio_notify); says whether the eventfd had to be written. */
@Name("dataplane.aio.Notify")
@Label("aio_notify")
@Category({"Dataplane", "AioContext"})
@Description("AioContext.notifyEvent (QEMU: aio_notify); says whether the eventfd had to be written.")
@StackTrace(false)
public final class AioNotifyEvent extends Event {
    @Label("Context")
    public String context;

    @Label("Wrote eventfd")
    @Description("False when no poll could be sleeping (notifyMe was 0), so the system call was skipped")
    public boolean wroteEventfd;
}
