package dev.dataplane.timer.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * One timer callback run by a timer list's pass; the event's duration is the callback's. QEMU
 * has no single trace point for this ({@code timerlist_run_timers} is silent); it is the one
 * a reader of a slow loop asks for first: which clock, how late, how long.
 */
@Name("dataplane.timer.Expire")
@Label("timer expire")
@Category({"Dataplane", "Timers"})
@Description("One timer callback run by a timer list's pass; the duration is the callback's.")
@StackTrace(false)
public final class TimerExpireEvent extends Event {
    @Label("Context")
    @Description("The owner of the timer list, for a context's timers the context's name")
    public String context;

    @Label("Clock")
    public String clock;

    @Label("Lateness")
    @Description("The pass's clock reading minus the timer's expiry: how long the timer waited past its deadline")
    @Timespan(Timespan.NANOSECONDS)
    public long latenessNs;
}
