package dev.dataplane.aio.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

/**
 * A few bytes of native memory that a caller allocates once and passes to a system call wrapper
 * on a hot path (for example an eventfd drain), so that the call allocates nothing and JNA has no
 * Java array to copy in and out.
 */
public final class NativeScratch {
    private final Memory memory;

    public NativeScratch(int bytes) {
        memory = new Memory(bytes);
    }

    Pointer pointer() {
        return memory;
    }
}
