package dev.dataplane.pc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class PciHostBridgeTest {

    private final MapMapper bus = new MapMapper();
    private final Map<Integer, List<Boolean>> gsiLevels = new TreeMap<>();
    private final PciHostBridge bridge = new PciHostBridge(bus, gsi -> level ->
            gsiLevels.computeIfAbsent(gsi, g -> new ArrayList<>()).add(level));

    PciHostBridgeTest() {
        bus.fixed(true, PciHostBridge.CONFIG_ADDRESS_PORT, PciHostBridge.IOSIZE, bridge);
    }

    // ---- what a guest's inl/outl do, through the bus ----

    private static int address(int bus, int dev, int fn, int reg) {
        return 0x8000_0000 | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
    }

    private long in(int port, int size) {
        return bus.read(true, port, size);
    }

    private void out(int port, int size, long value) {
        bus.write(true, port, size, value);
    }

    private int cfgRead(int dev, int reg, int size) {
        out(0xcf8, 4, address(0, dev, 0, reg));
        return (int) in(0xcfc + (reg & 3), size);
    }

    private void cfgWrite(int dev, int reg, int size, int value) {
        out(0xcf8, 4, address(0, dev, 0, reg));
        out(0xcfc + (reg & 3), size, value);
    }

    private TestFunction attachBlk(int slot) {
        TestFunction f = TestFunction.withBars(0x1001, 64, 4096);
        bridge.attach(slot, f);
        return f;
    }

    // ---- the scan ----

    @Test
    void scanOfBusZeroFindsTheHostBridgeAndTheAttachedFunctionsOnly() {
        attachBlk(3);
        List<String> found = new ArrayList<>();
        for (int dev = 0; dev < 32; dev++) {
            int id = cfgRead(dev, 0, 4);
            if ((id & 0xffff) != 0xffff) {
                found.add(dev + ":" + Integer.toHexString(id));
            } else {
                assertThat(id).as("absent slot %d", dev).isEqualTo(-1);
            }
        }
        assertThat(found).containsExactly("0:12378086", "3:10011af4");
    }

    @Test
    void otherBusesAndFunctionNumbersReadAllOnes() {
        attachBlk(3);
        out(0xcf8, 4, address(1, 3, 0, 0));
        assertThat(in(0xcfc, 4)).isEqualTo(0xffff_ffffL);
        out(0xcf8, 4, address(0, 3, 1, 0));
        assertThat(in(0xcfc, 4)).isEqualTo(0xffff_ffffL);
        assertThat(in(0xcfc, 2)).isEqualTo(0xffff);
        assertThat(in(0xcfd, 1)).isEqualTo(0xff);
    }

    @Test
    void withoutTheEnableBitConfigDataReadsAllOnesAndDropsWrites() {
        TestFunction f = attachBlk(3);
        out(0xcf8, 4, address(0, 3, 0, 0x3c) & 0x7fff_ffff);
        assertThat(in(0xcfc, 4)).isEqualTo(0xffff_ffffL);
        out(0xcfc, 1, 0x42);
        assertThat(f.config.interruptLine()).isZero();
    }

    @Test
    void configAddressReadsBackWithReservedBitsClear() {
        out(0xcf8, 4, 0xffff_ffffL);
        assertThat(in(0xcf8, 4)).isEqualTo(0x80ff_fffcL);
    }

    @Test
    void byteAndWordAccessesToCf8DoNotReachConfigAddress() {
        out(0xcf8, 4, address(0, 0, 0, 0));
        out(0xcf8, 1, 0x08);
        out(0xcfa, 2, 0x0001);
        out(0xcf9, 1, 0x06); // PIIX's reset register: nothing behind it here
        assertThat(in(0xcf8, 4)).isEqualTo(Integer.toUnsignedLong(address(0, 0, 0, 0)));
        assertThat(in(0xcf8, 1)).isEqualTo(0xff);
        assertThat(in(0xcf8, 2)).isEqualTo(0xffff);
    }

    @Test
    void theLowPortBitsSelectTheByteOfTheDword() {
        out(0xcf8, 4, address(0, 0, 0, 0));
        assertThat(in(0xcfc, 1)).isEqualTo(0x86);
        assertThat(in(0xcfd, 1)).isEqualTo(0x80);
        assertThat(in(0xcfe, 2)).isEqualTo(0x1237);
        assertThat(cfgRead(0, 0x0b, 1)).as("base class").isEqualTo(0x06);
    }

    @Test
    void hostBridgeHeaderSaysIntelHostBridgeTypeZero() {
        assertThat(cfgRead(0, 0x08, 4)).isEqualTo(0x0600_0002);   // class 06/00/00, revision 2
        assertThat(cfgRead(0, 0x0e, 1)).isZero();                  // header type 0, single function
        assertThat(cfgRead(0, 0x10, 4)).isZero();                  // no BARs
        assertThat(cfgRead(0, 0x3d, 1)).isZero();                  // no interrupt pin
    }

    @Test
    void functionHeaderShowsItsIdsClassSubsystemAndPin() {
        attachBlk(3);
        assertThat(cfgRead(3, 0x08, 4) >>> 8).isEqualTo(0x010000);
        assertThat(cfgRead(3, 0x2c, 4)).isEqualTo(0x0002_1af4);
        assertThat(cfgRead(3, 0x3d, 1)).isEqualTo(1);
        assertThat(cfgRead(3, 0x0e, 1)).isZero();
    }

    @Test
    void readOnlyFieldsIgnoreWrites() {
        attachBlk(3);
        cfgWrite(3, 0x00, 4, 0xdead_beef);
        cfgWrite(3, 0x08, 4, 0);
        cfgWrite(3, 0x3d, 1, 4);
        cfgWrite(3, 0x06, 2, 0xffff);
        assertThat(cfgRead(3, 0x00, 4)).isEqualTo(0x1001_1af4);
        assertThat(cfgRead(3, 0x08, 4) >>> 8).isEqualTo(0x010000);
        assertThat(cfgRead(3, 0x3d, 1)).isEqualTo(1);
        assertThat(cfgRead(3, 0x06, 2)).isZero();
    }

    // ---- BARs ----

    // tag::bar-sizing-test[]
    @Test
    void writingAllOnesToABarReadsBackItsSizeMaskWithTheTypeBits() {
        attachBlk(3);
        cfgWrite(3, 0x10, 4, 0xffff_ffff);
        cfgWrite(3, 0x14, 4, 0xffff_ffff);
        int io = cfgRead(3, 0x10, 4);
        int mem = cfgRead(3, 0x14, 4);
        assertThat(io).isEqualTo(~(64 - 1) | 0x1);
        assertThat(mem).isEqualTo(~(4096 - 1));
        assertThat(~(io & ~0x3) + 1).as("size a guest computes").isEqualTo(64);
        assertThat(~(mem & ~0xf) + 1).isEqualTo(4096);
    }
    // end::bar-sizing-test[]

    @Test
    void unimplementedBarsAndTheRomBarStayZero() {
        attachBlk(3);
        for (int reg : new int[] {0x18, 0x1c, 0x20, 0x24, 0x28, 0x30}) {
            cfgWrite(3, reg, 4, 0xffff_ffff);
            assertThat(cfgRead(3, reg, 4)).as("register 0x%x", reg).isZero();
        }
    }

    @Test
    void assignmentGivesEveryBarANaturallyAlignedAddressInItsWindowAndMapsIt() {
        TestFunction a = attachBlk(3);
        TestFunction b = TestFunction.withBars(0x1000, 32, 1 << 20);
        bridge.attach(4, b);
        bridge.assignResources();

        List<PciHostBridge.MappedBar> bars = bridge.mappedBars();
        assertThat(bars).hasSize(4);
        for (PciHostBridge.MappedBar bar : bars) {
            assertThat(bar.base() % bar.size()).as("%s aligned", bar).isZero();
            if (bar.io()) {
                assertThat(bar.base()).isBetween(PciHostBridge.IO_WINDOW_BASE, PciHostBridge.IO_WINDOW_END - bar.size());
            } else {
                assertThat(bar.base()).isBetween(PciHostBridge.MEM_WINDOW_BASE, PciHostBridge.MEM_WINDOW_END - bar.size());
            }
            TestFunction f = bar.slot() == 3 ? a : b;
            assertThat(f.config.barAddress(bar.index())).isEqualTo(bar.base());
        }
        assertThat(bus.ranges()).hasSize(5); // the four BARs and the bridge's own ports
        int command = cfgRead(3, 0x04, 2);
        assertThat(command & 0x3).as("I/O and memory decoding on").isEqualTo(0x3);
        assertThat(command & 0x4).as("bus mastering is the driver's job").isZero();
    }

    @Test
    void accessesToAnAssignedBarReachTheFunctionsRegisters() {
        TestFunction f = attachBlk(3);
        bridge.assignResources();
        long ioBase = f.config.barAddress(0);
        assertThat(in((int) ioBase + 0x12, 2)).isEqualTo(0x10);
        out((int) ioBase + 0x12, 1, 0x7);
        assertThat(((TestFunction.Regs) f.bars().get(0).device()).accesses).containsExactly("r 18/2", "w 18/1=7");
        assertThat(bus.read(false, f.config.barAddress(1) + 8, 4)).isEqualTo(0x20);
    }

    @Test
    void aGuestRewritingABarMovesTheMapping() {
        TestFunction f = attachBlk(3);
        bridge.assignResources();
        long old = f.config.barAddress(0);
        bus.log.clear();

        cfgWrite(3, 0x10, 4, 0xd000);

        assertThat(bus.log).containsExactly("unmap " + MapMapper.describe(true, old, 64), "map io 0xd000+0x40");
        assertThat(bus.at(true, 0xd000).device()).isSameAs(f.bars().get(0).device());
        assertThat(bus.at(true, old)).isNull();
    }

    @Test
    void sizingABarUnmapsItAndRestoringItMapsItBack() {
        TestFunction f = attachBlk(3);
        bridge.assignResources();
        long memBase = f.config.barAddress(1);

        cfgWrite(3, 0x14, 4, 0xffff_ffff);
        assertThat(bridge.mappedBars()).extracting(PciHostBridge.MappedBar::index).containsExactly(0);

        cfgWrite(3, 0x14, 4, (int) memBase);
        assertThat(bridge.mappedBars()).extracting(PciHostBridge.MappedBar::base)
                .contains(memBase);
    }

    @Test
    void commandEnableBitsMapAndUnmapEachSpaceSeparately() {
        TestFunction f = attachBlk(3);
        bridge.assignResources();
        int command = cfgRead(3, 0x04, 2);

        cfgWrite(3, 0x04, 2, command & ~0x1);                      // I/O decoding off
        assertThat(bridge.mappedBars()).extracting(PciHostBridge.MappedBar::io).containsExactly(false);
        assertThat(bus.at(true, f.config.barAddress(0))).isNull();

        cfgWrite(3, 0x04, 2, command & ~0x3);                      // memory off too
        assertThat(bridge.mappedBars()).isEmpty();

        cfgWrite(3, 0x04, 2, command | 0x4);                       // both on, plus bus master
        assertThat(bridge.mappedBars()).hasSize(2);
        assertThat(f.config.busMasterEnabled()).isTrue();
    }

    @Test
    void aBarMovedOntoAnotherDeviceStaysUnmapped() {
        attachBlk(3);
        bridge.assignResources();
        TestFunction.Regs fixed = new TestFunction.Regs(0x99);
        bus.fixed(true, 0x3c0, 64, fixed);
        cfgWrite(3, 0x10, 4, 0x3c0);           // on top of a device the machine put there
        assertThat(bus.at(true, 0x3c0).device()).isSameAs(fixed);
        assertThat(bridge.mappedBars()).extracting(PciHostBridge.MappedBar::io).containsExactly(false);
        assertThat(bus.log).contains("refuse io 0x3c0+0x40");
    }

    @Test
    void aBarAtZeroOrBeyondTheIoSpaceIsNotMapped() {
        attachBlk(3);
        bridge.assignResources();
        cfgWrite(3, 0x10, 4, 0);
        assertThat(bridge.mappedBars()).extracting(PciHostBridge.MappedBar::io).containsExactly(false);
        cfgWrite(3, 0x10, 4, 0x1_0000);
        assertThat(bridge.mappedBars()).extracting(PciHostBridge.MappedBar::io).containsExactly(false);
        cfgWrite(3, 0x10, 4, 0xffc0);
        assertThat(bridge.mappedBars()).extracting(PciHostBridge.MappedBar::base).contains(0xffc0L);
    }

    @Test
    void byteWritesToABarAreCombinedWithItsReadOnlyBits() {
        attachBlk(3);
        cfgWrite(3, 0x11, 1, 0xd1);
        cfgWrite(3, 0x10, 1, 0xff);
        assertThat(cfgRead(3, 0x10, 4)).isEqualTo(0xd1c1);
    }

    @Test
    void assignmentFailsClearlyWhenTheWindowIsFull() {
        for (int slot = 1; slot <= 5; slot++) {
            bridge.attach(slot, TestFunction.withBars(0x1000 + slot, 256, 1L << 31));
        }
        assertThatThrownBy(bridge::assignResources).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("memory window full");
    }

    @Test
    void attachRefusesBadAndTakenSlots() {
        attachBlk(3);
        assertThatThrownBy(() -> attachBlk(3)).hasMessageContaining("taken");
        assertThatThrownBy(() -> attachBlk(0)).hasMessageContaining("not in 1..31");
        assertThatThrownBy(() -> attachBlk(32)).hasMessageContaining("not in 1..31");
    }

    // ---- INTx ----

    @Test
    void pinsAreSwizzledOntoPirqsAndTheirGsis() {
        assertThat(PciHostBridge.gsiFor(1, 1)).isEqualTo(10);
        assertThat(PciHostBridge.gsiFor(2, 1)).isEqualTo(10);
        assertThat(PciHostBridge.gsiFor(3, 1)).isEqualTo(11);
        assertThat(PciHostBridge.gsiFor(4, 1)).isEqualTo(11);
        assertThat(PciHostBridge.gsiFor(5, 1)).isEqualTo(10);
        assertThat(PciHostBridge.gsiFor(3, 2)).isEqualTo(11);
        assertThat(PciHostBridge.gsiFor(3, 3)).isEqualTo(10);
    }

    @Test
    void theInterruptLineRegisterHoldsTheRoutedGsiAfterAssignment() {
        attachBlk(3);
        attachBlk(5);
        bridge.assignResources();
        assertThat(cfgRead(3, 0x3c, 1)).isEqualTo(11);
        assertThat(cfgRead(5, 0x3c, 1)).isEqualTo(10);
        assertThat(bridge.intxRoutes()).containsExactly(new PciHostBridge.IntxRoute(3, 1, 11),
                new PciHostBridge.IntxRoute(5, 1, 10));
        cfgWrite(3, 0x3c, 1, 5);
        assertThat(cfgRead(3, 0x3c, 1)).as("the line register is the OS's scratch").isEqualTo(5);
    }

    @Test
    void aRaisedPinAssertsItsGsiAndShowsInTheStatusRegister() {
        TestFunction f = attachBlk(3);
        f.config.setIntxLevel(true);
        assertThat(cfgRead(3, 0x06, 2) & 0x8).isEqualTo(0x8);
        f.config.setIntxLevel(false);
        assertThat(cfgRead(3, 0x06, 2) & 0x8).isZero();
        assertThat(gsiLevels.get(11)).containsExactly(true, false);
    }

    @Test
    void interruptDisableMasksThePinButNotTheStatusBit() {
        TestFunction f = attachBlk(3);
        cfgWrite(3, 0x04, 2, 0x400);
        f.config.setIntxLevel(true);
        assertThat(cfgRead(3, 0x06, 2) & 0x8).isEqualTo(0x8);
        assertThat(gsiLevels.get(11)).isNull();
        cfgWrite(3, 0x04, 2, 0);
        assertThat(gsiLevels.get(11)).containsExactly(true);
        cfgWrite(3, 0x04, 2, 0x400);
        assertThat(gsiLevels.get(11)).containsExactly(true, false);
    }

    @Test
    void aSharedGsiStaysAssertedWhileAnyOfItsFunctionsAsserts() {
        TestFunction a = attachBlk(1);   // INTA# of slot 1 -> PIRQA -> 10
        TestFunction b = attachBlk(2);   // INTA# of slot 2 -> PIRQB -> 10
        a.config.setIntxLevel(true);
        b.config.setIntxLevel(true);
        a.config.setIntxLevel(false);
        assertThat(gsiLevels.get(10)).containsExactly(true);
        b.config.setIntxLevel(false);
        assertThat(gsiLevels.get(10)).containsExactly(true, false);
    }

    // ---- odd accesses ----

    @Test
    void oddAccessesAreSplitIntoBytesAndNeverThrow() {
        attachBlk(3);
        out(0xcf8, 4, address(0, 3, 0, 0));
        assertThat(in(0xcfd, 2)).as("word at 0xCFD: vendor high, device low").isEqualTo(0x011a);
        assertThat(in(0xcfe, 4)).as("dword at 0xCFE: device id, then two bytes past the block")
                .isEqualTo(0xffff_1001L);
        assertThat(bridge.read(4, 8)).isEqualTo(0xffff_ffff_1001_1af4L);
        assertThat(bridge.read(4, 3)).isEqualTo(0x01_1af4L);
        assertThat(bridge.read(9, 4)).isEqualTo(0xffff_ffffL);
        assertThat(bridge.read(-3, 4)).as("bytes of 0xCF8 alone are not CONFIG_ADDRESS").isEqualTo(0xffff_ffffL);
        bridge.write(2, 4, 0x1234_5678);
        bridge.write(7, 8, -1);
        bridge.write(4, 0, 0);
        assertThat(bridge.read(4, 0)).isZero();
        assertThat(cfgRead(3, 0, 4)).isEqualTo(0x1001_1af4);
    }
}
