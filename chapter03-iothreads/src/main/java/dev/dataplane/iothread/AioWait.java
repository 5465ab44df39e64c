package dev.dataplane.iothread;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.iothread.rules.IoOrGsCode;
import dev.dataplane.iothread.trace.AioWaitEvent;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waiting for a condition that another thread makes false, without blocking an event loop:
 * QEMU's {@code AIO_WAIT_WHILE} and {@code aio_wait_kick} ({@code include/block/aio-wait.h},
 * {@code util/aio-wait.c}). One per {@link MainLoop}; QEMU has one global {@code AioWait}.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Who may wait, and what it polls.</b> A waiter keeps its own event loop running while it
 * waits, so it must be allowed to poll one:
 * <ul>
 *   <li>in the home thread of {@code ctx} it polls {@code ctx} (an IOThread waiting for its own
 *       work);</li>
 *   <li>otherwise it must be the main loop (the main-loop thread, or any thread holding the BQL),
 *       and it polls the <em>main</em> context. It cannot poll {@code ctx}: only its home thread
 *       may. Work in {@code ctx} goes on in its IOThread, and whoever changes the condition kicks
 *       the main loop;</li>
 *   <li>anybody else (a thread-pool worker, another IOThread waiting for a foreign context, a
 *       thread of your own without the BQL) gets an {@link IllegalStateException}. Two IOThreads
 *       waiting for each other would deadlock, and a thread polling the main context without the
 *       BQL would run it at the same time as the main loop (QEMU's 2020 migration-thread bug).</li>
 * </ul>
 *
 * <p><b>The kick.</b> {@link #kick()} is called by whoever may have made the condition false, in
 * any thread, after the change. If anybody waits, it schedules an empty oneshot bottom half in
 * the main context: the main loop's poll then returns with progress and the condition is tested
 * again. A waiter that polls its own IOThread context is woken by that context's own work, not by
 * the kick, just as in QEMU.
 *
 * <p><b>The pairing.</b> The waiter raises {@code numWaiters}, issues a full fence and tests the
 * condition; the kicker changes the condition, issues a full fence and reads {@code numWaiters}.
 * As in chapter 1's notify, at least one of them sees the other's write: either the waiter sees
 * the new condition, or the kicker sees the waiter and schedules the bottom half.
 *
 * <p><b>Return value.</b> {@link #waitWhile} returns whether it polled at all. It never relies on
 * {@code poll}'s return value: it loops on the condition (reference bug 2).
 */
public final class AioWait {

    private final MainLoop mainLoop;
    private final AtomicInteger numWaiters = new AtomicInteger();

    AioWait(MainLoop mainLoop) {
        this.mainLoop = mainLoop;
    }

    // tag::wait-while[]
    /**
     * Polls until {@code condition} is false (QEMU: {@code AIO_WAIT_WHILE(ctx, cond)}). Called in
     * {@code ctx}'s home thread, or in the main loop (with the BQL) for a context of another
     * thread; see the class comment.
     *
     * @param ctx       the context whose work makes the condition false; null means "no
     *                  particular one" and requires the main loop (QEMU: {@code bdrv_drain_all})
     * @param condition tested before every poll, in the calling thread
     * @return whether it had to wait
     * @throws IllegalStateException if the calling thread may not wait here
     */
    @IoOrGsCode
    public boolean waitWhile(AioContext ctx, BooleanSupplier condition) {
        Objects.requireNonNull(condition, "condition");
        AioContext polled = contextToPoll(ctx, "AioWait.waitWhile");
        numWaiters.incrementAndGet();
        VarHandle.fullFence(); // pairs with kick(): raise numWaiters, then test the condition
        AioWaitEvent trace = new AioWaitEvent();
        trace.begin();
        long polls = 0;
        try {
            while (condition.getAsBoolean()) {
                polled.poll(true);
                polls++;
            }
        } finally {
            numWaiters.decrementAndGet();
        }
        if (polls > 0 && trace.shouldCommit()) {
            trace.context = ctx != null ? ctx.name() : "(any)";
            trace.polled = polled.name();
            trace.polls = polls;
            trace.commit();
        }
        return polls > 0;
    }

    /**
     * Wakes the waiters so they test their conditions again (QEMU: {@code aio_wait_kick}). Any
     * thread; call it after changing something a {@link #waitWhile} condition reads. Cheap when
     * nobody waits: a fence and a read.
     */
    @IoOrGsCode
    public void kick() {
        VarHandle.fullFence(); // pairs with waitWhile(): change the condition, then read numWaiters
        if (numWaiters.get() > 0) {
            BottomHalves.of(mainLoop.context()).scheduleOneshot("aio-wait-kick", () -> { });
        }
    }
    // end::wait-while[]

    // tag::context-to-poll[]
    /** The context a waiter in the calling thread polls, or an explanation of why it may not wait. */
    private AioContext contextToPoll(AioContext ctx, String what) {
        // tag::exercise-ch03-wait-context[]
        if (ctx != null && ctx.inHomeThread()) {
            return ctx;
        }
        AioContext main = mainLoop.context();
        if (main.inHomeThread()) {
            return main;
        }
        String target = ctx != null ? "context '" + ctx.name() + "'" : "no particular context";
        throw new IllegalStateException(what + " for " + target + " called from thread '"
                + Thread.currentThread().getName() + "', which may poll neither that context (only "
                + (ctx != null ? ctx.describeHomeThread() : "the main loop") + " may) nor the main context"
                + " (only " + main.describeHomeThread() + " may). Wait in the main loop instead, or"
                + " schedule the work there with BottomHalves.scheduleOneshot.");
        // end::exercise-ch03-wait-context[]
    }
    // end::context-to-poll[]

    // tag::call-in-context[]
    /**
     * Runs {@code fn} in {@code ctx}'s home thread and waits for its result (QEMU:
     * {@code aio_wait_bh_oneshot}). Called from the main loop (or {@code ctx}'s own thread). An
     * exception thrown by {@code fn} is thrown here.
     */
    @IoOrGsCode
    public <T> T callInContext(AioContext ctx, Supplier<T> fn) {
        contextToPoll(ctx, "AioWait.callInContext"); // fail before anything is scheduled
        Outcome<T> outcome = new Outcome<>();
        BottomHalves.of(ctx).scheduleOneshot("aio-wait-bh-oneshot", () -> {
            try {
                outcome.value = fn.get();
            } catch (Throwable t) {
                outcome.failure = t;
            } finally {
                outcome.done = true; // volatile write: publishes value/failure
                kick();
            }
        });
        waitWhile(ctx, () -> !outcome.done);
        if (outcome.failure instanceof RuntimeException e) {
            throw e;
        }
        if (outcome.failure instanceof Error e) {
            throw e;
        }
        if (outcome.failure != null) {
            throw new IllegalStateException("failed in context '" + ctx.name() + "'", outcome.failure);
        }
        return outcome.value;
    }
    // end::call-in-context[]

    /** {@link #callInContext} for work without a result. */
    @IoOrGsCode
    public void runInContext(AioContext ctx, Runnable fn) {
        callInContext(ctx, () -> {
            fn.run();
            return null;
        });
    }

    private static final class Outcome<T> {
        T value;
        Throwable failure;
        volatile boolean done;
    }

    /** How many threads are inside {@link #waitWhile} right now; for tests and statistics. */
    public int waiters() {
        return numWaiters.get();
    }
}
