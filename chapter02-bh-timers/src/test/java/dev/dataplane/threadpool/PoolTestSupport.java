package dev.dataplane.threadpool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.dataplane.aio.AioContext;
import dev.dataplane.testsupport.Timeouts;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/** Helpers for the thread-pool tests: bounded waits, a recording probe, the pool's live threads. */
final class PoolTestSupport {
    private static final AtomicInteger NEXT_CONTEXT = new AtomicInteger();

    /** Kicks a context whose test waited too long, so the test fails instead of hanging. */
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pool-test-watchdog");
        t.setDaemon(true);
        return t;
    });

    private PoolTestSupport() {
    }

    /** A context name no other test uses, so that worker threads can be told apart by name. */
    static String uniqueName(String prefix) {
        return prefix + "-" + NEXT_CONTEXT.incrementAndGet();
    }

    /**
     * {@code while (!done) ctx.poll(true)}, the way a user waits, but failing after
     * {@link Timeouts#HANDSHAKE} instead of sleeping for ever when the code under test is broken.
     */
    static void pollUntil(AioContext ctx, BooleanSupplier done) {
        AtomicBoolean expired = new AtomicBoolean();
        ScheduledFuture<?> kick = WATCHDOG.schedule(() -> {
            expired.set(true);
            ctx.notifyEvent();
        }, Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS);
        try {
            while (!done.getAsBoolean()) {
                if (expired.get()) {
                    fail("condition not reached within " + Timeouts.HANDSHAKE + " of polling " + ctx.name());
                }
                ctx.poll(true);
            }
        } finally {
            kick.cancel(false);
        }
    }

    static void await(CountDownLatch latch) {
        Timeouts.await(latch);
    }

    /** Busy-waits (no sleep) for a condition a worker will make true, bounded by HANDSHAKE. */
    static void spinUntil(BooleanSupplier condition) {
        long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("condition not reached within %s", Timeouts.HANDSHAKE)
                    .isNegative();
            Thread.yield(); // two cores shared with other work: let the worker run
        }
    }

    /** Waits for {@code n} events. */
    static void awaitPermits(Semaphore events, int n) {
        try {
            assertThat(events.tryAcquire(n, Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS))
                    .as("%d pool events within %s", n, Timeouts.HANDSHAKE).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Waits for one event after another until {@code condition} holds; each must come in time. */
    static void awaitUntil(Semaphore events, BooleanSupplier condition) {
        while (!condition.getAsBoolean()) {
            try {
                assertThat(events.tryAcquire(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS))
                        .as("another pool event within %s", Timeouts.HANDSHAKE).isTrue();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** The pool worker threads of {@code ctx} that are alive now. */
    static Set<Thread> liveWorkers(AioContext ctx) {
        String prefix = ctx.name() + "/pool-worker-";
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith(prefix) && t.isAlive())
                .collect(Collectors.toSet());
    }

    static void join(Iterable<Thread> threads) {
        for (Thread t : threads) {
            try {
                t.join(Timeouts.HANDSHAKE.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            assertThat(t.isAlive()).as("%s ended within %s", t.getName(), Timeouts.HANDSHAKE).isFalse();
        }
    }

    /** Work that waits for {@code release}, after counting down {@code running}. */
    static ThreadPoolFunc blockingWork(CountDownLatch running, CountDownLatch release, int ret) {
        return () -> {
            running.countDown();
            if (!release.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("never released");
            }
            return ret;
        };
    }

    /** A probe that records what the pool's threads do, as semaphores to wait on and lists to check. */
    static final class RecordingProbe implements PoolProbe {
        /** One permit each time a worker starts waiting for work. */
        final Semaphore idle = new Semaphore(0);
        /** One permit each time a worker leaves its loop. */
        final Semaphore exiting = new Semaphore(0);
        /** One permit each time a worker has stored DONE and scheduled the completion bottom half. */
        final Semaphore finished = new Semaphore(0);
        /** {creator, worker} pairs, in creation order. */
        final List<Thread[]> created = Collections.synchronizedList(new ArrayList<>());
        /** Workers that left their loop. */
        final Set<Thread> exited = ConcurrentHashMap.newKeySet();
        volatile Consumer<ThreadPoolRequest> afterCallback = r -> { };

        @Override
        public void workerCreated(Thread creator, Thread worker) {
            created.add(new Thread[] {creator, worker});
        }

        @Override
        public void workerIdle() {
            idle.release();
        }

        @Override
        public void workerExiting() {
            exited.add(Thread.currentThread());
            exiting.release();
        }

        @Override
        public void workerFinished(ThreadPoolRequest request) {
            finished.release();
        }

        @Override
        public void afterCallback(ThreadPoolRequest request) {
            afterCallback.accept(request);
        }
    }
}
