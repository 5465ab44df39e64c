package dev.dataplane.aio.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

/**
 * A native array of {@code struct epoll_event} that {@link LibC#epollWait} fills in.
 * Reused on every wait; only the loop's home thread touches it.
 */
public final class EpollEvents {
    /** {@code struct epoll_event} is packed on x86-64: u32 events, u64 data. */
    static final int SIZEOF_EPOLL_EVENT = 12;

    private final Memory memory;
    private final int capacity;

    public EpollEvents(int capacity) {
        this.capacity = capacity;
        this.memory = new Memory((long) capacity * SIZEOF_EPOLL_EVENT);
    }

    public int capacity() {
        return capacity;
    }

    /** The event bits of entry {@code i}. */
    public int events(int i) {
        return memory.getInt((long) i * SIZEOF_EPOLL_EVENT);
    }

    /** The data word registered with the fd of entry {@code i}. */
    public long data(int i) {
        return memory.getLong((long) i * SIZEOF_EPOLL_EVENT + 4);
    }

    Pointer pointer() {
        return memory;
    }
}
