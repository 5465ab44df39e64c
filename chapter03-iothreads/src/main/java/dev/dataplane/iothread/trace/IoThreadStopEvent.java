package dev.dataplane.iothread.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** An IOThread was stopped; the duration runs from the request to the end of the join. */
@Name("dataplane.iothread.Stop")
@Label("IOThread stop")
@Category({"Dataplane", "Threads"})
@Description("An IOThread was stopped with a oneshot bottom half and joined (QEMU: iothread_stop).")
@StackTrace(false)
public final class IoThreadStopEvent extends Event {
    @Label("IOThread")
    public String name;

    @Label("Iterations")
    @Description("Loop iterations the thread ran in its life")
    public long iterations;
}
