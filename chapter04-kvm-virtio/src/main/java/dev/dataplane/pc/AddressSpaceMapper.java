package dev.dataplane.pc;

/**
 * Puts a device's register block onto the port-I/O or MMIO address space and takes it off again
 * (QEMU: {@code memory_region_add_subregion} / {@code memory_region_del_subregion} on the I/O or
 * system-memory region). The PCI host bridge uses it to map a function's BARs where the guest put
 * them; the machine's bus implements it.
 *
 * <p>Contract, because the addresses come from the guest:
 * <ul>
 *   <li>{@link #map} never throws for a guest-chosen range. If the range cannot be mapped (it
 *       overlaps a fixed device or another BAR, or lies outside the space), it returns
 *       {@code false} and maps nothing; the caller then treats the BAR as unmapped. On a real PC
 *       two devices decoding the same address is undefined; refusing the second is the simplest
 *       defined behaviour.</li>
 *   <li>{@link #unmap} is only called for a range that {@link #map} accepted, with the same base
 *       and length.</li>
 *   <li>Both are called with the BQL held, from a vCPU thread handling a configuration write or
 *       from machine set-up. A vCPU exit that races with an unmap may still reach the old device
 *       once; devices tolerate that as they tolerate any guest access.</li>
 * </ul>
 */
public interface AddressSpaceMapper {

    /**
     * Maps {@code [base, base + length)} of the I/O space ({@code io}) or the memory space to
     * {@code device}; offsets passed to the device are relative to {@code base}.
     *
     * @return whether the range is now mapped to {@code device}
     */
    boolean map(boolean io, long base, long length, IoDevice device);

    /** Removes a mapping made by {@link #map} with the same arguments. */
    void unmap(boolean io, long base, long length);
}
