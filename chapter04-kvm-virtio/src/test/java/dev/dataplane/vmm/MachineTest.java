package dev.dataplane.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.guest.GuestProtocol;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.kvm.Kvm;
import dev.dataplane.kvm.MachineOutcome;
import dev.dataplane.pc.SerialCapture;
import dev.dataplane.testsupport.RequiresKvm;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The teaching guest on Dataplane's own machine, under KVM: it boots, finds the disk, writes,
 * verifies, flushes, reads the id, runs its short workloads and exits through the exit port, with
 * the notify on an ioeventfd or through the vCPU, and the queue served by an IOThread or the main
 * loop.
 */
@RequiresKvm
class MachineTest {

    /** Short workloads: the point here is correctness; the benchmark times the long ones. */
    static final String CMDLINE = "loop=20 qd1=20 qd16=64 busy=16 work=4";
    static final Duration TIMEOUT = Duration.ofMinutes(2);

    @TempDir
    Path dir;

    record Run(MachineOutcome outcome, String console, SerialCapture lines, long registerKicks,
               long requests, long ioThreadDispatches, long pioExits) {
    }

    private Path freshImage(long bytes) throws IOException {
        Path img = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(bytes);
        }
        return img;
    }

    private Run boot(Path img, boolean readOnly, boolean ioeventfd, Machine.Placement placement) throws Exception {
        return boot(img, readOnly, ioeventfd, placement, CMDLINE);
    }

    private Run boot(Path img, boolean readOnly, boolean ioeventfd, Machine.Placement placement, String cmdline)
            throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        SerialCapture lines = new SerialCapture();
        MainLoop main = MainLoop.create();
        try (Kvm kvm = Kvm.open()) {
            Machine.Options o = new Machine.Options(GuestProtocol.elf(), cmdline, img, readOnly, ioeventfd,
                    placement, Machine.DEFAULT_MEMORY, console, lines);
            try (Machine m = Machine.create(main, kvm, o)) {
                MachineOutcome outcome = m.run(TIMEOUT);
                long dispatches = m.ioThread() != null ? m.ioThread().statistics().dispatches() : -1;
                return new Run(outcome, console.toString(), lines, m.diskFunction().statistics().registerKicks(),
                        m.disk().statistics().requests(), dispatches, m.vcpuThread().pioExits());
            }
        } finally {
            main.close();
        }
    }

    @ParameterizedTest(name = "ioeventfd={0}, queue in {1}")
    @CsvSource({"true, IOTHREAD", "false, IOTHREAD", "true, MAIN_LOOP", "false, MAIN_LOOP"})
    void theGuestWritesVerifiesAndPasses(boolean ioeventfd, Machine.Placement placement) throws Exception {
        Path img = freshImage(16L << 20);
        Run run = boot(img, false, ioeventfd, placement);

        assertThat(run.console()).contains(GuestProtocol.BANNER);
        assertThat(run.console()).contains("virtio-blk", "write/verify: ok", "flush: ok", "get_id:");
        assertThat(run.console()).contains(GuestProtocol.PASS_LINE);
        assertThat(run.outcome().kind()).as(run.outcome().toString()).isEqualTo(MachineOutcome.Kind.EXITED);
        assertThat(run.outcome().exitCode()).isEqualTo(GuestProtocol.qemuExitStatus(GuestProtocol.EXIT_PASS));
        assertThat(run.console()).contains("@QD16 end", "@BUSY begin n=16", "@BUSY end");
        assertThat(run.requests()).isGreaterThan(20 + 64 + 16);
        if (ioeventfd) {
            assertThat(run.registerKicks()).as("kicks that exited to the vCPU thread").isZero();
        } else {
            assertThat(run.registerKicks()).as("every kick was a port write to userspace").isPositive();
        }
        if (placement == Machine.Placement.IOTHREAD) {
            assertThat(run.ioThreadDispatches()).as("the IOThread served the queue").isPositive();
        }

        // The data the guest wrote is in the image file afterwards.
        byte[] data = Files.readAllBytes(img);
        for (int i = 0; i < GuestProtocol.PATTERN_LENGTH; i++) {
            long pos = GuestProtocol.PATTERN_OFFSET + i;
            assertThat(data[(int) pos]).as("byte %d", pos).isEqualTo(GuestProtocol.patternAt(pos));
        }
    }

    // tag::test-ioeventfd-exits[]
    /**
     * Exercise ch04-ioeventfd, measured in exits: the same guest, the same work, once with the
     * notify register as a port the vCPU thread handles and once as an ioeventfd. Every kick of
     * the first run was a PIO exit; in the second none is, and nothing else changed. (The time
     * this saves is measured by {@code scripts/dataplane --ioeventfd=off} against the default.)
     */
    @Test
    @Tag("ch04-ioeventfd")
    void anIoeventfdRemovesExactlyTheKicksFromTheVcpusExits() throws Exception {
        Run exits = boot(freshImage(16L << 20), false, false, Machine.Placement.IOTHREAD);
        Run ioeventfd = boot(freshImage(16L << 20), false, true, Machine.Placement.IOTHREAD);

        assertThat(exits.console()).contains(GuestProtocol.PASS_LINE);
        assertThat(ioeventfd.console()).contains(GuestProtocol.PASS_LINE);
        assertThat(exits.registerKicks()).as("kicks that exited without an ioeventfd").isPositive();
        assertThat(ioeventfd.registerKicks()).as("kicks that exited with one").isZero();
        assertThat(ioeventfd.pioExits()).as("PIO exits with the ioeventfd: all but the kicks")
                .isEqualTo(exits.pioExits() - exits.registerKicks());
    }
    // end::test-ioeventfd-exits[]

    /**
     * The guest's two ways of notifying the device (guest.c's {@code enum kicks}), counted where
     * they land: with the notify register served by the vCPU thread, every kick is a port exit.
     * {@code QD16} kicks once per batch of new requests; {@code QD16K}, the benchmark's case of
     * seed 002's "multithreaded scenarios", once per request (the first 16 go with one kick).
     */
    @Test
    void qd16kKicksForEveryRequestWhereQd16KicksOncePerBatch() throws Exception {
        Run setUpOnly = boot(freshImage(16L << 20), false, false, Machine.Placement.MAIN_LOOP, "loop=0 qd1=0 qd16=0");
        Run batched = boot(freshImage(16L << 20), false, false, Machine.Placement.MAIN_LOOP, "loop=0 qd1=0 qd16=256");
        Run each = boot(freshImage(16L << 20), false, false, Machine.Placement.MAIN_LOOP, "loop=0 qd1=0 qd16=0 qd16k=256");

        assertThat(setUpOnly.console()).contains(GuestProtocol.PASS_LINE);
        assertThat(batched.console()).contains(GuestProtocol.PASS_LINE, "@QD16 end");
        assertThat(each.console()).contains(GuestProtocol.PASS_LINE, "@QD16K begin n=256", "@QD16K end")
                .doesNotContain("@QD16 begin");
        long perRequest = 1 + (256 - 16); // one kick for the first 16, then one per refill
        assertThat(each.registerKicks() - setUpOnly.registerKicks()).as("kicks of QD16K").isEqualTo(perRequest);
        assertThat(batched.registerKicks() - setUpOnly.registerKicks()).as("kicks of QD16: a batch at a time")
                .isLessThan(perRequest / 4);
    }

    @Test
    void aReadOnlyDiskRefusesTheGuestsWritesAndKeepsItsData() throws Exception {
        Path img = freshImage(16L << 20);
        Run run = boot(img, true, true, Machine.Placement.IOTHREAD);
        assertThat(run.console()).contains("read-only: write refused, data unchanged");
        assertThat(run.console()).contains(GuestProtocol.PASS_LINE);
        assertThat(Files.readAllBytes(img)).containsOnly(0);
    }

    @Test
    void everyKvmFileDescriptorAndThreadIsReleasedAfterARun() throws Exception {
        Path img = freshImage(16L << 20);
        boot(img, false, true, Machine.Placement.IOTHREAD); // warm-up: lazily opened JVM/JNA resources
        long before = openFds();
        Run run = boot(img, false, true, Machine.Placement.IOTHREAD);
        assertThat(run.console()).contains(GuestProtocol.PASS_LINE);
        assertThat(openFds()).isEqualTo(before);
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.isAlive()
                && (t.getName().startsWith("iothread0") || t.getName().startsWith("vcpu")));
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
