package dev.dataplane.kvm;

import java.util.EnumMap;
import java.util.Map;

/**
 * A vCPU's segment registers, descriptor tables, control registers, EFER and APIC base
 * ({@code struct kvm_sregs}; QEMU: {@code kvm_put_sregs}). Read it with
 * {@link KvmVcpu#specialRegisters()}, change what the boot protocol needs, write it back with
 * {@link KvmVcpu#setSpecialRegisters}. Fields not set keep what was read: that is how the pending
 * interrupt bitmap and the APIC base survive a round trip.
 */
public final class SpecialRegisters {

    /** The segment registers, in {@code struct kvm_sregs} order (each a 24-byte {@code kvm_segment}). */
    public enum Seg {
        CS, DS, ES, FS, GS, SS, TR, LDT
    }

    /** A descriptor-table register ({@code struct kvm_dtable}). */
    public record DescriptorTable(long base, int limit) {
    }

    /** CR0.PE: protected mode. */
    public static final long CR0_PE = 1;

    private final Map<Seg, Segment> segments = new EnumMap<>(Seg.class);
    private DescriptorTable gdt = new DescriptorTable(0, 0);
    private DescriptorTable idt = new DescriptorTable(0, 0);
    private long cr0;
    private long cr2;
    private long cr3;
    private long cr4;
    private long cr8;
    private long efer;
    private long apicBase;
    private final long[] interruptBitmap = new long[4];

    public Segment segment(Seg s) {
        return segments.get(s);
    }

    public SpecialRegisters segment(Seg s, Segment value) {
        segments.put(s, value);
        return this;
    }

    public DescriptorTable gdt() {
        return gdt;
    }

    public SpecialRegisters gdt(DescriptorTable t) {
        gdt = t;
        return this;
    }

    public DescriptorTable idt() {
        return idt;
    }

    public SpecialRegisters idt(DescriptorTable t) {
        idt = t;
        return this;
    }

    public long cr0() {
        return cr0;
    }

    public SpecialRegisters cr0(long v) {
        cr0 = v;
        return this;
    }

    public long cr2() {
        return cr2;
    }

    public SpecialRegisters cr2(long v) {
        cr2 = v;
        return this;
    }

    public long cr3() {
        return cr3;
    }

    public SpecialRegisters cr3(long v) {
        cr3 = v;
        return this;
    }

    public long cr4() {
        return cr4;
    }

    public SpecialRegisters cr4(long v) {
        cr4 = v;
        return this;
    }

    public long cr8() {
        return cr8;
    }

    public SpecialRegisters cr8(long v) {
        cr8 = v;
        return this;
    }

    public long efer() {
        return efer;
    }

    public SpecialRegisters efer(long v) {
        efer = v;
        return this;
    }

    public long apicBase() {
        return apicBase;
    }

    public SpecialRegisters apicBase(long v) {
        apicBase = v;
        return this;
    }

    /** Word {@code i} (0..3) of the pending-external-interrupt bitmap. */
    public long interruptBitmap(int i) {
        return interruptBitmap[i];
    }

    public SpecialRegisters interruptBitmap(int i, long v) {
        interruptBitmap[i] = v;
        return this;
    }

    /**
     * Real mode with every data segment and the stack at {@code selector}, and CS at
     * {@code codeSelector}; clears CR0.PE (a freshly created vCPU starts at the reset vector,
     * CS base 0xFFFF0000: this moves it into guest RAM).
     */
    public SpecialRegisters realMode(int codeSelector, int selector) {
        segment(Seg.CS, Segment.realMode(codeSelector, 0xB));
        for (Seg s : new Seg[] {Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS}) {
            segment(s, Segment.realMode(selector, 0x3));
        }
        cr0 &= ~CR0_PE;
        return this;
    }

    /**
     * 32-bit protected mode with flat 4-GiB segments and paging off, the state the Multiboot
     * specification hands a kernel: CS = 0x08 (execute/read), DS/ES/FS/GS/SS = 0x10 (read/write),
     * CR0.PE set. KVM takes the hidden descriptor caches as given, so no GDT is needed in memory
     * until the guest reloads a segment register.
     */
    public SpecialRegisters flatProtectedMode() {
        segment(Seg.CS, Segment.flatCode32(0x08));
        for (Seg s : new Seg[] {Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.SS}) {
            segment(s, Segment.flatData32(0x10));
        }
        cr0 |= CR0_PE;
        return this;
    }
}
