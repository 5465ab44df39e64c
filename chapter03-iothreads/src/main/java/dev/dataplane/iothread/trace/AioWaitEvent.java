package dev.dataplane.iothread.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** One AioWait.waitWhile call that had to wait: the duration is the time the condition stayed true. */
@Name("dataplane.aiowait.Wait")
@Label("AIO_WAIT_WHILE")
@Category({"Dataplane", "Threads"})
@Description("A thread waited for a condition by polling an event loop (QEMU: AIO_WAIT_WHILE).")
@StackTrace(false)
public final class AioWaitEvent extends Event {
    @Label("Context")
    @Description("The context whose work the caller waited for")
    public String context;

    @Label("Polled context")
    @Description("The context the waiting thread polled: the same one in its home thread, else the main context")
    public String polled;

    @Label("Polls")
    public long polls;
}
