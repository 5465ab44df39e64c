package dev.dataplane.iothread.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** An IOThread started; the duration covers creating its context and waiting for the thread to run. */
@Name("dataplane.iothread.Start")
@Label("IOThread start")
@Category({"Dataplane", "Threads"})
@Description("An IOThread was started (QEMU: iothread_init).")
@StackTrace(false)
public final class IoThreadStartEvent extends Event {
    @Label("IOThread")
    public String name;
}
