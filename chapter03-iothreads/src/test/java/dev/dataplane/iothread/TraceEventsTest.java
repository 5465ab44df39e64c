package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.JfrEvents;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Test;

/** Chapter 3's JFR events: IOThread start and stop, BQL holds with their holder, cross-thread waits. */
class TraceEventsTest {

    private static List<RecordedEvent> named(List<RecordedEvent> events, String type) {
        return events.stream().filter(e -> e.getEventType().getName().equals(type)).toList();
    }

    @Test
    void startStopHoldAndWaitAreRecorded() throws Exception {
        List<RecordedEvent> events = JfrEvents.record(() -> {
            try (MainLoop main = MainLoop.builder().name("traced-main").build()) {
                IoThread io = IoThread.start("traced-io");
                AtomicBoolean done = new AtomicBoolean();
                BottomHalves.of(io.context()).scheduleOneshot("finish", () -> {
                    Waiters.untilPolling(main, 0);
                    done.set(true);
                    main.aioWait().kick();
                });
                main.aioWait().waitWhile(io.context(), () -> !done.get());
                io.stop();
            }
        }, "dataplane.iothread.Start", "dataplane.iothread.Stop", "dataplane.bql.Hold", "dataplane.aiowait.Wait");

        List<RecordedEvent> starts = named(events, "dataplane.iothread.Start");
        assertThat(starts).extracting(e -> e.getString("name")).containsExactly("traced-io");
        List<RecordedEvent> stops = named(events, "dataplane.iothread.Stop");
        assertThat(stops).extracting(e -> e.getString("name")).containsExactly("traced-io");
        assertThat(stops.get(0).getLong("iterations")).isPositive();

        List<RecordedEvent> holds = named(events, "dataplane.bql.Hold");
        assertThat(holds).isNotEmpty();
        assertThat(holds).allSatisfy(e -> {
            assertThat(e.getString("holder")).isEqualTo(Thread.currentThread().getName());
            assertThat(e.getDuration()).isPositive();
        });

        List<RecordedEvent> waits = named(events, "dataplane.aiowait.Wait");
        assertThat(waits).hasSize(1);
        assertThat(waits.get(0).getString("context")).isEqualTo("traced-io");
        assertThat(waits.get(0).getString("polled")).isEqualTo("traced-main");
        assertThat(waits.get(0).getLong("polls")).isPositive();
    }
}
