package dev.dataplane.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The built guest is what a Multiboot v1 loader (QEMU's {@code -kernel}, Dataplane's own) can
 * boot: a 32-bit x86 ELF with a valid Multiboot header in its first 8 KiB, an entry point in
 * executable code, and its BSS inside a loadable segment so the loader reserves it. Needs only
 * the build, so it runs everywhere.
 */
class GuestImageTest {

    private static final int MULTIBOOT_MAGIC = 0x1BADB002;
    private static final int MULTIBOOT_SEARCH = 8192;
    private static final int PT_LOAD = 1;
    private static final int PF_X = 1;

    private static ByteBuffer elf;
    private static List<Segment> segments;

    record Segment(int type, long offset, long paddr, long fileSize, long memSize, int flags) {
        boolean contains(long address, long length) {
            return address >= paddr && address + length <= paddr + memSize;
        }
    }

    @BeforeAll
    static void load() throws IOException {
        elf = ByteBuffer.wrap(Files.readAllBytes(GuestProtocol.elf())).order(ByteOrder.LITTLE_ENDIAN);
        segments = new ArrayList<>();
        int phoff = elf.getInt(28);
        int phentsize = Short.toUnsignedInt(elf.getShort(42));
        int phnum = Short.toUnsignedInt(elf.getShort(44));
        for (int i = 0; i < phnum; i++) {
            int at = phoff + i * phentsize;
            segments.add(new Segment(elf.getInt(at), u32(at + 4), u32(at + 12), u32(at + 16), u32(at + 20),
                    elf.getInt(at + 24)));
        }
    }

    @Test
    void isA32BitLittleEndianX86Executable() {
        assertThat(new byte[] {elf.get(0), elf.get(1), elf.get(2), elf.get(3)})
                .isEqualTo(new byte[] {0x7f, 'E', 'L', 'F'});
        assertThat(elf.get(4)).as("EI_CLASS: ELFCLASS32 (QEMU refuses a 64-bit Multiboot ELF)").isEqualTo((byte) 1);
        assertThat(elf.get(5)).as("EI_DATA: little-endian").isEqualTo((byte) 1);
        assertThat(elf.getShort(16)).as("e_type: ET_EXEC").isEqualTo((short) 2);
        assertThat(elf.getShort(18)).as("e_machine: EM_386").isEqualTo((short) 3);
    }

    @Test
    void hasAMultibootHeaderWithAValidChecksumInItsFirst8KiB() {
        int at = multibootHeader();
        int flags = elf.getInt(at + 4);
        int checksum = elf.getInt(at + 8);
        assertThat(MULTIBOOT_MAGIC + flags + checksum).as("magic + flags + checksum (mod 2^32)").isZero();
        assertThat(flags & (1 << 16)).as("flag 16 (a.out kludge): an ELF needs no load addresses").isZero();
        assertThat(flags & (1 << 2)).as("flag 2 (video mode): the guest has no screen").isZero();
    }

    @Test
    void entersInExecutableCodeLoadedAtOrAbove1MiB() {
        long entry = u32(24);
        assertThat(segments).filteredOn(s -> s.type() == PT_LOAD)
                .isNotEmpty()
                .allSatisfy(s -> assertThat(s.paddr()).as("load address").isGreaterThanOrEqualTo(0x100000))
                .anySatisfy(s -> {
                    assertThat(s.flags() & PF_X).isNotZero();
                    assertThat(s.contains(entry, 1)).isTrue();
                });
    }

    @Test
    void keepsItsBssInsideALoadSegment() {
        long[] bss = section(".bss");
        assertThat(bss[1]).as(".bss size (stack, rings, buffers)").isPositive();
        assertThat(segments).filteredOn(s -> s.type() == PT_LOAD)
                .as("a PT_LOAD segment whose memory size covers .bss")
                .anyMatch(s -> s.contains(bss[0], bss[1]) && s.memSize() > s.fileSize());
    }

    /** Offset of the Multiboot header: 4-byte aligned, within the first 8 KiB of the file. */
    private static int multibootHeader() {
        for (int at = 0; at + 12 <= Math.min(MULTIBOOT_SEARCH, elf.capacity()); at += 4) {
            if (elf.getInt(at) == MULTIBOOT_MAGIC) {
                return at;
            }
        }
        throw new AssertionError("no Multiboot magic 0x1BADB002 in the first " + MULTIBOOT_SEARCH + " bytes");
    }

    /** Address and size of the named section. */
    private static long[] section(String name) {
        int shoff = elf.getInt(32);
        int shentsize = Short.toUnsignedInt(elf.getShort(46));
        int shnum = Short.toUnsignedInt(elf.getShort(48));
        int shstrndx = Short.toUnsignedInt(elf.getShort(50));
        int strtab = elf.getInt(shoff + shstrndx * shentsize + 16);
        for (int i = 0; i < shnum; i++) {
            int at = shoff + i * shentsize;
            if (name.equals(string(strtab + elf.getInt(at)))) {
                return new long[] {u32(at + 12), u32(at + 20)};
            }
        }
        throw new AssertionError("no section " + name);
    }

    private static String string(int at) {
        int end = at;
        while (elf.get(end) != 0) {
            end++;
        }
        return new String(elf.array(), at, end - at, StandardCharsets.US_ASCII);
    }

    private static long u32(int at) {
        return Integer.toUnsignedLong(elf.getInt(at));
    }
}
