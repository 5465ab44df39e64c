package dev.dataplane.timer;

import java.util.concurrent.atomic.AtomicInteger;

/** Manual time that counts how often each clock is read: the witness for "read once per pass". */
final class CountingTimeSource implements TimeSource {
    final ManualTimeSource time = new ManualTimeSource(1_000, 1_000);
    final AtomicInteger monotonicReads = new AtomicInteger();
    final AtomicInteger wallClockReads = new AtomicInteger();

    @Override
    public long monotonicNs() {
        monotonicReads.incrementAndGet();
        return time.monotonicNs();
    }

    @Override
    public long wallClockNs() {
        wallClockReads.incrementAndGet();
        return time.wallClockNs();
    }
}
