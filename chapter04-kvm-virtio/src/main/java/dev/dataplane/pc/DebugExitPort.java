package dev.dataplane.pc;

import java.util.OptionalInt;
import java.util.function.IntConsumer;

/**
 * A port the guest writes to end the run with an exit status, like QEMU's {@code isa-debug-exit}
 * device ({@code -device isa-debug-exit,iobase=0xf4,iosize=0x04}).
 *
 * <p>A write of value {@code v} (of any width, at any offset of the block) ends the VM with
 * status {@code (v << 1) | 1}, cut to the 8 bits a process exit status has. QEMU calls
 * {@code exit((v << 1) | 1)} and the operating system keeps the low 8 bits, so this is exactly the
 * exit code a shell sees for the same guest under QEMU: 0 -> 1, 1 -> 3, 0x10 -> 33,
 * 0x7f -> 255, 0x80 -> 1. An odd status therefore always means "the guest chose it"; Dataplane's
 * machine uses even statuses (0 among them) for its own outcomes.
 *
 * <p>The first write wins: it records the status and calls the exit hook once, on the vCPU thread
 * that wrote, with the BQL held. The machine's hook must only <em>request</em> the stop (flag the
 * run as finished, kick the vCPUs out of {@code KVM_RUN}); it must not wait for the vCPUs, since
 * one of them is the caller. Later writes (another vCPU, or the same one before it stops) are
 * ignored. Reads return 0, as QEMU's device does.
 */
public final class DebugExitPort implements IoDevice {

    /** The port QEMU's documentation and our guest use. */
    public static final int DEFAULT_IOBASE = 0xf4;
    /** Bytes decoded, so that {@code outb}, {@code outw} and {@code outl} all reach the device. */
    public static final int IOSIZE = 4;

    private final IntConsumer onExit;
    private int status = -1; // guarded by this; -1 = no exit yet

    /** @param onExit called once with the exit status (0..255) of the guest's first write */
    public DebugExitPort(IntConsumer onExit) {
        if (onExit == null) {
            throw new NullPointerException("onExit");
        }
        this.onExit = onExit;
    }

    // tag::debug-exit-status[]
    /** The process exit status QEMU ends with when its guest writes {@code value}. */
    public static int exitStatus(long value) {
        return (int) (((value << 1) | 1) & 0xff);
    }
    // end::debug-exit-status[]

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        int code;
        synchronized (this) {
            if (status >= 0) {
                return;
            }
            status = exitStatus(value);
            code = status;
        }
        // Outside the monitor: the hook kicks vCPU threads, which may be in read() right now.
        onExit.accept(code);
    }

    /** The status of the guest's exit request, empty while the guest has not written. */
    public synchronized OptionalInt exitStatus() {
        return status < 0 ? OptionalInt.empty() : OptionalInt.of(status);
    }
}
