package dev.dataplane.pc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds small Multiboot ELF32 kernels byte by byte, as {@code gcc -m32} and {@code ld -m elf_i386}
 * would lay them out: ELF header, program headers, then each segment's bytes at a 4-KiB aligned
 * file offset, the Multiboot header at the start of the first segment.
 */
final class ElfBuilder {

    /** Byte offset of program header {@code i}'s fields. */
    static final int PHOFF = 52;
    static final int P_TYPE = 0;
    static final int P_OFFSET = 4;
    static final int P_VADDR = 8;
    static final int P_PADDR = 12;
    static final int P_FILESZ = 16;
    static final int P_MEMSZ = 20;
    static final int FIRST_SEGMENT_OFFSET = 0x1000;

    record Segment(int type, long paddr, long vaddr, byte[] data, long memsz) {
    }

    private final List<Segment> segments = new ArrayList<>();
    private long entry;
    private int multibootFlags = 0x3;   // page-align modules, memory information
    private int multibootOffset = FIRST_SEGMENT_OFFSET;

    ElfBuilder load(long paddr, byte[] data, long memsz) {
        return segment(1, paddr, paddr, data, memsz);
    }

    ElfBuilder segment(int type, long paddr, long vaddr, byte[] data, long memsz) {
        segments.add(new Segment(type, paddr, vaddr, data, memsz));
        return this;
    }

    ElfBuilder entry(long entry) {
        this.entry = entry;
        return this;
    }

    ElfBuilder multibootFlags(int flags) {
        this.multibootFlags = flags;
        return this;
    }

    ElfBuilder multibootAt(int fileOffset) {
        this.multibootOffset = fileOffset;
        return this;
    }

    static int phdr(int index, int field) {
        return PHOFF + 32 * index + field;
    }

    byte[] build() {
        List<Integer> offsets = new ArrayList<>();
        int at = FIRST_SEGMENT_OFFSET;
        for (Segment s : segments) {
            offsets.add(at);
            at = (at + s.data().length + 0xfff) & ~0xfff;
        }
        int end = segments.isEmpty() ? FIRST_SEGMENT_OFFSET
                : offsets.get(offsets.size() - 1) + segments.get(segments.size() - 1).data().length;
        ByteBuffer b = ByteBuffer.allocate(Math.max(end, multibootOffset + 12)).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 1, 1, 1, 0});
        b.putShort(16, (short) 2);             // ET_EXEC
        b.putShort(18, (short) 3);             // EM_386
        b.putInt(20, 1);                       // EV_CURRENT
        b.putInt(24, (int) entry);
        b.putInt(28, PHOFF);
        b.putInt(32, 0);                       // no section headers
        b.putShort(40, (short) 52);
        b.putShort(42, (short) 32);
        b.putShort(44, (short) segments.size());
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            b.putInt(phdr(i, P_TYPE), s.type());
            b.putInt(phdr(i, P_OFFSET), offsets.get(i));
            b.putInt(phdr(i, P_VADDR), (int) s.vaddr());
            b.putInt(phdr(i, P_PADDR), (int) s.paddr());
            b.putInt(phdr(i, P_FILESZ), s.data().length);
            b.putInt(phdr(i, P_MEMSZ), (int) s.memsz());
            b.putInt(phdr(i, 24), 7);          // RWX
            b.putInt(phdr(i, 28), 0x1000);
            b.put(offsets.get(i), s.data());
        }
        b.putInt(multibootOffset, MultibootLoader.HEADER_MAGIC);
        b.putInt(multibootOffset + 4, multibootFlags);
        b.putInt(multibootOffset + 8, -(MultibootLoader.HEADER_MAGIC + multibootFlags));
        return b.array();
    }

    static void putInt(byte[] image, int offset, long value) {
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, (int) value);
    }

    static void putShort(byte[] image, int offset, int value) {
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putShort(offset, (short) value);
    }
}
