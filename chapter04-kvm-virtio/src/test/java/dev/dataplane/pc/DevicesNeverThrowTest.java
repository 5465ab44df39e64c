package dev.dataplane.pc;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Seeded random register traffic, the way a buggy or hostile guest would produce it: every
 * offset of every device (and a few outside), every width, random values. The devices must
 * never throw, reads must fit in the access width, and the bridge's mappings must stay
 * consistent with the bus.
 */
class DevicesNeverThrowTest {

    private static final int[] SIZES = {1, 2, 4, 8};
    private static final int ROUNDS = 20_000;

    private static long widthMask(int size) {
        return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }

    private static void hammer(IoDevice device, int length, Random random, Runnable afterEach) {
        for (int i = 0; i < ROUNDS; i++) {
            long offset = random.nextInt(length + 6) - 3;
            int size = SIZES[random.nextInt(SIZES.length)];
            if (random.nextBoolean()) {
                long value = device.read(offset, size);
                assertThat(value & ~widthMask(size)).as("read %d bytes at %d", size, offset).isZero();
            } else {
                device.write(offset, size, random.nextLong() & widthMask(size));
            }
            afterEach.run();
        }
    }

    @Test
    void theSerialPortTakesAnything() {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        SerialCapture lines = new SerialCapture(16);
        Serial8250 uart = new Serial8250(console, lines);
        Random random = new Random(8250);
        hammer(uart, Serial8250.IOSIZE, random, () -> {
            if (random.nextInt(100) == 0) {
                uart.pushInput(new byte[random.nextInt(64)]);
            }
        });
        assertThat(console.size() + lines.total()).as("some bytes were transmitted").isPositive();
        assertThat(uart.pendingLine().length()).isLessThan(Serial8250.MAX_LINE);
    }

    @Test
    void theExitPortTakesAnythingAndExitsOnce() {
        List<Integer> exits = new ArrayList<>();
        DebugExitPort port = new DebugExitPort(exits::add);
        hammer(port, DebugExitPort.IOSIZE, new Random(0xf4), () -> { });
        assertThat(exits).hasSize(1);
        assertThat(exits.get(0) & 1).isEqualTo(1);
    }

    @Test
    void theHostBridgeAndItsFunctionsTakeAnything() {
        MapMapper bus = new MapMapper();
        bus.fixed(true, Serial8250.COM1, Serial8250.IOSIZE, new Serial8250());
        List<Boolean> levels = new ArrayList<>();
        PciHostBridge bridge = new PciHostBridge(bus, gsi -> levels::add);
        bus.fixed(true, PciHostBridge.CONFIG_ADDRESS_PORT, PciHostBridge.IOSIZE, bridge);
        TestFunction blk = TestFunction.withBars(0x1001, 64, 4096);
        bridge.attach(3, blk);
        bridge.attach(4, TestFunction.withBars(0x1000, 32, 0));
        bridge.assignResources();

        Random random = new Random(0xcf8);
        hammer(bridge, PciHostBridge.IOSIZE, random, () -> {
            // Point CONFIG_ADDRESS somewhere plausible often enough to reach the functions.
            if (random.nextInt(4) == 0) {
                int dev = random.nextInt(6);
                int fn = random.nextInt(8) == 0 ? random.nextInt(8) : 0;
                int enable = random.nextInt(8) == 0 ? 0 : 0x8000_0000;
                bridge.write(0, 4, Integer.toUnsignedLong(enable | dev << 11 | fn << 8 | random.nextInt(256)));
            }
            if (random.nextInt(50) == 0) {
                blk.config.setIntxLevel(random.nextBoolean());
            }
            // The bridge's view and the bus agree, and no two BARs overlap.
            List<MapMapper.Range> ranges = bus.ranges();
            assertThat(ranges).hasSize(2 + bridge.mappedBars().size());
            for (PciHostBridge.MappedBar bar : bridge.mappedBars()) {
                MapMapper.Range r = bus.at(bar.io(), bar.base());
                assertThat(r.base()).isEqualTo(bar.base());
                assertThat(r.length()).isEqualTo(bar.size());
                assertThat(bar.base() % bar.size()).isZero();
            }
        });
        assertThat(bus.log).as("the traffic moved BARs around").anyMatch(l -> l.startsWith("unmap"))
                .anyMatch(l -> l.startsWith("map"));
        for (int i = 1; i < levels.size(); i++) {
            assertThat(levels.get(i)).as("the GSI only changes level").isNotEqualTo(levels.get(i - 1));
        }
    }

    @Test
    void aConfigSpaceTakesAnyOffsetAndWidth() {
        PciConfigSpace config = TestFunction.withBars(0x1001, 256, 1 << 20).config;
        Random random = new Random(0x10);
        for (int i = 0; i < ROUNDS; i++) {
            int offset = random.nextInt(SIZE_WITH_SLACK) - 8;
            int size = random.nextInt(7) - 1;
            if (random.nextBoolean()) {
                config.read(offset, size);
            } else {
                config.write(offset, size, random.nextInt());
            }
        }
        assertThat(config.read(0, 4)).as("ids survive").isEqualTo(0x1001_1af4);
        assertThat(config.read(PciConfigSpace.BAR0, 4) & 0xff).as("I/O BAR low byte").isEqualTo(0x01);
    }

    private static final int SIZE_WITH_SLACK = PciConfigSpace.SIZE + 16;
}
