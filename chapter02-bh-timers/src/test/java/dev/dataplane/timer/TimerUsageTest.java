package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The everyday calls, as the book shows them: a timer armed 500 ms ahead fires once that time has passed. */
class TimerUsageTest {

    @Test
    void a_timer_armed_500_ms_ahead_fires_in_the_first_poll_after_500_ms() {
        ManualTimeSource time = new ManualTimeSource();
        AtomicInteger ticks = new AtomicInteger();
        try (AioContext ctx = AioContext.builder().name("usage").build()) {
            // tag::timer-usage[]
            TimerListGroup timers = TimerListGroup.of(ctx, Clocks.using(time));
            AioTimer tick = timers.newTimer(ClockType.REALTIME, TimerScale.MS, ticks::incrementAndGet);
            tick.mod(timers.clocks().now(ClockType.REALTIME, TimerScale.MS) + 500); // in 500 ms
            // end::timer-usage[]
            time.advance(Duration.ofMillis(499));
            ctx.poll(false);
            assertThat(ticks).as("not before its deadline").hasValue(0);
            time.advance(Duration.ofMillis(1));
            ctx.poll(false);
            assertThat(ticks).hasValue(1);
            assertThat(tick.isPending()).isFalse();
        }
    }
}
