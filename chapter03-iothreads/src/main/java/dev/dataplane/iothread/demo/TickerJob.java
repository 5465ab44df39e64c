package dev.dataplane.iothread.demo;

import dev.dataplane.iothread.AioWait;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.TimerListGroup;
import dev.dataplane.timer.TimerScale;
import java.util.function.Consumer;

/**
 * The cheapest job there is: a periodic timer in its IOThread's context that counts its runs and
 * how late they were. It shows an IOThread that sleeps in the kernel between deadlines.
 */
final class TickerJob extends Job {

    static final String KIND = "ticker";

    private final long periodMs;

    // ---- home thread only (see Job) ----
    private AioTimer tickTimer;
    private long dueMs;
    private long ticks;
    private long lateMsTotal;

    TickerJob(String name, long periodMs, AioWait aioWait, Consumer<String> live, long reportMs) {
        super(name, aioWait, live, reportMs);
        this.periodMs = periodMs;
    }

    @Override
    String kind() {
        return KIND;
    }

    @Override
    @IoCode
    void onAttach() {
        tickTimer = TimerListGroup.of(context()).newTimer(ClockType.REALTIME, TimerScale.MS, this::tick);
        dueMs = nowMs() + periodMs;
        tickTimer.mod(dueMs);
    }

    @Override
    @IoCode
    void onDetach() {
        tickTimer.del();
        tickTimer = null;
    }

    @Override
    String summary() {
        return String.format("%d ticks every %d ms, %.1f ms late on average", ticks, periodMs,
                ticks == 0 ? 0.0 : (double) lateMsTotal / ticks);
    }

    @IoCode
    private void tick() {
        ticks++;
        lateMsTotal += Math.max(0, nowMs() - dueMs);
        note(name + " ticks");
        dueMs = nextDue(dueMs, periodMs);
        tickTimer.mod(dueMs);
    }
}
