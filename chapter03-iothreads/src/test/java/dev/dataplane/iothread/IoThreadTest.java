package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioTestSeams;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.threadpool.ThreadPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The IOThread: a named thread running its own context until a oneshot bottom half stops it. */
class IoThreadTest {

    /** The test thread is the main loop: IOThreads are started and stopped by global-state code. */
    private MainLoop main;

    @BeforeEach
    void createMainLoop() {
        main = MainLoop.create();
    }

    @AfterEach
    void closeMainLoop() {
        main.close();
    }

    /** An IOThread whose first sleep in the kernel (an idle loop) opens the returned latch. */
    private static IoThread startWatchingSleep(String name, CountDownLatch asleep) {
        return IoThread.builder(name)
                .contextOptions(b -> AioTestSeams.beforeWait(b, timeout -> {
                    if (timeout == -1) {
                        asleep.countDown();
                    }
                }))
                .start();
    }

    @Test
    void theThreadIsNamedOwnsItsContextAndSeesItAsItsCurrentOne() {
        try (IoThread io = IoThread.start("iothread0")) {
            AtomicReference<String> name = new AtomicReference<>();
            AtomicReference<AioContext> current = new AtomicReference<>();
            main.aioWait().runInContext(io.context(), () -> {
                name.set(Thread.currentThread().getName());
                current.set(CurrentContext.get());
            });
            assertThat(name.get()).isEqualTo("iothread0");
            assertThat(current.get()).isSameAs(io.context());
            assertThat(io.context().homeThread()).isSameAs(io.thread());
            assertThat(io.context().inHomeThread()).as("the main loop is not its home").isFalse();
            assertThat(io.isRunning()).isTrue();
        }
    }

    @Test
    @Tag("ch03-iothread-stop")
    void stoppingAnIdleThreadWakesItAndJoinsIt() {
        CountDownLatch asleep = new CountDownLatch(1);
        IoThread io = startWatchingSleep("idle", asleep);
        Timeouts.await(asleep); // asleep in poll(-1): only work or a kick can end that
        io.stop();
        assertThat(io.thread().isAlive()).isFalse();
        assertThat(io.isRunning()).isFalse();
    }

