package dev.dataplane.pc;

/**
 * A kernel image that cannot be loaded: not a Multiboot ELF32 for i386, corrupt, or not fitting
 * the guest. The message is one line meant for the user ("kernel image: ..."); the machine prints
 * it and exits non-zero, with no stack trace.
 */
public final class KernelImageException extends Exception {
    private static final long serialVersionUID = 1L;

    public KernelImageException(String message) {
        super(message);
    }

    public KernelImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
