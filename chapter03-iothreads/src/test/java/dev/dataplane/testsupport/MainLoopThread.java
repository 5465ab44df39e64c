package dev.dataplane.testsupport;

import dev.dataplane.bh.BottomHalves;
import dev.dataplane.iothread.MainLoop;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * Test helper: a {@link MainLoop} running {@code run()} in a thread of its own, as QEMU's main
 * thread does, so that the test thread can play another role (a vCPU taking the BQL, a worker, a
 * migration thread). Work goes in with {@link #call}: a oneshot bottom half in the main context,
 * run with the BQL held. Failures in the loop are kept and thrown by {@link #close()}.
 */
public final class MainLoopThread implements AutoCloseable {
    private final Thread thread;
    private final CountDownLatch started = new CountDownLatch(1);
    private final AtomicReference<MainLoop> loop = new AtomicReference<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    public MainLoopThread() {
        this(MainLoop::create);
    }

    /** {@code create} builds the main loop in the new thread (for options and test seams). */
    public MainLoopThread(Supplier<MainLoop> create) {
        thread = new Thread(() -> {
            MainLoop l;
            try {
                l = create.get();
            } catch (Throwable t) {
                failure.set(t);
                started.countDown();
                return;
            }
            loop.set(l);
            started.countDown();
            try {
                l.run();
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                try {
                    l.close();
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }
        }, "main-loop");
        thread.setDaemon(true);
        thread.start();
        Timeouts.await(started);
        if (loop.get() == null) {
            throw new AssertionError("the main loop did not start", failure.get());
        }
    }

    public MainLoop loop() {
        return loop.get();
    }

    public Thread thread() {
        return thread;
    }

    /** Runs {@code task} in the main loop (BQL held) and waits for its result. */
    public <T> T call(Supplier<T> task) {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        BottomHalves.of(loop().context()).scheduleOneshot("test-call", () -> {
            try {
                result.set(task.get());
            } catch (Throwable t) {
                error.set(t);
            } finally {
                done.countDown();
            }
        });
        Timeouts.await(done);
        if (error.get() instanceof RuntimeException e) {
            throw e;
        }
        if (error.get() != null) {
            throw new AssertionError("task failed in the main loop", error.get());
        }
        return result.get();
    }

    /** {@link #call} without a result. */
    public void run(Runnable task) {
        call(() -> {
            task.run();
            return null;
        });
    }

    /** Asks the loop to quit, joins it and reports anything that failed inside it. */
    @Override
    public void close() {
        if (thread.isAlive() && loop.get() != null) {
            loop.get().requestQuit();
        }
        try {
            thread.join(Timeouts.HANDSHAKE.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            throw new AssertionError("the main loop did not quit within " + Timeouts.HANDSHAKE);
        }
        if (failure.get() != null) {
            throw new AssertionError("the main loop failed", failure.get());
        }
    }
}
