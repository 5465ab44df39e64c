package dev.dataplane.kvm;

import java.util.Arrays;

/**
 * A vCPU's general-purpose registers, {@code rip} and {@code rflags} ({@code struct kvm_regs};
 * QEMU: {@code kvm_getput_regs}). A plain value to read with {@link KvmVcpu#registers()}, change
 * and write back with {@link KvmVcpu#setRegisters}.
 */
public final class Registers {

    /** The registers in {@code struct kvm_regs} order; each is a {@code __u64} at {@code 8 * ordinal()}. */
    public enum Reg {
        RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, R8, R9, R10, R11, R12, R13, R14, R15, RIP, RFLAGS
    }

    /** Bit 1 of RFLAGS is reserved and always 1; a vCPU must never be given 0 there. */
    public static final long RFLAGS_RESERVED = 0x2;
    /** RFLAGS.IF: maskable interrupts enabled. */
    public static final long RFLAGS_IF = 0x200;

    private final long[] values = new long[Reg.values().length];

    public long get(Reg r) {
        return values[r.ordinal()];
    }

    public Registers set(Reg r, long value) {
        values[r.ordinal()] = value;
        return this;
    }

    public long rip() {
        return get(Reg.RIP);
    }

    public Registers rip(long v) {
        return set(Reg.RIP, v);
    }

    public long rflags() {
        return get(Reg.RFLAGS);
    }

    public Registers rflags(long v) {
        return set(Reg.RFLAGS, v);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Registers other && Arrays.equals(values, other.values);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Registers[");
        for (Reg r : Reg.values()) {
            sb.append(r.name().toLowerCase(java.util.Locale.ROOT)).append("=0x")
                    .append(Long.toHexString(values[r.ordinal()])).append(r == Reg.RFLAGS ? "]" : ", ");
        }
        return sb.toString();
    }
}
