package dev.dataplane.aio;

import dev.dataplane.testsupport.Timeouts;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/**
 * Test helper: an AioContext whose home thread is a dedicated thread running
 * {@code while (!stopped) ctx.poll(true)}.
 *
 * <p>It can run a task inside the loop through an EventNotifier and a queue (chapter 2 will do
 * this properly with bottom halves), and it records the first failure thrown inside the loop so
 * that a test can assert on it instead of losing it in a dead thread.
 */
final class LoopThread implements AutoCloseable {
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    final AioContext ctx;
    private final Thread thread;
    private volatile boolean stopped;
    private final CountDownLatch started = new CountDownLatch(1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final EventNotifier taskNotifier = new EventNotifier();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();

    LoopThread(String name) {
        this(name, UnaryOperator.identity());
    }

    /** {@code customize} may add options to the builder (probe, monitor kind, bugs). */
    LoopThread(String name, UnaryOperator<AioContext.Builder> customize) {
        thread = new Thread(this::run, name);
        thread.setDaemon(true);
        ctx = customize.apply(AioContext.builder().name(name).homeThread(thread)).build();
        ctx.setEventNotifier(taskNotifier, false, n -> {
            n.testAndClear();
            Runnable r;
            while ((r = tasks.poll()) != null) {
                r.run();
            }
        }, null, null);
        thread.start();
        await(started);
    }

    private void run() {
        started.countDown();
        try {
            while (!stopped) {
                ctx.poll(true);
            }
        } catch (Throwable t) {
            failure.set(t);
        }
    }

    /** Runs {@code task} in the loop thread (asynchronously). */
    void execute(Runnable task) {
        tasks.add(task);
        taskNotifier.set();
    }

    /** Runs {@code task} in the loop thread and waits for it. */
    void runAndWait(Runnable task) {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> error = new AtomicReference<>();
        execute(() -> {
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

    Thread thread() {
        return thread;
    }

    Throwable failure() {
        return failure.get();
    }

    /** Stops the loop, joins the thread and closes the context (from its home thread). */
    @Override
    public void close() {
        if (thread.isAlive()) {
            runAndWaitQuietly(() -> stopped = true);
            join(thread);
        }
        // The context may only be closed by its home thread, which has ended: hand it over.
        ctx.setHomeThread(Thread.currentThread());
        ctx.removeEventNotifier(taskNotifier);
        ctx.close();
        taskNotifier.close();
    }

    private void runAndWaitQuietly(Runnable r) {
        CountDownLatch done = new CountDownLatch(1);
        execute(() -> {
            r.run();
            done.countDown();
        });
        try {
            done.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void await(CountDownLatch latch) {
        Timeouts.await(latch);
    }

    static void join(Thread t) {
        try {
            t.join(TIMEOUT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        if (t.isAlive()) {
            throw new AssertionError("thread " + t.getName() + " did not finish within " + TIMEOUT);
        }
    }
}
