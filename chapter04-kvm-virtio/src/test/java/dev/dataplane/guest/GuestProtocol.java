package dev.dataplane.guest;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the teaching guest ({@code src/main/guest/guest.c}) promises the host: where its binary
 * is, the status it writes to the exit port, the lines it prints, and the bytes it leaves on the
 * disk. The constants mirror the C source; the tests fail if the two drift apart.
 */
public final class GuestProtocol {

    /** System property (set by the module's surefire configuration) naming the guest's ELF file. */
    public static final String ELF_PROPERTY = "dataplane.guest.elf";

    /** Where the build puts the guest, relative to the module, when the property is not set. */
    public static final Path DEFAULT_ELF = Path.of("target", "guest", "dataplane-guest.elf");

    /** The port the guest writes its one-byte status to (QEMU's isa-debug-exit, Dataplane's exit port). */
    public static final int EXIT_PORT = 0xf4;

    /** Status values the guest writes to {@link #EXIT_PORT}. */
    public static final int EXIT_PASS = 0;
    public static final int EXIT_NO_DEVICE = 1;
    public static final int EXIT_SETUP = 2;
    public static final int EXIT_IO_ERROR = 3;
    public static final int EXIT_MISMATCH = 4;
    public static final int EXIT_PROTOCOL = 5;

    /** The first line the guest prints starts with this. */
    public static final String BANNER = "dataplane-guest: hello";

    /** The guest's last line when every check passed. */
    public static final String PASS_LINE = "dataplane-guest: PASS";

    // The timed runs, in the order the guest performs them.

    /** Warm-up reads at queue depth 1 ({@code warm=N}) and 16 ({@code warm16=N}). */
    public static final String RUN_WARM = "WARM";
    public static final String RUN_WARM16 = "WARM16";
    public static final String RUN_LOOP = "LOOP";
    public static final String RUN_QD1 = "QD1";
    public static final String RUN_QD16 = "QD16";
    /** Reads at queue depth 16 with a kick after every request ({@code qd16k=N}). */
    public static final String RUN_QD16K = "QD16K";
    /** Reads at queue depth 1 with guest work between each kick and the look for its completion ({@code busy=N}). */
    public static final String RUN_BUSY = "BUSY";
    /** The same work against the no-I/O ring. */
    public static final String RUN_BUSY_LOOP = "BUSYLOOP";

    /** Where the guest writes its 4 KiB pattern (sectors 8 to 15); it also fills the last sector. */
    public static final long PATTERN_OFFSET = 8 * 512;
    public static final int PATTERN_LENGTH = 4096;
    public static final int SECTOR_SIZE = 512;

    private GuestProtocol() {
    }

    /** The guest's ELF file: the system property if set, else the build's output path. */
    public static Path elf() {
        String configured = System.getProperty(ELF_PROPERTY);
        Path elf = configured != null ? Path.of(configured) : DEFAULT_ELF;
        if (!Files.isRegularFile(elf)) {
            throw new IllegalStateException("the teaching guest is not built: " + elf.toAbsolutePath()
                    + " is missing (the module's compile phase builds it with gcc and ld)");
        }
        return elf;
    }

    /** QEMU's isa-debug-exit makes the process exit with {@code (value << 1) | 1}. */
    public static int qemuExitStatus(int guestStatus) {
        return (guestStatus << 1) | 1;
    }

    /**
     * The byte the guest writes at byte {@code pos} of the disk, in the sectors it tests:
     * {@code (7 * pos + pos / 512 + 1) mod 256}, computed in 32 bits as the guest does.
     */
    public static byte patternAt(long pos) {
        int p = (int) pos;
        return (byte) (7 * p + (p >>> 9) + 1);
    }
}