    @Test
    @Tag("ch03-iothread-stop")
    void stoppingABusyThreadLetsTheRunningCallbackFinishFirst() throws Exception {
        IoThread io = IoThread.start("busy");
        CountDownLatch inCallback = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean callbackFinished = new AtomicBoolean();
        BottomHalves.of(io.context()).scheduleOneshot("busy-work", () -> {
            inCallback.countDown();
            Timeouts.await(release);
            callbackFinished.set(true);
        });
        Timeouts.await(inCallback);
        // Release the callback only once the stop has reached the context (its bottom half makes
        // the context "notified"), so the stop really arrives while the thread is busy.
        Thread releaser = new Thread(() -> {
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            while (!AioTestSeams.isNotified(io.context()) && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            release.countDown();
        });
        releaser.start();
        io.stop();
        releaser.join();
        assertThat(callbackFinished.get()).isTrue();
        assertThat(io.thread().isAlive()).isFalse();
    }

    @Test
    @Tag("ch03-iothread-stop")
    void workScheduledBeforeTheStopStillRuns() {
        IoThread io = IoThread.start("drain");
        AtomicInteger ran = new AtomicInteger();
        CountDownLatch hold = new CountDownLatch(1);
        // Hold the thread in a callback so the three oneshots and the stop land in one pass.
        BottomHalves.of(io.context()).scheduleOneshot("hold", () -> Timeouts.await(hold));
        for (int i = 0; i < 3; i++) {
            BottomHalves.of(io.context()).scheduleOneshot("work-" + i, ran::incrementAndGet);
        }
        hold.countDown();
        io.stop();
        assertThat(ran.get()).isEqualTo(3);
    }

    @Test
    void stoppingTwiceIsHarmless() {
        IoThread io = IoThread.start("twice");
        io.stop();
        io.stop();
        assertThat(io.thread().isAlive()).isFalse();
    }

    @Test
    void anIoThreadCannotStopItself() {
        try (IoThread io = IoThread.start("self")) {
            assertThatThrownBy(() -> main.aioWait().runInContext(io.context(), io::stop))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("IOThread 'self' cannot stop itself");
            assertThat(io.isRunning()).isTrue();
        }
    }

    @Test
    void onlyTheMainLoopStartsAndStopsIoThreads() throws Exception {
        IoThread io = IoThread.start("owned");
        AtomicReference<Throwable> startError = new AtomicReference<>();
        AtomicReference<Throwable> stopError = new AtomicReference<>();
        Thread stranger = new Thread(() -> {
            try {
                IoThread.start("stray");
            } catch (Throwable t) {
                startError.set(t);
            }
            try {
                io.stop();
            } catch (Throwable t) {
                stopError.set(t);
            }
        }, "stranger");
        stranger.start();
        stranger.join(Timeouts.HANDSHAKE.toMillis());
        assertThat(startError.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("global-state code").hasMessageContaining("'stranger'");
        assertThat(stopError.get()).isInstanceOf(IllegalStateException.class);
        assertThat(io.isRunning()).isTrue();
        io.stop();
    }

    @Test
    void manyStartStopCyclesLeakNeitherThreadsNorFileDescriptors() throws IOException {
        // One cycle first, so that lazily created JVM and JNA resources are not counted as leaks.
        cycle(0);
        long fdsBefore = openFds();
        int threadsBefore = Thread.activeCount();
        for (int i = 1; i <= 200; i++) {
            cycle(i);
        }
        assertThat(openFds()).isEqualTo(fdsBefore);
        assertThat(Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("cycle-") || t.getName().contains("cycle-"))
                .filter(Thread::isAlive)
                .toList()).isEmpty();
        assertThat(Thread.activeCount()).isLessThanOrEqualTo(threadsBefore);
    }

    /** Start, use the context and its thread pool, stop. */
    private void cycle(int i) {
        IoThread io = IoThread.start("cycle-" + i);
        AtomicInteger result = new AtomicInteger(-1);
        main.aioWait().runInContext(io.context(), () ->
                ThreadPool.of(io.context()).submit("job", () -> 42, (req, ret) -> {
                    result.set(ret);
                    main.aioWait().kick();
                }));
        main.aioWait().waitWhile(io.context(), () -> result.get() < 0);
        assertThat(result.get()).isEqualTo(42);
        io.stop();
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void statisticsShowIterationsDispatchesAndTimeAsleep() {
        CountDownLatch asleep = new CountDownLatch(1);
        IoThread io = startWatchingSleep("stats", asleep);
        for (int i = 0; i < 5; i++) {
            main.aioWait().runInContext(io.context(), () -> { });
        }
        Timeouts.await(asleep);
        IoThread.Statistics running = io.statistics();
        assertThat(running.name()).isEqualTo("stats");
        assertThat(running.running()).isTrue();
        assertThat(running.iterations()).isGreaterThanOrEqualTo(5);
        assertThat(running.waits()).isPositive();
        assertThat(running.aliveNs()).isPositive();
        io.stop();
        IoThread.Statistics stopped = io.statistics();
        assertThat(stopped.running()).isFalse();
        assertThat(stopped.blockedNs()).as("it slept between the calls").isPositive();
        assertThat(stopped.iterations()).isGreaterThanOrEqualTo(running.iterations());
    }

    @Test
    void pollParametersApplyAtStartAndWhileRunning() {
        try (IoThread io = IoThread.builder("polling").pollParams(32_768, 2, 2).start()) {
            assertThat(io.context().pollMaxNs()).isEqualTo(32_768);
            io.setPollParams(0, 0, 0);
            assertThat(io.context().pollMaxNs()).isZero();
        }
    }

    @Test
    void threadPoolLimitsApplyToTheContextsPool() {
        try (IoThread io = IoThread.builder("pooled").threadPool(2, 4).start()) {
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            while (ThreadPool.of(io.context()).statistics().workers() < 2 && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // the minimum is started by a bottom half in the IOThread
            }
            assertThat(ThreadPool.of(io.context()).statistics().workers()).isEqualTo(2);
        }
    }

    @Test
    void aFailureInsideTheLoopIsReportedByStop() throws InterruptedException {
        IoThread io = IoThread.start("failing");
        BottomHalves.of(io.context()).scheduleOneshot("boom", () -> {
            throw new IllegalArgumentException("boom");
        });
        io.thread().join(Timeouts.HANDSHAKE.toMillis()); // the loop ends on the exception
        assertThatThrownBy(io::stop)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'failing' failed")
                .hasRootCauseMessage("boom");
        assertThat(io.thread().isAlive()).isFalse();
        assertThat(List.of(io.toString())).allMatch(s -> s.contains("stopped"));
    }
}
