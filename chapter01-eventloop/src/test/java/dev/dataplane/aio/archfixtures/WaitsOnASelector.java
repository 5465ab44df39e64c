package dev.dataplane.aio.archfixtures;

import java.io.IOException;
import java.nio.channels.Selector;

/** Waits in java.nio's selector, another event loop, instead of in the AioContext's own ppoll/epoll. */
public final class WaitsOnASelector {

    private WaitsOnASelector() {
    }

    static int waitForReadiness(Selector selector) throws IOException {
        return selector.select();
    }
}
