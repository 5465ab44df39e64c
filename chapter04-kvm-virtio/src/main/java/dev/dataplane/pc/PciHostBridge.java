package dev.dataplane.pc;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.IntFunction;

/**
 * The PCI host bridge of Dataplane's PC: bus 0, configuration mechanism #1 at I/O ports
 * 0xCF8..0xCFF, BAR assignment as firmware does it, BAR mapping that follows the guest, and INTx
 * routing onto GSIs (QEMU: {@code i440FX} + {@code pci_host.c} + the BAR handling of
 * {@code hw/pci/pci.c}).
 *
 * <p>Implementation notes.
 *
 * <p><b>Configuration mechanism #1.</b> The guest writes a 32-bit CONFIG_ADDRESS to 0xCF8 (bit 31
 * enable, bits 23:16 bus, 15:11 device, 10:8 function, 7:2 dword register) and then reads or writes
 * CONFIG_DATA at 0xCFC..0xCFF, where the port's low two bits select the byte within the dword.
 * Only a 32-bit access to 0xCF8 reaches CONFIG_ADDRESS, as on the PIIX/i440FX chipsets: there,
 * byte and word accesses to 0xCF8..0xCFB go on to the ISA bus (0xCF9 is the reset register), and
 * here, with nothing behind them, they read all ones and drop writes. Reserved bits 30:24 and
 * 1:0 of CONFIG_ADDRESS read back as zero. Any other odd access (a word at 0xCFD, a dword at
 * 0xCFE, 8 bytes) is split into byte accesses; bytes of CONFIG_DATA go to the selected function,
 * others read all ones. So a function only ever sees naturally aligned 1-, 2- or 4-byte
 * accesses inside its 256 bytes.
 *
 * <p><b>Bus 0 only, function 0 only.</b> Device 0 is the bridge itself (vendor 0x8086, device
 * 0x1237 like QEMU's i440FX, class 0x0600 host bridge). Slots 1..31 take one {@link PciFunction}
 * each. Any other bus, function number or empty slot reads 0xFFFFFFFF, which is how a guest's
 * scan recognises "nothing here" (vendor id 0xFFFF).
 *
 * <p><b>BARs.</b> {@link #assignResources()} plays firmware: it gives every BAR a naturally
 * aligned address, I/O from 0xC000 and memory from 0xE0000000 (the largest first, so alignment
 * wastes little), writes the interrupt line, and enables I/O and memory decoding in the command
 * register, but not bus mastering, which a driver enables itself. After every configuration write
 * the bridge re-reads that function's command register and BARs, as QEMU's
 * {@code pci_update_mappings} does, and moves the mappings through the {@link AddressSpaceMapper}:
 * a BAR is mapped while its space's enable bit is set and its address is usable (non-zero,
 * aligned, and the whole BAR below 64 KiB for I/O, or ending below 0xFFFFFFFF for memory). The
 * last rule keeps a BAR that is being sized (all ones written) unmapped.
 *
 * <p><b>INTx routing.</b> Pin P (1 = INTA#) of slot S is swizzled onto PIRQ {@code (S - 1 + P - 1)
 * mod 4}, as PIIX does, and PIRQ A..D go to GSIs 10, 10, 11, 11, SeaBIOS's routing on QEMU's
 * {@code pc} machine, so a guest sees the same interrupt line for a slot under QEMU and here. Lines
 * are level-triggered and shared: a GSI is asserted while any function routed to it asserts.
 *
 * <p><b>Threads.</b> Configuration accesses and set-up run with the BQL held (vCPU exits, machine
 * construction); the bridge's own state needs nothing more. The shared INTx lines are set from
 * whatever thread a device raises its interrupt on, and synchronize themselves.
 */
public final class PciHostBridge implements IoDevice {

    /** The first port of the bridge's register block (CONFIG_ADDRESS); CONFIG_DATA is at +4. */
    public static final int CONFIG_ADDRESS_PORT = 0xcf8;
    public static final int CONFIG_DATA_PORT = 0xcfc;
    public static final int IOSIZE = 8;

    public static final int VENDOR_INTEL = 0x8086;
    public static final int DEVICE_I440FX = 0x1237;
    public static final int CLASS_HOST_BRIDGE = 0x060000;
    public static final int SLOTS = 32;

