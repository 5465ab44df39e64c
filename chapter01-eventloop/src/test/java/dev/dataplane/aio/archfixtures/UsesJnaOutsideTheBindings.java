package dev.dataplane.aio.archfixtures;

import com.sun.jna.Native;

/** Calls JNA from the event-loop core instead of going through {@code dev.dataplane.aio.linux}. */
public final class UsesJnaOutsideTheBindings {

    private UsesJnaOutsideTheBindings() {
    }

    static int lastError() {
        return Native.getLastError();
    }
}
