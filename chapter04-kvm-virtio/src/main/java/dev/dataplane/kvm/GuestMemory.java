package dev.dataplane.kvm;

import java.nio.ByteBuffer;

/**
 * The guest's RAM as the VMM sees it: guest-physical addresses from 0 to {@link #size()}, every
 * access bounds-checked (QEMU: {@code address_space_read}/{@code _write} on the system memory,
 * {@code dma_memory_map}).
 *
 * <p>The guest is untrusted: every address and length that came from guest memory goes through
 * these methods, and a range that is not entirely inside RAM raises
 * {@link GuestMemoryException}, never a host fault, and never touches host memory outside the
 * region. Multi-byte values are little-endian, as on x86 and in virtio.
 *
 * <p>Plain accesses carry no ordering. Code that shares data with the guest's CPUs (a virtqueue's
 * rings) orders its accesses with {@link java.lang.invoke.VarHandle} fences, as the virtio
 * specification's barriers require.
 *
 * <p>Implementations: {@code MmapGuestMemory} (anonymous mmap, registered with KVM) and, for tests
 * without KVM, any implementation over a direct {@link ByteBuffer}.
 */
public interface GuestMemory {

    /** Bytes of RAM; valid addresses are {@code 0 .. size() - 1}. */
    long size();

    /** Whether {@code [gpa, gpa + len)} lies entirely inside RAM (overflow-safe; len 0 is inside if gpa <= size). */
    default boolean contains(long gpa, long len) {
        return gpa >= 0 && len >= 0 && gpa <= size() && len <= size() - gpa;
    }

    /** Throws {@link GuestMemoryException} unless {@link #contains}{@code (gpa, len)}. */
    default void check(long gpa, long len) {
        if (!contains(gpa, len)) {
            throw new GuestMemoryException(gpa, len, size());
        }
    }

    byte readByte(long gpa);

    short readShort(long gpa);

    int readInt(long gpa);

    long readLong(long gpa);

    void writeByte(long gpa, byte value);

    void writeShort(long gpa, short value);

    void writeInt(long gpa, int value);

    void writeLong(long gpa, long value);

    /** Copies {@code len} bytes at {@code gpa} into {@code dst[off..]}. */
    void read(long gpa, byte[] dst, int off, int len);

    /** Copies {@code src[off..off+len)} to {@code gpa}. */
    void write(long gpa, byte[] src, int off, int len);

    /**
     * A little-endian view of {@code [gpa, gpa + len)}, backed by guest RAM itself, so that file
     * I/O goes straight into the guest (zero copy). Position 0, limit {@code len}. The view must
     * not be used after the memory is closed.
     */
    ByteBuffer slice(long gpa, int len);
}