    public static final long IO_WINDOW_BASE = 0xc000;
    public static final long IO_WINDOW_END = 0x10000;
    public static final long MEM_WINDOW_BASE = 0xe000_0000L;
    /** Memory BARs stay below the I/O APIC at 0xFEC00000. */
    public static final long MEM_WINDOW_END = 0xfec0_0000L;

    /** GSIs of PIRQ A..D. */
    public static final List<Integer> PIRQ_GSIS = List.of(10, 10, 11, 11);

    static final int ENABLE = 0x8000_0000;
    static final int ADDRESS_MASK = 0x80ff_fffc;

    /** Where the bridge put one BAR. */
    public record MappedBar(int slot, int index, boolean io, long base, long size) {
    }

    /** The GSI that INTx pin {@code pin} (1 = INTA#) of {@code slot} raises. */
    public record IntxRoute(int slot, int pin, int gsi) {
    }

    private final AddressSpaceMapper mapper;
    private final IntFunction<PciFunction.IntxLine> gsiLines;
    private final PciFunction[] slots = new PciFunction[SLOTS];
    private final Map<Integer, MappedBar> mapped = new TreeMap<>(); // key slot * 8 + BAR index
    private final Map<Integer, SharedLine> lines = new TreeMap<>();  // key GSI
    private final List<IntxRoute> routes = new ArrayList<>();
    private int configAddress;

    /**
     * @param mapper   maps and unmaps BARs on the machine's buses
     * @param gsiLines the interrupt controller's input for a GSI (the machine attaches an irqfd);
     *                 asked once per GSI that some function's pin is routed to
     */
    public PciHostBridge(AddressSpaceMapper mapper, IntFunction<PciFunction.IntxLine> gsiLines) {
        this.mapper = Objects.requireNonNull(mapper, "mapper");
        this.gsiLines = Objects.requireNonNull(gsiLines, "gsiLines");
        slots[0] = new Self();
    }

    /**
     * Plugs {@code function} into {@code slot} (1..31) and wires its INTx pin, if it has one, to
     * its GSI. Machine set-up only.
     */
    public void attach(int slot, PciFunction function) {
        Objects.requireNonNull(function, "function");
        if (slot < 1 || slot >= SLOTS) {
            throw new IllegalArgumentException("PCI slot " + slot + " is not in 1.." + (SLOTS - 1));
        }
        if (slots[slot] != null) {
            throw new IllegalArgumentException("PCI slot " + slot + " is taken");
        }
        slots[slot] = function;
        int pin = function.configRead(PciConfigSpace.INTERRUPT_PIN, 1) & 0xff;
        if (pin >= 1 && pin <= 4) {
            int gsi = gsiFor(slot, pin);
            routes.add(new IntxRoute(slot, pin, gsi));
            SharedLine shared = lines.computeIfAbsent(gsi, g -> new SharedLine(Objects.requireNonNull(
                    gsiLines.apply(g), "no line for GSI " + g)));
            function.connectIntx(shared.newSource());
        }
    }

    // tag::intx-route[]
    /** PIIX's swizzle: neighbouring slots' INTA# land on different PIRQs. */
    public static int gsiFor(int slot, int pin) {
        return PIRQ_GSIS.get((slot - 1 + pin - 1) & 3);
    }
    // end::intx-route[]

    /** The INTx routes of the attached functions, in attach order. */
    public List<IntxRoute> intxRoutes() {
        return List.copyOf(routes);
    }

    /** The function in {@code slot}, or {@code null}. Slot 0 is the bridge itself. */
    public PciFunction function(int slot) {
        return slot >= 0 && slot < SLOTS ? slots[slot] : null;
    }

    /** The BARs mapped right now, by slot and index. */
    public List<MappedBar> mappedBars() {
        return List.copyOf(mapped.values());
    }

