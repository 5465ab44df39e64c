package dev.dataplane.iothread.archfixtures;

import dev.dataplane.iothread.MainLoopHelpers;
import dev.dataplane.iothread.rules.IoCode;

/** Breaks rule a directly: I/O code completes a request with a main-loop bottom half. */
public final class UsesAMainLoopHelper {

    private UsesAMainLoopHelper() {
    }

    @IoCode
    static void complete(Runnable callback) {
        // Should be BottomHalves.of(ctx), the context the request came from.
        MainLoopHelpers.bhNew("request-done", callback).schedule();
    }
}
