package dev.dataplane.aio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** One call of AioContext.poll (QEMU: aio_poll), from entry to return. */
@Name("dataplane.aio.Poll")
@Label("aio_poll")
@Category({"Dataplane", "AioContext"})
@Description("One call of AioContext.poll (QEMU: aio_poll), from entry to return.")
@StackTrace(false)
public final class AioPollEvent extends Event {
    @Label("Context")
    public String context;

    @Label("Blocking")
    public boolean blocking;

    @Label("Timeout (ns)")
    @Description("The timeout the wait was given after polling; -1 is forever, 0 did not sleep")
    public long timeoutNs;

    @Label("Waited")
    @Description("Whether the fd monitor was called (a system call)")
    public boolean waited;

    @Label("Progress")
    public boolean progress;
}
