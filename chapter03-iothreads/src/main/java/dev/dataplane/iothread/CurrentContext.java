package dev.dataplane.iothread;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.rules.IoOrGsCode;

/**
 * The calling thread's event loop (QEMU: {@code qemu_get_current_aio_context} and
 * {@code qemu_set_current_aio_context}, {@code util/async.c}).
 *
 * <ul>
 *   <li>An IOThread, and the main-loop thread, see their own context.</li>
 *   <li>A thread without a context of its own that holds the BQL (a vCPU handling an exit, a test
 *       acting as the main loop) sees the main context.</li>
 *   <li>Any other thread (a thread-pool worker, a thread of your own) sees none: it has no loop in
 *       which to run callbacks, so it must hand work to one with a bottom half.</li>
 * </ul>
 *
 * <p>Before 2020 QEMU gave a thread without a context the main context even without the BQL; the
 * migration thread then polled the main context at the same time as the main loop
 * ({@code 3c18a92dc4}). {@code HistoricalBugsTest} shows it.
 */
public final class CurrentContext {

    private static final ThreadLocal<AioContext> OWN = new ThreadLocal<>();

    private CurrentContext() {
    }

    // tag::current-context[]
    /** The calling thread's context, or null if it has none (see the class comment). */
    @IoOrGsCode
    public static AioContext get() {
        // tag::exercise-ch03-current-context[]
        AioContext own = OWN.get();
        if (own != null) {
            return own;
        }
        Bql bql = Bql.heldByCurrentThread();
        return bql != null ? bql.mainContext() : null;
        // end::exercise-ch03-current-context[]
    }
    // end::current-context[]

    /** The context the calling thread runs itself (IOThread, main loop), or null; the BQL is not consulted. */
    static AioContext own() {
        return OWN.get();
    }

    /** Makes {@code ctx} the calling thread's own context; null forgets it. Done by loop threads as they start. */
    static void set(AioContext ctx) {
        if (ctx == null) {
            OWN.remove();
        } else {
            OWN.set(ctx);
        }
    }
}
