package dev.dataplane.vmm.bench;

import dev.dataplane.testsupport.BenchHost;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;

/**
 * Chapter 4's benchmark: the same teaching guest and the same disk image on Dataplane and on
 * QEMU, in one run, one table.
 *
 * <p><b>What runs.</b> Eleven configurations, each a fresh process: QEMU with the disk on an
 * IOThread (the reference), QEMU with the disk on its main loop, QEMU with {@code ioeventfd=off}
 * (main loop: QEMU refuses an IOThread without ioeventfd); Dataplane ({@code DataplaneMain} in a
 * child JVM) the same three ways, and on an IOThread with the ioeventfd off; and both on an
 * IOThread with the other VMM's adaptive-polling default (QEMU polls up to 32 us everywhere,
 * Dataplane only with CPUs to spare), and both with a window longer than the guest's own time between
 * two requests. QEMU boots with qboot
 * ({@code bios-microvm.bin}), so its launch time is not SeaBIOS's emulated POST. The guest does
 * {@code warm=N} 4-KiB random reads one at a time (WARM: a JVM compiles its request path here;
 * reported, but the targets are about what follows) and {@code warm16=N} with 16 in flight
 * (untimed: the paths only a deep queue takes get compiled too), {@code loop=N} iterations of its no-I/O
 * loop (the guest's own cost per request, no VMM involved), then {@code qd1=N} reads one at a
 * time and {@code qd16=N} with 16 in flight, {@code qd16k=N} with 16 in flight and a kick after every
 * request (QD16K: several threads of a guest submitting on their own, each notifying the device,
 * the case seed 002's numbers are about), and last {@code busy=N} reads one at a time with
 * {@code work=K} rounds of the guest's own work between each kick and its first look at the
 * used ring (BUSY; BUSYLP is the same against the no-I/O ring): a vCPU with
 * something better to do than serve its own kick. Each run is bracketed by marker lines.
 *
 * <p><b>What is measured, from outside.</b> Wall time per request: the console's marker lines,
 * stamped on arrival by this JVM ({@link GuestRun}). CPU per request of the thread that serves the
 * queue (QEMU's {@code IO io0} or main thread, Dataplane's {@code iothread0} or main-loop thread)
 * and of the thread pool's workers: {@code /proc/<pid>/task/*} sampled at the markers
 * ({@link ThreadCpu}). Launch to first output: from starting the process to the first byte of the
 * guest's first line (for Dataplane that includes starting a JVM).
 *
 * <p><b>Placement.</b> By default the scheduler places both VMMs' threads, as it does when either
 * runs out of the box. With {@code bench.pin=true} both are pinned the same way: the vCPU thread
 * alone on CPU 1, every other thread on CPU 0 ({@link #pinVcpu}).
 *
 * <p><b>Rounds.</b> {@code bench.rounds} rounds (7; 2 with {@code bench.quick}, which also
 * shortens WARM, WARM16, LOOP, QD1, QD16, QD16K and BUSY to 3000, 3000, 500, 1000, 3000, 2000 and 1000 and so is a smoke run:
 * its QD1 still has some of Dataplane's warm-up in it; about 30 s instead of six
 * minutes); each runs every
 * configuration once, the order rotated from round to round. Figures are medians over the
 * rounds; a ratio between two configurations is the median of the ratios of their runs in the
 * same round, shown with the lowest and the highest round ({@link Ratios}). The machine's load
 * average is printed before and after: other work on a 2-CPU machine moves these figures a lot.
 *
 * <p><b>Knobs</b> (system properties; the {@code bench-ch04} profile passes them on):
 * {@code bench.quick}, {@code bench.rounds}, {@code bench.warm}, {@code bench.warm16}, {@code bench.loop}, {@code bench.qd1},
 * {@code bench.verbose} (every run's figures as it ends), {@code bench.pin}, {@code bench.qd16}, {@code bench.qd16k},
 * {@code bench.busy} (iterations), {@code bench.work} (rounds of guest work per BUSY request),
 * {@code bench.only} (comma-separated configuration keys, e.g. {@code qemu-iothread,dp-iothread}),
 * {@code bench.qemu} (the QEMU binary), {@code bench.dataplane.jvmArgs} (extra flags for
 * Dataplane's JVM, space-separated), {@code bench.variants} (more Dataplane rows on an IOThread,
 * each with flags of its own: {@code "name:flags;name:flags"}),
 * {@code bench.outputDir} (where the table's copy goes, default {@code target/bench}).
 */
