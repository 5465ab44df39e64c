package dev.dataplane.bh.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A bottom half was scheduled (QEMU: qemu_bh_schedule / aio_bh_schedule_oneshot). */
@Name("dataplane.bh.Schedule")
@Label("qemu_bh_schedule")
@Category({"Dataplane", "Bottom halves"})
@Description("A bottom half was scheduled, from any thread.")
@StackTrace(false)
public final class BhScheduleEvent extends Event {
    @Label("Context")
    public String context;

    @Label("Bottom half")
    public String name;

    @Label("Queued")
    @Description("True if this call put the bottom half on the list; false if it was already there")
    public boolean queued;

    @Label("Oneshot")
    public boolean oneshot;

    @Label("Idle")
    public boolean idle;
}
