package dev.dataplane.testsupport;

import static dev.dataplane.testsupport.Timeouts.await;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalves;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/**
 * Test helper: a context whose home thread runs {@code while (running) ctx.poll(true)}, and which
 * takes work from other threads the chapter-2 way, as oneshot bottom halves. It is stopped the
 * way QEMU stops an IOThread since 2017: with a oneshot bottom half that clears the flag, because
 * a plain flag plus a notification can be missed (the loop reads the flag, then sleeps).
 *
 * <p>A failure thrown inside the loop is kept, so a test can assert on it.
 */
public final class EventLoopThread implements AutoCloseable {
    public final AioContext ctx;
    private final Thread thread;
    private boolean running = true; // home thread only
    private final CountDownLatch started = new CountDownLatch(1);
    private final CountDownLatch finished = new CountDownLatch(1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    public EventLoopThread(String name) {
        this(name, UnaryOperator.identity());
    }

    /** {@code customize} may add options (test seams) to the context's builder. */
    public EventLoopThread(String name, UnaryOperator<AioContext.Builder> customize) {
        thread = new Thread(this::run, name);
        thread.setDaemon(true);
        ctx = customize.apply(AioContext.builder().name(name).homeThread(thread)).build();
        thread.start();
        await(started);
    }

    private void run() {
        started.countDown();
        try {
            while (running) {
                ctx.poll(true);
            }
        } catch (Throwable t) {
            failure.set(t);
        } finally {
            finished.countDown();
        }
    }

    public Thread thread() {
        return thread;
    }

    /** Runs {@code task} in the loop thread and waits for it; rethrows what it threw. */
    public void runAndWait(Runnable task) {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        BottomHalves.of(ctx).scheduleOneshot("runAndWait", () -> {
            try {
                task.run();
            } catch (Throwable t) {
                error.set(t);
            } finally {
                done.countDown();
            }
        });
        await(done);
        if (error.get() != null) {
            throw new AssertionError("task failed in loop thread", error.get());
        }
    }

    /** The first exception that escaped {@code poll} in the loop thread, or null. */
    public Throwable failure() {
        return failure.get();
    }

    /** Stops the loop with a oneshot bottom half, joins the thread and closes the context. */
    @Override
    public void close() {
        if (finished.getCount() != 0) {
            BottomHalves.of(ctx).scheduleOneshot("stop", () -> running = false);
            await(finished);
        }
        try {
            thread.join(Timeouts.HANDSHAKE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ctx.setHomeThread(Thread.currentThread());
        ctx.close();
        if (failure.get() != null) {
            throw new AssertionError("the loop thread failed", failure.get());
        }
    }
}
