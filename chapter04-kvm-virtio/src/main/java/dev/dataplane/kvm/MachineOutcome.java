package dev.dataplane.kvm;

/**
 * How a machine's run ended: the first of these that happens ends it for every vCPU.
 *
 * @param kind     what ended it
 * @param exitCode the guest's exit code for {@link Kind#EXITED}, else 0
 * @param detail   a one-line human-readable description (which vCPU, which exit, which error)
 * @param cause    the exception behind a {@link Kind#FAILED} outcome, or null
 */
public record MachineOutcome(Kind kind, int exitCode, String detail, Throwable cause) {

    public enum Kind {
        /** The guest asked to end with an exit code (an isa-debug-exit-style port). */
        EXITED,
        /** A vCPU executed {@code hlt} with nothing to wake it (only without an in-kernel irqchip). */
        HALTED,
        /** The guest shut the machine down or reset it: a triple fault, or a KVM system event. */
        SHUTDOWN,
        /** Emulation failure, failed entry, an unexpected exit or a VMM error: the machine cannot go on. */
        FAILED,
        /** The host stopped the machine ({@link RunControl#requestStop}). */
        STOPPED
    }

    public static MachineOutcome exited(int code) {
        return new MachineOutcome(Kind.EXITED, code, "the guest exited with code " + code, null);
    }

    public static MachineOutcome of(Kind kind, String detail) {
        return new MachineOutcome(kind, 0, detail, null);
    }

    public static MachineOutcome failed(String detail, Throwable cause) {
        return new MachineOutcome(Kind.FAILED, 0, detail, cause);
    }

    @Override
    public String toString() {
        return kind + ": " + detail;
    }
}
