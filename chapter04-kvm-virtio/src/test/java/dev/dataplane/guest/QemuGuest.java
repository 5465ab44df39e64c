package dev.dataplane.guest;

import dev.dataplane.testsupport.Timeouts;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs the teaching guest under {@code qemu-system-x86_64} with QEMU's legacy virtio-blk-pci
 * device on an IOThread, the way chapter 4 compares its own machine with QEMU.
 *
 * <p>Implementation notes:
 * <ul>
 *   <li>KVM when {@code /dev/kvm} exists, QEMU's TCG otherwise, so the guest is checked on any
 *       machine that has QEMU. The CPU model is {@code qemu64}: on the project's paravirtual KVM
 *       plain {@code -cpu host} aborts on an MSR QEMU cannot set.</li>
 *   <li>qboot ({@code bios-microvm.bin}) starts in about 0.1 s, SeaBIOS in about 3 s here
 *       (its POST is emulated instruction by instruction). qboot leaves PCI BARs unassigned and
 *       the guest assigns BAR0 itself; SeaBIOS assigns it. The tests run both.</li>
 *   <li>QEMU pauses rather than exits when KVM cannot emulate an instruction, so every run has a
 *       deadline; past it the process is killed and the output so far goes into the failure.</li>
 *   <li>The serial port is QEMU's standard output, read to its end by a thread of our own;
 *       standard error is merged into it (QEMU's warnings then show up as lines too).</li>
 * </ul>
 */
final class QemuGuest {

    static final String QEMU = "qemu-system-x86_64";

    /** The device ID QEMU's virtio-blk answers GET_ID with. */
    static final String SERIAL = "DATAPLANE-QEMU";

    enum Firmware {
        QBOOT, SEABIOS
    }

    /** The virtio-blk disk the machine gets. */
    enum Disk {
        READ_WRITE, READ_ONLY, NONE
    }

    /** What to run: firmware, disk, and the guest's command line ("" for none). */
    record Config(Firmware firmware, Disk disk, String append) {
    }

    /** How QEMU ended, what the guest printed, and when QEMU was launched (System.nanoTime). */
    record Result(int exitStatus, GuestTranscript transcript, List<String> command, long launchNanos) {
    }

    private QemuGuest() {
    }

    /** {@code qemu-system-x86_64} on the PATH, if there is one. */
    static Optional<Path> find() {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, QEMU);
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** The command line for one run. */
    static List<String> command(Path qemu, Path elf, Path image, Config config) {
        boolean kvm = Files.exists(Path.of("/dev/kvm"));
        List<String> cmd = new ArrayList<>(List.of(
                qemu.toString(),
                "-name", "dataplane-guest,debug-threads=on",
                "-accel", kvm ? "kvm" : "tcg",
                "-cpu", "qemu64",
                "-m", "64",
                "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-nic", "none", "-no-reboot"));
        if (config.firmware() == Firmware.QBOOT) {
            cmd.addAll(List.of("-bios", "bios-microvm.bin"));
        }
        cmd.addAll(List.of(
                "-kernel", elf.toString(),
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"));
        if (config.disk() != Disk.NONE) {
            cmd.addAll(List.of(
                    "-object", "iothread,id=io0",
                    "-drive", "file=" + image + ",if=none,id=d0,format=raw"
                            + (config.disk() == Disk.READ_ONLY ? ",readonly=on" : ""),
                    "-device", "virtio-blk-pci,disable-modern=on,drive=d0,iothread=io0,serial=" + SERIAL));
        }
        if (!config.append().isEmpty()) {
            cmd.addAll(List.of("-append", config.append()));
        }
        return cmd;
    }

    /** Runs the guest to its end, or fails after {@code deadline} with whatever it printed. */
    static Result run(Path qemu, Path elf, Path image, Config config, Duration deadline)
            throws IOException, InterruptedException {
        List<String> cmd = command(qemu, elf, image, config);
        long launchNanos = System.nanoTime();
        Process process = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        CompletableFuture<GuestTranscript> output = CompletableFuture.supplyAsync(() -> {
            try {
                return GuestTranscript.read(process.getInputStream());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, runnable -> {
            Thread reader = new Thread(runnable, "qemu-serial-reader");
            reader.setDaemon(true);
            reader.start();
        });
        try {
            boolean exited = process.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS);
            if (!exited) {
                process.destroyForcibly().waitFor(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS);
                throw new AssertionError("QEMU did not finish within " + deadline
                        + " (an emulation failure pauses it); it printed:\n" + transcript(output)
                        + "\ncommand: " + String.join(" ", cmd));
            }
            return new Result(process.exitValue(), transcript(output), cmd, launchNanos);
        } finally {
            process.destroyForcibly();
        }
    }

    private static GuestTranscript transcript(CompletableFuture<GuestTranscript> output)
            throws InterruptedException {
        try {
            return output.get(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError("could not read QEMU's output", e);
        }
    }
}
