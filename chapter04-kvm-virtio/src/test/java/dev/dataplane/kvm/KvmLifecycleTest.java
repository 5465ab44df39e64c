package dev.dataplane.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.EventNotifier;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.testsupport.KvmCondition;
import dev.dataplane.testsupport.RequiresKvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening KVM, asking it questions, registers, and releasing every fd and mapping afterwards. */
class KvmLifecycleTest {

    @Test
    void aMissingKvmDeviceIsReportedWithItsPathAndErrno(@TempDir Path dir) {
        Path missing = dir.resolve("kvm");

        assertThatThrownBy(() -> Kvm.open(missing))
                .isInstanceOf(LinuxException.class)
                .hasMessage("open KVM device " + missing + ": ENOENT (No such file or directory)")
                .satisfies(e -> assertThat(((LinuxException) e).errno()).isEqualTo(Errno.ENOENT));
    }

    @Test
    void aFileThatIsNotKvmIsRefusedAtTheFirstIoctl(@TempDir Path dir) throws IOException {
        Path notKvm = Files.writeString(dir.resolve("kvm"), "not a device");

        assertThatThrownBy(() -> Kvm.open(notKvm))
                .isInstanceOf(LinuxException.class)
                .hasMessage("KVM_GET_API_VERSION: ENOTTY (Inappropriate ioctl for device)");
    }

    @Test
    @RequiresKvm
    void kvmSpeaksApiTwelveAndHasWhatChapterFourNeeds() {
        try (Kvm kvm = Kvm.open(KvmCondition.requireUsableKvm())) {
            for (KvmCapability cap : List.of(KvmCapability.USER_MEMORY, KvmCapability.IRQCHIP, KvmCapability.PIT2,
                    KvmCapability.IOEVENTFD, KvmCapability.IRQFD, KvmCapability.IRQFD_RESAMPLE,
                    KvmCapability.IRQ_ROUTING)) {
                assertThat(kvm.hasExtension(cap)).as(cap.name()).isTrue();
            }
            assertThat(kvm.vcpuMmapSize()).isGreaterThanOrEqualTo(4096);
        }
    }

    @Test
    @RequiresKvm
    void registersAndSpecialRegistersRoundTrip() {
        try (TinyGuest g = TinyGuest.realMode(0xF4)) {
            Registers r = new Registers();
            for (Registers.Reg reg : Registers.Reg.values()) {
                r.set(reg, 0x1111_0000L * (reg.ordinal() + 1));
            }
            r.rflags(Registers.RFLAGS_RESERVED | Registers.RFLAGS_IF);
            g.vcpu.setRegisters(r);
            assertThat(g.vcpu.registers()).isEqualTo(r);

            SpecialRegisters s = g.vcpu.specialRegisters().flatProtectedMode()
                    .gdt(new SpecialRegisters.DescriptorTable(0x500, 23));
            g.vcpu.setSpecialRegisters(s);
            SpecialRegisters back = g.vcpu.specialRegisters();
            assertThat(back.segment(SpecialRegisters.Seg.CS)).isEqualTo(Segment.flatCode32(0x08));
            assertThat(back.segment(SpecialRegisters.Seg.SS)).isEqualTo(Segment.flatData32(0x10));
            assertThat(back.gdt()).isEqualTo(new SpecialRegisters.DescriptorTable(0x500, 23));
            assertThat(back.cr0() & SpecialRegisters.CR0_PE).isEqualTo(SpecialRegisters.CR0_PE);
        }
    }

    @Test
    @RequiresKvm
    void aVmWithRunningVcpuReleasesEveryFdAndItsMemory() throws Exception {
        // Warm up once, so that lazily opened files (JNA's library, class files) are not counted.
        runAndCloseAMachine();
        List<String> before = kvmAndEventFds();

        long ramAddress = runAndCloseAMachine();

        assertThat(kvmAndEventFds()).isEqualTo(before);
        assertThat(mappedAt(ramAddress)).as("guest RAM unmapped").isFalse();
    }

    /** Runs a guest with an ioeventfd and an irqfd until it spins, stops it, closes all; returns RAM's address. */
    private static long runAndCloseAMachine() throws Exception {
        long address;
        try (EventNotifier n = new EventNotifier(); EventNotifier irq = new EventNotifier();
             TinyGuest g = TinyGuest.realModeWithIrqchip(0xEB, 0xFE)) { // jmp $
            g.vm.createPit2();
            g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 1);
            g.vm.irqfd(irq, 5);
            address = g.ram.hostAddress();
            assertThat(mappedAt(address)).isTrue();
            VcpuThread t = g.start();
            assertThat(kvmAndEventFds()).anyMatch(s -> s.startsWith("anon_inode:kvm-vcpu"));
            g.control.requestStop("done");
            assertThat(g.awaitOutcome().kind()).isEqualTo(MachineOutcome.Kind.STOPPED);
            assertThat(t.join(dev.dataplane.testsupport.Timeouts.HANDSHAKE)).isTrue();
        }
        return address;
    }

    /** The link targets of this process's fds that belong to KVM or are eventfds, sorted. */
    private static List<String> kvmAndEventFds() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.contains("kvm") || target.contains("eventfd")) {
                        out.add(target);
                    }
                } catch (IOException gone) {
                    // the fd of the directory listing itself, closed meanwhile
                }
            }
        }
        out.sort(null);
        return out;
    }

    private static boolean mappedAt(long address) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            long lo = Long.parseUnsignedLong(range[0], 16);
            long hi = Long.parseUnsignedLong(range[1], 16);
            if (Long.compareUnsigned(address, lo) >= 0 && Long.compareUnsigned(address, hi) < 0) {
                return true;
            }
        }
        return false;
    }
}
