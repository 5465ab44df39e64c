package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import dev.dataplane.testsupport.JfrEvents;
import java.time.Duration;
import java.util.List;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Test;

/** Every timer callback is a {@code dataplane.timer.Expire} JFR event when a recording asks for it. */
class TimerTraceEventsTest {

    @Test
    void eachTimerCallbackIsRecordedWithItsContextClockAndLateness() throws Exception {
        List<RecordedEvent> events = JfrEvents.record(TimerTraceEventsTest::exercise, "dataplane.timer.Expire")
                .stream()
                .filter(e -> "traced-timers".equals(e.getString("context")))
                .toList();

        assertThat(events).hasSize(2);
        assertThat(events).extracting(e -> e.getString("clock")).containsExactlyInAnyOrder("REALTIME", "HOST");
        assertThat(events).filteredOn(e -> e.getString("clock").equals("REALTIME"))
                .singleElement().satisfies(e -> assertThat(e.getLong("latenessNs")).isEqualTo(250));
        assertThat(events).filteredOn(e -> e.getString("clock").equals("HOST"))
                .singleElement().satisfies(e -> assertThat(e.getLong("latenessNs")).isZero());
        assertThat(events).allSatisfy(e -> assertThat(e.getDuration()).isGreaterThanOrEqualTo(Duration.ZERO));
    }

    private static void exercise() {
        ManualTimeSource time = new ManualTimeSource(0, 10_000);
        try (AioContext ctx = AioContext.builder().name("traced-timers").build()) {
            TimerListGroup timers = TimerListGroup.of(ctx, Clocks.using(time));
            timers.newTimer(ClockType.REALTIME, TimerScale.NS, () -> { }).modNs(100);
            timers.newTimer(ClockType.HOST, TimerScale.NS, () -> { }).modNs(10_350);
            timers.newTimer(ClockType.REALTIME, TimerScale.NS, () -> { }).modNs(351); // not due: no event
            time.advance(350);
            ctx.poll(false);
        }
    }
}
