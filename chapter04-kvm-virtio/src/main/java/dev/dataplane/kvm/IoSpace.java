package dev.dataplane.kvm;

/** The two x86 address spaces a device register block can live in. */
public enum IoSpace {
    /** Port I/O ({@code in}/{@code out}), ports 0..0xFFFF. */
    PIO,
    /** Memory-mapped I/O: guest-physical addresses that no memory slot covers. */
    MMIO
}
