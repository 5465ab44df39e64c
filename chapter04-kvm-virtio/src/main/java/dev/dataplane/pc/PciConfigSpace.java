package dev.dataplane.pc;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The 256-byte configuration space of one PCI function with a type-0 header, for a
 * {@link PciFunction} to delegate to (QEMU: {@code PCIDevice.config} with its {@code wmask}, and
 * {@code pci_default_read_config}/{@code pci_default_write_config}).
 *
 * <p>Implementation notes.
 *
 * <p><b>Read-only bits.</b> Each byte has a write mask; a write changes only the masked bits
 * ({@code new = old & ~mask | value & mask}). Writable are: the command register's I/O, memory,
 * bus-master, parity, SERR and interrupt-disable bits; cache line size and latency timer; the
 * address bits of implemented BARs; the interrupt line. Everything else (ids, class, header type,
 * status, interrupt pin, subsystem ids, the expansion ROM BAR, the device-specific area from
 * 0x40) reads back what the device set and ignores writes. The status register has no error bits
 * that could need write-one-to-clear, since nothing here reports bus errors.
 *
 * <p><b>BARs.</b> Only 32-bit BARs: I/O (bit 0 set, 4..256 bytes) and non-prefetchable memory
 * (type bits 0, at least 16 bytes). A BAR's size is a power of two and its address is aligned to
 * its size, because the address bits below the size are read-only zeros: that is the whole sizing
 * protocol (see {@link #read}). Whether a BAR is <em>mapped</em> is decided by the host bridge from
 * the address and the command register; this class only stores the bits.
 *
 * <p><b>INTx.</b> The device sets its interrupt level with {@link #setIntxLevel}; the status
 * register's interrupt bit (bit 3) shows it, and the line to the interrupt controller follows it
 * unless the command register's interrupt-disable bit (bit 10) masks it, as PCI 2.3 specifies.
 *
 * <p><b>Threads.</b> Configuration accesses come from vCPU threads with the BQL held, but a device
 * completing requests in an IOThread raises INTx without the BQL. So every method synchronizes on
 * this object; the {@link PciFunction.IntxLine} is called with the monitor held (it only writes an
 * eventfd or updates a counter, and never calls back).
 */
public final class PciConfigSpace {

    public static final int SIZE = 256;

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_PROG = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0c;
    public static final int LATENCY_TIMER = 0x0d;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;

    public static final int COMMAND_IO = 0x0001;
    public static final int COMMAND_MEMORY = 0x0002;
    public static final int COMMAND_BUS_MASTER = 0x0004;
    public static final int COMMAND_PARITY = 0x0040;
    public static final int COMMAND_SERR = 0x0100;
    public static final int COMMAND_INTX_DISABLE = 0x0400;
    static final int COMMAND_WRITABLE = COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_PARITY
            | COMMAND_SERR | COMMAND_INTX_DISABLE;

    public static final int STATUS_INTERRUPT = 0x0008;

    /** BAR bit 0: the BAR decodes I/O space. Memory BARs have bits 2:1 = 00 (32-bit). */
    public static final int BAR_IO = 0x1;
    static final int BAR_IO_ADDRESS_MASK = 0xfffffffc;
    static final int BAR_MEM_ADDRESS_MASK = 0xfffffff0;

    public static final int MAX_BARS = 6;
    public static final int MIN_IO_BAR = 4;
    public static final int MAX_IO_BAR = 256;
    public static final int MIN_MEM_BAR = 16;
    public static final long MAX_MEM_BAR = 1L << 31;

    private final byte[] config = new byte[SIZE];
    private final byte[] wmask = new byte[SIZE];
    private final List<PciFunction.Bar> bars;

    private PciFunction.IntxLine intx;  // guarded by this; null until the bridge wires it
    private boolean intxLevel;          // guarded by this; what the device asks for
    private boolean intxOut;            // guarded by this; what the line was last set to

    private PciConfigSpace(Builder b) {
        setWord(VENDOR_ID, b.vendorId);
        setWord(DEVICE_ID, b.deviceId);
        config[REVISION_ID] = (byte) b.revision;
        config[CLASS_PROG] = (byte) b.classCode;
        config[CLASS_PROG + 1] = (byte) (b.classCode >>> 8);
        config[CLASS_PROG + 2] = (byte) (b.classCode >>> 16);
        config[HEADER_TYPE] = 0; // type 0, single function
        setWord(SUBSYSTEM_VENDOR_ID, b.subsystemVendorId);
        setWord(SUBSYSTEM_ID, b.subsystemId);
        config[INTERRUPT_PIN] = (byte) b.interruptPin;

        setMask(COMMAND, 2, COMMAND_WRITABLE);
        setMask(CACHE_LINE_SIZE, 1, 0xff);
        setMask(LATENCY_TIMER, 1, 0xff);
        setMask(INTERRUPT_LINE, 1, 0xff);

        List<PciFunction.Bar> sorted = new ArrayList<>(b.bars);
        sorted.sort(Comparator.comparingInt(PciFunction.Bar::index));
        this.bars = List.copyOf(sorted);
        for (PciFunction.Bar bar : bars) {
            int reg = BAR0 + 4 * bar.index();
            setLong(reg, bar.io() ? BAR_IO : 0);
            setMask(reg, 4, barWriteMask(bar));
        }
    }

    // tag::bar-mask[]
    /**
     * The writable bits of a BAR: the address bits at and above its size. The bits below are
     * read-only (zero, or the type bits in the lowest nibble), which is what makes sizing work: a
     * guest writes all ones and reads back {@code ~(size - 1)} with the type bits, then takes the
     * lowest set address bit as the size.
     */
    static int barWriteMask(PciFunction.Bar bar) {
        int addressBits = bar.io() ? BAR_IO_ADDRESS_MASK : BAR_MEM_ADDRESS_MASK;
        return (int) ~(bar.size() - 1) & addressBits;
    }

    /** The address a BAR register's value points at (type bits cleared), unsigned. */
    public static long barAddress(int registerValue, boolean io) {
        return Integer.toUnsignedLong(registerValue & (io ? BAR_IO_ADDRESS_MASK : BAR_MEM_ADDRESS_MASK));
    }
    // end::bar-mask[]

    /** Starts a function's configuration space; {@code classCode} is class, subclass, prog-if (24 bits). */
    public static Builder builder(int vendorId, int deviceId, int classCode) {
        return new Builder(vendorId, deviceId, classCode);
    }

    /**
     * Reads {@code size} bytes at {@code offset}, little-endian. Bytes outside the 256-byte space
     * read as 0xFF. Reading a BAR after writing all ones to it gives {@code ~(size - 1)} with the
     * type bits: the BAR sizing protocol.
     */
    public synchronized int read(int offset, int size) {
        int value = 0;
        for (int i = 0; i < Math.min(Math.max(size, 0), 4); i++) {
            int o = offset + i;
            int b = o >= 0 && o < SIZE ? config[o] & 0xff : 0xff;
            value |= b << (8 * i);
        }
        return value;
    }

    /** Writes {@code size} bytes at {@code offset}; read-only bits and bytes outside the space are left alone. */
    public synchronized void write(int offset, int size, int value) {
        for (int i = 0; i < Math.min(Math.max(size, 0), 4); i++) {
            int o = offset + i;
            if (o >= 0 && o < SIZE) {
                int m = wmask[o];
                config[o] = (byte) ((config[o] & ~m) | ((value >>> (8 * i)) & m));
            }
        }
        updateIntx(); // the write may have flipped the interrupt-disable bit
    }

    /** The BARs given to the builder, in index order. */
    public List<PciFunction.Bar> bars() {
        return bars;
    }

    public synchronized int command() {
        return word(COMMAND);
    }

    public synchronized boolean busMasterEnabled() {
        return (word(COMMAND) & COMMAND_BUS_MASTER) != 0;
    }

    /** The address currently in BAR {@code index} (type bits cleared), whether or not it is mapped. */
    public synchronized long barAddress(int index) {
        for (PciFunction.Bar bar : bars) {
            if (bar.index() == index) {
                return barAddress(longAt(BAR0 + 4 * index), bar.io());
            }
        }
        throw new IllegalArgumentException("no BAR " + index);
    }

    public synchronized int interruptLine() {
        return config[INTERRUPT_LINE] & 0xff;
    }

    public synchronized int interruptPin() {
        return config[INTERRUPT_PIN] & 0xff;
    }

    /** Wires the function's INTx pin; delegate {@link PciFunction#connectIntx} here. */
    public synchronized void connectIntx(PciFunction.IntxLine line) {
        this.intx = line;
        this.intxOut = false;
        updateIntx();
    }

    /** Raises or lowers the function's INTx (QEMU: {@code pci_set_irq}). Any thread. */
    public synchronized void setIntxLevel(boolean level) {
        intxLevel = level;
        int status = word(STATUS);
        setWord(STATUS, level ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT);
        updateIntx();
    }

    public synchronized boolean intxLevel() {
        return intxLevel;
    }

    private void updateIntx() {
        boolean out = intxLevel && (word(COMMAND) & COMMAND_INTX_DISABLE) == 0;
        if (intx != null && out != intxOut) {
            intxOut = out;
            intx.set(out);
        }
    }

    private int word(int offset) {
        return (config[offset] & 0xff) | (config[offset + 1] & 0xff) << 8;
    }

    private int longAt(int offset) {
        return word(offset) | word(offset + 2) << 16;
    }

    private void setWord(int offset, int value) {
        config[offset] = (byte) value;
        config[offset + 1] = (byte) (value >>> 8);
    }

    private void setLong(int offset, int value) {
        setWord(offset, value);
        setWord(offset + 2, value >>> 16);
    }

    private void setMask(int offset, int size, int mask) {
        for (int i = 0; i < size; i++) {
            wmask[offset + i] = (byte) (mask >>> (8 * i));
        }
    }

    /** Collects the fixed fields and BARs of a function. */
    public static final class Builder {
        private final int vendorId;
        private final int deviceId;
        private final int classCode;
        private int revision;
        private int subsystemVendorId;
        private int subsystemId;
        private int interruptPin;
        private final List<PciFunction.Bar> bars = new ArrayList<>();

        private Builder(int vendorId, int deviceId, int classCode) {
            requireRange("vendor id", vendorId, 0, 0xfffe); // 0xffff means "no function here"
            requireRange("device id", deviceId, 0, 0xffff);
            requireRange("class code", classCode, 0, 0xffffff);
            this.vendorId = vendorId;
            this.deviceId = deviceId;
            this.classCode = classCode;
        }

        public Builder revision(int revision) {
            requireRange("revision", revision, 0, 0xff);
            this.revision = revision;
            return this;
        }

        public Builder subsystem(int vendorId, int id) {
            requireRange("subsystem vendor id", vendorId, 0, 0xffff);
            requireRange("subsystem id", id, 0, 0xffff);
            this.subsystemVendorId = vendorId;
            this.subsystemId = id;
            return this;
        }

        /** 0 = no interrupt, 1..4 = INTA#..INTD#. */
        public Builder interruptPin(int pin) {
            requireRange("interrupt pin", pin, 0, 4);
            this.interruptPin = pin;
            return this;
        }

        public Builder bar(PciFunction.Bar bar) {
            requireRange("BAR index", bar.index(), 0, MAX_BARS - 1);
            for (PciFunction.Bar other : bars) {
                if (other.index() == bar.index()) {
                    throw new IllegalArgumentException("BAR " + bar.index() + " defined twice");
                }
            }
            long size = bar.size();
            boolean pow2 = size > 0 && (size & (size - 1)) == 0;
            boolean fits = bar.io() ? size >= MIN_IO_BAR && size <= MAX_IO_BAR
                    : size >= MIN_MEM_BAR && size <= MAX_MEM_BAR;
            if (!pow2 || !fits) {
                throw new IllegalArgumentException("BAR " + bar.index() + ": " + (bar.io() ? "I/O" : "memory")
                        + " size " + size + " is not a power of two in [" + (bar.io() ? MIN_IO_BAR : MIN_MEM_BAR)
                        + ", " + (bar.io() ? MAX_IO_BAR : MAX_MEM_BAR) + "]");
            }
            if (bar.device() == null) {
                throw new IllegalArgumentException("BAR " + bar.index() + " has no device");
            }
            bars.add(bar);
            return this;
        }

        public Builder bar(int index, boolean io, long size, IoDevice device) {
            return bar(new PciFunction.Bar(index, io, size, device));
        }

        public PciConfigSpace build() {
            return new PciConfigSpace(this);
        }

        private static void requireRange(String what, int value, int min, int max) {
            if (value < min || value > max) {
                throw new IllegalArgumentException(what + " 0x" + Integer.toHexString(value) + " outside [0x"
                        + Integer.toHexString(min) + ", 0x" + Integer.toHexString(max) + "]");
            }
        }
    }
}
