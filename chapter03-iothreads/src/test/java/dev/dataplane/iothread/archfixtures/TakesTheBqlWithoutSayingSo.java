package dev.dataplane.iothread.archfixtures;

import dev.dataplane.iothread.Bql;

/** Breaks rule b: takes the BQL in code that carries no {@code @GlobalStateCode} marker. */
public final class TakesTheBqlWithoutSayingSo {

    private static int resets;

    private TakesTheBqlWithoutSayingSo() {
    }

    static void resetDevice(Bql bql) {
        bql.withLock(() -> resets++);
    }
}
