package dev.dataplane.kvm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.EventNotifier;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.pc.IoBus;
import dev.dataplane.pc.IoDevice;
import dev.dataplane.testsupport.RequiresKvm;
import dev.dataplane.testsupport.Timeouts;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** An irqfd injects an interrupt into the guest from any thread, without a vCPU exit. */
@RequiresKvm
class IrqfdTest {

    /** Real-mode guest: programs the in-kernel 8259 for IRQ 5 at vector 0x0D, says "ready", waits in hlt. */
    private static final int HANDLER = 0x1040;
    private static final int[] WAIT_FOR_IRQ5 = program();

    private static int[] program() {
        int[] main = {
            0xFA,                                           // cli
            0xC7, 0x06, 0x34, 0x00, HANDLER & 0xFF, HANDLER >> 8, // mov word [0x34], HANDLER  (IVT entry 0x0D: offset)
            0xC7, 0x06, 0x36, 0x00, 0x00, 0x00,             // mov word [0x36], 0        (segment)
            0xB0, 0x11, 0xE6, 0x20,                         // ICW1 = 0x11 -> port 0x20: edge, cascade, ICW4 follows
            0xB0, 0x08, 0xE6, 0x21,                         // ICW2 = 0x08 -> 0x21: IRQ 0-7 at vectors 8-15
            0xB0, 0x04, 0xE6, 0x21,                         // ICW3 = 0x04 -> 0x21: slave on IRQ 2
            0xB0, 0x01, 0xE6, 0x21,                         // ICW4 = 0x01 -> 0x21: 8086 mode
            0xB0, 0xDF, 0xE6, 0x21,                         // OCW1 = 0xDF -> 0x21: mask all but IRQ 5
            0xE6, 0x80,                                     // out 0x80, al: "ready" (to user space)
            0xFB,                                           // sti
            0xF4,                                           // hlt  (the in-kernel irqchip waits in the kernel)
            0xEB, 0xFD,                                     // jmp back to the hlt
        };
        int[] handler = {
            0xB0, 'I', 0xE6, 0x81,                          // out 0x81, 'I': "interrupted"
            0xB0, 0x20, 0xE6, 0x20,                         // EOI to the master 8259
            0xB0, 0x0B, 0xE6, 0xF4,                         // out 0xf4, 11: end
        };
        int[] code = new int[HANDLER - (int) TinyGuest.CODE + handler.length];
        System.arraycopy(main, 0, code, 0, main.length);
        for (int i = main.length; i < HANDLER - TinyGuest.CODE; i++) {
            code[i] = 0xF4; // hlt padding, never executed
        }
        System.arraycopy(handler, 0, code, HANDLER - (int) TinyGuest.CODE, handler.length);
        return code;
    }

    @Test
    void writingTheIrqfdInterruptsTheGuest() throws Exception {
        CountDownLatch ready = new CountDownLatch(1);
        try (TinyGuest g = TinyGuest.realModeWithIrqchip(WAIT_FOR_IRQ5); EventNotifier irq = new EventNotifier()) {
            TinyGuest.Recorder marker = g.new Recorder(0);
            g.pio.map(0x80, 1, latch(ready));
            g.pio.map(0x81, 1, marker);
            g.vm.irqfd(irq, 5);
            g.start();
            Timeouts.await(ready);

            irq.set(); // from the test thread: no BQL, no vCPU exit

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(11));
            assertThat(marker.writtenValues()).containsExactly((long) 'I');
        }
    }

    @Test
    void aResampleIrqfdSignalsTheResampleNotifierWhenTheGuestAcknowledges() throws Exception {
        CountDownLatch ready = new CountDownLatch(1);
        try (TinyGuest g = TinyGuest.realModeWithIrqchip(WAIT_FOR_IRQ5);
             EventNotifier irq = new EventNotifier();
             EventNotifier resample = new EventNotifier()) {
            g.pio.map(0x80, 1, latch(ready));
            g.pio.map(0x81, 1, g.new Recorder(0));
            g.vm.irqfd(irq, 5, resample);
            g.start();
            Timeouts.await(ready);
            assertThat(resample.testAndClear()).isFalse();

            irq.set();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(11));
            assertThat(resample.testAndClear()).as("the EOI lowered the line and signalled resample").isTrue();
        }
    }

    @Test
    void irqLineRaisesTheInterruptFromUserSpace() throws Exception {
        CountDownLatch ready = new CountDownLatch(1);
        try (TinyGuest g = TinyGuest.realModeWithIrqchip(WAIT_FOR_IRQ5)) {
            g.pio.map(0x80, 1, latch(ready));
            TinyGuest.Recorder marker = g.new Recorder(0);
            g.pio.map(0x81, 1, marker);
            g.start();
            Timeouts.await(ready);

            g.vm.irqLine(5, true);
            g.vm.irqLine(5, false);

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(11));
            assertThat(marker.writtenValues()).containsExactly((long) 'I');
        }
    }

    @Test
    void anIrqfdIsAssignedOnceUntilItIsDeassigned() {
        try (TinyGuest g = TinyGuest.realModeWithIrqchip(0xF4); EventNotifier irq = new EventNotifier()) {
            KvmVm.Registration r = g.vm.irqfd(irq, 5);

            assertThatThrownBy(() -> g.vm.irqfd(irq, 5))
                    .isInstanceOf(LinuxException.class)
                    .hasMessageStartingWith("KVM_IRQFD(gsi 5, fd " + irq.fd() + "): EBUSY");

            r.close();
            g.vm.irqfd(irq, 5).close();
        }
    }

    @Test
    void msiRoutesCanBeAddedToTheDefaultTable() {
        try (TinyGuest g = TinyGuest.realModeWithIrqchip(0xF4)) {
            java.util.List<GsiRoute> routes = new java.util.ArrayList<>(GsiRoute.defaultPcRoutes());
            routes.add(GsiRoute.msi(24, 0xFEE0_0000L, 0x41));
            g.vm.setGsiRouting(routes);
            try (EventNotifier msi = new EventNotifier()) {
                g.vm.irqfd(msi, 24).close();
            }
        }
    }

    private static IoDevice latch(CountDownLatch l) {
        return new IoDevice() {
            @Override
            public long read(long offset, int size) {
                return IoBus.allOnes(size);
            }

            @Override
            public void write(long offset, int size, long value) {
                l.countDown();
            }
        };
    }
}
