package dev.dataplane.aio.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** The context changed how it waits for fds (ppoll to epoll, or back after an epoll failure). */
@Name("dataplane.aio.FdMonitorSwitch")
@Label("fd monitor switch")
@Category({"Dataplane", "AioContext"})
@Description("The context changed how it waits for fds (ppoll to epoll, or back after an epoll failure).")
@StackTrace(false)
public final class FdMonitorSwitchEvent extends Event {
    @Label("Context")
    public String context;

    @Label("From")
    public String from;

    @Label("To")
    public String to;

    @Label("fds")
    public int fds;
}
