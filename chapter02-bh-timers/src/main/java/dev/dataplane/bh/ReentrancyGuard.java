package dev.dataplane.bh;

/**
 * Keeps a device's code from being entered again while it is already running (QEMU:
 * {@code MemReentrancyGuard}, {@code include/hw/qdev-core.h}; checked in {@code system/memory.c}).
 *
 * <p>The danger it guards against is a device that, while handling an access, causes another
 * access to itself: a guest programs the device's DMA to target the device's own registers, and
 * the device's half-finished state is re-entered. QEMU's answer, after a long series of fuzzer
 * reports, was one flag per device, {@code engaged_in_io}: every way into the device's code sets
 * it, and an access that finds it set is refused. A bottom half created with a guard
 * ({@link BottomHalves#newBh(String, Runnable, ReentrancyGuard)}, QEMU's
 * {@code aio_bh_new_guarded}) counts as a way in: while its callback runs, the device is engaged,
 * so I/O into the device from inside the callback is refused.
 *
 * <p><b>Threads.</b> A guard belongs to one device, and a device runs in one thread at a time (its
 * context's home thread, or a thread holding the BQL from chapter 3 on). The flag is volatile only
 * so that a device moved between threads is seen consistently.
 */
public final class ReentrancyGuard {
    private final String device;
    private volatile boolean engagedInIo;
    private volatile long refused;
    private volatile long reentrantBottomHalves;

    public ReentrancyGuard(String device) {
        this.device = device;
    }

    // tag::guard-enter[]
    /**
     * Runs {@code io} (an access to the device: a register read or write) unless the device is
     * already engaged in I/O. Returns false, without running it, when the access is refused: the
     * caller answers it the way the bus answers a failed access.
     */
    public boolean enter(Runnable io) {
        if (engagedInIo) {
            refused++;
            return false;
        }
        engagedInIo = true;
        try {
            io.run();
        } finally {
            engagedInIo = false;
        }
        return true;
    }
    // end::guard-enter[]

    /** Whether the device is in the middle of an access or a guarded bottom half. */
    public boolean isEngaged() {
        return engagedInIo;
    }

    /** Accesses refused so far because the device was already engaged. */
    public long refusals() {
        return refused;
    }

    /**
     * Guarded bottom halves that started while the device was already engaged. QEMU only traces
     * these ({@code reentrant_aio}); they still run, because a bottom half is the device's own
     * deferred work, not an access from outside.
     */
    public long reentrantBottomHalves() {
        return reentrantBottomHalves;
    }

    /** Marks the device engaged for a guarded bottom half; returns the previous state to restore. */
    boolean engageForBottomHalf() {
        boolean last = engagedInIo;
        if (last) {
            reentrantBottomHalves++;
        }
        engagedInIo = true;
        return last;
    }

    void restore(boolean last) {
        engagedInIo = last;
    }

    @Override
    public String toString() {
        return "ReentrancyGuard[" + device + (engagedInIo ? ", engaged" : "") + "]";
    }
}
