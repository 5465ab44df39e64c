package dev.dataplane.pc;

/**
 * A device register block on the port-I/O or MMIO bus (QEMU: {@code MemoryRegionOps}). A vCPU
 * thread calls it, with the BQL held, when the guest accesses an address in the block's range
 * and no ioeventfd caught the access.
 *
 * <p>{@code offset} is relative to the start of the block; {@code size} is 1, 2, 4 or 8 bytes.
 * Values are the low {@code size} bytes of the {@code long}. A read of an unimplemented register
 * returns all ones, as on real hardware; a write to one is ignored. Guest-controlled offsets and
 * values must never make a device throw.
 */
public interface IoDevice {

    long read(long offset, int size);

    void write(long offset, int size, long value);
}
