package dev.dataplane.aio.archfixtures;

import java.util.concurrent.ExecutorService;

/** Gives a handler to a thread pool: an event loop that does this is no longer the event loop. */
public final class HandsWorkToAnExecutor {

    private HandsWorkToAnExecutor() {
    }

    static void dispatch(ExecutorService pool, Runnable handler) {
        pool.execute(handler);
    }
}
