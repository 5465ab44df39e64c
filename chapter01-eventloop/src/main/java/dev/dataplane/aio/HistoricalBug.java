package dev.dataplane.aio;

/**
 * Bugs from QEMU's history that tests can put back into an {@link AioContext}, to show the
 * failure on demand and the real code surviving the same scenario.
 *
 * <p>Package-private on purpose: only tests in this package can build a broken context (through
 * {@code AioContext.Builder#reintroduce}); no public switch exists. Each constant names the QEMU
 * commit that fixed it.
 */
enum HistoricalBug {
    /**
     * {@code enableExternal()} only decrements the counter (fixed by {@code 321d1dba8b}, 2017):
     * a loop already asleep without the external fds in its set never re-adds them.
     */
    MISSING_ENABLE_EXTERNAL_NOTIFY,

    /**
     * The notification is accepted (flag cleared <em>and</em> eventfd drained) after dispatch
     * instead of before (fixed by {@code 21a03d17f2}/{@code 05e514b1d4}, 2015): a notification
     * that arrives while callbacks run is eaten.
     */
    ACCEPT_AFTER_DISPATCH,

    /**
     * Any thread may call {@code poll()} (the home-thread assertion came with
     * {@code 0dc165c1bd}, 2019, after {@code b37548fcd1}, 2018): a foreign non-blocking poll can
     * consume the wake-up meant for the thread that sleeps in the context.
     */
    FOREIGN_THREAD_POLL,

    /**
     * Activity of the context's own notifier counts as progress (fixed by {@code cfeb35d677},
     * 2018, and {@code 993ed89f35}, 2019): a kick makes {@code poll()} return true, so a caller
     * looping on the return value spins as long as anybody keeps kicking.
     */
    KICK_IS_PROGRESS,

    /**
     * Replacing a handler rewrites the existing node field by field (fixed by
     * {@code fef1660132}, 2018): a walker that is between reading one callback and the next sees
     * half of the old registration and half of the new.
     */
    REPLACE_HANDLER_IN_PLACE,

    /**
     * {@code notifyEvent()} does nothing at all when no poll is about to sleep, and {@code poll()}
     * does not look at {@code notified} before sleeping: QEMU's {@code aio_notify} until 2020, when
     * it started to set {@code notified} on every call. A kick that lands between a loop's check of
     * its own flag and its next {@code poll(true)} is lost; QEMU's IOThread stop hung on it
     * ({@code 2362a28ea1}, 2017, fixed by stopping with a bottom half).
     */
    KICK_ONLY_WHEN_SLEEPING
}
