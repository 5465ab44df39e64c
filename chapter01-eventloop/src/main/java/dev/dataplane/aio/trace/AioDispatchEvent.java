package dev.dataplane.aio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** One handler callback run by the loop (io_read, io_write or io_poll_ready). */
@Name("dataplane.aio.Dispatch")
@Label("dispatch")
@Category({"Dataplane", "AioContext"})
@Description("One handler callback run by the loop (io_read, io_write or io_poll_ready).")
@StackTrace(false)
public final class AioDispatchEvent extends Event {
    @Label("Context")
    public String context;

    @Label("fd")
    public int fd;

    @Label("Callback")
    public String callback;
}
