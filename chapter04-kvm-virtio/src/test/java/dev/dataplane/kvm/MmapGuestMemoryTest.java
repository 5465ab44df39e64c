package dev.dataplane.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Guest RAM: every access inside, none outside, whatever address and length the guest chooses. No KVM needed. */
class MmapGuestMemoryTest {
    private static final long SIZE = 2 * MmapGuestMemory.PAGE_SIZE;
    private MmapGuestMemory ram;

    @BeforeEach
    void map() {
        ram = MmapGuestMemory.allocate(SIZE);
    }

    @AfterEach
    void unmap() {
        ram.close();
    }

    @Test
    void sizesThatAreNotWholePagesOrTooBigAreRefused() {
        for (long bad : new long[] {0, -4096, 4095, 4097, MmapGuestMemory.MAX_SIZE + 4096, Long.MAX_VALUE}) {
            assertThatThrownBy(() -> MmapGuestMemory.allocate(bad)).as("size " + bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 4 KiB");
        }
    }

    @Test
    void freshRamIsZeroAndValuesAreLittleEndian() {
        assertThat(ram.readLong(0)).isZero();
        assertThat(ram.readLong(SIZE - 8)).isZero();
        ram.writeInt(0x100, 0x11223344);
        assertThat(ram.readByte(0x100)).isEqualTo((byte) 0x44);
        assertThat(ram.readShort(0x102)).isEqualTo((short) 0x1122);
        ram.writeLong(0x200, 0x0102030405060708L);
        assertThat(ram.readInt(0x204)).isEqualTo(0x01020304);
        ram.writeShort(0x300, (short) 0xBEEF);
        ram.writeByte(0x302, (byte) 0x7F);
        assertThat(ram.readInt(0x300)).isEqualTo(0x007FBEEF);
    }

    @Test
    void accessesEndingExactlyAtTheEndWorkAndOneByteFurtherFails() {
        ram.writeLong(SIZE - 8, -1L);
        assertThat(ram.readLong(SIZE - 8)).isEqualTo(-1L);
        ram.writeByte(SIZE - 1, (byte) 1);
        assertThat(ram.readByte(SIZE - 1)).isEqualTo((byte) 1);

        assertThatThrownBy(() -> ram.readLong(SIZE - 7)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.readInt(SIZE - 3)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.readShort(SIZE - 1)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.readByte(SIZE)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.writeByte(SIZE, (byte) 0)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.writeLong(SIZE - 4, 0)).isInstanceOf(GuestMemoryException.class);
    }

    @Test
    void negativeAndOverflowingAddressesAndLengthsAreRefused() {
        assertThatThrownBy(() -> ram.readByte(-1)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.readLong(Long.MIN_VALUE)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.readInt(Long.MAX_VALUE - 1)).isInstanceOf(GuestMemoryException.class);
        // 2^32 + 0x10 would wrap to 0x10 if the address were truncated to an int.
        assertThatThrownBy(() -> ram.readInt(0x1_0000_0010L)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.slice(0x10, -1)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.slice(SIZE - 10, 11)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.slice(Long.MAX_VALUE, 2)).isInstanceOf(GuestMemoryException.class);
        assertThat(ram.contains(Long.MAX_VALUE, Long.MAX_VALUE)).isFalse();
        assertThat(ram.contains(1, Long.MAX_VALUE)).isFalse();
    }

    @Test
    void zeroLengthRangesAreInsideUpToAndIncludingTheEnd() {
        assertThat(ram.slice(SIZE, 0).capacity()).isZero();
        assertThat(ram.slice(0, 0).capacity()).isZero();
        ram.read(SIZE, new byte[0], 0, 0);
        assertThatThrownBy(() -> ram.slice(SIZE + 1, 0)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.slice(-1, 0)).isInstanceOf(GuestMemoryException.class);
    }

    @Test
    void bulkCopiesAreCheckedOnBothSides() {
        byte[] data = {1, 2, 3, 4, 5};
        ram.write(SIZE - 5, data, 0, 5);
        byte[] back = new byte[5];
        ram.read(SIZE - 5, back, 0, 5);
        assertThat(back).containsExactly(data);

        assertThatThrownBy(() -> ram.write(SIZE - 4, data, 0, 5)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> ram.read(0, back, 3, 5)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> ram.write(0, data, -1, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void aSliceIsALittleEndianViewOfRamItself() {
        ByteBuffer view = ram.slice(0x1000, 16);
        assertThat(view.order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(view.isDirect()).isTrue();
        assertThat(view.position()).isZero();
        assertThat(view.limit()).isEqualTo(16);

        view.putInt(4, 0xCAFEBABE);
        assertThat(ram.readInt(0x1004)).isEqualTo(0xCAFEBABE);
        ram.writeShort(0x100E, (short) 0x1234);
        assertThat(view.getShort(14)).isEqualTo((short) 0x1234);
        assertThatThrownBy(() -> view.get(16)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void accessesAfterCloseAreRefusedAndCloseIsIdempotent() {
        ram.close();
        ram.close();
        assertThat(ram.isClosed()).isTrue();
        assertThatThrownBy(() -> ram.readByte(0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> ram.slice(0, 1)).isInstanceOf(IllegalStateException.class);
    }
}
