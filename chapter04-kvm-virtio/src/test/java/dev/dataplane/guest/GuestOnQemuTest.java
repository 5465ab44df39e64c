package dev.dataplane.guest;

import static dev.dataplane.guest.GuestProtocol.PATTERN_LENGTH;
import static dev.dataplane.guest.GuestProtocol.PATTERN_OFFSET;
import static dev.dataplane.guest.GuestProtocol.SECTOR_SIZE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.dataplane.guest.QemuGuest.Config;
import dev.dataplane.guest.QemuGuest.Disk;
import dev.dataplane.guest.QemuGuest.Firmware;
import dev.dataplane.guest.QemuGuest.Result;
import dev.dataplane.testsupport.Timeouts;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The teaching guest passes under QEMU, whose legacy virtio-blk-pci device is the reference
 * Dataplane's device is measured against: if the guest's driver were wrong, QEMU would say so.
 * Skipped only where {@code qemu-system-x86_64} is not installed ({@code .ci/run} installs it).
 */
class GuestOnQemuTest {

    private static final long IMAGE_BYTES = 16L << 20;

    /** Small runs: the tests check that the markers work, the benchmark measures. */
    private static final String SHORT_RUNS = "warm=50 warm16=64 loop=200 qd1=200 qd16=800 qd16k=200 busy=100 work=4";

    private static final Path QEMU = QemuGuest.find().orElse(null);

    @TempDir
    Path dir;

    @BeforeEach
    void requireQemu() {
        assumeTrue(QEMU != null, QemuGuest.QEMU + " is not on the PATH: the guest's QEMU tests are skipped"
                + " (Debian/Ubuntu: apt-get install qemu-system-x86)");
    }

    @Test
    void passesUnderQemuWithQbootAssigningItsOwnBarAndLeavesThePatternInTheImage() throws Exception {
        Path image = freshImage();
        Result result = run(new Config(Firmware.QBOOT, Disk.READ_WRITE, SHORT_RUNS), image);

        assertPassed(result);
        assertThat(result.transcript().texts())
                .contains("write/verify: ok (sectors 8-15 and " + (IMAGE_BYTES / SECTOR_SIZE - 1) + ")",
                        "get_id: \"" + QemuGuest.SERIAL + "\"",
                        "@QD1 begin n=200", "@QD16 begin n=800", "@LOOP begin n=200", "@BUSY begin n=100",
                        "@WARM begin n=50", "@WARM16 begin n=64", "@QD16K begin n=200");
        assertThat(result.transcript().runs())
                .containsKeys(GuestProtocol.RUN_WARM, GuestProtocol.RUN_WARM16, GuestProtocol.RUN_QD16K);
        assertImageHoldsOnlyThePattern(image);
        report("qboot", result);
    }

    @Test
    void passesUnderQemuWithSeaBiosAssigningTheBar() throws Exception {
        Path image = freshImage();
        Result result = run(new Config(Firmware.SEABIOS, Disk.READ_WRITE, SHORT_RUNS), image);

        assertPassed(result);
        assertThat(result.transcript().texts()).contains(
                "write/verify: ok (sectors 8-15 and " + (IMAGE_BYTES / SECTOR_SIZE - 1) + ")");
        assertImageHoldsOnlyThePattern(image);
        report("SeaBIOS", result);
    }

    @Test
    void onAReadOnlyDiskTheWriteIsRefusedAndTheImageIsUnchanged() throws Exception {
        Path image = freshImage();
        byte[] before = new byte[PATTERN_LENGTH];
        Arrays.fill(before, (byte) 0x33);
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.seek(PATTERN_OFFSET);
            file.write(before);
        }
        Result result = run(new Config(Firmware.QBOOT, Disk.READ_ONLY, "loop=10 qd1=10 qd16=40 busy=10 work=2"), image);

