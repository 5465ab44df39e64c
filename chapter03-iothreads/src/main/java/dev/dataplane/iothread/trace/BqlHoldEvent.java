package dev.dataplane.iothread.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/** One hold of the Big QEMU Lock, from acquisition to release; the event's duration is the hold time. */
@Name("dataplane.bql.Hold")
@Label("BQL hold")
@Category({"Dataplane", "Threads"})
@Description("The BQL was held by one thread for the duration of this event.")
@StackTrace(false)
public final class BqlHoldEvent extends Event {
    @Label("Holder")
    public String holder;

    @Label("Waited")
    @Description("How long the holder waited for the lock before it got it")
    @Timespan(Timespan.NANOSECONDS)
    public long waitedNs;
}
