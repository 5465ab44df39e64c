package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.EventNotifier;
import dev.dataplane.bh.BottomHalf;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.MainLoopThread;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.Clocks;
import dev.dataplane.timer.ManualTimeSource;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The main loop and the BQL: held while dispatching, released while its own iteration sleeps (and,
 * see {@link MainLoopBusyBqlTest}, for a moment after an iteration that did not sleep).
 */
class MainLoopTest {

    @Test
    @Tag("ch03-current-context")
    void creatingAMainLoopMakesTheCallingThreadItsHolderOfTheBql() {
        try (MainLoop main = MainLoop.create()) {
            assertThat(main.bql().isHeld()).isTrue();
            assertThat(main.inMainLoopThread()).isTrue();
            assertThat(CurrentContext.get()).isSameAs(main.context());
            assertThat(MainLoop.current()).isSameAs(main);
            assertThat(CodeRules.inMainLoop()).isTrue();
            assertThat(main.context().inHomeThread()).isTrue();
        }
        assertThat(CurrentContext.get()).as("forgotten at close").isNull();
        assertThat(MainLoop.current()).isNull();
    }

    @Test
    void theBqlIsNotRecursive() {
        try (MainLoop main = MainLoop.create()) {
            assertThatThrownBy(() -> main.bql().lock())
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not recursive");
        }
    }

    @Test
    void aThreadCannotBecomeASecondMainLoop() {
        try (MainLoop main = MainLoop.create()) {
            assertThatThrownBy(MainLoop::create)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already runs the event loop");
            assertThat(main.bql().isHeld()).isTrue();
        }
    }

    @Test
    @Tag("ch03-main-loop-sleep")
    void whileTheMainLoopSleepsAnotherThreadCanTakeTheBqlAndTheLoopWaitsForItBeforeDispatching() {
        try (MainLoopThread main = new MainLoopThread()) {
            Bql bql = main.loop().bql();
            AtomicReference<String> ranOn = new AtomicReference<>();
            AtomicBoolean ranWithBql = new AtomicBoolean();
            CountDownLatch ran = new CountDownLatch(1);
            bql.lock(); // possible only because the main loop let go of it to sleep
            try {
                assertThat(CurrentContext.get()).as("a BQL holder sees the main context").isSameAs(main.loop().context());
                BottomHalves.of(main.loop().context()).scheduleOneshot("after-vcpu", () -> {
                    ranOn.set(Thread.currentThread().getName());
                    ranWithBql.set(bql.isHeld());
                    ran.countDown();
                });
                // The bottom half woke the main loop, which now needs the BQL before it may run it.
                long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
                while (!bql.hasQueuedThread(main.thread())) {
                    Thread.onSpinWait();
                    assertThat(System.nanoTime()).as("main loop queues for the BQL").isLessThan(deadline);
                }
                assertThat(ranOn.get()).as("nothing runs while we hold the BQL").isNull();
            } finally {
                bql.unlock();
            }
            Timeouts.await(ran);
            assertThat(ranOn.get()).isEqualTo("main-loop");
            assertThat(ranWithBql.get()).isTrue();
        }
    }

    @Test
    @Tag("ch03-main-loop-sleep")
    void aNestedWaitInTheMainLoopKeepsTheBql() {
        try (MainLoopThread main = new MainLoopThread()) {
            Bql bql = main.loop().bql();
            IoThread io = main.call(() -> IoThread.start("iothread0"));
            AtomicBoolean lockedDuringWait = new AtomicBoolean();
            AtomicBoolean done = new AtomicBoolean();
            boolean waited = main.call(() -> {
                BottomHalves.of(io.context()).scheduleOneshot("observe", () -> {
                    // The main loop is inside waitWhile, sleeping in a nested poll.
                    Waiters.untilPolling(main.loop(), 0);
                    lockedDuringWait.set(bql.isLocked());
                    done.set(true);
                    main.loop().aioWait().kick();
                });
                return main.loop().aioWait().waitWhile(io.context(), () -> !done.get());
            });
            assertThat(waited).isTrue();
            assertThat(lockedDuringWait.get()).as("BQL held by the waiting main loop").isTrue();
            main.run(io::stop);
        }
    }

    @Test
    void aThreadWithoutTheBqlMayNotPollTheMainContext() {
        try (MainLoopThread main = new MainLoopThread()) {
            assertThatThrownBy(() -> main.loop().context().poll(false))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("a thread holding the BQL");
            assertThat(CurrentContext.get()).isNull();
        }
    }

    @Test
    void aBqlHolderMayPollTheMainContextItself() {
        try (MainLoopThread main = new MainLoopThread()) {
            Bql bql = main.loop().bql();
            AtomicReference<String> ranOn = new AtomicReference<>();
            bql.withLock(() -> {
                BottomHalves.of(main.loop().context()).scheduleOneshot("vcpu-runs-it",
                        () -> ranOn.set(Thread.currentThread().getName()));
                assertThat(main.loop().context().poll(false)).isTrue();
            });
            assertThat(ranOn.get()).isEqualTo(Thread.currentThread().getName());
        }
    }

