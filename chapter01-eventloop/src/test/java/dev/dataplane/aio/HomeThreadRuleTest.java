package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.testsupport.Timeouts;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The extension point chapter 3 builds its main context on: a {@link HomeThreadRule} that admits
 * a designated "main" thread or whoever holds a lock, and lets the main thread drop the lock while
 * it sleeps. A plain {@link ReentrantLock} stands in for chapter 3's Big QEMU Lock here, because
 * chapter 1 knows nothing about it.
 */
class HomeThreadRuleTest {

    /** The rule chapter 3 uses, in miniature: main thread or lock holder; main sleeps unlocked. */
    static final class LockRule implements HomeThreadRule {
        final ReentrantLock lock = new ReentrantLock();
        volatile Thread main;

        @Override
        public boolean admits(Thread thread) {
            return thread == main || lock.isHeldByCurrentThread() && thread == Thread.currentThread();
        }

        @Override
        public String describe() {
            return "the main thread or a thread holding the test lock";
        }

        @Override
        public boolean releaseForSleep(AioContext ctx) {
            if (Thread.currentThread() == main && ctx.pollDepth() == 1) {
                lock.unlock();
                return true;
            }
            return false;
        }

        @Override
        public void reacquireAfterSleep(AioContext ctx) {
            lock.lock();
        }
    }

    private final LockRule rule = new LockRule();
    private volatile Runnable nestedSleep;
    private final AtomicBoolean heldInNestedSleep = new AtomicBoolean();
    private final CountDownLatch mainAsleep = new CountDownLatch(1);
    private final AtomicBoolean armed = new AtomicBoolean(true);
    private final AioContext ctx = AioTestSeams.beforeWait(
            AioContext.builder().name("main-ctx").homeThreadRule(rule),
            timeout -> {
                if (timeout != -1 || Thread.currentThread() != rule.main) { // (-1: sleep until woken)
                    return;
                }
                if (ctxDepth() == 2 && nestedSleep != null) {
                    nestedSleep.run();
                } else if (armed.compareAndSet(true, false)) {
                    mainAsleep.countDown();
                }
            }).build();

    private final EventNotifier work = new EventNotifier();
    private final AtomicReference<String> ranOn = new AtomicReference<>();
    private final AtomicBoolean ranWithLock = new AtomicBoolean();
    private final AtomicReference<Throwable> mainFailure = new AtomicReference<>();

    private int ctxDepth() {
        return ctx.pollDepth();
    }

    /** Starts the "main loop": {@code while (!done) poll(true)}, holding the lock except asleep. */
    private Thread startMain(BooleanSupplier done) {
        Thread main = new Thread(() -> {
            rule.lock.lock();
            try {
                while (!done.getAsBoolean()) {
                    ctx.poll(true);
                }
            } catch (Throwable t) {
                mainFailure.set(t);
            } finally {
                rule.lock.unlock();
            }
        }, "main-loop");
        rule.main = main;
        main.start();
        return main;
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        rule.main = Thread.currentThread(); // the context may be closed by an admitted thread
        ctx.removeEventNotifier(work);
        ctx.close();
        work.close();
    }

    private void registerWorkHandler() {
        ctx.setEventNotifier(work, false, n -> {
            n.testAndClear();
            ranOn.set(Thread.currentThread().getName());
            ranWithLock.set(rule.lock.isHeldByCurrentThread());
        }, null, null);
    }

    @Test
    void aThreadTheRuleDoesNotAdmitMayNotPollAndIsToldWhoMay() {
        rule.main = new Thread(() -> { }, "somebody-else");
        assertThat(ctx.inHomeThread()).isFalse();
        assertThatThrownBy(() -> ctx.poll(false))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the main thread or a thread holding the test lock");
        rule.lock.lock();
        try {
            assertThat(ctx.inHomeThread()).isTrue();
            assertThat(ctx.poll(false)).isFalse();
        } finally {
            rule.lock.unlock();
        }
    }

