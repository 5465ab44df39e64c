package dev.dataplane.pc;

import java.util.ArrayList;
import java.util.List;

/** A PCI function built on {@link PciConfigSpace}, as a device model would be. */
final class TestFunction implements PciFunction {

    /** A register block that remembers the last write and answers reads with a fixed tag. */
    static final class Regs implements IoDevice {
        final long tag;
        final List<String> accesses = new ArrayList<>();

        Regs(long tag) {
            this.tag = tag;
        }

        @Override
        public long read(long offset, int size) {
            accesses.add("r " + offset + "/" + size);
            return tag;
        }

        @Override
        public void write(long offset, int size, long value) {
            accesses.add("w " + offset + "/" + size + "=" + Long.toHexString(value));
        }
    }

    final PciConfigSpace config;

    TestFunction(PciConfigSpace config) {
        this.config = config;
    }

    /** A virtio-blk-like function: I/O BAR 0 of {@code ioSize}, memory BAR 1 of {@code memSize}, INTA#. */
    static TestFunction withBars(int deviceId, long ioSize, long memSize) {
        PciConfigSpace.Builder b = PciConfigSpace.builder(0x1af4, deviceId, 0x010000)
                .subsystem(0x1af4, 2)
                .interruptPin(1);
        if (ioSize > 0) {
            b.bar(0, true, ioSize, new Regs(0x10));
        }
        if (memSize > 0) {
            b.bar(1, false, memSize, new Regs(0x20));
        }
        return new TestFunction(b.build());
    }

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
        return config.bars();
    }

    @Override
    public void connectIntx(IntxLine line) {
        config.connectIntx(line);
    }
}
