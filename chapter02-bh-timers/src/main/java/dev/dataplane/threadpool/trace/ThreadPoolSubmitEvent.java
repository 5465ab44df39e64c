package dev.dataplane.threadpool.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A request was handed to a context's thread pool (QEMU: thread_pool_submit_aio). */
@Name("dataplane.threadpool.Submit")
@Label("thread_pool_submit_aio")
@Category({"Dataplane", "Thread pool"})
@Description("A request was queued for the context's worker threads, from the context's home thread.")
@StackTrace(false)
public final class ThreadPoolSubmitEvent extends Event {
    @Label("Context")
    public String context;

    @Label("Request")
    public String name;

    @Label("Queued")
    @Description("Requests waiting for a worker right after this one was queued, itself included")
    public int queued;

    @Label("Worker requested")
    @Description("True if no worker was idle and the pool asked its bottom half for one more")
    public boolean spawn;
}
