package dev.dataplane.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.guest.GuestProtocol;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.kvm.Kvm;
import dev.dataplane.kvm.MachineOutcome;
import dev.dataplane.pc.DebugExitPort;
import dev.dataplane.pc.Serial8250;
import dev.dataplane.testsupport.JfrEvents;
import dev.dataplane.testsupport.RequiresKvm;
import dev.dataplane.virtio.trace.KickEvent;
import java.io.ByteArrayOutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chapter 4's JFR events, recorded while the teaching guest runs on the real machine: vCPU exits
 * with their port and size, kicks and how they came, requests from pop to push with their type,
 * sector and status, and the interrupt decision after each completion, each from the thread that
 * does the work.
 */
@RequiresKvm
class TraceEventsTest {

    static final String CMDLINE = "loop=5 qd1=5 qd16=16";
    static final String[] EVENTS = {
        "dataplane.kvm.Exit", "dataplane.virtio.Kick", "dataplane.virtio.Request", "dataplane.virtio.Interrupt"};

    static final long DISK_BYTES = 16L << 20;

    @TempDir
    Path dir;

    record Run(MachineOutcome outcome, List<RecordedEvent> events, long requests, String mainThread) {
        List<RecordedEvent> named(String name) {
            return events.stream().filter(e -> e.getEventType().getName().equals(name)).toList();
        }
    }

