package dev.dataplane.aio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A handler's adaptive polling window changed (QEMU: poll_grow, poll_shrink). */
@Name("dataplane.aio.PollWindow")
@Label("poll_grow/poll_shrink")
@Category({"Dataplane", "AioContext"})
@Description("A handler's adaptive polling window changed (QEMU: poll_grow, poll_shrink).")
@StackTrace(false)
public final class PollWindowEvent extends Event {
    @Label("Context")
    public String context;

    @Label("fd")
    public int fd;

    @Label("Old window (ns)")
    public long oldNs;

    @Label("New window (ns)")
    public long newNs;

    @Label("Blocked (ns)")
    @Description("How long the iteration waited before this handler became ready")
    public long blockNs;
}
