package dev.dataplane.kvm;

/**
 * A guest-physical range outside guest RAM. Device code catches it and answers the guest with an
 * error status (or marks the device broken); it never reaches the vCPU or the event loop.
 */
public final class GuestMemoryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final long gpa;
    private final long length;

    public GuestMemoryException(long gpa, long length, long ramSize) {
        super("guest-physical range [0x" + Long.toHexString(gpa) + ", +" + length + ") is outside guest RAM (0x"
                + Long.toHexString(ramSize) + " bytes)");
        this.gpa = gpa;
        this.length = length;
    }

    public long gpa() {
        return gpa;
    }

    public long length() {
        return length;
    }
}
