package dev.dataplane.aio.bench;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cross-thread wake-up round trip between two event loops, five ways, in one run: one operation is
 * one ping from loop A to loop B and the pong back. {@link Mode#SampleTime} times individual
 * operations, so JMH reports percentiles, not just a mean.
 *
 * <p>In every peer the JMH benchmark thread <em>is</em> loop A (it owns A's context, selector or
 * Netty loop and waits inside it), and loop B is a thread of its own. JMH runs a
 * {@link Scope#Thread} state's trial setup on the benchmark thread and, with its default executor,
 * keeps that thread for all iterations; if that ever changed, {@code AioContext.poll} and
 * Netty's {@code ManualIoEventLoop.run} would throw rather than measure something else.
 *
 * <p>Run it with {@link WakeupBenchmarkMain}: it runs the peers in interleaved rounds of one fork
 * each, pools their samples and prints the comparison table. The annotations below are only the
 * defaults for running this class with JMH's own command line.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(2)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
public class WakeupBenchmark {

    /** (a) AioContext, blocking: every message wakes its receiver out of the kernel. */
    @State(Scope.Thread)
    public static class AioBlocking {
        AioPingPong pair;

        @Setup(Level.Trial)
        public void open() {
            pair = AioPingPong.blocking();
        }

        @TearDown(Level.Trial)
        public void close() {
            pair.close();
        }
    }

    /** (a') AioContext, blocking, with messages handed over through notifyEvent() and a mailbox. */
    @State(Scope.Thread)
    public static class AioNotify {
        AioPingPong pair;

        @Setup(Level.Trial)
        public void open() {
            pair = AioPingPong.notifying();
        }

        @TearDown(Level.Trial)
        public void close() {
            pair.close();
        }
    }

    /** (b) AioContext, adaptive polling with kick suppression (QEMU's IOThread default window). */
    @State(Scope.Thread)
    public static class AioPolling {
        AioPingPong pair;

        @Setup(Level.Trial)
        public void open() {
            pair = AioPingPong.polling(AioPingPong.QEMU_IOTHREAD_POLL_MAX_NS);
        }

        @TearDown(Level.Trial)
        public void close() {
            pair.close();
        }
    }

    /** (c) Two java.nio Selectors, a volatile flag per side plus {@code wakeup()}. */
    @State(Scope.Thread)
    public static class NioSelector {
        NioPingPong pair;

        @Setup(Level.Trial)
        public void open() throws IOException {
            pair = new NioPingPong();
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            pair.close();
        }
    }

    /** (d) Netty native epoll, {@code execute()} back and forth. */
    @State(Scope.Thread)
    public static class NettyEpoll {
        NettyPingPong pair;

        @Setup(Level.Trial)
        public void open() {
            pair = new NettyPingPong();
        }

        @TearDown(Level.Trial)
        public void close() {
            pair.close();
        }
    }

    @Benchmark
    public void aioBlocking(AioBlocking s) {
        s.pair.roundTrip();
    }

    @Benchmark
    public void aioNotify(AioNotify s) {
        s.pair.roundTrip();
    }

    @Benchmark
    public void aioPolling(AioPolling s) {
        s.pair.roundTrip();
    }

    @Benchmark
    public void nioSelector(NioSelector s) throws IOException {
        s.pair.roundTrip();
    }

    @Benchmark
    public void nettyEpoll(NettyEpoll s) {
        s.pair.roundTrip();
    }
}
