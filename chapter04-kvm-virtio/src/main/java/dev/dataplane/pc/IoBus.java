package dev.dataplane.pc;

import java.util.Arrays;

/**
 * An address space of device register blocks: the port-I/O bus or the MMIO bus (QEMU: the
 * {@code get_system_io()} and {@code get_system_memory()} address spaces with their I/O
 * {@code MemoryRegion}s; kvmtool: {@code kvm__register_pio}/{@code _mmio}). A vCPU thread that gets
 * a port or MMIO exit asks the bus which {@link IoDevice} owns the address and calls it.
 *
 * <p>Implementation notes.
 *
 * <p><b>Map.</b> Regions are half-open ranges {@code [base, base + length)} that never overlap;
 * {@link #map} refuses an overlap, naming both regions. An access belongs to a region only if all
 * of its bytes lie inside it; an access to no region (or straddling a region's end) is "unmapped":
 * a read returns all ones, a write is dropped, as on a PC bus where nobody answers.
 *
 * <p><b>Threads.</b> The map is an immutable sorted array published through a volatile field
 * (copy-on-write). {@link #find} and the accesses read one snapshot without locking, so vCPU threads
 * never contend with each other here; {@link #map} and {@link #unmap} serialise on the bus and
 * publish a new array. A PCI BAR moves while vCPUs run by {@code unmap} then {@code map}; both run
 * with the BQL held (a config-space write is itself a vCPU exit), as do the device calls, so no
 * access is dispatched to a block after the BQL holder that unmapped it has released the lock.
 * An access that finds the gap between the two calls sees an unmapped address, as real hardware
 * would during a BAR update.
 *
 * <p>This class is also an {@link IoDevice} whose "offset" is the absolute address, so a bus can be
 * mapped into another bus or handed to code that expects a device.
 */
public final class IoBus implements IoDevice {

    /** One mapped register block. */
    public record Region(long base, long length, IoDevice device) {
        /** The first address after the region; never overflows, since {@code base + length <= limit}. */
        public long end() {
            return base + length;
        }

        boolean contains(long addr, int size) {
            return addr >= base && addr - base <= length - size;
        }

        @Override
        public String toString() {
            return "[0x" + Long.toHexString(base) + ", 0x" + Long.toHexString(base + length) + ") " + device;
        }
    }

    private static final Region[] EMPTY = new Region[0];

    private final String name;
    private final long limit;
    private volatile Region[] regions = EMPTY;

    /**
     * A bus of addresses {@code 0 .. limit - 1}: 0x10000 for port I/O, 2^32 (or more) for MMIO.
     */
    public IoBus(String name, long limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("bus limit " + limit);
        }
        this.name = name;
        this.limit = limit;
    }

    /** The port-I/O bus of a PC: ports 0..0xFFFF. */
    public static IoBus pio() {
        return new IoBus("pio", 0x1_0000);
    }

    /** The MMIO bus of a 32-bit PC: addresses below 4 GiB (RAM is a KVM slot, not on this bus). */
    public static IoBus mmio() {
        return new IoBus("mmio", 1L << 32);
    }

    public String name() {
        return name;
    }

    /**
     * Maps {@code device} at {@code [base, base + length)}.
     *
     * @throws IllegalArgumentException if the range is empty, outside the bus, or overlaps a mapped region
     */
    public synchronized void map(long base, long length, IoDevice device) {
        if (device == null || length <= 0 || base < 0 || base >= limit || length > limit - base) {
            throw new IllegalArgumentException(name + ": cannot map " + device + " at [0x" + Long.toHexString(base)
                    + ", +" + length + "): outside 0..0x" + Long.toHexString(limit));
        }
        Region[] old = regions;
        int at = insertionPoint(old, base);
        Region candidate = new Region(base, length, device);
        if (at > 0 && old[at - 1].end() > base) {
            throw overlap(candidate, old[at - 1]);
        }
        if (at < old.length && old[at].base() < base + length) {
            throw overlap(candidate, old[at]);
        }
        Region[] updated = new Region[old.length + 1];
        System.arraycopy(old, 0, updated, 0, at);
        updated[at] = candidate;
        System.arraycopy(old, at, updated, at + 1, old.length - at);
        regions = updated;
    }

    private IllegalArgumentException overlap(Region wanted, Region existing) {
        return new IllegalArgumentException(name + ": " + wanted + " overlaps " + existing);
    }

    /**
     * Unmaps the region that starts at {@code base}; returns its device, or null if no region starts
     * there.
     */
    public synchronized IoDevice unmap(long base) {
        Region[] old = regions;
        int i = indexOfBase(old, base);
        if (i < 0) {
            return null;
        }
        Region[] updated = new Region[old.length - 1];
        System.arraycopy(old, 0, updated, 0, i);
        System.arraycopy(old, i + 1, updated, i, old.length - i - 1);
        regions = updated;
        return old[i].device();
    }

    /** The region containing all of {@code [addr, addr + size)}, or null. Lock-free. */
    public Region find(long addr, int size) {
        Region[] snapshot = regions;
        // The last region whose base is <= addr is the only candidate.
        int lo = 0;
        int hi = snapshot.length - 1;
        Region candidate = null;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (snapshot[mid].base() <= addr) {
                candidate = snapshot[mid];
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return candidate != null && candidate.contains(addr, size) ? candidate : null;
    }

    /** The mapped regions, in address order (a snapshot). */
    public java.util.List<Region> regions() {
        return java.util.List.of(regions);
    }

    /** Reads {@code size} bytes at {@code addr}: the owner's answer, or all ones where nobody answers. */
    @Override
    public long read(long addr, int size) {
        Region r = find(addr, size);
        return r == null ? allOnes(size) : r.device().read(addr - r.base(), size);
    }

    /** Writes {@code size} bytes at {@code addr} to its owner; dropped where nobody answers. */
    @Override
    public void write(long addr, int size, long value) {
        Region r = find(addr, size);
        if (r != null) {
            r.device().write(addr - r.base(), size, value);
        }
    }

    /**
     * The machine's {@link AddressSpaceMapper} over a port-I/O bus and an MMIO bus, for the PCI host
     * bridge: a range that cannot be mapped (overlap, outside the bus) is refused with {@code false},
     * never an exception, because BAR addresses come from the guest.
     */
    public static AddressSpaceMapper mapper(IoBus pio, IoBus mmio) {
        return new AddressSpaceMapper() {
            @Override
            public boolean map(boolean io, long base, long length, IoDevice device) {
                try {
                    (io ? pio : mmio).map(base, length, device);
                    return true;
                } catch (IllegalArgumentException refused) {
                    return false;
                }
            }

            @Override
            public void unmap(boolean io, long base, long length) {
                IoBus bus = io ? pio : mmio;
                Region r = bus.find(base, 1);
                if (r != null && r.base() == base && r.length() == length) {
                    bus.unmap(base);
                }
            }
        };
    }

    /** The value of a read nobody answers: {@code size} bytes of 0xFF. */
    public static long allOnes(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    private static int insertionPoint(Region[] a, long base) {
        int i = Arrays.binarySearch(a, new Region(base, 1, null), (x, y) -> Long.compare(x.base(), y.base()));
        return i >= 0 ? i : -i - 1;
    }

    private static int indexOfBase(Region[] a, long base) {
        int i = Arrays.binarySearch(a, new Region(base, 1, null), (x, y) -> Long.compare(x.base(), y.base()));
        return i >= 0 ? i : -1;
    }

    @Override
    public String toString() {
        return "IoBus[" + name + ", " + regions.length + " regions]";
    }
}