    // tag::assign-resources[]
    /**
     * Does what PC firmware does before the OS runs: gives every BAR of every attached function a
     * naturally aligned address in the I/O or memory window, writes each function's interrupt line,
     * and turns on I/O and memory decoding for the spaces the function has BARs in. Machine set-up
     * only; calling it again starts from scratch.
     *
     * @throws IllegalStateException if the BARs do not fit in the windows (a machine
     *                               configuration error, never a guest's doing)
     */
    public void assignResources() {
        record Pending(int slot, PciFunction.Bar bar) {
        }
        List<Pending> pending = new ArrayList<>();
        for (int slot = 1; slot < SLOTS; slot++) {
            if (slots[slot] != null) {
                for (PciFunction.Bar bar : slots[slot].bars()) {
                    pending.add(new Pending(slot, bar));
                }
            }
        }
        // Largest first: every address is then already aligned for the next, smaller BAR.
        pending.sort(Comparator.comparingLong((Pending p) -> p.bar().size()).reversed());
        long nextIo = IO_WINDOW_BASE;
        long nextMem = MEM_WINDOW_BASE;
        for (Pending p : pending) {
            PciFunction.Bar bar = p.bar();
            long base = alignUp(bar.io() ? nextIo : nextMem, bar.size());
            long end = bar.io() ? IO_WINDOW_END : MEM_WINDOW_END;
            if (base + bar.size() > end) {
                throw new IllegalStateException("PCI " + (bar.io() ? "I/O" : "memory") + " window full: slot "
                        + p.slot() + " BAR " + bar.index() + " (" + bar.size() + " bytes) does not fit");
            }
            slots[p.slot()].configWrite(PciConfigSpace.BAR0 + 4 * bar.index(), 4, (int) base);
            if (bar.io()) {
                nextIo = base + bar.size();
            } else {
                nextMem = base + bar.size();
            }
        }
        for (int slot = 1; slot < SLOTS; slot++) {
            PciFunction f = slots[slot];
            if (f == null) {
                continue;
            }
            int pin = f.configRead(PciConfigSpace.INTERRUPT_PIN, 1) & 0xff;
            if (pin >= 1 && pin <= 4) {
                f.configWrite(PciConfigSpace.INTERRUPT_LINE, 1, gsiFor(slot, pin));
            }
            int enable = 0;
            for (PciFunction.Bar bar : f.bars()) {
                enable |= bar.io() ? PciConfigSpace.COMMAND_IO : PciConfigSpace.COMMAND_MEMORY;
            }
            int command = f.configRead(PciConfigSpace.COMMAND, 2) & 0xffff;
            f.configWrite(PciConfigSpace.COMMAND, 2, command | enable);
            updateMappings(slot);
        }
    }
    // end::assign-resources[]

    private static long alignUp(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    // ---- the I/O ports ----

    @Override
    public long read(long offset, int size) {
        if (offset == 0 && size == 4) {
            return Integer.toUnsignedLong(configAddress);
        }
        if (isConfigDataAccess(offset, size)) {
            return Integer.toUnsignedLong(configDataRead((int) offset - 4, size));
        }
        long value = 0;
        for (int i = 0; i < byteCount(size); i++) {
            long o = offset + i;
            long b = o >= 4 && o < IOSIZE ? configDataRead((int) o - 4, 1) & 0xff : 0xff;
            value |= b << (8 * i);
        }
        return value;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset == 0 && size == 4) {
            configAddress = (int) value & ADDRESS_MASK;
            return;
        }
        if (isConfigDataAccess(offset, size)) {
            configDataWrite((int) offset - 4, size, (int) value);
            return;
        }
        for (int i = 0; i < byteCount(size); i++) {
            long o = offset + i;
            if (o >= 4 && o < IOSIZE) {
                configDataWrite((int) o - 4, 1, (int) (value >>> (8 * i)));
            }
        }
    }

    private static int byteCount(int size) {
        return size >= 1 && size <= 8 ? size : 0;
    }

    /** A 1-, 2- or 4-byte access to CONFIG_DATA, naturally aligned. */
    private static boolean isConfigDataAccess(long offset, int size) {
        return (size == 1 || size == 2 || size == 4) && offset >= 4 && offset + size <= IOSIZE
                && offset % size == 0;
    }

