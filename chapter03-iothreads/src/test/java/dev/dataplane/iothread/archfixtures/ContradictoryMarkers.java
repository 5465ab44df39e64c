package dev.dataplane.iothread.archfixtures;

import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;

/** Breaks rule e: one method marked as I/O code and as global-state code. */
public final class ContradictoryMarkers {

    private ContradictoryMarkers() {
    }

    @IoCode
    @GlobalStateCode
    static void either() {
    }
}
