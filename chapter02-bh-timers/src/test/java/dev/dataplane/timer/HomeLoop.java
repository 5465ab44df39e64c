package dev.dataplane.timer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import dev.dataplane.testsupport.Timeouts;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * Test helper: a context whose home thread is a thread of its own that runs
 * {@code while (!until) ctx.poll(true)} once {@link #start} is called.
 *
 * <p>{@link #close()} always gets the thread out, even when the code under test failed to wake
 * it (the symptom several tests look for): it raises a stop flag and notifies the context, then
 * takes the context back to close it in the test's thread.
 */
final class HomeLoop implements AutoCloseable {
    final AioContext ctx;
    private final Thread thread;
    private volatile BooleanSupplier until = () -> true;
    private volatile boolean stopped;
    private final CountDownLatch finished = new CountDownLatch(1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** The value returned by the last poll, i.e. the one after which {@code until} held. */
    volatile boolean lastProgress;

    HomeLoop(String name, UnaryOperator<AioContext.Builder> customize) {
        thread = new Thread(this::run, name);
        thread.setDaemon(true);
        ctx = customize.apply(AioContext.builder().name(name).homeThread(thread)).build();
    }

    /** Starts polling until {@code until} holds (checked after each poll). */
    void start(BooleanSupplier until) {
        this.until = until;
        thread.start();
    }

    private void run() {
        try {
            do {
                lastProgress = ctx.poll(true);
            } while (!stopped && !until.getAsBoolean());
        } catch (Throwable t) {
            failure.set(t);
        } finally {
            finished.countDown();
        }
    }

    Thread thread() {
        return thread;
    }

    /** Waits (bounded) for the loop to end by itself; true if it did, and without failing. */
    boolean awaitFinished() throws InterruptedException {
        boolean done = finished.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(failure.get()).as("exception in the loop thread").isNull();
        return done;
    }

    @Override
    public void close() {
        stopped = true;
        if (thread.isAlive()) {
            ctx.notifyEvent();
            try {
                thread.join(Timeouts.HANDSHAKE.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while stopping the loop", e);
            }
        }
        assertThat(thread.isAlive()).as("loop thread still running after stop").isFalse();
        ctx.setHomeThread(Thread.currentThread());
        ctx.close();
    }
}
