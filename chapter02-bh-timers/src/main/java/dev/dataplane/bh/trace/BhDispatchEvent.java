package dev.dataplane.bh.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** One bottom-half callback, timed (QEMU: aio_bh_call). */
@Name("dataplane.bh.Dispatch")
@Label("aio_bh_call")
@Category({"Dataplane", "Bottom halves"})
@Description("A bottom-half callback run by its context's home thread; the duration is the callback's.")
@StackTrace(false)
public final class BhDispatchEvent extends Event {
    @Label("Context")
    public String context;

    @Label("Bottom half")
    public String name;

    @Label("Idle")
    public boolean idle;

    @Label("Nesting")
    @Description("0 for a bottom half run by the outermost poll, 1 or more when a callback polled again")
    public int depth;
}