public final class Chapter4BenchMain {

    /** Who runs the guest. */
    enum Vmm {
        QEMU, DATAPLANE
    }

    /** Where the queue is served and how the kick arrives. */
    enum Shape {
        IOTHREAD("iothread, ioeventfd"),
        MAIN_LOOP("main loop, ioeventfd"),
        /** Seed 002's "before": the vCPU thread serves the kick under the BQL (QEMU allows no IOThread then). */
        IOEVENTFD_OFF("main loop, ioeventfd=off"),
        /** Dataplane only: the vCPU thread passes the kick on to the IOThread. */
        IOTHREAD_IOEVENTFD_OFF("iothread, ioeventfd=off");

        final String label;

        Shape(String label) {
            this.label = label;
        }
    }

    /** A configuration; {@code jvmArgs}: extra flags for a Dataplane variant ({@code bench.variants}). */
    record Config(String key, Vmm vmm, Shape shape, List<String> jvmArgs, long pollMaxNs) {
        /** {@code pollMaxNs} -1: each VMM's default IOThread polling window for this host. */
        static final long DEFAULT_POLL = -1;

        Config(String key, Vmm vmm, Shape shape) {
            this(key, vmm, shape, List.of(), DEFAULT_POLL);
        }

        Config(String key, Vmm vmm, Shape shape, long pollMaxNs) {
            this(key, vmm, shape, List.of(), pollMaxNs);
        }

        String label() {
            String who = vmm == Vmm.QEMU ? "QEMU      " : "Dataplane ";
            if (!jvmArgs.isEmpty()) {
                return who + key;
            }
            return who + shape.label + (pollMaxNs == DEFAULT_POLL ? "" : ", poll " + pollMaxNs / 1000 + " us");
        }
    }

    private static final List<Config> ALL = List.of(
            new Config("qemu-iothread", Vmm.QEMU, Shape.IOTHREAD),
            new Config("dp-iothread", Vmm.DATAPLANE, Shape.IOTHREAD),
            new Config("qemu-main-loop", Vmm.QEMU, Shape.MAIN_LOOP),
            new Config("dp-main-loop", Vmm.DATAPLANE, Shape.MAIN_LOOP),
            new Config("qemu-ioeventfd-off", Vmm.QEMU, Shape.IOEVENTFD_OFF),
            new Config("dp-ioeventfd-off", Vmm.DATAPLANE, Shape.IOEVENTFD_OFF),
            new Config("dp-iothread-ioeventfd-off", Vmm.DATAPLANE, Shape.IOTHREAD_IOEVENTFD_OFF),
            // Adaptive polling both ways on both VMMs: QEMU polls up to 32 us by default everywhere,
            // Dataplane only where the host has CPUs to spare (Machine.defaultPollMaxNs).
            new Config("qemu-iothread-poll-0", Vmm.QEMU, Shape.IOTHREAD, 0),
            new Config("dp-iothread-poll-32", Vmm.DATAPLANE, Shape.IOTHREAD, 32_768),
            // A window longer than the guest's own time between two requests (LOOP, some 70 us here):
            // the IOThread is still polling when the next kick comes, and its CPU never goes idle.
            new Config("qemu-iothread-poll-100", Vmm.QEMU, Shape.IOTHREAD, 100_000),
            new Config("dp-iothread-poll-100", Vmm.DATAPLANE, Shape.IOTHREAD, 100_000));

    /** The figures of one run of one configuration; NaN where a figure does not apply. */
    record Sample(double launchMs, double warmUs, double loopUs, double qd1Us, double qd16Us, double qd16kUs,
                  double busyLoopUs, double busyUs, double dev1, double dev16, double workers1, double workers16, double devPreempted1) {
    }

    /**
     * Dataplane's JVM runs as {@code scripts/dataplane} runs it, with the flags of
     * {@code chapter04-kvm-virtio/jvm.flags} (the JIT's thresholds, the serial collector; the file says why).
     */
    static List<String> dataplaneJvmFlags() throws IOException {
        Path file = Path.of(property("dataplane.jvm.flagsFile", "chapter04-kvm-virtio/jvm.flags"));
        return Files.readAllLines(file).stream().map(l -> l.replaceAll("#.*", "").strip()).filter(l -> !l.isEmpty())
                .toList();
    }

