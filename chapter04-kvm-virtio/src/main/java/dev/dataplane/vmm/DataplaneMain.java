package dev.dataplane.vmm;

import static dev.dataplane.aio.demo.DemoCli.checkRange;

import dev.dataplane.aio.demo.DemoCli;
import dev.dataplane.aio.demo.DemoCli.DemoFailure;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.block.VirtioBlk;
import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.IoThread;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.kvm.Kvm;
import dev.dataplane.kvm.MachineOutcome;
import dev.dataplane.kvm.VcpuThread;
import dev.dataplane.pc.KernelImageException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The project's main job from chapter 4 on: boot the teaching guest on Dataplane's own KVM machine,
 * with a virtio-blk disk served by an IOThread, show the guest's console, and end with a summary.
 *
 * <p>The JVM's main thread becomes the main loop (and holds the BQL), as QEMU's does; the vCPU
 * thread and the IOThread are started by the machine.
 */
@Command(name = DataplaneMain.NAME, mixinStandardHelpOptions = true, sortOptions = false,
        description = {
            "Boots the teaching guest on a KVM virtual machine whose virtio-blk disk is served by an IOThread",
            "(chapter 4). The guest writes, verifies, flushes and times its disk; the summary says what each",
            "thread did."})
public final class DataplaneMain implements Callable<Integer> {

    static final String NAME = "dataplane";
    static final String KERNEL_PROPERTY = "dataplane.guest.elf";
    static final long MIN_DISK = 1L << 20;

    @Spec
    CommandSpec spec;

    @Option(names = "--kernel", paramLabel = "FILE",
            description = "the Multiboot kernel to boot (default: the teaching guest built by ./mvnw)")
    Path kernel;

    @Option(names = "--disk", paramLabel = "FILE",
            description = "a raw disk image to use (default: a fresh zero-filled image, deleted afterwards)")
    Path disk;

    @Option(names = "--disk-size", paramLabel = "MiB", defaultValue = "16",
            description = "size of the fresh image (default: ${DEFAULT-VALUE})")
    long diskMiB;

    @Option(names = "--read-only", description = "attach the disk read-only (the guest checks that writes are refused)")
    boolean readOnly;

    @Option(names = "--ioeventfd", paramLabel = "on|off", defaultValue = "on",
            description = "the queue notify as a KVM ioeventfd (on) or a port write handled by the vCPU thread (off)")
    String ioeventfd;

    @Option(names = "--queue-in", paramLabel = "iothread|main-loop", defaultValue = "iothread",
            description = "where the disk's queue is served (default: ${DEFAULT-VALUE})")
    String queueIn;

    @Option(names = "--poll-max-ns", paramLabel = "NS", defaultValue = "-1",
            description = "the IOThread's busy-polling window, as QEMU's iothread poll-max-ns (default: 32768,"
                    + " or 0 on a host with 2 CPUs or fewer, where polling takes the CPU the pool workers need)")
    long pollMaxNs;

    @Option(names = "--memory", paramLabel = "MiB", defaultValue = "64", description = "guest RAM (default: ${DEFAULT-VALUE})")
    long memoryMiB;

