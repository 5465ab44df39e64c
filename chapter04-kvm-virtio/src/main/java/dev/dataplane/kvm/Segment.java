package dev.dataplane.kvm;

/**
 * One segment register as KVM keeps it ({@code struct kvm_segment}): the visible selector and the
 * hidden descriptor cache (base, limit, attributes). KVM loads the cache from here as it is; it does
 * not read a descriptor table, so a guest can start in protected mode without a GDT in memory.
 *
 * @param type     descriptor type nibble (code: 0xB execute/read accessed; data: 0x3 read/write accessed)
 * @param s        code/data segment (true) or system segment (false)
 * @param db       default operand size 32 bits (code) / big (stack)
 * @param l        64-bit code segment
 * @param g        limit counted in 4-KiB pages
 * @param unusable KVM's "null selector loaded" marker
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl, boolean db,
                      boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /** A real-mode segment: base {@code selector * 16}, 64 KiB limit. */
    public static Segment realMode(int selector, int type) {
        return new Segment((long) selector << 4, 0xFFFF, selector, type, true, 0, false, true, false, false, false,
                false);
    }

    /** A flat 32-bit code segment: base 0, limit 4 GiB, execute/read. */
    public static Segment flatCode32(int selector) {
        return new Segment(0, 0xFFFFFFFF, selector, 0xB, true, 0, true, true, false, true, false, false);
    }

    /** A flat 32-bit data segment: base 0, limit 4 GiB, read/write. */
    public static Segment flatData32(int selector) {
        return new Segment(0, 0xFFFFFFFF, selector, 0x3, true, 0, true, true, false, true, false, false);
    }
}
