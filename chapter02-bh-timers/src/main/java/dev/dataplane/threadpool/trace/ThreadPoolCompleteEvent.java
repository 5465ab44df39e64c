package dev.dataplane.threadpool.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/** A request's callback, timed (QEMU: thread_pool_complete and the call of the request's cb). */
@Name("dataplane.threadpool.Complete")
@Label("thread_pool_complete")
@Category({"Dataplane", "Thread pool"})
@Description("A request's completion callback run by the pool's completion bottom half; the duration is the callback's.")
@StackTrace(false)
public final class ThreadPoolCompleteEvent extends Event {
    @Label("Context")
    public String context;

    @Label("Request")
    public String name;

    @Label("Return value")
    @Description("What the work returned: bytes or another count on success, a negative errno on failure")
    public int ret;

    @Label("Cancelled")
    @Description("True if the request was cancelled while queued (ret is then -ECANCELED)")
    public boolean cancelled;

    @Label("Failed")
    @Description("True if the work threw (ret is then -EIO)")
    public boolean failed;

    @Label("Queue wait")
    @Description("From submission until a worker took the request (until the cancel, if cancelled)")
    @Timespan(Timespan.NANOSECONDS)
    public long queueWaitNs;

    @Label("Run time")
    @Description("How long the work ran on its worker; 0 if cancelled")
    @Timespan(Timespan.NANOSECONDS)
    public long runNs;

    @Label("Hand-back")
    @Description("From the moment the request was done (or cancelled) until its callback began: waking the"
            + " home thread and running the completion bottom half")
    @Timespan(Timespan.NANOSECONDS)
    public long handBackNs;
}
