package dev.dataplane.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.guest.GuestProtocol;
import dev.dataplane.testsupport.RequiresKvm;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The main job's command line: a run that passes, and bad input answered in one line. */
class DataplaneMainTest {

    @TempDir
    Path dir;

    record Result(int status, String out, String err) {
    }

    private Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = DataplaneMain.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private String kernel() {
        return GuestProtocol.elf().toString();
    }

    /** One line on stderr, naming the program, with no stack trace. */
    private static void assertOneLineError(Result r, String... fragments) {
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines()).hasSize(1);
        assertThat(r.err()).startsWith("dataplane: ").contains(fragments).doesNotContain("\tat ");
    }

    @Test
    @RequiresKvm
    void theMainJobBootsTheGuestAndSummarisesWhoDidWhat() {
        Result r = run("--kernel", kernel(), "--append", "loop=10 qd1=10 qd16=32");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains(GuestProtocol.PASS_LINE, "served by iothread0, ioeventfd on");
        assertThat(r.out()).contains("guest     PASS", "latency   LOOP", "QD1", "QD16", "iothread0 ",
                "0 kicks through the vCPU");
    }

    @Test
    void aNegativePollWindowIsOneClearLine() {
        assertOneLineError(run("--kernel", kernel(), "--poll-max-ns", "-5"), "--poll-max-ns");
    }

    @Test
    void noKvmDeviceIsOneClearLine() {
        assertOneLineError(run("--kernel", kernel(), "--kvm", dir.resolve("kvm").toString()), "offers no KVM");
    }

    @Test
    void aKvmDeviceWithoutPermissionIsOneClearLine() throws IOException {
        Assumptions.assumeFalse("root".equals(System.getProperty("user.name")),
                "root may open any file, so a device without permission cannot be staged");
        Path locked = Files.createFile(dir.resolve("kvm"));
        assertThat(locked.toFile().setReadable(false, false) && locked.toFile().setWritable(false, false)).isTrue();
        assertOneLineError(run("--kernel", kernel(), "--kvm", locked.toString()), "no permission", "usermod");
    }

    @Test
    void aMissingDiskImageIsOneClearLine() {
        assertOneLineError(run("--kernel", kernel(), "--disk", dir.resolve("nope.img").toString()),
                "does not exist", "leave out --disk");
    }

    @Test
    void aDiskImageTooSmallIsOneClearLine() throws IOException {
        Path small = dir.resolve("small.img");
        try (RandomAccessFile f = new RandomAccessFile(small.toFile(), "rw")) {
            f.setLength(4096);
        }
        assertOneLineError(run("--kernel", kernel(), "--disk", small.toString()), "4096 bytes", "at least 1 MiB");
    }

    @Test
    void aMissingKernelIsOneClearLine() {
        assertOneLineError(run("--kernel", dir.resolve("vmlinux").toString()), "not found", "--kernel");
    }

    @Test
    void aKernelThatIsNoMultibootImageIsOneClearLine() throws IOException {
        Path junk = Files.writeString(dir.resolve("junk.elf"), "not a kernel");
        Result r = run("--kernel", junk.toString());
        // Without KVM the device check comes first; with it, the loader's verdict.
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines()).hasSize(1);
        assertThat(r.err()).doesNotContain("\tat ");
    }

    @Test
    void badOptionValuesAreOneClearLine() {
        assertOneLineError(run("--kernel", kernel(), "--ioeventfd", "maybe"), "--ioeventfd must be on or off");
        assertOneLineError(run("--kernel", kernel(), "--queue-in", "gpu"), "--queue-in must be iothread or main-loop");
        assertOneLineError(run("--kernel", kernel(), "--memory", "2"), "--memory");
        assertOneLineError(run("--frobnicate"), "Unknown option");
    }

    @Test
    void helpListsTheOptions() {
        Result r = run("--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("--disk", "--read-only", "--ioeventfd", "--queue-in", "--memory", "--append");
    }
}
