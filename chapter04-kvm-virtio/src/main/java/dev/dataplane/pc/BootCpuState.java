package dev.dataplane.pc;

/**
 * The vCPU state a Multiboot v1 kernel starts in (Multiboot specification 0.6.96, section 3.2,
 * "Machine state"), as plain values the KVM layer copies into {@code kvm_regs} and
 * {@code kvm_sregs}: 32-bit protected mode, paging off, flat 4-GiB code and data segments,
 * interrupts off.
 *
 * <p>How to apply it (the machine does this once per boot vCPU, before its first {@code KVM_RUN}):
 * <ol>
 *   <li>{@code KVM_GET_SREGS}; set {@code cs} and {@code ds, es, fs, gs, ss} from the
 *       {@link Segment}s field by field ({@code kvm_segment} has the same fields; {@code unusable}
 *       = 0), {@code gdt.base}/{@code gdt.limit} from {@link #gdtBase}/{@link #gdtLimit},
 *       {@code cr0} from {@link #cr0}; leave {@code cr3}, {@code cr4} and {@code efer} at their
 *       reset value 0 (no paging, no long mode) and {@code idt}, {@code tr}, {@code ldt} as reset
 *       left them (interrupts are off; the kernel loads its own IDT before enabling them);
 *       {@code KVM_SET_SREGS}.</li>
 *   <li>{@code KVM_GET_REGS}; set {@code rip, rsp, rax, rbx, rflags}; {@code KVM_SET_REGS}.</li>
 * </ol>
 * The segment limits are byte-granular as {@code kvm_segment} wants them (0xFFFFFFFF with
 * {@code g} set), not the 20-bit field of a descriptor. The loader also writes a GDT with the
 * same descriptors into guest RAM at {@link #gdtBase}, so a kernel that reloads a segment register
 * before installing its own GDT gets the very segment it already has.
 *
 * @param eip    the kernel's entry point (physical: paging is off)
 * @param esp    a small boot stack below the Multiboot information (the specification leaves ESP
 *               undefined; a kernel sets its own)
 * @param eax    {@link MultibootLoader#BOOTLOADER_MAGIC}
 * @param ebx    the physical address of the Multiboot information structure
 * @param eflags 0x2: only the always-one bit; IF clear
 * @param cr0    PE | ET: protected mode, no paging, x87 present as on every 486+
 */
public record BootCpuState(long eip, long esp, long eax, long ebx, long eflags, long cr0,
        Segment cs, Segment ds, Segment es, Segment fs, Segment gs, Segment ss,
        long gdtBase, int gdtLimit) {

    public static final long CR0_PE = 0x1;
    public static final long CR0_ET = 0x10;
    public static final long EFLAGS_FIXED = 0x2;

    /**
     * One segment register's hidden part, field for field as in {@code struct kvm_segment}.
     *
     * @param type  the descriptor type nibble: 0xB = code, execute/read, accessed; 0x3 = data,
     *              read/write, accessed
     * @param s     code or data segment (not a system segment)
     * @param db    32-bit default operand size (code) / 32-bit stack (SS)
     * @param limit byte-granular limit (0xFFFFFFFF for a flat segment)
     * @param g     4-KiB granularity (the descriptor's 20-bit limit field is {@code limit >>> 12})
     */
    public record Segment(int selector, long base, long limit, int type, boolean s, int dpl, boolean present,
            boolean db, boolean l, boolean g, boolean avl) {

        /** The 8-byte GDT descriptor with these attributes. */
        public long descriptor() {
            long limitField = (g ? limit >>> 12 : limit) & 0xf_ffffL;
            long access = type & 0xf | (s ? 0x10 : 0) | (dpl & 3) << 5 | (present ? 0x80 : 0);
            long flags = (avl ? 1 : 0) | (l ? 2 : 0) | (db ? 4 : 0) | (g ? 8 : 0);
            return (limitField & 0xffff)
                    | (base & 0xff_ffffL) << 16
                    | access << 40
                    | (limitField >>> 16) << 48
                    | flags << 52
                    | (base >>> 24 & 0xff) << 56;
        }
    }
}
