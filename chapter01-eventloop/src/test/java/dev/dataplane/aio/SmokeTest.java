package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void readHandlerRunsWhenNotifierSet() {
        try (AioContext ctx = new AioContext(); EventNotifier n = new EventNotifier()) {
            int[] calls = {0};
            ctx.setEventNotifier(n, false, e -> { e.testAndClear(); calls[0]++; }, null, null);
            assertThat(ctx.poll(false)).isFalse();
            n.set();
            assertThat(ctx.poll(true)).isTrue();
            assertThat(calls[0]).isEqualTo(1);
            ctx.removeEventNotifier(n);
        }
    }
}
