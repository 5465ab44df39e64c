package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;

/** Every timer callback is a {@code dataplane.timer.Expire} JFR event when a recording asks for it. */
class TimerTraceEventsTest {

    @Test
    void eachTimerCallbackIsRecordedWithItsContextClockAndLateness() throws Exception {
        Path file = Files.createTempFile("timer-trace", ".jfr");
        List<RecordedEvent> events;
        try (Recording recording = new Recording()) {
            recording.enable("dataplane.timer.Expire").withThreshold(Duration.ZERO);
            recording.start();
            exercise();
            recording.stop();
            recording.dump(file);
            events = RecordingFile.readAllEvents(file).stream()
                    .filter(e -> e.getEventType().getName().equals("dataplane.timer.Expire"))
                    .filter(e -> "traced-timers".equals(e.getString("context")))
                    .toList();
        } finally {
            Files.deleteIfExists(file);
        }

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
