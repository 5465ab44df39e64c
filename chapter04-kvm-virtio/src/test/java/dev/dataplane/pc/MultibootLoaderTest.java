package dev.dataplane.pc;

import static dev.dataplane.pc.ElfBuilder.P_FILESZ;
import static dev.dataplane.pc.ElfBuilder.P_MEMSZ;
import static dev.dataplane.pc.ElfBuilder.P_OFFSET;
import static dev.dataplane.pc.ElfBuilder.P_PADDR;
import static dev.dataplane.pc.ElfBuilder.P_TYPE;
import static dev.dataplane.pc.ElfBuilder.P_VADDR;
import static dev.dataplane.pc.ElfBuilder.phdr;
import static dev.dataplane.pc.ElfBuilder.putInt;
import static dev.dataplane.pc.ElfBuilder.putShort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.virtio.FakeGuestMemory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MultibootLoaderTest {

    static final int RAM = 2 << 20;
    static final long TEXT = 0x10_0000;
    static final long DATA = 0x10_1000;

    private final FakeGuestMemory ram = new FakeGuestMemory(RAM);

    /** 64 bytes of "code" after the 12-byte Multiboot header, then 16 bytes of data and 8 KiB of BSS. */
    static ElfBuilder kernel() {
        byte[] text = new byte[64];
        for (int i = 12; i < text.length; i++) {
            text[i] = (byte) (0x90 + i);
        }
        byte[] data = new byte[16];
        Arrays.fill(data, (byte) 0xd7);
        return new ElfBuilder().load(TEXT, text, text.length).load(DATA, data, 0x2000).entry(TEXT + 12);
    }

    private MultibootLoader.Result load(byte[] image) throws KernelImageException {
        return MultibootLoader.load(image, ram, "console=ttyS0 qd=16");
    }

    // ---- the happy path ----

    @Test
    void segmentsAreCopiedAndTheirBssZeroed() throws Exception {
        for (long a = DATA; a < DATA + 0x2000; a += 8) {
            ram.writeLong(a, -1L); // what a previous boot might have left
        }
        MultibootLoader.Result r = load(kernel().build());

        assertThat(ram.readInt(TEXT)).isEqualTo(MultibootLoader.HEADER_MAGIC);
        assertThat(ram.readByte(TEXT + 63)).isEqualTo((byte) (0x90 + 63));
        assertThat(ram.readByte(TEXT + 64)).as("past the text segment: untouched").isZero();
        assertThat(ram.readLong(DATA + 8)).isEqualTo(0xd7d7_d7d7_d7d7_d7d7L);
        for (long a = DATA + 16; a < DATA + 0x2000; a += 8) {
            assertThat(ram.readLong(a)).as("BSS at 0x%x", a).isZero();
        }
        assertThat(ram.readLong(DATA + 0x2000)).as("past the BSS: untouched").isEqualTo(0);
        assertThat(r.segments()).containsExactly(
                new MultibootLoader.Segment(TEXT, TEXT, 0x1000, 64, 64),
                new MultibootLoader.Segment(DATA, DATA, 0x2000, 16, 0x2000));
    }

    // tag::boot-state-test[]
    @Test
    void theCpuStartsFlatInProtectedModeAtTheEntryWithTheMultibootRegisters() throws Exception {
        BootCpuState cpu = load(kernel().build()).cpu();

        assertThat(cpu.eip()).isEqualTo(TEXT + 12);
        assertThat(cpu.eax()).isEqualTo(0x2bad_b002L);
        assertThat(cpu.ebx()).isEqualTo(MultibootLoader.INFO_ADDRESS);
        assertThat(cpu.eflags()).isEqualTo(0x2);
        assertThat(cpu.cr0()).isEqualTo(0x11);             // PE | ET, no PG
        assertThat(cpu.cs().selector()).isEqualTo(0x10);
        for (BootCpuState.Segment data : new BootCpuState.Segment[] {cpu.ds(), cpu.es(), cpu.fs(), cpu.gs(), cpu.ss()}) {
            assertThat(data.selector()).isEqualTo(0x18);
            assertThat(data.descriptor()).isEqualTo(0x00cf_9300_0000_ffffL);
        }
        assertThat(cpu.cs().descriptor()).isEqualTo(0x00cf_9b00_0000_ffffL);
        assertThat(cpu.cs().base()).isZero();
        assertThat(cpu.cs().limit()).isEqualTo(0xffff_ffffL);
        assertThat(cpu.cs().db()).isTrue();
        assertThat(cpu.cs().g()).isTrue();
        assertThat(cpu.cs().l()).isFalse();
    }
    // end::boot-state-test[]

    @Test
    void theGdtInRamHoldsTheSameDescriptorsAsTheSegmentRegisters() throws Exception {
        BootCpuState cpu = load(kernel().build()).cpu();
        assertThat(cpu.gdtLimit()).isEqualTo(31);
        assertThat(ram.readLong(cpu.gdtBase())).isZero();
        assertThat(ram.readLong(cpu.gdtBase() + cpu.cs().selector())).isEqualTo(cpu.cs().descriptor());
        assertThat(ram.readLong(cpu.gdtBase() + cpu.ds().selector())).isEqualTo(cpu.ds().descriptor());
        assertThat(cpu.esp()).isGreaterThan(cpu.gdtBase() + cpu.gdtLimit()).isLessThanOrEqualTo(cpu.ebx());
    }

    @Test
    void theMultibootInformationGivesMemoryCommandLineAndLoaderName() throws Exception {
        long info = load(kernel().build()).cpu().ebx();
        int flags = ram.readInt(info);
        assertThat(flags).isEqualTo(1 | 4 | 1 << 9);
        assertThat(ram.readInt(info + 4)).as("mem_lower KiB").isEqualTo(640);
        assertThat(ram.readInt(info + 8)).as("mem_upper KiB").isEqualTo((RAM - (1 << 20)) / 1024);
        assertThat(ram.readCString(ram.readInt(info + 16))).isEqualTo("console=ttyS0 qd=16");
        assertThat(ram.readCString(ram.readInt(info + 64))).isEqualTo("Dataplane");
    }

    @Test
    void aSmallRamReportsOnlyLowMemory() throws Exception {
        FakeGuestMemory small = new FakeGuestMemory(0x8_0000);
        byte[] image = new ElfBuilder().load(0x2_0000, new byte[32], 32).entry(0x2_0010).build();
        MultibootLoader.Result r = MultibootLoader.load(image, small, "");
        assertThat(small.readInt(r.cpu().ebx() + 4)).isEqualTo(512);
        assertThat(small.readInt(r.cpu().ebx() + 8)).isZero();
        assertThat(small.readCString(small.readInt(r.cpu().ebx() + 16))).isEmpty();
    }

    @Test
    void aVirtualEntryIsTranslatedToItsPhysicalAddress() throws Exception {
        byte[] image = new ElfBuilder().segment(1, TEXT, 0xc010_0000L, new byte[64], 64).entry(0xc010_0020L).build();
        assertThat(load(image).cpu().eip()).isEqualTo(TEXT + 0x20);
    }

    @Test
    void theHeaderMayBeAnywhereAlignedInTheFirst8KiBAfterAStrayMagic() throws Exception {
        byte[] image = kernel().multibootAt(0x1020).build();
        putInt(image, 0x1010, MultibootLoader.HEADER_MAGIC); // stray magic, bad checksum
        assertThat(load(image).cpu().eip()).isEqualTo(TEXT + 12);
    }

    @Test
    void programHeadersOtherThanLoadAndEmptySegmentsAreIgnored() throws Exception {
        byte[] image = kernel().segment(0x6474_e551, 0, 0, new byte[0], 0) // PT_GNU_STACK
                .load(0x18_0000, new byte[0], 0).build();
        assertThat(load(image).segments()).hasSize(2);
    }

    @Test
    void aFileIsReadAndItsNameIsInTheErrors(@TempDir Path dir) throws Exception {
        Path good = dir.resolve("guest.elf");
        Files.write(good, kernel().build());
        assertThat(MultibootLoader.load(good, ram, "").cpu().eip()).isEqualTo(TEXT + 12);

        Path bad = dir.resolve("bad.elf");
        Files.write(bad, new byte[100]);
        assertThatThrownBy(() -> MultibootLoader.load(bad, ram, "")).isInstanceOf(KernelImageException.class)
                .hasMessage("kernel image " + bad + ": no Multiboot header (magic 0x1BADB002, 4-byte aligned) in the first 8192 bytes");
        assertThatThrownBy(() -> MultibootLoader.load(dir.resolve("missing"), ram, ""))
                .hasMessage("kernel image " + dir.resolve("missing") + ": no such file");
        assertThatThrownBy(() -> MultibootLoader.readImage(good, 100)).hasMessageContaining("larger than 100 bytes");
    }

    // ---- corrupt images: one clear error, RAM untouched ----

    private void rejects(byte[] image, String message) {
        assertThatThrownBy(() -> load(image)).isInstanceOf(KernelImageException.class)
                .hasMessageStartingWith("kernel image: ").hasMessageContaining(message);
        assertThat(ram.writes()).as("nothing written to RAM").isZero();
    }

    private void rejects(Consumer<byte[]> corruption, String message) {
        byte[] image = kernel().build();
        corruption.accept(image);
        rejects(image, message);
    }

    @Test
    void noMultibootHeader() {
        rejects(img -> putInt(img, 0x1000, 0), "no Multiboot header");
    }

    @Test
    void multibootHeaderMustLieWhollyInTheFirst8KiB() throws Exception {
        assertThat(load(kernel().multibootAt(0x1ff4).build()).cpu().eip()).isEqualTo(TEXT + 12);
        FakeGuestMemory fresh = new FakeGuestMemory(RAM);
        for (int at : new int[] {0x1ff8, 0x2000}) {
            assertThatThrownBy(() -> MultibootLoader.load(kernel().multibootAt(at).build(), fresh, ""))
                    .as("header at 0x%x", at).hasMessageContaining("no Multiboot header");
        }
        assertThat(fresh.writes()).isZero();
    }

    @Test
    void badChecksum() {
        rejects(img -> putInt(img, 0x1008, 0), "bad checksum");
    }

    @Test
    void unsupportedRequirementFlags() {
        rejects(kernel().multibootFlags(0x7).build(), "video mode");
        rejects(kernel().multibootFlags(0x1_0003).build(), "a.out kludge");
    }

    @Test
    void notElf() {
        rejects(img -> img[1] = 'X', "not an ELF file");
    }

    @Test
    void elf64() {
        rejects(img -> img[4] = 2, "not a 32-bit ELF");
    }

    @Test
    void bigEndian() {
        rejects(img -> img[5] = 2, "not a little-endian");
    }

    @Test
    void wrongMachineOrType() {
        rejects(img -> putShort(img, 18, 62), "not an i386 ELF file (e_machine 62)");
        rejects(img -> putShort(img, 16, 3), "not an executable");
        rejects(img -> putInt(img, 20, 2), "unknown ELF version");
    }

    @Test
    void programHeaderTableProblems() {
        rejects(img -> putShort(img, 44, 0), "no program headers");
        rejects(img -> putShort(img, 44, 65), "65 program headers, more than the 64 accepted");
        rejects(img -> putShort(img, 44, 0xffff), "more than the 64 accepted");
        rejects(img -> putShort(img, 42, 56), "program header size 56");
        rejects(img -> putInt(img, 28, 0xffff_fff0L), "program headers at 0xfffffff0 run past the end");
        rejects(img -> putInt(img, 28, img.length - 40), "run past the end");
    }

    @Test
    void segmentFileRangeProblems() {
        rejects(img -> putInt(img, phdr(1, P_OFFSET), 0xffff_ffffL), "truncated: segment 1");
        rejects(img -> putInt(img, phdr(1, P_FILESZ), 0xffff_ffffL), "exceeds memory size");
        rejects(img -> {
            putInt(img, phdr(1, P_FILESZ), 0x1000);
            putInt(img, phdr(1, P_MEMSZ), 0x1000);
        }, "truncated: segment 1");
        rejects(img -> putInt(img, phdr(0, P_FILESZ), 65), "exceeds memory size 64");
    }

    @Test
    void segmentMemoryRangeProblems() {
        rejects(img -> putInt(img, phdr(1, P_PADDR), RAM - 0x1000), "does not fit in guest RAM");
        rejects(img -> putInt(img, phdr(1, P_MEMSZ), 0x10_0000), "does not fit in guest RAM");
        rejects(img -> putInt(img, phdr(1, P_MEMSZ), 0xffff_ffffL), "runs past 4 GiB");
        rejects(img -> putInt(img, phdr(1, P_PADDR), 0xffff_f000L), "runs past 4 GiB");
        rejects(img -> putInt(img, phdr(1, P_PADDR), 0x9ff0), "overlaps the boot area");
        rejects(img -> putInt(img, phdr(1, P_PADDR), 0x7ff0), "overlaps the boot area");
        rejects(img -> putInt(img, phdr(1, P_PADDR), TEXT + 32), "overlap");
    }

    @Test
    void entryOutsideTheSegmentsOrNoLoadableSegment() {
        rejects(img -> putInt(img, 24, 0x20_0000), "entry point 0x200000 is not inside a loaded segment");
        rejects(img -> {
            putInt(img, phdr(0, P_TYPE), 4);
            putInt(img, phdr(1, P_TYPE), 4);
        }, "no loadable (PT_LOAD) segment");
        rejects(img -> putInt(img, phdr(0, P_VADDR), 0x5000_0000), "entry point");
    }

    @Test
    void truncatedAtAnyLengthIsRejected() {
        byte[] image = kernel().build();
        for (int len = 0; len < image.length; len++) {
            byte[] cut = Arrays.copyOf(image, len);
            assertThatThrownBy(() -> load(cut)).as("cut at %d", len).isInstanceOf(KernelImageException.class);
        }
        assertThat(ram.writes()).isZero();
    }

    @Test
    void ramTooSmallForTheBootAreaOrACommandLineThatDoesNotFit() {
        FakeGuestMemory tiny = new FakeGuestMemory(0x9000);
        assertThatThrownBy(() -> MultibootLoader.load(kernel().build(), tiny, ""))
                .hasMessageContaining("too small");
        assertThatThrownBy(() -> MultibootLoader.load(kernel().build(), ram, "x".repeat(MultibootLoader.MAX_CMDLINE + 1)))
                .hasMessageContaining("command line");
        assertThatThrownBy(() -> MultibootLoader.load(kernel().build(), ram, "a\0b"))
                .hasMessageContaining("command line");
        assertThat(ram.writes()).isZero();
    }

    @Test
    void theLongestCommandLineFitsWithItsNul() throws Exception {
        String longest = "y".repeat(MultibootLoader.MAX_CMDLINE);
        long info = MultibootLoader.load(kernel().build(), ram, longest).cpu().ebx();
        assertThat(ram.readCString(ram.readInt(info + 16))).isEqualTo(longest);
    }

    /**
     * Thousands of randomly damaged kernels: each either loads (and then only inside RAM, which the
     * bounds-checked memory guarantees by throwing otherwise) or fails with a KernelImageException.
     */
    @Test
    void randomlyCorruptedImagesLoadOrFailCleanly() {
        Random random = new Random(0x5eed_b007L);
        byte[] good = kernel().build();
        int loaded = 0;
        int rejected = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] image = good.clone();
            int flips = 1 + random.nextInt(6);
            for (int i = 0; i < flips; i++) {
                // Mostly the headers (ELF header, program headers, Multiboot header), where parsing happens.
                int at = random.nextInt(4) == 0 ? random.nextInt(image.length)
                        : random.nextBoolean() ? random.nextInt(52 + 64) : 0x1000 + random.nextInt(12);
                image[at] = (byte) random.nextInt(256);
            }
            try {
                MultibootLoader.load(image, ram, "fuzz");
                loaded++;
            } catch (KernelImageException e) {
                assertThat(e.getMessage()).startsWith("kernel image: ").doesNotContain("\n");
                rejected++;
            }
        }
        assertThat(loaded).isPositive();
        assertThat(rejected).isPositive();
    }
}
