package dev.dataplane.aio;

/**
 * Which threads may act as a context's home thread, and what such a thread lets go of while it
 * sleeps in the kernel. Chapter 3's extension point, offered here on purpose.
 *
 * <p>A context built without a rule has one home thread (see {@link AioContext.Builder#homeThread})
 * and nothing to release. Chapter 3's <em>main</em> context is different, as in QEMU
 * ({@code in_aio_context_home_thread}, {@code main_loop_wait}): the main-loop thread and any
 * thread holding the Big QEMU Lock may poll it, and the main loop lets go of that lock while it
 * sleeps so that vCPU threads can take it. Chapter 1 knows nothing about that lock; it only asks
 * the rule.
 *
 * <h2>The contract</h2>
 * <ul>
 *   <li>At most one admitted thread runs the home-thread parts of {@code poll} at a time: the rule
 *       must come with a lock (or a single thread) that serialises them, and that lock is what
 *       publishes the context's home-thread bookkeeping from one admitted thread to the next.</li>
 *   <li>{@link #releaseForSleep} is asked right before a {@code poll} sleeps in the kernel. If it
 *       returns true, the sleeping thread no longer counts as the home thread until
 *       {@link #reacquireAfterSleep}: another admitted thread may poll the context meanwhile, so
 *       the sleep itself touches none of the context's home-thread state (it only waits for an fd
 *       to become ready), and the ready handlers are collected after the reacquire.</li>
 *   <li>At most one thread at a time is in a released sleep (in chapter 3: only the main loop's
 *       own iteration releases).</li>
 * </ul>
 */
public interface HomeThreadRule {

    /** Whether {@code thread} may call {@code poll} and the other home-thread-only methods now. */
    boolean admits(Thread thread);

    /** Who is admitted, for error messages: for example {@code "its home thread 'iothread0'"}. */
    String describe();

    /**
     * Called by {@code poll} in the calling thread just before it sleeps with a non-zero timeout.
     * Returns true if the thread let go of its claim on the context (it will be given back with
     * {@link #reacquireAfterSleep}); false to sleep as the home thread.
     */
    default boolean releaseForSleep(AioContext ctx) {
        return false;
    }

    /** Undoes a {@link #releaseForSleep} that returned true. May block (it takes a lock back). */
    default void reacquireAfterSleep(AioContext ctx) {
    }
}
