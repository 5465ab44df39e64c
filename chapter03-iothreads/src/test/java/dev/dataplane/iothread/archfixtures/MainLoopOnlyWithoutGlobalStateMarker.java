package dev.dataplane.iothread.archfixtures;

import dev.dataplane.iothread.rules.MainLoopOnly;

/** Breaks rule d: a main-loop-only helper that does not say it is global-state code. */
public final class MainLoopOnlyWithoutGlobalStateMarker {

    private MainLoopOnlyWithoutGlobalStateMarker() {
    }

    @MainLoopOnly
    public static void legacyHelper() {
    }
}