        assertPassed(result);
        assertThat(result.transcript().texts()).contains("read-only: write refused, data unchanged")
                .noneMatch(line -> line.startsWith("write/verify"));
        byte[] after = new byte[PATTERN_LENGTH];
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r")) {
            file.seek(PATTERN_OFFSET);
            file.readFully(after);
        }
        assertThat(after).isEqualTo(before);
    }

    @Test
    void withoutADiskTheGuestFailsWithTheNoDeviceStatus() throws Exception {
        Result result = run(new Config(Firmware.QBOOT, Disk.NONE, ""), freshImage());

        assertThat(result.exitStatus()).as("exit status; output:\n%s", result.transcript())
                .isEqualTo(GuestProtocol.qemuExitStatus(GuestProtocol.EXIT_NO_DEVICE));
        assertThat(result.transcript().texts())
                .contains("dataplane-guest: FAIL (no virtio-blk device on PCI bus 0)")
                .doesNotContain(GuestProtocol.PASS_LINE);
    }

    private Path freshImage() throws IOException {
        Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(0);
            file.setLength(IMAGE_BYTES);
        }
        return image;
    }

    private static Result run(Config config, Path image) throws Exception {
        return QemuGuest.run(QEMU, GuestProtocol.elf(), image, config, Timeouts.CHILD_PROCESS);
    }

    /** Every check of the guest passed, in order, and QEMU reported the guest's success status. */
    private static void assertPassed(Result result) {
        GuestTranscript transcript = result.transcript();
        String context = "QEMU output:\n" + transcript + "\ncommand: " + String.join(" ", result.command());
        assertThat(transcript.texts()).as(context)
                .anyMatch(line -> line.startsWith(GuestProtocol.BANNER))
                .anyMatch(line -> line.matches("pci: 00:[0-9a-f]{2}\\.0 virtio-blk, BAR0 io [0-9a-f]{4}"))
                .anyMatch(line -> line.startsWith("virtio: queue 0, "))
                .contains("refusals: ok (past the end, across the end, unknown type)", "flush: ok")
                .anyMatch(line -> line.startsWith("get_id: \""))
                .containsSubsequence("@LOOP end", "@QD1 end", "@QD16 end", "@BUSYLOOP end", "@BUSY end",
                        GuestProtocol.PASS_LINE);
        assertThat(transcript.runs()).as(context)
                .containsKeys(GuestProtocol.RUN_LOOP, GuestProtocol.RUN_QD1, GuestProtocol.RUN_QD16,
                        GuestProtocol.RUN_BUSY_LOOP, GuestProtocol.RUN_BUSY);
        assertThat(result.exitStatus()).as(context)
                .isEqualTo(GuestProtocol.qemuExitStatus(GuestProtocol.EXIT_PASS));
    }

    /** The pattern at sectors 8-15 and in the last sector, zeros everywhere else. */
    private static void assertImageHoldsOnlyThePattern(Path image) throws IOException {
        byte[] disk = Files.readAllBytes(image);
        assertThat(disk).hasSize((int) IMAGE_BYTES);
        long lastSector = IMAGE_BYTES - SECTOR_SIZE;
        for (int pos = 0; pos < disk.length; pos++) {
            boolean patterned = (pos >= PATTERN_OFFSET && pos < PATTERN_OFFSET + PATTERN_LENGTH) || pos >= lastSector;
            byte expected = patterned ? GuestProtocol.patternAt(pos) : 0;
            if (disk[pos] != expected) {
                throw new AssertionError(String.format(Locale.ROOT,
                        "image byte %d is %d, expected %d (%s)", pos, disk[pos], expected,
                        patterned ? "the guest's pattern" : "untouched, zero"));
            }
        }
    }

    /** Timings for the record (not asserted: they depend on the machine and its load). */
    private static void report(String firmware, Result result) {
        GuestTranscript transcript = result.transcript();
        long banner = transcript.lines().stream().filter(l -> l.text().startsWith(GuestProtocol.BANNER))
                .findFirst().orElseThrow().startNanos();
        StringBuilder line = new StringBuilder("guest under QEMU (" + firmware + "): launch to banner ")
                .append(String.format(Locale.ROOT, "%.0f ms", (banner - result.launchNanos()) / 1e6));
        transcript.runs().values().forEach(run -> line.append(String.format(Locale.ROOT,
                ", %s %.1f us/req", run.name(), run.microsPerRequest())));
        System.out.println(line);
    }
}
