package dev.dataplane.bh;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import dev.dataplane.testsupport.JfrEvents;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Test;

/** Bottom-half scheduling and dispatch as JFR events, next to chapter 1's {@code dataplane.aio.*}. */
class BhTraceEventsTest {

    @Test
    void scheduling_and_dispatch_are_recorded_with_name_queueing_and_nesting() throws Exception {
        List<RecordedEvent> events = JfrEvents.record(BhTraceEventsTest::exercise,
                "dataplane.bh.Schedule", "dataplane.bh.Dispatch");
        Map<String, List<RecordedEvent>> byName = events.stream()
                .filter(e -> "bh-traced".equals(e.getString("context")))
                .collect(Collectors.groupingBy(e -> e.getEventType().getName()));

        assertThat(byName.get("dataplane.bh.Schedule"))
                .filteredOn(e -> e.getString("name").equals("outer"))
                .extracting(e -> e.getBoolean("queued"))
                .containsExactly(true, false, true); // the third is delete(), which queues it again
        assertThat(byName.get("dataplane.bh.Schedule"))
                .anySatisfy(e -> {
                    assertThat(e.getString("name")).isEqualTo("once");
                    assertThat(e.getBoolean("oneshot")).isTrue();
                });
        assertThat(byName.get("dataplane.bh.Dispatch"))
                .extracting(e -> e.getString("name") + "@" + e.getInt("depth"))
                .containsExactlyInAnyOrder("once@0", "outer@0", "inner@1");
    }

    /** Two bottom halves, one of them nested, and a oneshot. */
    private static void exercise() {
        try (AioContext ctx = AioContext.builder().name("bh-traced").build()) {
            BottomHalves bhs = BottomHalves.of(ctx);
            BottomHalf inner = bhs.newBh("inner", () -> { });
            BottomHalf outer = bhs.newBh("outer", () -> {
                inner.schedule();
                ctx.poll(false); // inner runs nested, at depth 1
            });
            outer.schedule();
            outer.schedule();    // already queued: traced with queued=false
            bhs.scheduleOneshot("once", () -> { });
            ctx.poll(false);
            inner.delete();
            outer.delete();
            ctx.poll(false);
        }
    }
}
