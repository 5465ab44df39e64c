package dev.dataplane.kvm.linux;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

/**
 * A block of native memory that holds one ioctl argument structure, with little-endian accessors
 * at byte offsets (the offsets are in {@link KvmAbi}). A caller allocates one and reuses it (for
 * example a vCPU keeps one for {@code KVM_GET_REGS}/{@code KVM_SET_REGS}), so the calls allocate
 * nothing. Not thread-safe: one owner at a time.
 */
public final class NativeBlock {
    private final Memory memory;
    private final int size;

    public NativeBlock(int size) {
        this.memory = KvmSys.zeroed(size);
        this.size = size;
    }

    Pointer pointer() {
        return memory;
    }

    public int size() {
        return size;
    }

    /** Sets every byte to zero (the padding KVM checks must be zero in some structures). */
    public NativeBlock clear() {
        memory.clear();
        return this;
    }

    public long getLong(int offset) {
        return memory.getLong(check(offset, 8));
    }

    public int getInt(int offset) {
        return memory.getInt(check(offset, 4));
    }

    public int getShort(int offset) {
        return memory.getShort(check(offset, 2)) & 0xFFFF;
    }

    public int getByte(int offset) {
        return memory.getByte(check(offset, 1)) & 0xFF;
    }

    public NativeBlock putLong(int offset, long v) {
        memory.setLong(check(offset, 8), v);
        return this;
    }

    public NativeBlock putInt(int offset, int v) {
        memory.setInt(check(offset, 4), v);
        return this;
    }

    public NativeBlock putShort(int offset, int v) {
        memory.setShort(check(offset, 2), (short) v);
        return this;
    }

    public NativeBlock putByte(int offset, int v) {
        memory.setByte(check(offset, 1), (byte) v);
        return this;
    }

    private long check(int offset, int len) {
        if (offset < 0 || offset > size - len) {
            throw new IndexOutOfBoundsException("offset " + offset + " + " + len + " outside a " + size + "-byte block");
        }
        return offset;
    }
}