    private final PrintStream out = System.out;
    private final List<Config> configs;
    private final int rounds;
    private final String append;
    private final Path elf;
    private final Path image;
    private final Path outDir;
    private final String qemu;
    private final List<String> extraJvmArgs;
    private final boolean pin;
    private final List<String> dataplaneJvmFlags;
    private final boolean verbose = Boolean.getBoolean("bench.verbose");

    private Chapter4BenchMain(List<Config> configs, int rounds, String append, Path elf, Path image, Path outDir,
                              String qemu, List<String> extraJvmArgs, boolean pin) throws IOException {
        this.configs = configs;
        this.rounds = rounds;
        this.append = append;
        this.elf = elf;
        this.image = image;
        this.outDir = outDir;
        this.qemu = qemu;
        this.extraJvmArgs = extraJvmArgs;
        this.pin = pin;
        this.dataplaneJvmFlags = dataplaneJvmFlags();
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        boolean quick = Boolean.getBoolean("bench.quick");
        int rounds = intProperty("bench.rounds", quick ? 2 : 7);
        String append = "warm=" + intProperty("bench.warm", quick ? 3000 : 10000)
                + " warm16=" + intProperty("bench.warm16", quick ? 3000 : 10000)
                + " loop=" + intProperty("bench.loop", quick ? 500 : 2000)
                + " qd1=" + intProperty("bench.qd1", quick ? 1000 : 4000)
                + " qd16=" + intProperty("bench.qd16", quick ? 3000 : 10000)
                + " qd16k=" + intProperty("bench.qd16k", quick ? 2000 : 6000)
                + " busy=" + intProperty("bench.busy", quick ? 1000 : 3000)
                + " work=" + intProperty("bench.work", 12);
        Path elf = Path.of(property("dataplane.guest.elf", "chapter04-kvm-virtio/target/guest/dataplane-guest.elf"));
        if (!Files.isRegularFile(elf)) {
            System.err.println("bench-ch04: no guest at " + elf + "; build it with ./mvnw -pl chapter04-kvm-virtio -am package");
            System.exit(2);
        }
        if (!Files.exists(Path.of("/dev/kvm"))) {
            System.err.println("bench-ch04: no /dev/kvm: both VMMs need KVM");
            System.exit(2);
        }
        List<Config> configs = new ArrayList<>(ALL);
        String only = property("bench.only", "auto");
        if (!only.equals("auto") && !only.isBlank()) {
            List<String> keys = Arrays.stream(only.split(",")).map(String::trim).toList();
            configs.removeIf(c -> !keys.contains(c.key()));
        }
        // Variants: "name:flags;name:flags", Dataplane on an IOThread with extra JVM flags.
        for (String v : property("bench.variants", "").split(";")) {
            if (v.contains(":")) {
                String[] kv = v.split(":", 2);
                configs.add(new Config(kv[0].trim(), Vmm.DATAPLANE, Shape.IOTHREAD, List.of(kv[1].trim().split("\\s+")),
                        Config.DEFAULT_POLL));
            }
        }
        Path outDir = Path.of(property("bench.outputDir", "target/bench"));
        Files.createDirectories(outDir);
        Path image = outDir.resolve("ch04-disk.img");
        writeImage(image, 64L << 20);
        String jvmArgs = property("bench.dataplane.jvmArgs", "");
        List<String> extra = jvmArgs.isBlank() ? List.of() : List.of(jvmArgs.trim().split("\\s+"));
        new Chapter4BenchMain(configs, rounds, append, elf, image, outDir,
                property("bench.qemu", "qemu-system-x86_64"), extra,
                Boolean.parseBoolean(property("bench.pin", "false")) && Runtime.getRuntime().availableProcessors() >= 2)
                .run();
    }