    private Run boot(boolean ioeventfd, Machine.Placement placement) throws Exception {
        Path img = dir.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(DISK_BYTES);
        }
        MachineOutcome[] outcome = new MachineOutcome[1];
        long[] requests = new long[1];
        List<RecordedEvent> events = JfrEvents.record(() -> {
            MainLoop main = MainLoop.create();
            try (Kvm kvm = Kvm.open()) {
                Machine.Options o = new Machine.Options(GuestProtocol.elf(), CMDLINE, img, false, ioeventfd,
                        placement, Machine.DEFAULT_MEMORY, new ByteArrayOutputStream(), null);
                try (Machine m = Machine.create(main, kvm, o)) {
                    outcome[0] = m.run(Duration.ofMinutes(2));
                    requests[0] = m.disk().statistics().requests();
                }
            } finally {
                main.close();
            }
        }, EVENTS);
        assertThat(outcome[0].kind()).as(outcome[0].toString()).isEqualTo(MachineOutcome.Kind.EXITED);
        assertThat(outcome[0].exitCode()).isEqualTo(GuestProtocol.qemuExitStatus(GuestProtocol.EXIT_PASS));
        return new Run(outcome[0], events, requests[0], Thread.currentThread().getName());
    }

    private static String thread(RecordedEvent e) {
        return e.getThread().getJavaName();
    }

    private static Set<String> threads(List<RecordedEvent> events) {
        return events.stream().map(TraceEventsTest::thread).collect(Collectors.toSet());
    }

    // tag::test-trace-iothread[]
    @Test
    void withTheQueueInAnIoThreadEveryRequestIsTracedInTheIoThreadAndNoKickExits() throws Exception {
        Run run = boot(true, Machine.Placement.IOTHREAD);

        List<RecordedEvent> exits = run.named("dataplane.kvm.Exit");
        assertThat(threads(exits)).containsExactly("vcpu-0");
        assertThat(exits).allSatisfy(e -> assertThat(e.getDuration()).isPositive());
        // The console: one-byte writes to the UART's transmit register.
        assertThat(exits).anySatisfy(e -> {
            assertThat(e.getString("reason")).isEqualTo("IO");
            assertThat(e.getLong("address")).isEqualTo(Serial8250.COM1);
            assertThat(e.getInt("size")).isEqualTo(1);
            assertThat(e.getInt("count")).isEqualTo(1);
            assertThat(e.getBoolean("write")).isTrue();
        });
        // The last exit ends the run: the guest's status written to the exit port.
        RecordedEvent last = exits.get(exits.size() - 1);
        assertThat(last.getLong("address")).isEqualTo(DebugExitPort.DEFAULT_IOBASE);
        assertThat(last.getBoolean("write")).isTrue();

        // Every kick came through the ioeventfd (or is the look at DRIVER_OK), served in the IOThread.
        List<RecordedEvent> kicks = run.named("dataplane.virtio.Kick");
        assertThat(kicks).extracting(e -> e.getString("via"))
                .contains(KickEvent.VIA_IOEVENTFD)
                .isSubsetOf(KickEvent.VIA_IOEVENTFD, KickEvent.VIA_START, KickEvent.VIA_STOP,
                        KickEvent.VIA_POLL); // poll: on hosts with more than 2 CPUs the IOThread busy-polls
        assertThat(kicks).allSatisfy(e -> assertThat(e.getInt("queue")).isZero());
        assertThat(threads(kicks)).containsExactly("iothread0");

        List<RecordedEvent> requests = run.named("dataplane.virtio.Request");
        assertThat(requests).hasSize((int) run.requests());
        assertThat(threads(requests)).as("pushed by the IOThread").containsExactly("iothread0");
        assertThat(requests).extracting(e -> e.getString("type")).contains("IN", "OUT", "FLUSH", "GET_ID");
        long capacity = DISK_BYTES / 512;
        assertThat(requests).allSatisfy(e -> {
            assertThat(e.getDuration()).isPositive();
            switch (e.getString("type")) {
                case "IN" -> {
                    long sector = e.getLong("sector");
                    long bytes = e.getLong("bytes");
                    assertThat(sector).isNotNegative();
                    assertThat(bytes).isPositive().matches(b -> b % 512 == 0);
                    if (sector + bytes / 512 <= capacity) {
                        assertThat(e.getInt("status")).isZero();
                        assertThat(e.getLong("written")).isEqualTo(bytes + 1);
                    } else { // the guest's out-of-range probes
                        assertThat(e.getInt("status")).isEqualTo(1);
                        assertThat(e.getLong("written")).isEqualTo(1);
                    }
                }
                case "OUT" -> {
                    assertThat(e.getInt("status")).isZero();
                    assertThat(e.getLong("sector")).isNotNegative();
                    assertThat(e.getLong("bytes")).isPositive().matches(b -> b % 512 == 0);
                    assertThat(e.getLong("written")).isEqualTo(1);
                }
                case "FLUSH" -> {
                    assertThat(e.getInt("status")).isZero();
                    assertThat(e.getLong("written")).isEqualTo(1);
                }
                case "GET_ID" -> {
                    assertThat(e.getInt("status")).isZero();
                    assertThat(e.getLong("bytes")).isEqualTo(20);
                    assertThat(e.getLong("written")).isEqualTo(21);
                }
                default -> { // the guest's unknown-type probe
                    assertThat(e.getString("type")).isEqualTo("type 127");
                    assertThat(e.getInt("status")).isEqualTo(2);
                }
            }
        });
        assertThat(requests).filteredOn(e -> e.getString("type").equals("IN") && e.getInt("status") == 1).hasSize(2);

        // One interrupt decision per completion, by the IOThread; at least some reached the guest.
        List<RecordedEvent> interrupts = run.named("dataplane.virtio.Interrupt");
        assertThat(interrupts).hasSize(requests.size());
        assertThat(threads(interrupts)).containsExactly("iothread0");
        assertThat(interrupts).anySatisfy(e -> assertThat(e.getBoolean("injected")).isTrue());
    }
    // end::test-trace-iothread[]

    @Test
    void withoutIoeventfdInTheMainLoopTheVcpuThreadTakesEveryKickThroughAnExit() throws Exception {
        Run run = boot(false, Machine.Placement.MAIN_LOOP);

        List<RecordedEvent> kicks = run.named("dataplane.virtio.Kick");
        List<RecordedEvent> byRegister = kicks.stream()
                .filter(e -> e.getString("via").equals(KickEvent.VIA_REGISTER)).toList();
        assertThat(byRegister).isNotEmpty();
        assertThat(threads(byRegister)).as("served synchronously by the vCPU").containsExactly("vcpu-0");
        assertThat(kicks).extracting(e -> e.getString("via")).doesNotContain(KickEvent.VIA_IOEVENTFD);

        // Each register kick was a 2-byte port write that exited to the vCPU thread.
        List<RecordedEvent> notifyExits = run.named("dataplane.kvm.Exit").stream()
                .filter(e -> e.getString("reason").equals("IO") && e.getInt("size") == 2 && e.getBoolean("write"))
                .toList();
        assertThat(notifyExits).hasSizeGreaterThanOrEqualTo(byRegister.size());

        // Completions come back in the main loop: the thread pool's bottom half in the main context.
        List<RecordedEvent> requests = run.named("dataplane.virtio.Request");
        assertThat(requests).hasSize((int) run.requests());
        assertThat(threads(requests)).contains(run.mainThread()).doesNotContain("iothread0");
    }
}
