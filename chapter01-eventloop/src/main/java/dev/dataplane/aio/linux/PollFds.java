package dev.dataplane.aio.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;

/**
 * A growable native array of {@code struct pollfd} for {@link LibC#ppoll}, plus the
 * {@code timespec} that goes with it.
 *
 * <p>One instance belongs to one event loop and is reused on every iteration, so that waiting
 * allocates nothing. Entries are written and read through a direct {@link ByteBuffer} view of the
 * native memory: plain Java stores and loads, instead of one JNI call per field. Not
 * thread-safe: only the loop's home thread touches it.
 */
public final class PollFds {
    /** {@code struct pollfd { int fd; short events; short revents; }} is 8 bytes. */
    static final int SIZEOF_POLLFD = 8;

    private Memory memory;
    private ByteBuffer view;
    private int capacity;
    private final Memory timespec = new Memory(16);

    public PollFds(int initialCapacity) {
        capacity = Math.max(1, initialCapacity);
        memory = new Memory((long) capacity * SIZEOF_POLLFD);
        view = memory.getByteBuffer(0, memory.size());
    }

    /** Makes room for at least {@code n} entries, keeping the ones already set. */
    public void ensureCapacityKeeping(int n) {
        if (n > capacity) {
            int c = Math.max(n, capacity * 2);
            Memory bigger = new Memory((long) c * SIZEOF_POLLFD);
            bigger.write(0, memory.getByteArray(0, capacity * SIZEOF_POLLFD), 0, capacity * SIZEOF_POLLFD);
            memory = bigger;
            view = bigger.getByteBuffer(0, bigger.size());
            capacity = c;
        }
    }

    public int capacity() {
        return capacity;
    }

    /** Sets entry {@code i} to watch {@code fd} for {@code events} and clears its revents. */
    public void set(int i, int fd, int events) {
        int off = i * SIZEOF_POLLFD;
        view.putInt(off, fd);
        view.putShort(off + 4, (short) events);
        view.putShort(off + 6, (short) 0);
    }

    public int fd(int i) {
        return view.getInt(i * SIZEOF_POLLFD);
    }

    /** The events the kernel reported for entry {@code i} in the last ppoll. */
    public int revents(int i) {
        return view.getShort(i * SIZEOF_POLLFD + 6) & 0xffff;
    }

    Pointer pointer() {
        return memory;
    }

    Pointer timespec() {
        return timespec;
    }
}
