package dev.dataplane.aio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** Userspace busy polling (QEMU: run_poll_handlers_begin/end); the duration is the time spent polling. */
@Name("dataplane.aio.RunPollHandlers")
@Label("run_poll_handlers")
@Category({"Dataplane", "AioContext"})
@Description("Userspace busy polling (QEMU: run_poll_handlers_begin/end); the duration is the time spent polling.")
@StackTrace(false)
public final class RunPollHandlersEvent extends Event {
    @Label("Context")
    public String context;

    @Label("Window (ns)")
    public long maxNs;

    @Label("Progress")
    public boolean progress;

    @Label("Timeout after (ns)")
    public long timeoutNs;
}
