package dev.dataplane.testsupport;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The one JUnit condition behind {@link RequiresKvm}: disables a test only when the KVM device
 * does not exist.
 *
 * <p>Implementation notes: the decision is deliberately one-sided. "Absent" is the only reason
 * to skip, and it is decided with {@link Files#notExists}, which answers true only when the
 * file system says so; a device whose existence cannot be determined counts as present, so the
 * test runs and reports the real problem. Access rights are never a reason to skip: on a
 * machine with {@code /dev/kvm} the KVM tests must run, and a permission problem must show up
 * as a failure (see {@link #requireUsableKvm()}), not as a quiet skip.
 */
public final class KvmCondition implements ExecutionCondition {

    /** System property that points the condition at another device path (tests, odd machines). */
    public static final String DEVICE_PROPERTY = "dataplane.kvm.device";

    /** Where Linux puts the KVM device. */
    public static final String DEFAULT_DEVICE = "/dev/kvm";

    private final Path device;

    /** Used by JUnit through {@link RequiresKvm}: the device named by the system property. */
    public KvmCondition() {
        this(configuredDevice());
    }

    /** For tests of the condition itself. */
    KvmCondition(Path device) {
        this.device = device;
    }

    /** The KVM device path: {@code -Ddataplane.kvm.device}, or {@code /dev/kvm}. */
    public static Path configuredDevice() {
        return Path.of(System.getProperty(DEVICE_PROPERTY, DEFAULT_DEVICE));
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        // The context is not consulted: the answer depends on the machine, not on the test.
        if (Files.notExists(device)) {
            return ConditionEvaluationResult.disabled(
                    device + " is absent on this machine: KVM tests are skipped; they run wherever "
                            + device + " exists");
        }
        return ConditionEvaluationResult.enabled(
                openProblem(device)
                        .map(problem -> device + " exists, so KVM tests run, and they will fail here: " + problem)
                        .orElse(device + " exists and opens read-write: KVM tests run"));
    }

    /**
     * Fails the calling test, with a message that says what to fix, unless the configured KVM
     * device exists and this user can open it read-write.
     *
     * @return the device path, for the caller to open
     */
    public static Path requireUsableKvm() {
        return requireUsable(configuredDevice());
    }

    static Path requireUsable(Path device) {
        if (Files.notExists(device)) {
            throw new AssertionError(device + " is absent: this test needs KVM (mark it @RequiresKvm)");
        }
        openProblem(device).ifPresent(problem -> {
            throw new AssertionError(problem);
        });
        return device;
    }

    /**
     * Opens the device the way a VMM does (read-write) and closes it again; this is the only
     * reliable test of access, since permission bits, ACLs and the "root may do anything" rule
     * all take part.
     */
    private static Optional<String> openProblem(Path device) {
        try {
            FileChannel.open(device, StandardOpenOption.READ, StandardOpenOption.WRITE).close();
            return Optional.empty();
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.of(device + " exists but this user cannot open it read-write (" + e
                    + "); give the user access, e.g. add it to the group that owns the device"
                    + " (usually kvm) and log in again");
        }
    }
}
