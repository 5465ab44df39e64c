package dev.dataplane.pc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The port-I/O and MMIO buses: who owns which address, and what nobody's address does. */
class IoBusTest {

    /** Records writes as "offset:size=value"; reads answer the offset. */
    static final class Probe implements IoDevice {
        final List<String> writes = new ArrayList<>();

        @Override
        public long read(long offset, int size) {
            return offset;
        }

        @Override
        public void write(long offset, int size, long value) {
            writes.add(offset + ":" + size + "=" + value);
        }
    }

    @Test
    void accessesGoToTheOwnerWithOffsetsRelativeToItsBase() {
        IoBus bus = IoBus.pio();
        Probe serial = new Probe();
        Probe other = new Probe();
        bus.map(0x3F8, 8, serial);
        bus.map(0x2F8, 8, other);

        assertThat(bus.read(0x3FD, 1)).isEqualTo(5);
        bus.write(0x3F8, 1, 'A');
        bus.write(0x2FF, 1, 7);

        assertThat(serial.writes).containsExactly("0:1=65");
        assertThat(other.writes).containsExactly("7:1=7");
        assertThat(bus.find(0x3FF, 1).device()).isSameAs(serial);
        assertThat(bus.regions()).extracting(IoBus.Region::base).containsExactly(0x2F8L, 0x3F8L);
    }

    @Test
    void unmappedReadsAreAllOnesAndWritesAreDropped() {
        IoBus bus = IoBus.mmio();
        Probe p = new Probe();
        bus.map(0x1000, 0x100, p);

        assertThat(bus.read(0x0FFF, 1)).isEqualTo(0xFF);
        assertThat(bus.read(0x1100, 2)).isEqualTo(0xFFFF);
        assertThat(bus.read(0x2000, 4)).isEqualTo(0xFFFF_FFFFL);
        assertThat(bus.read(0x2000, 8)).isEqualTo(-1L);
        bus.write(0x1100, 4, 1);
        assertThat(p.writes).isEmpty();
    }

    @Test
    void anAccessStraddlingTheEndOfARegionIsUnmapped() {
        IoBus bus = IoBus.mmio();
        Probe p = new Probe();
        bus.map(0x1000, 0x10, p);

        assertThat(bus.find(0x100C, 4)).isNotNull();
        assertThat(bus.find(0x100D, 4)).isNull();
        assertThat(bus.read(0x100E, 4)).isEqualTo(0xFFFF_FFFFL);
        bus.write(0x100F, 2, 1);
        assertThat(p.writes).isEmpty();
    }

    @Test
    void overlappingRegionsAreRefusedNamingBoth() {
        IoBus bus = IoBus.pio();
        Probe p = new Probe();
        bus.map(0x100, 0x10, p);

        assertThatThrownBy(() -> bus.map(0x10F, 1, new Probe())).hasMessageContaining("overlaps [0x100, 0x110)");
        assertThatThrownBy(() -> bus.map(0xF8, 9, new Probe())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.map(0x100, 0x10, new Probe())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.map(0x0, 0x1000, new Probe())).isInstanceOf(IllegalArgumentException.class);
        bus.map(0xF0, 0x10, new Probe());   // touching below
        bus.map(0x110, 0x10, new Probe());  // touching above
        assertThat(bus.regions()).hasSize(3);
    }

    @Test
    void regionsOutsideTheBusOrEmptyAreRefused() {
        IoBus bus = IoBus.pio();
        assertThatThrownBy(() -> bus.map(0xFFFF, 2, new Probe())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.map(0x10000, 1, new Probe())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.map(-1, 1, new Probe())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.map(0x10, 0, new Probe())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> bus.map(0x10, 1, null)).isInstanceOf(IllegalArgumentException.class);
        bus.map(0xFFFF, 1, new Probe());
        assertThat(bus.find(0xFFFF, 1)).isNotNull();
    }

    @Test
    void unmapFreesTheRangeForARemap() {
        IoBus bus = IoBus.mmio();
        Probe bar = new Probe();
        bus.map(0xE000_0000L, 0x1000, bar);

        assertThat(bus.unmap(0xE000_0000L)).isSameAs(bar);
        assertThat(bus.unmap(0xE000_0000L)).isNull();
        assertThat(bus.read(0xE000_0000L, 4)).isEqualTo(0xFFFF_FFFFL);
        bus.map(0xE000_1000L, 0x1000, bar);
        assertThat(bus.read(0xE000_1004L, 4)).isEqualTo(4);
    }

    @Test
    void lookupsFromManyThreadsWhileRemappingSeeEitherTheOldOrTheNewMap() throws Exception {
        IoBus bus = IoBus.mmio();
        Probe fixed = new Probe();
        bus.map(0x1000, 0x10, fixed);
        Thread remapper = new Thread(() -> {
            for (int i = 0; i < 20_000; i++) {
                Probe moving = new Probe();
                bus.map(0x2000, 0x10, moving);
                bus.unmap(0x2000);
            }
        });
        remapper.start();
        long wrong = 0;
        while (remapper.isAlive()) {
            if (bus.find(0x1004, 4) == null || bus.find(0x1004, 4).device() != fixed) {
                wrong++;
            }
            IoBus.Region r = bus.find(0x2004, 4);
            if (r != null && r.base() != 0x2000) {
                wrong++;
            }
        }
        remapper.join();
        assertThat(wrong).isZero();
    }

    @Test
    void theMapperRefusesWhatTheBusRefusesAndUnmapsOnlyAnExactMapping() {
        IoBus pio = IoBus.pio();
        IoBus mmio = IoBus.mmio();
        AddressSpaceMapper m = IoBus.mapper(pio, mmio);
        Probe bar = new Probe();

        assertThat(m.map(true, 0xC000, 0x20, bar)).isTrue();
        assertThat(m.map(true, 0xC010, 0x20, new Probe())).as("overlap").isFalse();
        assertThat(m.map(false, 0xFFFF_F000L, 0x2000, new Probe())).as("beyond 4 GiB").isFalse();
        assertThat(pio.find(0xC004, 4).device()).isSameAs(bar);
        assertThat(mmio.regions()).isEmpty();

        m.unmap(true, 0xC000, 0x10); // not the mapped length: ignored
        assertThat(pio.regions()).hasSize(1);
        m.unmap(true, 0xC000, 0x20);
        assertThat(pio.regions()).isEmpty();
    }
}
