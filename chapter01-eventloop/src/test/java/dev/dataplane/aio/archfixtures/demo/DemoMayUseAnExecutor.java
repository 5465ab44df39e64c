package dev.dataplane.aio.archfixtures.demo;

import java.util.concurrent.ExecutorService;

/** A demo drives the event loop from outside, so it may use a thread pool: the rule exempts {@code ..demo..}. */
public final class DemoMayUseAnExecutor {

    private DemoMayUseAnExecutor() {
    }

    static void startClients(ExecutorService clients, Runnable client) {
        clients.execute(client);
    }
}
