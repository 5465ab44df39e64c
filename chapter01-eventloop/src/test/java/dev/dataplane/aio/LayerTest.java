package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.testsupport.Timeouts;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The per-context slots through which later chapters attach their state to a context. */
class LayerTest {

    record Counter(int n) {
    }

    static class Closer implements AutoCloseable {
        final String name;
        final List<String> log;

        Closer(String name, List<String> log) {
            this.name = name;
            this.log = log;
        }

        @Override
        public void close() {
            log.add(name);
        }
    }

    static final class First extends Closer {
        First(List<String> log) {
            super("first", log);
        }
    }

    static final class Second extends Closer {
        Second(List<String> log) {
            super("second", log);
        }
    }

    @Test
    void the_same_type_always_yields_the_same_object() {
        try (AioContext ctx = new AioContext()) {
            Counter a = ctx.layer(Counter.class, c -> new Counter(1));
            Counter b = ctx.layer(Counter.class, c -> new Counter(2));
            assertThat(b).isSameAs(a);
        }
    }

    @Test
    void racing_threads_create_a_layer_once() throws Exception {
        int threads = 8;
        AtomicInteger created = new AtomicInteger();
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Counter> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch done = new CountDownLatch(threads);
        try (AioContext ctx = new AioContext()) {
            for (int i = 0; i < threads; i++) {
                new Thread(() -> {
                    try {
                        start.await();
                        seen.add(ctx.layer(Counter.class, c -> new Counter(created.incrementAndGet())));
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    } finally {
                        done.countDown();
                    }
                }).start();
            }
            assertThat(done.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        }
        assertThat(created).hasValue(1);
        assertThat(seen).hasSize(threads).allSatisfy(c -> assertThat(c).isSameAs(seen.get(0)));
    }

    @Test
    void a_layer_may_create_another_while_being_created() {
        List<String> log = new ArrayList<>();
        try (AioContext ctx = new AioContext()) {
            Second second = ctx.layer(Second.class, c -> {
                c.layer(First.class, x -> new First(log));
                return new Second(log);
            });
            assertThat(ctx.layer(First.class, x -> null)).isNotNull();
            assertThat(second).isNotNull();
        }
        assertThat(log).containsExactly("second", "first");
    }

    @Test
    void close_closes_layers_newest_first_even_if_one_fails() {
        List<String> log = new ArrayList<>();
        AioContext ctx = new AioContext();
        ctx.layer(First.class, c -> new First(log));
        ctx.layer(Runnable.class, c -> () -> { });          // not closeable: left alone
        ctx.layer(AutoCloseable.class, c -> () -> {
            throw new IllegalStateException("boom");
        });
        ctx.layer(Second.class, c -> new Second(log));
        assertThatThrownBy(ctx::close).hasMessageContaining("closing layer").hasRootCauseMessage("boom");
        assertThat(log).containsExactly("second", "first");
        assertThatThrownBy(() -> ctx.layer(Counter.class, c -> new Counter(0)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }
}
