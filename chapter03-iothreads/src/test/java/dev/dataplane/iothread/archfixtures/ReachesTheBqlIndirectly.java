package dev.dataplane.iothread.archfixtures;

import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;

/**
 * Breaks rule a only through a chain of calls: the I/O method looks innocent, the helper it
 * calls has no marker, and the global-state method at the end may take the BQL (rule b is kept).
 */
public final class ReachesTheBqlIndirectly {

    private final Bql bql;
    private long requests;

    ReachesTheBqlIndirectly(Bql bql) {
        this.bql = bql;
    }

    @IoCode
    void handleRequest() {
        requests++;
        countRequest();
    }

    private void countRequest() {
        MachineStatistics.publish(bql, requests);
    }

    /** Global-state code that takes the BQL, as it may. */
    public static final class MachineStatistics {
        static long published;

        private MachineStatistics() {
        }

        @GlobalStateCode
        static void publish(Bql bql, long requests) {
            bql.lock();
            try {
                published = requests;
            } finally {
                bql.unlock();
            }
        }
    }
}