    @Option(names = "--append", paramLabel = "ARGS", defaultValue = "",
            description = "the guest's command line, e.g. \"qd1=2000 qd16=8000\"")
    String append;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "120",
            description = "stop the guest if it has not ended by then (default: ${DEFAULT-VALUE})")
    long timeoutSeconds;

    @Option(names = "--kvm", paramLabel = "DEVICE", defaultValue = "/dev/kvm", hidden = true)
    Path kvmDevice;

    @Option(names = "--debug", description = "print stack traces of errors")
    boolean debug;

    private final PrintStream out;

    DataplaneMain(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the main job; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        DataplaneMain job = new DataplaneMain(out);
        return new DemoCli(NAME).run(job, () -> job.debug, args, out, err);
    }

    @Override
    public Integer call() throws Exception {
        boolean useIoeventfd = onOff("--ioeventfd", ioeventfd);
        Machine.Placement placement = switch (queueIn.toLowerCase(Locale.ROOT)) {
            case "iothread" -> Machine.Placement.IOTHREAD;
            case "main-loop" -> Machine.Placement.MAIN_LOOP;
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--queue-in must be iothread or main-loop, not '" + queueIn + "'");
        };
        checkRange(spec, "--memory", memoryMiB, 4, 1024);
        if (pollMaxNs != -1) { // -1: Machine's default for this host
            checkRange(spec, "--poll-max-ns", pollMaxNs, 0, 1_000_000_000);
        }
        checkRange(spec, "--disk-size", diskMiB, 1, 1 << 20);
        checkRange(spec, "--timeout", timeoutSeconds, 1, 86_400);
        Path kernelFile = kernel();
        Path image = disk != null ? existingDisk(disk) : null;

        try (Kvm kvm = openKvm()) {
            Path fresh = null;
            if (image == null) {
                fresh = Files.createTempFile("dataplane-disk", ".img");
                try (RandomAccessFile f = new RandomAccessFile(fresh.toFile(), "rw")) {
                    f.setLength(diskMiB << 20);
                }
                image = fresh;
            }
            try {
                return boot(kvm, kernelFile, image, useIoeventfd, placement, fresh != null);
            } finally {
                if (fresh != null) {
                    Files.deleteIfExists(fresh);
                }
            }
        }
    }

    // tag::main-job[]
    private int boot(Kvm kvm, Path kernelFile, Path image, boolean useIoeventfd, Machine.Placement placement,
                     boolean freshImage) throws IOException {
        Markers markers = new Markers((line, t) -> { });
        MainLoop main = MainLoop.create(); // this thread is the main loop from now on; it holds the BQL
        try {
            Machine.Options o = new Machine.Options(kernelFile, append, image, readOnly, useIoeventfd, placement,
                    memoryMiB << 20, out, markers, pollMaxNs);
            out.printf("%s: booting %s (%d MiB RAM); disk %s (%d MiB%s) served by %s, ioeventfd %s%n", NAME,
                    kernelFile.getFileName(), memoryMiB, freshImage ? "a fresh image" : image,
                    Files.size(image) >> 20, readOnly ? ", read-only" : "",
                    placement == Machine.Placement.IOTHREAD ? "iothread0" : "the main loop",
                    useIoeventfd ? "on" : "off");
            if (placement == Machine.Placement.IOTHREAD) {
                out.printf("%s: iothread0 busy-polls up to %d ns before sleeping%n", NAME, o.pollMaxNs());
            }
            long t0 = System.nanoTime();
            try (Machine m = Machine.create(main, kvm, o)) {
                MachineOutcome outcome = m.run(Duration.ofSeconds(timeoutSeconds));
                long wallNs = System.nanoTime() - t0;
                summary(m, main, outcome, markers, wallNs);
                return passed(outcome) ? 0 : DemoCli.EXIT_FAILURE;
            }
        } catch (KernelImageException e) {
            throw new DemoFailure(DemoCli.EXIT_USAGE, e.getMessage());
        } finally {
            main.close();
        }
    }
    // end::main-job[]

    /** The teaching guest exits through port 0xf4 with 0 on success: QEMU's exit status 1. */
    static boolean passed(MachineOutcome o) {
        return o.kind() == MachineOutcome.Kind.EXITED && o.exitCode() == 1;
    }

    private void summary(Machine m, MainLoop main, MachineOutcome outcome, Markers markers, long wallNs) {
        out.println();
        out.printf("%s summary (%.2f s)%n", NAME, wallNs / 1e9);
        String verdict = passed(outcome) ? "PASS" : "FAIL";
        String how = outcome.kind() == MachineOutcome.Kind.EXITED
                ? "the guest wrote " + (outcome.exitCode() >> 1) + " to the exit port (exit status "
                        + outcome.exitCode() + ", as under QEMU's isa-debug-exit)"
                : outcome.toString();
        out.printf("  guest     %s: %s%n", verdict, how);
        VirtioBlk.Statistics d = m.disk().statistics();
        out.printf("  disk      %d requests, %d KiB read, %d KiB written, %d kicks through the vCPU%n",
                d.requests(), d.bytesRead() >> 10, d.bytesWritten() >> 10,
                m.diskFunction().statistics().registerKicks());
        Map<String, Markers.Run> runs = markers.runs();
        if (!runs.isEmpty()) {
            StringBuilder sb = new StringBuilder();
            for (Markers.Run r : runs.values()) {
                sb.append(sb.length() == 0 ? "" : ", ")
                        .append(String.format(Locale.ROOT, "%s %.1f µs x %d", r.name(), r.microsPerIteration(), r.n()));
            }
            out.printf("  latency   %s (per iteration; LOOP is the guest alone, without a device)%n", sb);
        }
        VcpuThread v = m.vcpuThread();
        out.printf("  vcpu0     %d port I/O exits, %d MMIO exits (each handled with the BQL)%n",
                v.pioExits(), v.mmioExits());
        IoThread io = m.ioThread();
        if (io != null) {
            IoThread.Statistics s = io.statistics();
            out.printf("  iothread0 %d iterations, %d callbacks, %.1f ms CPU (never took the BQL)%n",
                    s.iterations(), s.dispatches(), s.cpuNs() / 1e6);
        }
        Bql.Statistics b = main.bql().statistics();
        out.printf("  main loop %d iterations; BQL taken %d times, %d of them contended%n",
                main.iterations(), b.acquisitions(), b.contended());
    }
    // (Thread CPU of the vCPU is left out: the JVM measures it, but KVM_RUN time is the guest's.)

    private boolean onOff(String option, String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    option + " must be on or off, not '" + value + "'");
        };
    }

    private Path kernel() {
        Path k = kernel;
        if (k == null) {
            String configured = System.getProperty(KERNEL_PROPERTY);
            k = Path.of(configured != null ? configured : "chapter04-kvm-virtio/target/guest/dataplane-guest.elf");
        }
        if (!Files.isRegularFile(k)) {
            throw new DemoFailure(DemoCli.EXIT_USAGE, "kernel " + k + " not found; "
                    + (kernel == null ? "build the teaching guest with ./mvnw -pl chapter04-kvm-virtio -am package"
                            : "check the path given to --kernel"));
        }
        return k;
    }

    private Path existingDisk(Path d) throws IOException {
        if (!Files.exists(d)) {
            throw new DemoFailure(DemoCli.EXIT_USAGE, "disk image " + d
                    + " does not exist; leave out --disk to use a fresh one");
        }
        if (!Files.isRegularFile(d)) {
            throw new DemoFailure(DemoCli.EXIT_USAGE, "disk image " + d + " is not a regular file");
        }
        long size = Files.size(d);
        if (size < MIN_DISK || size % 512 != 0) {
            throw new DemoFailure(DemoCli.EXIT_USAGE, "disk image " + d + " has " + size
                    + " bytes; the guest needs at least 1 MiB, in whole 512-byte sectors");
        }
        if (!readOnly && !Files.isWritable(d)) {
            throw new DemoFailure(DemoCli.EXIT_USAGE, "disk image " + d
                    + " is not writable; give --read-only, or fix its permissions");
        }
        return d;
    }

    private Kvm openKvm() {
        try {
            return Kvm.open(kvmDevice);
        } catch (LinuxException e) {
            if (e.errno() == Errno.ENOENT) {
                throw new DemoFailure(DemoCli.EXIT_USAGE, "no " + kvmDevice + ": this machine offers no KVM;"
                        + " enable virtualisation (or load the kvm module) and try again");
            }
            if (e.errno() == Errno.EACCES || e.errno() == Errno.EPERM) {
                throw new DemoFailure(DemoCli.EXIT_USAGE, "no permission to open " + kvmDevice
                        + "; add your user to its group (sudo usermod -aG kvm $USER) and log in again");
            }
            throw new DemoFailure(DemoCli.EXIT_FAILURE, "cannot use " + kvmDevice + ": " + e.getMessage());
        }
    }
}
