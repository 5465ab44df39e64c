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
import java.util.Random;

/**
 * Chapter 4's benchmark: the same teaching guest and the same disk image on Dataplane and on
 * QEMU, in one run, one table.
 *
 * <p><b>What runs.</b> Seven configurations, each a fresh process: QEMU with the disk on an
 * IOThread (the reference), QEMU with the disk on its main loop, QEMU with {@code ioeventfd=off}
 * (main loop: QEMU refuses an IOThread without ioeventfd); Dataplane ({@code DataplaneMain} in a
 * child JVM) the same three ways, and on an IOThread with the ioeventfd off. QEMU boots with qboot
 * ({@code bios-microvm.bin}), so its launch time is not SeaBIOS's emulated POST. The guest does
 * {@code warm=N} 4-KiB random reads one at a time (WARM: a JVM compiles its request path here;
 * reported, but the targets are about what follows), {@code loop=N} iterations of its no-I/O
 * loop (the guest's own cost per request, no VMM involved), then {@code qd1=N} reads one at a
 * time and {@code qd16=N} with 16 in flight, each run bracketed by marker lines.
 *
 * <p><b>What is measured, from outside.</b> Wall time per request: the console's marker lines,
 * stamped on arrival by this JVM ({@link GuestRun}). CPU per request of the thread that serves the
 * queue (QEMU's {@code IO io0} or main thread, Dataplane's {@code iothread0} or main-loop thread)
 * and of the thread pool's workers: {@code /proc/<pid>/task/*} sampled at the markers
 * ({@link ThreadCpu}). Launch to first output: from starting the process to the first byte of the
 * guest's first line (for Dataplane that includes starting a JVM).
 *
 * <p><b>Rounds.</b> {@code bench.rounds} rounds (7; 2 with {@code bench.quick}, which also
 * shortens LOOP, QD1 and QD16 to 500, 1000 and 3000 and so is a smoke run: its QD1 still has
 * some of Dataplane's warm-up in it; about 25 s instead of two minutes); each runs every
 * configuration once, the order rotated from round to round. Figures are medians over the
 * rounds; ratios compare medians taken in this same run. The machine's load average is printed
 * before and after: other work on a 2-CPU machine moves these figures a lot.
 *
 * <p><b>Knobs</b> (system properties; the {@code bench-ch04} profile passes them on):
 * {@code bench.quick}, {@code bench.rounds}, {@code bench.warm}, {@code bench.loop}, {@code bench.qd1},
 * {@code bench.qd16} (iterations), {@code bench.only} (comma-separated configuration keys, e.g.
 * {@code qemu-iothread,dp-iothread}), {@code bench.qemu} (the QEMU binary),
 * {@code bench.dataplane.jvmArgs} (extra flags for Dataplane's JVM, space-separated),
 * {@code bench.variants} (more Dataplane rows on an IOThread, each with flags of its own:
 * {@code "name:flags;name:flags"}),
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
    record Config(String key, Vmm vmm, Shape shape, List<String> jvmArgs) {
        Config(String key, Vmm vmm, Shape shape) {
            this(key, vmm, shape, List.of());
        }

        String label() {
            return jvmArgs.isEmpty() ? (vmm == Vmm.QEMU ? "QEMU      " : "Dataplane ") + shape.label
                    : "Dataplane " + key;
        }
    }

    private static final List<Config> ALL = List.of(
            new Config("qemu-iothread", Vmm.QEMU, Shape.IOTHREAD),
            new Config("dp-iothread", Vmm.DATAPLANE, Shape.IOTHREAD),
            new Config("qemu-main-loop", Vmm.QEMU, Shape.MAIN_LOOP),
            new Config("dp-main-loop", Vmm.DATAPLANE, Shape.MAIN_LOOP),
            new Config("qemu-ioeventfd-off", Vmm.QEMU, Shape.IOEVENTFD_OFF),
            new Config("dp-ioeventfd-off", Vmm.DATAPLANE, Shape.IOEVENTFD_OFF),
            new Config("dp-iothread-ioeventfd-off", Vmm.DATAPLANE, Shape.IOTHREAD_IOEVENTFD_OFF));

    /** The figures of one run of one configuration; NaN where a figure does not apply. */
    record Sample(double launchMs, double warmUs, double loopUs, double qd1Us, double qd16Us, double dev1,
                  double dev16, double workers1, double workers16) {
    }

    /**
     * Dataplane's JVM runs as {@code scripts/dataplane} runs it: native access for JNA, and only
     * the C1 compiler. On a 2-CPU host the vCPU thread keeps one CPU busy, and C2's compilations
     * in the first seconds compete with the IOThread and the pool for the other; C1 compiles
     * the request path quickly and well enough (QD1 151.6 -> 110.0 us per request, launch 400 ->
     * 353 ms, in one bench-ch04 run).
     */
    static final List<String> DATAPLANE_JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "-XX:TieredStopAtLevel=1");

    private final PrintStream out = System.out;
    private final List<Config> configs;
    private final int rounds;
    private final String append;
    private final Path elf;
    private final Path image;
    private final Path outDir;
    private final String qemu;
    private final List<String> extraJvmArgs;

    private Chapter4BenchMain(List<Config> configs, int rounds, String append, Path elf, Path image, Path outDir,
                              String qemu, List<String> extraJvmArgs) {
        this.configs = configs;
        this.rounds = rounds;
        this.append = append;
        this.elf = elf;
        this.image = image;
        this.outDir = outDir;
        this.qemu = qemu;
        this.extraJvmArgs = extraJvmArgs;
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        boolean quick = Boolean.getBoolean("bench.quick");
        int rounds = intProperty("bench.rounds", quick ? 2 : 7);
        String append = "warm=" + intProperty("bench.warm", 1000)
                + " loop=" + intProperty("bench.loop", quick ? 500 : 2000)
                + " qd1=" + intProperty("bench.qd1", quick ? 1000 : 4000)
                + " qd16=" + intProperty("bench.qd16", quick ? 3000 : 10000);
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
                configs.add(new Config(kv[0].trim(), Vmm.DATAPLANE, Shape.IOTHREAD, List.of(kv[1].trim().split("\\s+"))));
            }
        }
        Path outDir = Path.of(property("bench.outputDir", "target/bench"));
        Files.createDirectories(outDir);
        Path image = outDir.resolve("ch04-disk.img");
        writeImage(image, 64L << 20);
        String jvmArgs = property("bench.dataplane.jvmArgs", "");
        List<String> extra = jvmArgs.isBlank() ? List.of() : List.of(jvmArgs.trim().split("\\s+"));
        new Chapter4BenchMain(configs, rounds, append, elf, image, outDir,
                property("bench.qemu", "qemu-system-x86_64"), extra).run();
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
                Sample s = runOnce(c);
                if (s != null) {
                    samples.get(c).add(s);
                }
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
        GuestRun.Result r = GuestRun.run(command(c), Duration.ofSeconds(120));
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
        return new Sample(r.firstOutputNs() / 1e6, warm == null ? Double.NaN : warm.wallMicrosPer(),
                loop.wallMicrosPer(), qd1.wallMicrosPer(), qd16.wallMicrosPer(),
                qd1.cpuMicrosPer(r.pid(), device), qd16.cpuMicrosPer(r.pid(), device),
                qd1.cpuMicrosPer(r.pid(), workers), qd16.cpuMicrosPer(r.pid(), workers));
    }

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
                cmd.addAll(List.of("-object", "iothread,id=io0"));
            }
            cmd.addAll(List.of("-drive", "file=" + image + ",if=none,id=d0,format=raw", "-device", device));
            return cmd;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(DATAPLANE_JVM_FLAGS);
        cmd.addAll(extraJvmArgs);
        cmd.addAll(c.jvmArgs());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.dataplane.vmm.DataplaneMain",
                "--kernel", elf.toString(), "--disk", image.toString(), "--memory", "64", "--append", append,
                "--ioeventfd", c.shape() == Shape.IOEVENTFD_OFF || c.shape() == Shape.IOTHREAD_IOEVENTFD_OFF
                        ? "off" : "on",
                "--queue-in", c.shape() == Shape.MAIN_LOOP || c.shape() == Shape.IOEVENTFD_OFF
                        ? "main-loop" : "iothread"));
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
        sb.append(String.format(Locale.ROOT, "%-40s %7s %7s %7s %7s %7s %8s | %15s | %15s%n", "",
                "launch", "WARM", "LOOP", "QD1", "QD16", "QD1-LOOP", "queue thread", "pool workers"));
        sb.append(String.format(Locale.ROOT, "%-40s %7s %7s %7s %7s %7s %8s | %7s %7s | %7s %7s%n",
                "configuration (runs)", "ms", "us/req", "us/req", "us/req", "us/req", "us/req",
                "QD1", "QD16", "QD1", "QD16"));
        sb.append(String.format(Locale.ROOT, "%-40s %7s %7s %7s %7s %7s %8s | %15s | %15s%n", "",
                "", "", "", "", "", "", "CPU us/req", "CPU us/req"));
        Map<Config, Sample> medians = new LinkedHashMap<>();
        for (Config c : configs) {
            List<Sample> s = samples.get(c);
            if (s.isEmpty()) {
                sb.append(String.format(Locale.ROOT, "%-40s every run failed%n", c.label()));
                continue;
            }
            Sample m = new Sample(median(s, Sample::launchMs), median(s, Sample::warmUs), median(s, Sample::loopUs),
                    median(s, Sample::qd1Us),
                    median(s, Sample::qd16Us), median(s, Sample::dev1), median(s, Sample::dev16),
                    median(s, Sample::workers1), median(s, Sample::workers16));
            medians.put(c, m);
            sb.append(String.format(Locale.ROOT,
                    "%-40s %7.0f %7.1f %7.1f %7.1f %7.1f %8.1f | %7.1f %7.1f | %7.1f %7.1f%n",
                    c.label() + " (" + s.size() + ")", m.launchMs(), m.warmUs(), m.loopUs(), m.qd1Us(), m.qd16Us(),
                    m.qd1Us() - m.loopUs(), m.dev1(), m.dev16(), m.workers1(), m.workers16()));
        }
        Sample q = find(medians, "qemu-iothread");
        Sample d = find(medians, "dp-iothread");
        Sample off = find(medians, "dp-ioeventfd-off");
        Sample mainLoop = find(medians, "dp-main-loop");
        Sample ioOff = find(medians, "dp-iothread-ioeventfd-off");
        Sample qOff = find(medians, "qemu-ioeventfd-off");
        sb.append(String.format(Locale.ROOT, "%n"));
        if (q != null && d != null) {
            sb.append(String.format(Locale.ROOT,
                    "Dataplane / QEMU, IOThread: wall QD1 %.2f, QD16 %.2f (target <= 1.0); "
                            + "IOThread CPU QD1 %.2f, QD16 %.2f (target <= 1.5); VMM share of QD1 (QD1-LOOP) %.2f%n",
                    d.qd1Us() / q.qd1Us(), d.qd16Us() / q.qd16Us(), d.dev1() / q.dev1(), d.dev16() / q.dev16(),
                    (d.qd1Us() - d.loopUs()) / (q.qd1Us() - q.loopUs())));
        }
        if (d != null && off != null) {
            sb.append(String.format(Locale.ROOT,
                    "Dataplane, seed 002's before / after (main loop, ioeventfd off / IOThread, ioeventfd on):"
                            + " wall QD1 %.2f, QD16 %.2f (target: clearly > 1)%n",
                    off.qd1Us() / d.qd1Us(), off.qd16Us() / d.qd16Us()));
        }
        if (mainLoop != null && off != null && ioOff != null && d != null) {
            sb.append(String.format(Locale.ROOT,
                    "Dataplane, ioeventfd off / on, wall QD1: main loop %.2f, IOThread %.2f%s%n",
                    off.qd1Us() / mainLoop.qd1Us(), ioOff.qd1Us() / d.qd1Us(),
                    q != null && qOff != null ? String.format(Locale.ROOT,
                            "; QEMU (main loop, ioeventfd off / IOThread, ioeventfd on) %.2f", qOff.qd1Us() / q.qd1Us())
                            : ""));
        }
        if (q != null && d != null) {
            sb.append(String.format(Locale.ROOT, "Dataplane / QEMU, WARM (the first QD1 reads, JIT included): %.2f%n",
                    d.warmUs() / q.warmUs()));
        }
        sb.append("WARM: the guest's first QD1 reads, untimed by the targets (Dataplane's JIT compiles its request"
                + " path there); LOOP: the guest's no-I/O loop of the same shape (its own cost per request, no VMM);"
                + " QD1-LOOP: what the VMM adds per request at queue depth 1.\n");
        return sb.toString();
    }
    // end::bench-table[]

    private Sample find(Map<Config, Sample> medians, String key) {
        return medians.entrySet().stream().filter(e -> e.getKey().key().equals(key)).map(Map.Entry::getValue)
                .findFirst().orElse(null);
    }

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
