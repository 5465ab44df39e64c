package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.threadpool.ThreadPool;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** AIO_WAIT_WHILE: who may wait, what it polls, and the kick that ends the wait. */
class AioWaitTest {

    private MainLoop main;
    private IoThread io0;
    private IoThread io1;

    @BeforeEach
    void start() {
        main = MainLoop.create();
        io0 = IoThread.start("iothread0");
        io1 = IoThread.start("iothread1");
    }

    @AfterEach
    void stop() {
        io1.stop();
        io0.stop();
        main.close();
    }

    // tag::wait-usage[]
    /** Makes {@code flag} true from {@code io}'s thread once somebody is waiting, then kicks. */
    private void setFromIoThreadOnceWaiting(IoThread io, AtomicBoolean flag) {
        BottomHalves.of(io.context()).scheduleOneshot("set-flag", () -> {
            Waiters.untilPolling(main, 0);
            flag.set(true);
            main.aioWait().kick();
        });
    }

    @Test
    @Tag("ch03-wait-context")
    void theMainLoopWaitsForAConditionThatAnotherIoThreadChanges() {
        AtomicBoolean done = new AtomicBoolean();
        setFromIoThreadOnceWaiting(io1, done);
        boolean waited = main.aioWait().waitWhile(io0.context(), () -> !done.get());
        assertThat(waited).isTrue();
        assertThat(done.get()).isTrue();
        assertThat(main.aioWait().waiters()).isZero();
    }
    // end::wait-usage[]

    @Test
    @Tag("ch03-wait-context")
    void aConditionThatIsAlreadyFalseDoesNotWait() {
        assertThat(main.aioWait().waitWhile(io0.context(), () -> false)).isFalse();
    }

    @Test
    @Tag("ch03-wait-context")
    void anIoThreadWaitsInItsOwnContextAndItsOwnWorkEndsTheWait() {
        AtomicReference<String> waitedOn = new AtomicReference<>();
        boolean waited = main.aioWait().callInContext(io0.context(), () -> {
            AtomicInteger result = new AtomicInteger(-1);
            // Work completed in this very context (a thread-pool request) changes the condition.
            ThreadPool.of(io0.context()).submit("work", () -> 7, (req, ret) -> result.set(ret));
            boolean w = main.aioWait().waitWhile(io0.context(), () -> result.get() < 0);
            waitedOn.set(Thread.currentThread().getName() + ":" + result.get());
            return w;
        });
        assertThat(waited).isTrue();
        assertThat(waitedOn.get()).isEqualTo("iothread0:7");
    }

    @Test
    @Tag("ch03-wait-context")
    void anIoThreadMayNotWaitForAnotherIoThreadsContext() {
        assertThatThrownBy(() -> main.aioWait().runInContext(io0.context(),
                () -> main.aioWait().waitWhile(io1.context(), () -> true)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("AioWait.waitWhile for context 'iothread1'")
                .hasMessageContaining("from thread 'iothread0'")
                .hasMessageContaining("Wait in the main loop instead");
    }

    @Test
    @Tag("ch03-wait-context")
    void aThreadWithoutTheBqlOrAContextMayNotWaitAndIsToldWhy() throws Exception {
        AtomicReference<Throwable> error = new AtomicReference<>();
        Thread stray = new Thread(() -> {
            try {
                main.aioWait().waitWhile(io0.context(), () -> true);
            } catch (Throwable t) {
                error.set(t);
            }
        }, "migration");
        stray.start();
        stray.join(Timeouts.HANDSHAKE.toMillis());
        assertThat(error.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("from thread 'migration'")
                .hasMessageContaining("a thread holding the BQL");
        assertThat(main.aioWait().waiters()).as("it never counted as a waiter").isZero();
    }

    @Test
    @Tag("ch03-wait-context")
    void aThreadPoolWorkerMayNotWait() {
        AtomicReference<Throwable> error = new AtomicReference<>();
        main.aioWait().runInContext(io0.context(), () -> ThreadPool.of(io0.context()).submit("waits", () -> {
            try {
                main.aioWait().waitWhile(null, () -> true);
            } catch (Throwable t) {
                error.set(t);
            }
            return 0;
        }, (req, ret) -> main.aioWait().kick()));
        main.aioWait().waitWhile(io0.context(), () -> error.get() == null);
        assertThat(error.get()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no particular context");
    }

    @Test
    void callInContextReturnsTheResultAndRethrowsFailures() {
        String where = main.aioWait().callInContext(io1.context(), () -> Thread.currentThread().getName());
        assertThat(where).isEqualTo("iothread1");
        assertThatThrownBy(() -> main.aioWait().callInContext(io1.context(), () -> {
            throw new IllegalArgumentException("bad request");
        })).isInstanceOf(IllegalArgumentException.class).hasMessage("bad request");
        assertThat(io1.isRunning()).isTrue();
    }

    @Test
    void aKickWithNobodyWaitingSchedulesNothing() {
        main.aioWait().kick();
        assertThat(main.context().poll(false)).as("no kick bottom half to run").isFalse();
    }

    @Test
    void nestedWaitsEachCountAsAWaiter() {
        AtomicInteger innerWaiters = new AtomicInteger();
        AtomicBoolean outerDone = new AtomicBoolean();
        CountDownLatch innerDone = new CountDownLatch(1);
        BottomHalves.of(main.context()).scheduleOneshot("inner", () -> {
            AtomicBoolean done = new AtomicBoolean();
            setFromIoThreadOnceWaiting(io1, done);
            main.aioWait().waitWhile(io1.context(), () -> {
                innerWaiters.set(Math.max(innerWaiters.get(), main.aioWait().waiters()));
                return !done.get();
            });
            innerDone.countDown();
            outerDone.set(true);
        });
        main.aioWait().waitWhile(io0.context(), () -> !outerDone.get());
        Timeouts.await(innerDone);
        assertThat(innerWaiters.get()).isEqualTo(2);
    }
}
