package dev.dataplane.pc;

import dev.dataplane.kvm.GuestMemory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Loads a Multiboot v1 kernel in ELF32 format into guest RAM and says how the boot vCPU must
 * start (QEMU: {@code hw/i386/multiboot.c}; GRUB's {@code multiboot} command).
 *
 * <p>Implementation notes.
 *
 * <p><b>Untrusted input.</b> The image is a file the user named, so it is parsed like guest data:
 * every offset and size is read as an unsigned 32-bit number into a {@code long}, every sum is
 * checked against the file length or the RAM size before use, and the number of program headers
 * is capped. Anything wrong raises one {@link KernelImageException} with a one-line message.
 * Nothing is written to guest RAM until the whole image has been validated.
 *
 * <p><b>Steps.</b> (1) Find the Multiboot header: the first 32-bit aligned magic 0x1BADB002 in
 * the first 8 KiB whose checksum makes {@code magic + flags + checksum} zero. Requirement flags
 * other than "align modules" (bit 0; there are no modules) and "memory information" (bit 1;
 * always provided) are refused, and so is the a.out kludge (bit 16): only ELF is loaded.
 * (2) Check the ELF header: 32-bit, little-endian, executable, EM_386. (3) Take the PT_LOAD
 * segments: each must lie within the file ({@code p_filesz}) and within RAM ({@code p_memsz} at
 * {@code p_paddr}, paging being off), must not overlap another or the boot area. (4) Copy
 * {@code p_filesz} bytes, zero the rest up to {@code p_memsz} (the BSS). (5) Write the boot area
 * and return the {@link BootCpuState}.
 *
 * <p><b>The boot area</b>, {@code [0x8000, 0xA000)} in conventional memory, belongs to the
 * loader: a GDT at 0x8000 (null, null, code 0x10, data 0x18: the selectors QEMU's Multiboot
 * ROM uses), a boot stack growing down from 0x9000, the Multiboot information at 0x9000, the boot
 * loader's name at 0x9100 and the command line from 0x9200. Kernels link at 1 MiB, far from it;
 * one that wants to load into it is refused rather than silently overwritten. The information
 * gives {@code mem_lower}/{@code mem_upper} (flag bit 0), the command line (bit 2) and the boot
 * loader name (bit 9).
 */
public final class MultibootLoader {

    public static final int HEADER_MAGIC = 0x1badb002;
    /** EAX at entry: tells the kernel a Multiboot loader started it. */
    public static final int BOOTLOADER_MAGIC = 0x2badb002;
    public static final int HEADER_SEARCH_LIMIT = 8192;
    public static final int MAX_PROGRAM_HEADERS = 64;

    public static final long BOOT_AREA = 0x8000;
    public static final long BOOT_AREA_END = 0xa000;
    public static final long GDT_ADDRESS = 0x8000;
    public static final long STACK_TOP = 0x9000;
    public static final long INFO_ADDRESS = 0x9000;
    public static final long LOADER_NAME_ADDRESS = 0x9100;
    public static final long CMDLINE_ADDRESS = 0x9200;
    /** Longest command line in bytes (it ends with a NUL at the end of the boot area at most). */
    public static final int MAX_CMDLINE = (int) (BOOT_AREA_END - CMDLINE_ADDRESS - 1);
    public static final String LOADER_NAME = "Dataplane";

    public static final int CODE_SELECTOR = 0x10;
    public static final int DATA_SELECTOR = 0x18;

    static final int FLAG_ALIGN_MODULES = 1 << 0;
    static final int FLAG_MEMORY_INFO = 1 << 1;
    static final int FLAG_VIDEO_MODE = 1 << 2;
    static final int FLAG_AOUT_KLUDGE = 1 << 16;
    static final int INFO_MEMORY = 1 << 0;
    static final int INFO_CMDLINE = 1 << 2;
    static final int INFO_LOADER_NAME = 1 << 9;

    static final int ELF_HEADER_SIZE = 52;
    static final int PHDR_SIZE = 32;
    static final int PT_LOAD = 1;
    static final int ET_EXEC = 2;
    static final int EM_386 = 3;

    private static final long FOUR_GIB = 1L << 32;
    private static final long ONE_MIB = 1L << 20;
    private static final long LOW_MEMORY_END = 0xa0000; // 640 KiB

    private MultibootLoader() {
    }

    /** One PT_LOAD segment as loaded: {@code memsz} bytes at {@code paddr}, the first {@code filesz} from the file. */
    public record Segment(long paddr, long vaddr, long offset, long filesz, long memsz) {
        long end() {
            return paddr + memsz;
        }
    }

    /** What was loaded and how to start it. */
    public record Result(BootCpuState cpu, List<Segment> segments) {
    }

    // tag::flat-segments[]
    /** The flat 4-GiB code segment every Multiboot kernel starts in. */
    public static final BootCpuState.Segment FLAT_CODE =
            new BootCpuState.Segment(CODE_SELECTOR, 0, 0xffff_ffffL, 0xb, true, 0, true, true, false, true, false);
    /** The flat 4-GiB data segment of DS, ES, FS, GS and SS. */
    public static final BootCpuState.Segment FLAT_DATA =
            new BootCpuState.Segment(DATA_SELECTOR, 0, 0xffff_ffffL, 0x3, true, 0, true, true, false, true, false);
    // end::flat-segments[]

    /**
     * Reads a kernel file of at most {@code maxBytes} (the guest RAM size is a natural bound),
     * turning I/O errors into one-line {@link KernelImageException}s.
     */
    public static byte[] readImage(Path path, long maxBytes) throws KernelImageException {
        try {
            long size = Files.size(path);
            if (size > maxBytes || size > Integer.MAX_VALUE - 16) {
                throw new KernelImageException("kernel image " + path + ": " + size + " bytes is larger than "
                        + maxBytes + " bytes");
            }
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new KernelImageException("kernel image " + path + ": no such file", e);
        } catch (AccessDeniedException e) {
            throw new KernelImageException("kernel image " + path + ": permission denied", e);
        } catch (IOException e) {
            throw new KernelImageException("kernel image " + path + ": cannot read it (" + e + ")", e);
        }
    }

    /** {@link #readImage} then {@link #load(byte[], GuestMemory, String)}; messages name the file. */
    public static Result load(Path path, GuestMemory ram, String cmdline) throws KernelImageException {
        byte[] image = readImage(path, ram.size());
        try {
            return load(image, ram, cmdline);
        } catch (KernelImageException e) {
            String problem = e.getMessage().substring("kernel image".length()); // ": ..."
            throw new KernelImageException("kernel image " + path + problem, e);
        }
    }

    /**
     * Validates {@code image}, loads it into {@code ram} and writes the boot area.
     *
     * @param cmdline the command line the kernel finds in its Multiboot information (may be empty)
     * @throws KernelImageException if the image is not a loadable Multiboot ELF32 kernel for this
     *                              RAM; RAM is then unchanged
     */
    public static Result load(byte[] image, GuestMemory ram, String cmdline) throws KernelImageException {
        if (!ram.contains(0, BOOT_AREA_END)) {
            throw fail("guest RAM of " + ram.size() + " bytes is too small; the boot area alone needs "
                    + BOOT_AREA_END + " bytes");
        }
        byte[] cmd = cmdline.getBytes(StandardCharsets.UTF_8);
        if (cmd.length > MAX_CMDLINE || cmdline.indexOf('\0') >= 0) {
            throw fail("command line must be at most " + MAX_CMDLINE + " bytes without NUL characters");
        }
        checkMultibootHeader(image);
        Elf elf = parseElf(image);
        List<Segment> segments = loadableSegments(image, elf, ram);
        long entry = physicalEntry(elf.entry, segments);

        for (Segment s : segments) {
            copySegment(image, s, ram);
        }
        writeBootArea(ram, cmd);
        // tag::initial-cpu-state[]
        BootCpuState cpu = new BootCpuState(entry, STACK_TOP, Integer.toUnsignedLong(BOOTLOADER_MAGIC),
                INFO_ADDRESS, BootCpuState.EFLAGS_FIXED, BootCpuState.CR0_PE | BootCpuState.CR0_ET,
                FLAT_CODE, FLAT_DATA, FLAT_DATA, FLAT_DATA, FLAT_DATA, FLAT_DATA, GDT_ADDRESS, 4 * 8 - 1);
        // end::initial-cpu-state[]
        return new Result(cpu, segments);
    }

    private static KernelImageException fail(String problem) {
        return new KernelImageException("kernel image: " + problem);
    }

    // ---- (1) the Multiboot header ----

    private static void checkMultibootHeader(byte[] image) throws KernelImageException {
        int limit = Math.min(image.length, HEADER_SEARCH_LIMIT);
        int badChecksumAt = -1;
        for (int off = 0; off + 12 <= limit; off += 4) {
            if (u32(image, off) != Integer.toUnsignedLong(HEADER_MAGIC)) {
                continue;
            }
            int flags = (int) u32(image, off + 4);
            int checksum = (int) u32(image, off + 8);
            if (HEADER_MAGIC + flags + checksum != 0) {
                if (badChecksumAt < 0) {
                    badChecksumAt = off;
                }
                continue; // a stray magic number in the code; keep looking
            }
            checkFlags(flags, off);
            return;
        }
        if (badChecksumAt >= 0) {
            throw fail("Multiboot header at offset 0x" + Integer.toHexString(badChecksumAt)
                    + " has a bad checksum (magic + flags + checksum must be 0)");
        }
        throw fail("no Multiboot header (magic 0x1BADB002, 4-byte aligned) in the first "
                + HEADER_SEARCH_LIMIT + " bytes");
    }

    private static void checkFlags(int flags, int off) throws KernelImageException {
        if ((flags & FLAG_AOUT_KLUDGE) != 0) {
            throw fail("Multiboot header at offset 0x" + Integer.toHexString(off)
                    + " asks for the a.out kludge (flag bit 16); only ELF kernels are loaded");
        }
        int required = flags & 0xffff & ~(FLAG_ALIGN_MODULES | FLAG_MEMORY_INFO);
        if (required != 0) {
            throw fail("Multiboot header requires unsupported features (flags 0x" + Integer.toHexString(required)
                    + (((required & FLAG_VIDEO_MODE) != 0) ? ", video mode" : "") + ")");
        }
    }

    // ---- (2) the ELF header ----

    private record Elf(long entry, long phoff, int phnum) {
    }

    private static Elf parseElf(byte[] image) throws KernelImageException {
        if (image.length < ELF_HEADER_SIZE) {
            throw fail("truncated: " + image.length + " bytes is shorter than an ELF header");
        }
        if (image[0] != 0x7f || image[1] != 'E' || image[2] != 'L' || image[3] != 'F') {
            throw fail("not an ELF file");
        }
        if (image[4] != 1) {
            throw fail("not a 32-bit ELF file (Multiboot v1 loads ELF32 only)");
        }
        if (image[5] != 1) {
            throw fail("not a little-endian ELF file");
        }
        if (image[6] != 1 || u32(image, 20) != 1) {
            throw fail("unknown ELF version");
        }
        if (u16(image, 16) != ET_EXEC) {
            throw fail("not an executable ELF file (e_type " + u16(image, 16) + ")");
        }
        if (u16(image, 18) != EM_386) {
            throw fail("not an i386 ELF file (e_machine " + u16(image, 18) + ")");
        }
        long entry = u32(image, 24);
        long phoff = u32(image, 28);
        int phentsize = u16(image, 42);
        int phnum = u16(image, 44);
        if (phnum == 0) {
            throw fail("no program headers");
        }
        if (phnum > MAX_PROGRAM_HEADERS) {
            throw fail(phnum + " program headers, more than the " + MAX_PROGRAM_HEADERS + " accepted");
        }
        if (phentsize != PHDR_SIZE) {
            throw fail("program header size " + phentsize + " is not " + PHDR_SIZE);
        }
        if (phoff + (long) phnum * PHDR_SIZE > image.length) {
            throw fail("truncated: program headers at 0x" + Long.toHexString(phoff) + " run past the end of the "
                    + image.length + "-byte file");
        }
        return new Elf(entry, phoff, phnum);
    }

    // ---- (3) the segments ----

    private static List<Segment> loadableSegments(byte[] image, Elf elf, GuestMemory ram) throws KernelImageException {
        List<Segment> segments = new ArrayList<>();
        for (int i = 0; i < elf.phnum; i++) {
            int ph = (int) (elf.phoff + (long) i * PHDR_SIZE); // < image.length, checked in parseElf
            if (u32(image, ph) != PT_LOAD) {
                continue;
            }
            Segment s = new Segment(u32(image, ph + 12), u32(image, ph + 8), u32(image, ph + 4),
                    u32(image, ph + 16), u32(image, ph + 20));
            String name = "segment " + i + " (PT_LOAD at 0x" + Long.toHexString(s.paddr()) + ")";
            if (s.memsz() == 0) {
                continue;
            }
            if (s.filesz() > s.memsz()) {
                throw fail(name + ": file size " + s.filesz() + " exceeds memory size " + s.memsz());
            }
            if (s.offset() + s.filesz() > image.length) {
                throw fail("truncated: " + name + " needs file bytes up to 0x"
                        + Long.toHexString(s.offset() + s.filesz()) + " but the file has " + image.length);
            }
            if (s.end() > FOUR_GIB) {
                throw fail(name + " runs past 4 GiB");
            }
            if (!ram.contains(s.paddr(), s.memsz())) {
                throw fail(name + " of " + s.memsz() + " bytes does not fit in guest RAM of " + ram.size()
                        + " bytes");
            }
            if (s.paddr() < BOOT_AREA_END && s.end() > BOOT_AREA) {
                throw fail(name + " overlaps the boot area [0x" + Long.toHexString(BOOT_AREA) + ", 0x"
                        + Long.toHexString(BOOT_AREA_END) + ")");
            }
            segments.add(s);
        }
        if (segments.isEmpty()) {
            throw fail("no loadable (PT_LOAD) segment");
        }
        segments.sort(Comparator.comparingLong(Segment::paddr));
        for (int i = 1; i < segments.size(); i++) {
            Segment prev = segments.get(i - 1);
            Segment next = segments.get(i);
            if (next.paddr() < prev.end()) {
                throw fail("segments at 0x" + Long.toHexString(prev.paddr()) + " and 0x"
                        + Long.toHexString(next.paddr()) + " overlap");
            }
        }
        return List.copyOf(segments);
    }

    /** The entry point as a physical address: paging is off, so a virtual entry is translated. */
    private static long physicalEntry(long entry, List<Segment> segments) throws KernelImageException {
        for (Segment s : segments) {
            if (entry >= s.vaddr() && entry - s.vaddr() < s.memsz()) {
                return entry - s.vaddr() + s.paddr();
            }
        }
        throw fail("entry point 0x" + Long.toHexString(entry) + " is not inside a loaded segment");
    }

    // ---- (4) copying ----

    private static final byte[] ZEROES = new byte[64 * 1024];

    // tag::load-segment[]
    /** Copies one validated segment: the file's bytes, then zeroes for the BSS. */
    private static void copySegment(byte[] image, Segment s, GuestMemory ram) {
        ram.write(s.paddr(), image, (int) s.offset(), (int) s.filesz());
        long at = s.paddr() + s.filesz();
        long left = s.memsz() - s.filesz();
        while (left > 0) {
            int n = (int) Math.min(left, ZEROES.length);
            ram.write(at, ZEROES, 0, n);
            at += n;
            left -= n;
        }
    }
    // end::load-segment[]

    // ---- (5) the boot area ----

    // tag::boot-info[]
    private static void writeBootArea(GuestMemory ram, byte[] cmdline) {
        ram.write(BOOT_AREA, ZEROES, 0, (int) (BOOT_AREA_END - BOOT_AREA));

        ram.writeLong(GDT_ADDRESS + CODE_SELECTOR, FLAT_CODE.descriptor());
        ram.writeLong(GDT_ADDRESS + DATA_SELECTOR, FLAT_DATA.descriptor());

        long memLowerKiB = Math.min(ram.size(), LOW_MEMORY_END) / 1024;
        long memUpperKiB = Math.max(0, Math.min(ram.size(), FOUR_GIB) - ONE_MIB) / 1024;
        ram.writeInt(INFO_ADDRESS, INFO_MEMORY | INFO_CMDLINE | INFO_LOADER_NAME); // flags
        ram.writeInt(INFO_ADDRESS + 4, (int) memLowerKiB);                         // mem_lower
        ram.writeInt(INFO_ADDRESS + 8, (int) memUpperKiB);                         // mem_upper
        ram.writeInt(INFO_ADDRESS + 16, (int) CMDLINE_ADDRESS);                    // cmdline
        ram.writeInt(INFO_ADDRESS + 64, (int) LOADER_NAME_ADDRESS);                // boot_loader_name

        byte[] name = LOADER_NAME.getBytes(StandardCharsets.US_ASCII);
        ram.write(LOADER_NAME_ADDRESS, name, 0, name.length); // NUL-terminated by the zeroing above
        ram.write(CMDLINE_ADDRESS, cmdline, 0, cmdline.length);
    }
    // end::boot-info[]

    // ---- little-endian reads, only at offsets already checked against the length ----

    private static long u32(byte[] b, int off) {
        return (b[off] & 0xffL) | (b[off + 1] & 0xffL) << 8 | (b[off + 2] & 0xffL) << 16 | (b[off + 3] & 0xffL) << 24;
    }

    private static int u16(byte[] b, int off) {
        return (b[off] & 0xff) | (b[off + 1] & 0xff) << 8;
    }
}