    /** 64 MiB of pseudo-random bytes, written through once so both VMMs read from the page cache. */
    private static void writeImage(Path image, long size) throws IOException {
        byte[] chunk = new byte[1 << 20];
        Random r = new Random(4);
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(0);
            for (long done = 0; done < size; done += chunk.length) {
                r.nextBytes(chunk);
                f.write(chunk);
            }
            f.getFD().sync();
        }
    }

    // tag::bench-rounds[]
    private void run() throws IOException, InterruptedException {
        String started = ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
        String loadBefore = BenchHost.loadAverage();
        out.printf("bench-ch04: %d configurations x %d rounds, guest \"%s\", load average %s%n",
                configs.size(), rounds, append, loadBefore);
        Map<Config, List<Sample>> samples = new LinkedHashMap<>();
        configs.forEach(c -> samples.put(c, new ArrayList<>()));
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < configs.size(); i++) {
                Config c = configs.get((i + round) % configs.size()); // rotate: no fixed neighbours
                samples.get(c).add(runOnce(c)); // null for a failed run: round r stays at index r
            }
            out.printf("  round %d of %d done, load average %s%n", round + 1, rounds, BenchHost.loadAverage());
        }
        String table = table(samples, started, loadBefore, BenchHost.loadAverage());
        out.println();
        out.print(table);
        Path copy = outDir.resolve("ch04-kvm-virtio.txt");
        Files.writeString(copy, table);
        out.println("(a copy is in " + copy + ")");
    }
    // end::bench-rounds[]

    private Sample runOnce(Config c) throws IOException, InterruptedException {
        List<String> command = command(c);
        if (pin) {
            command.addAll(0, List.of("taskset", "-c", Integer.toString(EMULATOR_CPU)));
        }
        GuestRun.Result r = GuestRun.run(command, Duration.ofSeconds(120), pid -> {
            if (pin) {
                pinVcpu(pid, c.vmm());
            }
        });
        if (!r.passed()) {
            out.printf("  %s FAILED (exit status %d); last lines:%n", c.key(), r.exitStatus());
            r.lines().stream().skip(Math.max(0, r.lines().size() - 8)).forEach(l -> out.println("    | " + l));
            r.stderr().lines().limit(8).forEach(l -> out.println("    ! " + l));
            return null;
        }
        ThreadCpu.Role device = deviceThread(c);
        ThreadCpu.Role workers = (pid, t) -> t.name().equals("worker") || t.name().contains("/pool");
        GuestRun.Timed warm = r.timed().get("WARM");
        GuestRun.Timed loop = r.timed().get("LOOP");
        GuestRun.Timed qd1 = r.timed().get("QD1");
        GuestRun.Timed qd16 = r.timed().get("QD16");
        GuestRun.Timed qd16k = r.timed().get("QD16K");
        GuestRun.Timed busyLoop = r.timed().get("BUSYLOOP");
        GuestRun.Timed busy = r.timed().get("BUSY");
        Sample s = new Sample(r.firstOutputNs() / 1e6, warm == null ? Double.NaN : warm.wallMicrosPer(),
                loop.wallMicrosPer(), qd1.wallMicrosPer(), qd16.wallMicrosPer(),
                qd16k == null ? Double.NaN : qd16k.wallMicrosPer(),
                busyLoop == null ? Double.NaN : busyLoop.wallMicrosPer(), busy == null ? Double.NaN : busy.wallMicrosPer(),
                qd1.cpuMicrosPer(r.pid(), device), qd16.cpuMicrosPer(r.pid(), device),
                qd1.cpuMicrosPer(r.pid(), workers), qd16.cpuMicrosPer(r.pid(), workers),
                qd1.preemptedPer(r.pid(), device));
        if (verbose) {
            out.printf(Locale.ROOT, "    %-28s QD1 %6.1f  QD16 %5.1f  QD16K %5.1f  BUSY %6.1f us/req%n", c.key(), s.qd1Us(),
                    s.qd16Us(), s.qd16kUs(), s.busyUs());
        }
        return s;
    }

    // tag::bench-pinning[]
    /** Where a pinned VMM runs everything but its vCPU (QEMU's emulator threads, or the JVM). */
    static final int EMULATOR_CPU = 0;
    /** Where a pinned VMM's vCPU thread runs, alone. */
    static final int VCPU_CPU = 1;

    /**
     * Pinning, as libvirt's {@code <vcpupin>} and {@code <emulatorpin>} would do it: the process
     * starts on {@link #EMULATOR_CPU} (its threads, IOThread and pool workers included, inherit
     * that), and once the guest has said hello its vCPU thread moves to {@link #VCPU_CPU}. The
     * same for both VMMs. It did not make the rounds steadier here, and on two CPUs it leaves the
     * JVM's own threads (compiler, collector) on the IOThread's CPU, so it is not the default.
     */
    private static void pinVcpu(long pid, Vmm vmm) throws IOException, InterruptedException {
        String name = vmm == Vmm.QEMU ? "CPU 0/KVM" : "vcpu-0";
        long tid = ThreadCpu.sample(pid).values().stream().filter(t -> t.name().equals(name))
                .mapToLong(ThreadCpu.ThreadTime::tid).findFirst()
                .orElseThrow(() -> new IOException("no thread named \"" + name + "\" in process " + pid));
        Process p = new ProcessBuilder("taskset", "-p", "-c", Integer.toString(VCPU_CPU), Long.toString(tid))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (p.waitFor() != 0) {
            throw new IOException("taskset -p -c " + VCPU_CPU + " " + tid + " failed");
        }
    }
    // end::bench-pinning[]

    // tag::bench-device-thread[]
    /**
     * The thread that serves the queue. QEMU with {@code debug-threads=on}: {@code "IO io0"}, or
     * the main thread (tid = pid). Dataplane: {@code "iothread0"}, or the JVM's main thread, the
     * other {@code "java"} (the launcher's first thread, tid = pid, only waits for it). With the
     * ioeventfd off and no IOThread, both serve the kick on the vCPU thread and complete the
     * request in the main loop, whose thread is counted.
     */
    private static ThreadCpu.Role deviceThread(Config c) {
        if (c.vmm() == Vmm.QEMU) {
            return c.shape() == Shape.IOTHREAD ? (pid, t) -> t.name().equals("IO io0") : (pid, t) -> t.tid() == pid;
        }
        return c.shape() == Shape.MAIN_LOOP || c.shape() == Shape.IOEVENTFD_OFF
                ? (pid, t) -> t.tid() != pid && t.name().equals("java")
                : (pid, t) -> t.name().equals("iothread0");
    }
    // end::bench-device-thread[]

    // tag::bench-commands[]
    private List<String> command(Config c) {
        if (c.vmm() == Vmm.QEMU) {
            String device = "virtio-blk-pci,disable-modern=on,drive=d0"
                    + (c.shape() == Shape.IOTHREAD ? ",iothread=io0" : "")
                    + (c.shape() == Shape.IOEVENTFD_OFF ? ",ioeventfd=off" : "");
            List<String> cmd = new ArrayList<>(List.of(qemu,
                    "-name", "bench,debug-threads=on", "-accel", "kvm", "-cpu", "qemu64", "-m", "64",
                    "-display", "none", "-monitor", "none", "-serial", "stdio", "-nic", "none", "-no-reboot",
                    "-bios", "bios-microvm.bin", "-kernel", elf.toString(), "-append", append,
                    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"));
            if (c.shape() == Shape.IOTHREAD) {
                cmd.addAll(List.of("-object", "iothread,id=io0"
                        + (c.pollMaxNs() == Config.DEFAULT_POLL ? "" : ",poll-max-ns=" + c.pollMaxNs())));
            }
            cmd.addAll(List.of("-drive", "file=" + image + ",if=none,id=d0,format=raw", "-device", device));
            return cmd;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(dataplaneJvmFlags);
        cmd.addAll(extraJvmArgs);
        cmd.addAll(c.jvmArgs());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.dataplane.vmm.DataplaneMain",
                "--kernel", elf.toString(), "--disk", image.toString(), "--memory", "64", "--append", append,
                "--ioeventfd", c.shape() == Shape.IOEVENTFD_OFF || c.shape() == Shape.IOTHREAD_IOEVENTFD_OFF
                        ? "off" : "on",
                "--queue-in", c.shape() == Shape.MAIN_LOOP || c.shape() == Shape.IOEVENTFD_OFF
                        ? "main-loop" : "iothread"));
        if (c.pollMaxNs() != Config.DEFAULT_POLL) {
            cmd.addAll(List.of("--poll-max-ns", Long.toString(c.pollMaxNs())));
        }
        return cmd;
    }
    // end::bench-commands[]

    // tag::bench-table[]
    private String table(Map<Config, List<Sample>> samples, String started, String loadBefore, String loadAfter) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "Chapter 4 benchmark, %s; %d rounds, medians; guest \"%s\"%n",
                started, rounds, append));
        sb.append(String.format(Locale.ROOT, "load average before %s, after %s; %d CPUs; %s%n", loadBefore,
                loadAfter, Runtime.getRuntime().availableProcessors(), qemuVersion()));
        sb.append(String.format(Locale.ROOT, "%-46s %7s %7s %7s %7s %7s %7s %8s %7s %7s | %23s | %15s%n", "",
                "launch", "WARM", "LOOP", "QD1", "QD16", "QD16K", "QD1-LOOP", "BUSYLP", "BUSY", "queue thread",
                "pool workers"));
        sb.append(String.format(Locale.ROOT, "%-46s %7s %7s %7s %7s %7s %7s %8s %7s %7s | %7s %7s %7s | %7s %7s%n",
                "configuration (runs)", "ms", "us/req", "us/req", "us/req", "us/req", "us/req", "us/req", "us/req",
                "us/req", "QD1", "QD16", "QD1", "QD1", "QD16"));
        sb.append(String.format(Locale.ROOT, "%-46s %7s %7s %7s %7s %7s %7s %8s %7s %7s | %15s %7s | %15s%n", "",
                "", "", "", "", "", "", "", "", "", "CPU us/req", "preempt", "CPU us/req"));
        for (Config c : configs) {
            List<Sample> s = samples.get(c).stream().filter(Objects::nonNull).toList();
            if (s.isEmpty()) {
                sb.append(String.format(Locale.ROOT, "%-46s every run failed%n", c.label()));
                continue;
            }
            Sample m = new Sample(median(s, Sample::launchMs), median(s, Sample::warmUs), median(s, Sample::loopUs),
                    median(s, Sample::qd1Us),
                    median(s, Sample::qd16Us), median(s, Sample::qd16kUs), median(s, Sample::busyLoopUs), median(s, Sample::busyUs),
                    median(s, Sample::dev1), median(s, Sample::dev16),
                    median(s, Sample::workers1), median(s, Sample::workers16), median(s, Sample::devPreempted1));
            sb.append(String.format(Locale.ROOT,
                    "%-46s %7.0f %7.1f %7.1f %7.1f %7.1f %7.1f %8.1f %7.1f %7.1f | %7.1f %7.1f %7.2f | %7.1f %7.1f%n",
                    c.label() + " (" + s.size() + ")", m.launchMs(), m.warmUs(), m.loopUs(), m.qd1Us(), m.qd16Us(),
                    m.qd16kUs(), m.qd1Us() - m.loopUs(), m.busyLoopUs(), m.busyUs(), m.dev1(), m.dev16(), m.devPreempted1(),
                    m.workers1(), m.workers16()));
        }
        sb.append(String.format(Locale.ROOT, "%n"));
        Ratios r = new Ratios(samples);
        sb.append(String.format(Locale.ROOT, "Dataplane / QEMU, IOThread, wall per request: QD1 %s, QD16 %s (target <= 1.0);"
                        + " QD16K %s%n",
                r.of("dp-iothread", "qemu-iothread", Sample::qd1Us), r.of("dp-iothread", "qemu-iothread", Sample::qd16Us),
                r.of("dp-iothread", "qemu-iothread", Sample::qd16kUs)));
        sb.append(String.format(Locale.ROOT, "Dataplane / QEMU, IOThread CPU per request: QD1 %s, QD16 %s (target <= 1.5)%n",
                r.of("dp-iothread", "qemu-iothread", Sample::dev1), r.of("dp-iothread", "qemu-iothread", Sample::dev16)));
        sb.append(String.format(Locale.ROOT, "Dataplane / QEMU, what the VMM adds at QD1 (QD1-LOOP): %s; WARM (JIT included): %s%n",
                r.of("dp-iothread", "qemu-iothread", x -> x.qd1Us() - x.loopUs()),
                r.of("dp-iothread", "qemu-iothread", Sample::warmUs)));
        // Seed 002's before (the vCPU thread serves the kick under the BQL) against its after: first
        // the patch itself (the device stays in the main loop, as in 2010), then today's whole
        // dataplane (ioeventfd and an IOThread).
        sb.append(String.format(Locale.ROOT, "ioeventfd off / on, device in the main loop (seed 002's patch), wall:"
                        + " QD16K (a kick per request) %s; BUSY (guest works while its read is in flight) %s;"
                        + " QD1 (guest spins) %s (target: clearly > 1)%n",
                offOverOn(r, "main-loop", Sample::qd16kUs), offOverOn(r, "main-loop", Sample::busyUs),
                offOverOn(r, "main-loop", Sample::qd1Us)));
        sb.append(String.format(Locale.ROOT, "ioeventfd off in the main loop / on with an IOThread (the whole dataplane), wall:"
                        + " QD16K %s; BUSY %s; QD1 %s%n",
                offOverOn(r, "iothread", Sample::qd16kUs), offOverOn(r, "iothread", Sample::busyUs),
                offOverOn(r, "iothread", Sample::qd1Us)));
        sb.append("Ratios: the median of the per-round ratios (both runs of a pair in the same round), and in brackets"
                + " the lowest and highest round.\n");
        sb.append("WARM: the guest's first QD1 reads, untimed by the targets (Dataplane's JIT compiles its request"
                + " path there); LOOP: the guest's no-I/O loop of the same shape (its own cost per request, no VMM);"
                + " QD1-LOOP: what the VMM adds per request at queue depth 1; QD16K: QD16 with a kick after every"
                + " request, as several threads submitting on their own would; BUSY: QD1 reads where the guest does"
                + " work of its own between the kick and looking for the completion; BUSYLP: the same against the"
                + " no-I/O ring; preempt: how often per request the scheduler took the CPU from the queue's thread"
                + " while it could still run (nonvoluntary_ctxt_switches).\n");
        return sb.toString();
    }
    // end::bench-table[]

    /**
     * "Dataplane x, QEMU y": each VMM's run with the ioeventfd off (device in the main loop) over
     * its run with the ioeventfd on and the device {@code on} ({@code main-loop} or {@code iothread}).
     */
    private static String offOverOn(Ratios r, String on, java.util.function.ToDoubleFunction<Sample> f) {
        return "Dataplane " + r.of("dp-ioeventfd-off", "dp-" + on, f) + ", QEMU " + r.of("qemu-ioeventfd-off", "qemu-" + on, f);
    }

    // tag::bench-ratios[]
    /**
     * Ratios between two configurations, paired by round: the machine's speed drifts over
     * minutes (other virtual machines share its host), so a ratio of two runs made next to each
     * other in the same round is steadier than a ratio of two medians taken over the whole run.
     */
    private final class Ratios {
        private final Map<Config, List<Sample>> byRound;

        Ratios(Map<Config, List<Sample>> byRound) {
            this.byRound = byRound;
        }

        /** "median [lowest-highest]" of f(a)/f(b) over the rounds where both ran, or "n/a". */
        String of(String a, String b, java.util.function.ToDoubleFunction<Sample> f) {
            List<Sample> as = rounds(a);
            List<Sample> bs = rounds(b);
            if (as == null || bs == null) {
                return "n/a";
            }
            double[] ratios = java.util.stream.IntStream.range(0, Math.min(as.size(), bs.size()))
                    .filter(i -> as.get(i) != null && bs.get(i) != null)
                    .mapToDouble(i -> f.applyAsDouble(as.get(i)) / f.applyAsDouble(bs.get(i)))
                    .filter(Double::isFinite).sorted().toArray();
            if (ratios.length == 0) {
                return "n/a";
            }
            return String.format(Locale.ROOT, "%.2f [%.2f .. %.2f]", BenchHost.median(ratios), ratios[0],
                    ratios[ratios.length - 1]);
        }

        private List<Sample> rounds(String key) {
            return byRound.entrySet().stream().filter(e -> e.getKey().key().equals(key)).map(Map.Entry::getValue)
                    .findFirst().orElse(null);
        }
    }
    // end::bench-ratios[]

    private static double median(List<Sample> s, java.util.function.ToDoubleFunction<Sample> f) {
        return BenchHost.median(s.stream().mapToDouble(f).toArray());
    }


    private String qemuVersion() {
        try {
            Process p = new ProcessBuilder(qemu, "--version").redirectErrorStream(true).start();
            String v = new String(p.getInputStream().readAllBytes()).lines().findFirst().orElse("QEMU ?");
            p.waitFor();
            return v.replace("QEMU emulator version", "QEMU").trim() + ", Java " + System.getProperty("java.version");
        } catch (IOException e) {
            return "QEMU version unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "QEMU version unknown";
        }
    }

    private static String property(String name, String dflt) {
        String v = System.getProperty(name);
        return v == null || v.isBlank() || v.equals("auto") ? dflt : v;
    }

    private static int intProperty(String name, int dflt) {
        return Integer.parseInt(property(name, Integer.toString(dflt)));
    }
}