    // tag::config-address-decode[]
    /**
     * The function and register CONFIG_ADDRESS selects, with {@code byteInDword} (the low bits of
     * the CONFIG_DATA port) added; {@code null} when the access reaches no function.
     */
    private Target decode(int byteInDword) {
        int a = configAddress;
        if ((a & ENABLE) == 0) {
            return null;                   // configuration cycles disabled: plain I/O, nothing there
        }
        int bus = (a >>> 16) & 0xff;
        int device = (a >>> 11) & 0x1f;
        int function = (a >>> 8) & 0x7;
        int register = a & 0xfc;
        if (bus != 0 || function != 0 || slots[device] == null) {
            return null;                   // master abort: the read returns all ones
        }
        return new Target(device, register + byteInDword);
    }
    // end::config-address-decode[]

    private record Target(int slot, int offset) {
    }

    private static int widthMask(int size) {
        return size == 4 ? -1 : (1 << (8 * size)) - 1;
    }

    private int configDataRead(int byteInDword, int size) {
        Target t = decode(byteInDword);
        return t == null ? widthMask(size) : slots[t.slot()].configRead(t.offset(), size) & widthMask(size);
    }

    private void configDataWrite(int byteInDword, int size, int value) {
        Target t = decode(byteInDword);
        if (t == null) {
            return;
        }
        slots[t.slot()].configWrite(t.offset(), size, value & widthMask(size));
        if (t.slot() != 0) {
            updateMappings(t.slot());
        }
    }

    // ---- BAR mappings ----

    // tag::update-mappings[]
    /** Brings the mappings of {@code slot}'s BARs in line with its command register and BAR values. */
    private void updateMappings(int slot) {
        PciFunction f = slots[slot];
        int command = f.configRead(PciConfigSpace.COMMAND, 2);
        for (PciFunction.Bar bar : f.bars()) {
            int key = slot * 8 + bar.index();
            long wanted = decodedAddress(f, bar, command);
            MappedBar current = mapped.get(key);
            if (current != null && current.base() == wanted) {
                continue;
            }
            if (current != null) {
                mapper.unmap(bar.io(), current.base(), bar.size());
                mapped.remove(key);
            }
            if (wanted >= 0 && mapper.map(bar.io(), wanted, bar.size(), bar.device())) {
                mapped.put(key, new MappedBar(slot, bar.index(), bar.io(), wanted, bar.size()));
            }
        }
    }

    /** Where the BAR decodes, or -1 if it does not decode at all. */
    private static long decodedAddress(PciFunction f, PciFunction.Bar bar, int command) {
        int enable = bar.io() ? PciConfigSpace.COMMAND_IO : PciConfigSpace.COMMAND_MEMORY;
        if ((command & enable) == 0) {
            return -1;
        }
        long base = PciConfigSpace.barAddress(f.configRead(PciConfigSpace.BAR0 + 4 * bar.index(), 4), bar.io());
        long limit = bar.io() ? IO_WINDOW_END : 0xffff_ffffL;
        if (base == 0 || (base & (bar.size() - 1)) != 0 || base + bar.size() > limit) {
            return -1;
        }
        return base;
    }
    // end::update-mappings[]

    // ---- INTx ----

    /**
     * One GSI shared by several functions' pins: asserted while any of them asserts (a wired OR
     * of active-low PCI interrupt lines).
     */
    private static final class SharedLine {
        private final PciFunction.IntxLine out;
        private int asserted; // guarded by this

        SharedLine(PciFunction.IntxLine out) {
            this.out = out;
        }

        PciFunction.IntxLine newSource() {
            return new PciFunction.IntxLine() {
                private boolean level; // guarded by SharedLine.this

                @Override
                public void set(boolean newLevel) {
                    synchronized (SharedLine.this) {
                        if (newLevel == level) {
                            return;
                        }
                        level = newLevel;
                        asserted += newLevel ? 1 : -1;
                        if (asserted == (newLevel ? 1 : 0)) {
                            out.set(newLevel);
                        }
                    }
                }
            };
        }
    }

    /** Device 0: the host bridge's own configuration space (no BARs, no interrupt). */
    private static final class Self implements PciFunction {
        private final PciConfigSpace config = PciConfigSpace.builder(VENDOR_INTEL, DEVICE_I440FX, CLASS_HOST_BRIDGE)
                .revision(0x02)
                .build();

        @Override
        public int configRead(int offset, int size) {
            return config.read(offset, size);
        }

        @Override
        public void configWrite(int offset, int size, int value) {
            config.write(offset, size, value);
        }

        @Override
        public List<Bar> bars() {
            return List.of();
        }
    }
}
