package dev.dataplane.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.EventNotifier;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.testsupport.RequiresKvm;
import org.junit.jupiter.api.Test;

/** A guest write caught by an ioeventfd signals the eventfd in the kernel and never exits to user space. */
@RequiresKvm
class IoeventfdTest {

    /** Writes 1 to port 0x1234, then 9 to the exit port. */
    private static final int[] WRITE_PORT_0x1234 = {
        0xB0, 0x01,         // mov al, 1
        0xBA, 0x34, 0x12,   // mov dx, 0x1234
        0xEE,               // out dx, al
        0xB0, 0x09,         // mov al, 9
        0xE6, 0xF4,         // out 0xf4, al
    };

    @Test
    void aPortWriteCaughtByAnIoeventfdSetsTheNotifierAndDoesNotReachTheDevice() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(WRITE_PORT_0x1234); EventNotifier n = new EventNotifier()) {
            TinyGuest.Recorder device = g.new Recorder(0);
            g.pio.map(0x1234, 1, device);
            g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 1);
            VcpuThread t = g.start();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(9));
            assertThat(n.testAndClear()).as("the eventfd was signalled").isTrue();
            assertThat(device.accesses).as("no exit reached the device").isEmpty();
            assertThat(t.pioExits()).as("only the exit port exited").isEqualTo(1);
        }
    }

    @Test
    void withDatamatchOnlyTheMatchingValueIsCaught() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(
                0xBA, 0x34, 0x12,   // mov dx, 0x1234
                0xB0, 0x05,         // mov al, 5
                0xEE,               // out dx, al    (5 != 7: exits to the device)
                0xB0, 0x07,         // mov al, 7
                0xEE,               // out dx, al    (caught)
                0xB0, 0x09,         // mov al, 9
                0xE6, 0xF4);        // out 0xf4, al
             EventNotifier n = new EventNotifier()) {
            TinyGuest.Recorder device = g.new Recorder(0);
            g.pio.map(0x1234, 1, device);
            g.vm.ioeventfdMatching(n, IoSpace.PIO, 0x1234, 1, 7);
            g.start();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(9));
            assertThat(device.writtenValues()).containsExactly(5L);
            assertThat(n.testAndClear()).isTrue();
        }
    }

    @Test
    void anMmioWriteCaughtByAnIoeventfdDoesNotExit() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(
                0xB8, 0x00, 0x20,                                   // mov ax, 0x2000
                0x8E, 0xD8,                                         // mov ds, ax
                0x66, 0xC7, 0x06, 0x10, 0x00, 0x44, 0x33, 0x22, 0x11, // mov dword [0x0010], 0x11223344 (linear 0x20010)
                0xB0, 0x09,                                         // mov al, 9
                0xE6, 0xF4);                                        // out 0xf4, al
             EventNotifier n = new EventNotifier()) {
            TinyGuest.Recorder device = g.new Recorder(0);
            g.mmio.map(0x20000, 0x1000, device);
            g.vm.ioeventfd(n, IoSpace.MMIO, 0x20010, 4);
            VcpuThread t = g.start();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(9));
            assertThat(n.testAndClear()).isTrue();
            assertThat(device.accesses).isEmpty();
            assertThat(t.mmioExits()).isZero();
        }
    }

    @Test
    void afterDeassignTheWriteReachesTheDeviceAgain() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(WRITE_PORT_0x1234); EventNotifier n = new EventNotifier()) {
            TinyGuest.Recorder device = g.new Recorder(0);
            g.pio.map(0x1234, 1, device);
            KvmVm.Registration r = g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 1);
            r.close();
            r.close(); // idempotent
            g.start();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(9));
            assertThat(r.isActive()).isFalse();
            assertThat(n.testAndClear()).isFalse();
            assertThat(device.writtenValues()).containsExactly(1L);
        }
    }

    @Test
    void theSameIoeventfdTwiceIsRefusedByKvmUntilTheFirstIsDeassigned() {
        try (TinyGuest g = TinyGuest.realMode(0xF4); EventNotifier n = new EventNotifier()) {
            KvmVm.Registration first = g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 2);

            assertThatThrownBy(() -> g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 2))
                    .isInstanceOf(LinuxException.class)
                    .hasMessageStartingWith("KVM_IOEVENTFD(PIO 0x1234/2, fd " + n.fd() + "): EEXIST");

            first.close();
            g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 2).close();
        }
    }

    @Test
    void closingTheVmDeassignsWhatIsStillRegistered() {
        EventNotifier n = new EventNotifier();
        try (n) {
            KvmVm.Registration r;
            try (TinyGuest g = TinyGuest.realMode(0xF4)) {
                r = g.vm.ioeventfd(n, IoSpace.MMIO, 0x20000, 4);
                assertThat(r.isActive()).isTrue();
            }
            assertThat(r.isActive()).isFalse();
        }
    }

    @Test
    void malformedIoeventfdsAreRefusedBeforeKvmSeesThem() {
        try (TinyGuest g = TinyGuest.realMode(0xF4); EventNotifier n = new EventNotifier()) {
            assertThatThrownBy(() -> g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 3)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> g.vm.ioeventfd(n, IoSpace.PIO, 0xFFFF, 2)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> g.vm.ioeventfd(n, IoSpace.PIO, 0x1234, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> g.vm.ioeventfdMatching(n, IoSpace.MMIO, 0x20000, 0, 1))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> g.vm.ioeventfd(n, IoSpace.MMIO, -4, 4)).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
