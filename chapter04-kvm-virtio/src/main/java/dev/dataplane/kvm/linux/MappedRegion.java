package dev.dataplane.kvm.linux;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One {@code mmap}'ed range of the process: guest RAM (anonymous, private) or a vCPU's
 * {@code kvm_run} page (shared, from the vCPU fd).
 *
 * <p>{@link #buffer()} is a little-endian direct {@link ByteBuffer} over the whole range, so Java
 * code reads and writes it with plain (JIT-intrinsic) buffer accesses instead of a JNA call per
 * access. Such a view, and every slice of it, points at the mapping without keeping it alive:
 * after {@link #unmap()} any access through it would touch unmapped memory and crash the JVM.
 * The owner of the region must therefore make sure nobody still uses a view when it unmaps (the
 * VM unmaps guest RAM only after its vCPU threads are joined and its devices closed). A region
 * must fit one {@code int}-indexed buffer: at most {@link Integer#MAX_VALUE} bytes.
 */
public final class MappedRegion {
    private final long address;
    private final long length;
    private final String what;
    private final ByteBuffer buffer;
    private boolean unmapped;

    private MappedRegion(long address, long length, String what) {
        this.address = address;
        this.length = length;
        this.what = what;
        this.buffer = new Pointer(address).getByteBuffer(0, length).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Private anonymous memory, zero-filled, readable and writable, not reserved against swap
     * ({@code MAP_NORESERVE}: a big guest costs only the pages it touches).
     */
    public static MappedRegion anonymous(long length, String what) {
        checkLength(length);
        long addr = KvmSys.mmap(length, KvmSys.PROT_READ | KvmSys.PROT_WRITE,
                KvmSys.MAP_PRIVATE | KvmSys.MAP_ANONYMOUS | KvmSys.MAP_NORESERVE, -1, 0, what);
        return new MappedRegion(addr, length, what);
    }

    /** {@code length} bytes of {@code fd} from offset 0, shared and read-write (a vCPU's kvm_run page). */
    public static MappedRegion shared(int fd, long length, String what) {
        checkLength(length);
        long addr = KvmSys.mmap(length, KvmSys.PROT_READ | KvmSys.PROT_WRITE, KvmSys.MAP_SHARED, fd, 0, what);
        return new MappedRegion(addr, length, what);
    }

    private static void checkLength(long length) {
        if (length <= 0 || length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a mapping must be 1.." + Integer.MAX_VALUE + " bytes, not " + length);
        }
    }

    /** madvise(2) over the whole region, e.g. {@link KvmSys#MADV_DONTFORK}. */
    public void advise(int advice) {
        KvmSys.madvise(address, length, advice, what);
    }

    /** The host virtual address (what KVM_SET_USER_MEMORY_REGION calls {@code userspace_addr}). */
    public long address() {
        return address;
    }

    public long length() {
        return length;
    }

    /** A little-endian view of the whole region; valid until {@link #unmap()}. Shared: use absolute accesses or duplicate it. */
    public ByteBuffer buffer() {
        return buffer;
    }

    /** Unmaps the region; idempotent. Every view must be out of use (see the class comment). */
    public synchronized void unmap() {
        if (!unmapped) {
            unmapped = true;
            KvmSys.munmap(address, length, what);
        }
    }
}
