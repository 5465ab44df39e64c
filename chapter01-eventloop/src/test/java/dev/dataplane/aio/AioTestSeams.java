package dev.dataplane.aio;

import java.util.function.LongConsumer;

/**
 * The chapter-1 test seams, opened to the tests of later chapters (through the test-jar).
 *
 * <p>The seams themselves stay package-private in {@code dev.dataplane.aio}, so production code
 * of any chapter cannot build a broken context. Chapter 2's test of the 2015
 * {@code ctx->dispatching} hang must know when the IOThread is about to sleep, and must be able to
 * prove it asleep with no wake-up pending ({@link #notifyMeCount}, {@link #isNotified}).
 */
public final class AioTestSeams {
    private AioTestSeams() {
    }

    /**
     * Calls {@code hook} with the timeout (-1 = forever) each time a poll of the context is about
     * to wait in the kernel. The hook runs in the polling thread and may block it there.
     */
    public static AioContext.Builder beforeWait(AioContext.Builder builder, LongConsumer hook) {
        return builder.probe(new PollProbe() {
            @Override
            public void beforeWait(AioContext ctx, int[] fds, long timeoutNs) {
                hook.accept(timeoutNs);
            }
        });
    }

    /** Whether a notification is pending, not yet accepted by a poll (QEMU: {@code ctx->notified}). */
    public static boolean isNotified(AioContext ctx) {
        return ctx.isNotified();
    }

    /** The number of polls that may be asleep, times two (QEMU: {@code notify_me}). */
    public static int notifyMeCount(AioContext ctx) {
        return ctx.notifyMeCount();
    }

    /**
     * Puts back QEMU's pre-2020 notify ({@code HistoricalBug.KICK_ONLY_WHEN_SLEEPING}): a kick
     * while no poll is about to sleep leaves no trace. Chapter 3 uses it to show the IOThread stop
     * that hung in 2017.
     */
    public static AioContext.Builder kickOnlyWhenSleeping(AioContext.Builder builder) {
        return builder.reintroduce(HistoricalBug.KICK_ONLY_WHEN_SLEEPING);
    }

    /**
     * Whether the context's own eventfd has been written and not drained: a kick the kernel still
     * holds, which would end a sleep at once. Read without consuming it.
     */
    public static boolean kickPendingInTheKernel(AioContext ctx) {
        dev.dataplane.aio.linux.PollFds one = new dev.dataplane.aio.linux.PollFds(1);
        one.set(0, ctx.contextNotifier().fd(), dev.dataplane.aio.linux.LibC.POLLIN);
        return dev.dataplane.aio.linux.LibC.ppoll(one, 1, 0) == 1;
    }
}