    @Test
    void requestQuitFromAnyThreadEndsRun() throws Exception {
        AtomicReference<MainLoop> loop = new AtomicReference<>();
        CountDownLatch created = new CountDownLatch(1);
        AtomicInteger iterations = new AtomicInteger(-1);
        Thread t = new Thread(() -> {
            try (MainLoop main = MainLoop.create()) {
                loop.set(main);
                created.countDown();
                main.run();
                iterations.set((int) main.iterations());
            }
        }, "main-loop");
        t.start();
        Timeouts.await(created);
        loop.get().requestQuit();
        Timeouts.join(t);
        assertThat(iterations.get()).isPositive();
    }

    @Test
    void iterateIsNotReentrant() {
        try (MainLoop main = MainLoop.create()) {
            AtomicReference<Throwable> error = new AtomicReference<>();
            BottomHalves.of(main.context()).scheduleOneshot("nested-iterate", () -> {
                try {
                    main.iterate(true);
                } catch (Throwable t) {
                    error.set(t);
                }
            });
            main.iterate(true);
            assertThat(error.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("AioWait.waitWhile");
        }
    }

    @Test
    void mainLoopTimersRunInIterateButNeverInsideANestedWait() {
        ManualTimeSource time = new ManualTimeSource();
        try (MainLoop main = MainLoop.builder().clocks(Clocks.using(time)).build();
             IoThread io = IoThread.start("iothread0")) {
            AtomicBoolean timerRan = new AtomicBoolean();
            AtomicBoolean ranDuringWait = new AtomicBoolean();
            AioTimer timer = MainLoopHelpers.timerNewMs(ClockType.REALTIME, () -> timerRan.set(true));
            timer.mod(main.clocks().now(ClockType.REALTIME, dev.dataplane.timer.TimerScale.MS)); // due now
            AtomicBoolean done = new AtomicBoolean();
            BottomHalves.of(main.context()).scheduleOneshot("nested-wait", () -> {
                BottomHalves.of(io.context()).scheduleOneshot("finish", () -> {
                    Waiters.untilPolling(main, 0);
                    done.set(true);
                    main.aioWait().kick();
                });
                main.aioWait().waitWhile(io.context(), () -> !done.get());
                ranDuringWait.set(timerRan.get());
            });
            main.iterate(true);
            assertThat(ranDuringWait.get()).as("no main-loop timer inside the nested wait").isFalse();
            assertThat(timerRan.get()).as("run by iterate after its poll").isTrue();
        }
    }

    @Test
    void theMainLoopSleepsUntilItsNextTimer() throws Exception {
        try (MainLoopThread main = new MainLoopThread()) {
            CountDownLatch fired = new CountDownLatch(1);
            main.run(() -> MainLoopHelpers.timerNewMs(ClockType.REALTIME, () -> {
                assertThat(main.loop().bql().isHeld()).isTrue();
                fired.countDown();
            }).mod(main.loop().clocks().now(ClockType.REALTIME, dev.dataplane.timer.TimerScale.MS) + 20));
            Timeouts.await(fired); // nothing else wakes the loop: the timer's deadline must bound its sleep
        }
    }

    @Test
    void legacyHelpersWorkInTheMainLoopAndRunThereWithTheBql() throws Exception {
        try (MainLoopThread main = new MainLoopThread(); EventNotifier n = new EventNotifier()) {
            AtomicReference<String> bhOn = new AtomicReference<>();
            CountDownLatch notified = new CountDownLatch(1);
            main.run(() -> {
                BottomHalf bh = MainLoopHelpers.bhNew("legacy", () -> bhOn.set(Thread.currentThread().getName()
                        + (main.loop().bql().isHeld() ? "+bql" : "")));
                bh.schedule();
                MainLoopHelpers.setEventNotifierHandler(n, e -> {
                    e.testAndClear();
                    notified.countDown();
                });
            });
            n.set();
            Timeouts.await(notified);
            main.run(() -> MainLoopHelpers.setEventNotifierHandler(n, null));
            assertThat(bhOn.get()).isEqualTo("main-loop+bql");
        }
    }

    @Test
    void legacyHelpersRefuseAnIoThreadWithAClearMessage() {
        try (MainLoop main = MainLoop.create(); IoThread io = IoThread.start("iothread0")) {
            assertThatThrownBy(() -> main.aioWait().runInContext(io.context(),
                    () -> MainLoopHelpers.bhNew("wrong-thread", () -> { })))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("MainLoopHelpers.bhNew")
                    .hasMessageContaining("'iothread0'")
                    .hasMessageContaining("BottomHalves.of(ctx).newBh");
            assertThatThrownBy(() -> main.aioWait().runInContext(io.context(),
                    () -> MainLoopHelpers.setFdHandler(0, () -> { }, null)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("ctx.setFdHandler");
        }
    }
}
