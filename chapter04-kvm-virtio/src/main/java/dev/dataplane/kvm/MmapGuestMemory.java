package dev.dataplane.kvm;

import dev.dataplane.kvm.linux.KvmSys;
import dev.dataplane.kvm.linux.MappedRegion;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Guest RAM as one anonymous {@code mmap} (QEMU: a RAM {@code MemoryRegion} backed by
 * {@code qemu_ram_alloc}), which {@link KvmVm#createMemory} registers with KVM as memory slot 0 at
 * guest-physical address 0. The guest and the VMM see the same bytes: no copy in either direction.
 *
 * <p>Implementation notes.
 *
 * <p><b>Size.</b> A multiple of 4 KiB (KVM maps whole pages), at least one page and at most
 * {@link #MAX_SIZE} (1 GiB). The cap keeps all of RAM inside one {@code int}-indexed direct
 * {@link ByteBuffer}, so every accessor is a bounds check plus an absolute buffer access that the
 * JIT compiles to a plain load or store; it also keeps RAM well below the 32-bit PCI hole, where the
 * PC's device BARs live. The mapping is {@code MAP_NORESERVE}: a guest costs the pages it touches.
 *
 * <p><b>Bounds.</b> Every access is checked with {@link GuestMemory#check} before it reaches the
 * buffer, overflow-safe, so a guest-chosen address or length can never reach host memory outside the
 * region; a bad one raises {@link GuestMemoryException}.
 *
 * <p><b>Lifetime.</b> {@link #close()} unmaps the memory. The views {@link #slice} returns point at
 * the mapping without keeping it alive: using one after close would crash the JVM. Accessors called
 * after close throw {@link IllegalStateException}, but nothing can stop a thread that already holds a
 * view or races with close, so the rule is structural: memory is closed last, by its VM, after the
 * vCPU threads are joined and the devices (whose I/O writes into views) are stopped.
 *
 * <p><b>Threads.</b> Accessors may be called from any thread at once (absolute buffer accesses share
 * no position). They carry no ordering: see {@link GuestMemory}.
 */
public final class MmapGuestMemory implements GuestMemory, AutoCloseable {

    /** Page granularity of KVM memory slots. */
    public static final long PAGE_SIZE = 4096;
    /** The largest RAM Dataplane maps (see the class comment). */
    public static final long MAX_SIZE = 1L << 30;

    private final MappedRegion region;
    private final ByteBuffer ram;
    private final long size;
    private volatile boolean closed;

    private MmapGuestMemory(MappedRegion region) {
        this.region = region;
        this.ram = region.buffer();
        this.size = region.length();
    }

    /**
     * Maps {@code size} bytes of zeroed RAM.
     *
     * @throws IllegalArgumentException unless {@code size} is a positive multiple of 4 KiB up to {@link #MAX_SIZE}
     */
    public static MmapGuestMemory allocate(long size) {
        if (size <= 0 || size > MAX_SIZE || size % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("guest RAM must be a multiple of 4 KiB between 4 KiB and "
                    + (MAX_SIZE >> 20) + " MiB, not " + size + " bytes");
        }
        MappedRegion region = MappedRegion.anonymous(size, "guest RAM");
        try {
            // Keep guest RAM out of a forked child (QEMU does the same): the pages KVM has pinned
            // must not become copy-on-write under it.
            region.advise(KvmSys.MADV_DONTFORK);
        } catch (RuntimeException e) {
            region.unmap();
            throw e;
        }
        return new MmapGuestMemory(region);
    }

    @Override
    public long size() {
        return size;
    }

    /** The host virtual address of guest-physical 0 (for KVM_SET_USER_MEMORY_REGION and tests). */
    long hostAddress() {
        return region.address();
    }

    // tag::memory-bounds-check[]
    /** Checks {@code [gpa, gpa + len)} and returns {@code gpa} as a buffer index. */
    private int index(long gpa, int len) {
        if (closed) {
            throw new IllegalStateException("guest memory is closed");
        }
        check(gpa, len); // GuestMemory.contains: gpa >= 0 && len >= 0 && len <= size - gpa (no overflow)
        return (int) gpa; // safe: gpa <= size <= MAX_SIZE < 2^31
    }
    // end::memory-bounds-check[]

    @Override
    public byte readByte(long gpa) {
        return ram.get(index(gpa, 1));
    }

    @Override
    public short readShort(long gpa) {
        return ram.getShort(index(gpa, 2));
    }

    @Override
    public int readInt(long gpa) {
        return ram.getInt(index(gpa, 4));
    }

    @Override
    public long readLong(long gpa) {
        return ram.getLong(index(gpa, 8));
    }

    @Override
    public void writeByte(long gpa, byte value) {
        ram.put(index(gpa, 1), value);
    }

    @Override
    public void writeShort(long gpa, short value) {
        ram.putShort(index(gpa, 2), value);
    }

    @Override
    public void writeInt(long gpa, int value) {
        ram.putInt(index(gpa, 4), value);
    }

    @Override
    public void writeLong(long gpa, long value) {
        ram.putLong(index(gpa, 8), value);
    }

    @Override
    public void read(long gpa, byte[] dst, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, dst.length);
        ram.get(index(gpa, len), dst, off, len);
    }

    @Override
    public void write(long gpa, byte[] src, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, src.length);
        ram.put(index(gpa, len), src, off, len);
    }

    /**
     * A little-endian view of {@code [gpa, gpa + len)} backed by guest RAM (zero copy): position 0,
     * limit and capacity {@code len}. It must not be used after {@link #close()} (see the class
     * comment).
     */
    @Override
    public ByteBuffer slice(long gpa, int len) {
        return ram.slice(index(gpa, len), len).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        return closed;
    }

    /** Unmaps the RAM; idempotent. Only when no thread uses it or a view of it any more. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            region.unmap();
        }
    }
}
