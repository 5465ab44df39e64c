package dev.dataplane.pc;

import java.util.List;

/**
 * One function of a PCI device behind Dataplane's host bridge (QEMU: {@code PCIDevice}). The host
 * bridge implements configuration mechanism #1 (ports 0xCF8/0xCFC) and forwards accesses to the
 * function's 256-byte configuration space; it reads the BARs' sizes from {@link #bars()}, assigns
 * their addresses at machine set-up (as firmware would), follows the guest when it resizes or
 * moves them, and maps each BAR's {@link IoDevice} onto the port-I/O or MMIO bus while the
 * command register enables that space.
 */
public interface PciFunction {

    /** Reads {@code size} (1, 2 or 4) bytes of configuration space at {@code offset} (0..255). */
    int configRead(int offset, int size);

    /** Writes {@code size} bytes of configuration space; writes to read-only bits are ignored. */
    void configWrite(int offset, int size, int value);

    /** The function's base address registers, in BAR-number order (may have gaps: use {@link Bar#index}). */
    List<Bar> bars();

    /** One base address register. {@code size} is a power of two. */
    record Bar(int index, boolean io, long size, IoDevice device) {
    }

    /**
     * Called by the host bridge when the guest's INTx line of this function is wired: the
     * function raises and lowers its interrupt through {@code line} (QEMU: {@code pci_set_irq}).
     */
    default void connectIntx(IntxLine line) {
    }

    /** A level-triggered interrupt line (chapter 4 implements it with an irqfd and a resample fd). */
    interface IntxLine {
        void set(boolean level);
    }
}