    @Test
    void whileTheMainThreadSleepsUnlockedALockHolderPollsTheContextAndTheSleeperWaitsForTheLock()
            throws Exception {
        registerWorkHandler();
        Thread main = startMain(() -> ranOn.get() != null);
        Timeouts.await(mainAsleep);

        // The "vCPU": takes the lock the sleeper let go of, and polls the same context.
        rule.lock.lock();
        try {
            work.set();
            assertThat(ctx.poll(true)).isTrue();
            assertThat(ranOn.get()).isEqualTo(Thread.currentThread().getName());
            // The sleeper may have slept through all of that: by the time its ppoll looked, the
            // fd was drained again. Whoever changes what the sleeper waits for must kick it
            // (chapter 3's AioWait.kick does this). Woken, it must wait for the lock before it
            // touches the context again.
            ctx.notifyEvent();
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            while (!rule.lock.hasQueuedThread(main)) {
                Thread.onSpinWait();
                assertThat(System.nanoTime() - deadline).as("the sleeper queues for the lock").isNegative();
            }
        } finally {
            rule.lock.unlock();
        }
        main.join(Timeouts.HANDSHAKE.toMillis());
        assertThat(main.isAlive()).isFalse();
        assertThat(mainFailure.get()).isNull();
    }

    @Test
    void whatBecomesReadyDuringTheUnlockedSleepIsDispatchedWithTheLockTakenBack() throws Exception {
        registerWorkHandler();
        Thread main = startMain(() -> ranOn.get() != null);
        Timeouts.await(mainAsleep);
        assertThat(rule.lock.isLocked()).as("the sleeper let go of the lock").isFalse();

        work.set(); // from a thread that holds nothing
        main.join(Timeouts.HANDSHAKE.toMillis());

        assertThat(main.isAlive()).isFalse();
        assertThat(mainFailure.get()).isNull();
        assertThat(ranOn.get()).isEqualTo("main-loop");
        assertThat(ranWithLock.get()).as("the callback ran with the lock held").isTrue();
        assertThat(ctx.statistics().blockedNs()).isPositive();
    }

    @Test
    void aNestedPollOfTheMainThreadSleepsWithTheLockHeld() throws Exception {
        AtomicReference<Integer> depthInCallback = new AtomicReference<>();
        EventNotifier inner = new EventNotifier();
        nestedSleep = () -> {
            heldInNestedSleep.set(rule.lock.isHeldByCurrentThread());
            inner.set(); // end the nested sleep at once
        };
        ctx.setEventNotifier(work, false, n -> {
            n.testAndClear();
            depthInCallback.set(ctx.pollDepth());
            ctx.poll(true); // nested: only the outermost poll may let go of the lock
        }, null, null);
        ctx.setEventNotifier(inner, false, EventNotifier::testAndClear, null, null);
        try {
            Thread main = startMain(() -> depthInCallback.get() != null);
            Timeouts.await(mainAsleep);
            work.set();
            main.join(Timeouts.HANDSHAKE.toMillis());
            assertThat(main.isAlive()).isFalse();
            assertThat(mainFailure.get()).isNull();
            assertThat(depthInCallback.get()).isEqualTo(1);
            assertThat(heldInNestedSleep.get()).as("lock held during the nested sleep").isTrue();
        } finally {
            ctx.removeEventNotifier(inner);
            inner.close();
        }
    }

    @Test
    void pollDepthCountsNestedPolls() {
        rule.main = Thread.currentThread();
        rule.lock.lock();
        try {
            AtomicReference<Integer> inner = new AtomicReference<>();
            ctx.setEventNotifier(work, false, n -> {
                n.testAndClear();
                ctx.setEventNotifier(work, false, m -> {
                    m.testAndClear();
                    inner.set(ctx.pollDepth());
                }, null, null);
                work.set();
                ctx.poll(false);
            }, null, null);
            assertThat(ctx.pollDepth()).isZero();
            work.set();
            ctx.poll(false);
            assertThat(inner.get()).isEqualTo(2);
            assertThat(ctx.pollDepth()).isZero();
        } finally {
            rule.lock.unlock();
        }
    }
}
