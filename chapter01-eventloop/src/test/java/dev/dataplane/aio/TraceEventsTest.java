package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.testsupport.JfrEvents;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Test;

/** QEMU's trace points, as JFR events: recorded when asked for, with the fields that matter. */
class TraceEventsTest {

    @Test
    void pollDispatchNotifyAndPollingEventsAreRecorded() throws Exception {
        List<RecordedEvent> events = JfrEvents.record(TraceEventsTest::exercise,
                Stream.of("Poll", "RunPollHandlers", "Dispatch", "Notify", "PollWindow", "FdMonitorSwitch")
                        .map(name -> "dataplane.aio." + name).toArray(String[]::new));
        Map<String, List<RecordedEvent>> byName = events.stream()
                .filter(e -> "traced".equals(e.getString("context")))
                .collect(Collectors.groupingBy(e -> e.getEventType().getName()));

        assertThat(byName).containsKeys("dataplane.aio.Poll", "dataplane.aio.Dispatch", "dataplane.aio.Notify",
                "dataplane.aio.RunPollHandlers", "dataplane.aio.PollWindow", "dataplane.aio.FdMonitorSwitch");
        assertThat(byName.get("dataplane.aio.Dispatch"))
                .anySatisfy(e -> assertThat(e.getString("callback")).isEqualTo("read"))
                .anySatisfy(e -> assertThat(e.getString("callback")).isEqualTo("pollReady"));
        assertThat(byName.get("dataplane.aio.Poll"))
                .anySatisfy(e -> assertThat(e.getBoolean("progress")).isTrue())
                .anySatisfy(e -> assertThat(e.getBoolean("blocking")).isTrue());
        assertThat(byName.get("dataplane.aio.Notify"))
                .allSatisfy(e -> assertThat(e.getBoolean("wroteEventfd")).isFalse());
        assertThat(byName.get("dataplane.aio.PollWindow"))
                .anySatisfy(e -> assertThat(e.getLong("newNs")).isEqualTo(AioContext.INITIAL_POLL_NS));
        assertThat(byName.get("dataplane.aio.FdMonitorSwitch"))
                .anySatisfy(e -> assertThat(e.getString("to")).isEqualTo("epoll"));
    }

    private static void exercise() {
        List<EventNotifier> extra = new ArrayList<>();
        try (AioContext ctx = AioContext.builder().name("traced").epollThreshold(4).build();
             EventNotifier n = new EventNotifier()) {
            AtomicBoolean work = new AtomicBoolean();
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, work::get, e -> work.set(false));
            TestSources.dispatchThroughFd(ctx, n); // read, then the window grows (PollWindow)
            work.set(true);
            ctx.poll(true);        // found by busy polling (RunPollHandlers, pollReady)
            for (int i = 0; i < 4; i++) {
                EventNotifier e = new EventNotifier();
                extra.add(e);
                ctx.setEventNotifier(e, false, EventNotifier::testAndClear, null, null);
            }
            ctx.poll(false);       // 6 fds >= 4: switch to epoll
            extra.forEach(ctx::removeEventNotifier);
            ctx.removeEventNotifier(n);
        } finally {
            extra.forEach(EventNotifier::close);
        }
    }
}
