package dev.dataplane.virtio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.kvm.GuestMemory;
import dev.dataplane.kvm.GuestMemoryException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Guest RAM for tests without KVM: a direct buffer with a canary region on each side. Every
 * access is bounds-checked like the real memory's; {@link #refusedAccesses()} counts the ones it
 * refused (a device that validates first never causes one), and {@link #canaryIntact()} proves
 * nothing wrote around RAM, not even through a {@link #slice}.
 */
public final class FakeGuestMemory implements GuestMemory {

    public static final int GUARD = 4096;
    private static final byte CANARY = (byte) 0xA5;

    private final ByteBuffer whole;
    private final ByteBuffer ram;
    private final int size;
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong writes = new AtomicLong();

    public FakeGuestMemory(int size) {
        this.size = size;
        this.whole = ByteBuffer.allocateDirect(GUARD + size + GUARD).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < GUARD; i++) {
            whole.put(i, CANARY);
            whole.put(GUARD + size + i, CANARY);
        }
        this.ram = whole.slice(GUARD, size).order(ByteOrder.LITTLE_ENDIAN);
    }

    public boolean canaryIntact() {
        for (int i = 0; i < GUARD; i++) {
            if (whole.get(i) != CANARY || whole.get(GUARD + size + i) != CANARY) {
                return false;
            }
        }
        return true;
    }

    public long refusedAccesses() {
        return refused.get();
    }

    /**
     * The check every test over this memory ends with: nothing was written around RAM, and no
     * access outside it was even tried (a device validates before it touches memory).
     */
    public void assertNothingOutsideRamTouched(String where) {
        assertThat(canaryIntact()).as("%s: the canary around guest RAM", where).isTrue();
        assertThat(refusedAccesses()).as("%s: accesses outside RAM the device tried", where).isZero();
    }

    /** Write calls (and views handed out, which may be written) so far: "nothing was written" tests. */
    public long writes() {
        return writes.get();
    }

    /** The NUL-terminated string at {@code gpa} (bytes as Latin-1). */
    public String readCString(long gpa) {
        StringBuilder sb = new StringBuilder();
        for (long a = gpa; readByte(a) != 0; a++) {
            sb.append((char) (readByte(a) & 0xff));
        }
        return sb.toString();
    }

    /** A copy of all of RAM. */
    public byte[] snapshot() {
        byte[] copy = new byte[size];
        ram.get(0, copy);
        return copy;
    }

    /** Zeroes {@code [gpa, gpa+len)}. */
    public void clear(long gpa, int len) {
        check(gpa, len);
        for (int i = 0; i < len; i++) {
            ram.put((int) gpa + i, (byte) 0);
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void check(long gpa, long len) {
        if (!contains(gpa, len)) {
            refused.incrementAndGet();
            throw new GuestMemoryException(gpa, len, size);
        }
    }

    @Override
    public byte readByte(long gpa) {
        check(gpa, 1);
        return ram.get((int) gpa);
    }

    @Override
    public short readShort(long gpa) {
        check(gpa, 2);
        return ram.getShort((int) gpa);
    }

    @Override
    public int readInt(long gpa) {
        check(gpa, 4);
        return ram.getInt((int) gpa);
    }

    @Override
    public long readLong(long gpa) {
        check(gpa, 8);
        return ram.getLong((int) gpa);
    }

    @Override
    public void writeByte(long gpa, byte value) {
        writes.incrementAndGet();
        check(gpa, 1);
        ram.put((int) gpa, value);
    }

    @Override
    public void writeShort(long gpa, short value) {
        writes.incrementAndGet();
        check(gpa, 2);
        ram.putShort((int) gpa, value);
    }

    @Override
    public void writeInt(long gpa, int value) {
        writes.incrementAndGet();
        check(gpa, 4);
        ram.putInt((int) gpa, value);
    }

    @Override
    public void writeLong(long gpa, long value) {
        writes.incrementAndGet();
        check(gpa, 8);
        ram.putLong((int) gpa, value);
    }

    @Override
    public void read(long gpa, byte[] dst, int off, int len) {
        check(gpa, len);
        ram.get((int) gpa, dst, off, len);
    }

    @Override
    public void write(long gpa, byte[] src, int off, int len) {
        writes.incrementAndGet();
        check(gpa, len);
        ram.put((int) gpa, src, off, len);
    }

    @Override
    public ByteBuffer slice(long gpa, int len) {
        writes.incrementAndGet();
        check(gpa, len);
        return ram.slice((int) gpa, len).order(ByteOrder.LITTLE_ENDIAN);
    }
}
