package dev.dataplane.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.block.BlkRig;
import dev.dataplane.block.VirtioBlk;
import dev.dataplane.testsupport.JfrEvents;
import dev.dataplane.testsupport.RequiresKvm;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.virtio.NotifyBinder;
import dev.dataplane.virtio.TestDriver.Req;
import dev.dataplane.virtio.VirtioPciLegacy;
import dev.dataplane.virtio.trace.KickEvent;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seed 002's race with the real thing: a guest's kick that KVM has already signalled on the
 * queue's ioeventfd, but that the IOThread has not read yet, when the driver resets the device.
 * The reset removes the ioeventfd (a real {@code KVM_IOEVENTFD} deassign) and the notifier's
 * handler; the request must still be served: its used element written, its data read, nothing
 * left in flight.
 *
 * <p>The kick comes from a real vCPU: a few real-mode instructions write the queue index to the
 * notify port and then end the run at the exit port. The device's rings live in the test
 * driver's memory (the driver is the test); what is real is everything between the guest's write
 * and the device: KVM's ioeventfd, the eventfd, the IOThread and the transport's stop.
 *
 * <p>Determinism, without sleeps: the IOThread is parked in a bottom half before the guest
 * kicks and stays parked until the reset is waiting for it, so its handler cannot read the
 * eventfd before the handler is removed; the only way the request is served is the transport's
 * last look at the notifier after removing the handler, and the kick's JFR event says so
 * ({@code via=stop}). Remove that look from {@code VirtioPciLegacy.detachNotifiers} and this
 * test fails: used index 0.
 */
@RequiresKvm
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ResetWithKickInFlightTest {

    /** Where the test puts BAR 0, the legacy register block (what firmware would choose). */
    private static final int BAR0 = 0xC000;
    private static final int NOTIFY_PORT = BAR0 + VirtioPciLegacy.REG_QUEUE_NOTIFY;

    /** The guest's driver, reduced to its kick: write queue index 0 (16 bits) to the notify port, then exit 9. */
    private static final int[] KICK_THEN_EXIT = {
        0xBA, NOTIFY_PORT & 0xFF, NOTIFY_PORT >>> 8,  // mov dx, NOTIFY_PORT
        0x31, 0xC0,                                    // xor ax, ax        (queue 0)
        0xEF,                                          // out dx, ax        (caught by the ioeventfd)
        0xB0, 0x09,                                    // mov al, 9
        0xE6, 0xF4,                                    // out 0xf4, al      (ends the run)
    };

    @TempDir
    Path dir;

    // tag::test-reset-kick-in-flight[]
    @Test
    @Tag("ch04-kick-before-unbind")
    void aKickKvmSignalledBeforeTheResetRemovedTheIoeventfdIsStillServed() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(KICK_THEN_EXIT)) {
            // The machine's binder, minus the PCI bookkeeping: BAR 0 is at a fixed port.
            NotifyBinder kvmIoeventfd = (bar, offset, size, value, n) ->
                    g.vm.ioeventfdMatching(n, IoSpace.PIO, BAR0 + offset, size, value)::close;
            BlkRig rig = BlkRig.builder(dir).onIoThread().notifyBinder(kvmIoeventfd).build();
            try {
                g.pio.map(BAR0, 64, rig.pci.registers()); // a write no ioeventfd catches exits to the registers
                AioContext io = rig.blk.context();
                rig.driver.init(-1L); // DRIVER_OK: the notify register becomes a KVM ioeventfd

                // Let the IOThread take the look at the queue that DRIVER_OK asks for: a bottom
                // half runs before the handlers of its iteration, so after two round trips the
                // iteration that saw the notifier set has also run its handler.
                rig.main.aioWait().runInContext(io, () -> { });
                rig.main.aioWait().runInContext(io, () -> { });

                // Park the IOThread: from now on its handler cannot read the eventfd.
                CountDownLatch parked = new CountDownLatch(1);
                CountDownLatch unpark = new CountDownLatch(1);
                BottomHalves.of(io).scheduleOneshot("parked", () -> {
                    parked.countDown();
                    Timeouts.await(unpark);
                });
                Timeouts.await(parked);

                // The driver offers a read and kicks: a real vCPU writes the notify port.
                Req r = rig.driver.read(2, 512);
                VcpuThread vcpu = VcpuThread.start(g.vcpu, rig.main.bql(), g.pio, g.mmio, g.control);
                g.control.onEnd(() -> BottomHalves.of(rig.main.context()).scheduleOneshot("ended", () -> { }));
                while (!g.control.isEnded()) {
                    rig.main.iterate(false); // releases the BQL while it sleeps: the vCPU's exits need it
                }
                assertThat(g.control.outcome()).contains(MachineOutcome.exited(9));
                assertThat(vcpu.pioExits()).as("only the exit port exited: KVM caught the kick").isEqualTo(1);
                assertThat(rig.pci.statistics().registerKicks()).isZero();
                assertThat(rig.driver.usedIdx()).as("the parked IOThread has served nothing yet").isZero();

                // Reset. The first thing the main loop polls while the reset waits for the IOThread
                // is this bottom half: the IOThread goes on only once the ioeventfd is gone and
                // the handler's removal is already scheduled behind the parked bottom half.
                BottomHalves.of(rig.main.context()).scheduleOneshot("unpark", unpark::countDown);
                List<RecordedEvent> kicks = JfrEvents.record(() -> rig.driver.setStatus(0), "dataplane.virtio.Kick");

                assertThat(kicks).as("served by the transport's last look, after the handler was removed")
                        .extracting(e -> e.getString("via")).containsExactly(KickEvent.VIA_STOP);
                assertThat(unpark.getCount()).as("the reset waited for the IOThread").isZero();
                assertThat(rig.driver.usedIdx()).as("the kick was not lost").isEqualTo(1);
                assertThat(rig.driver.ring().usedId(0)).isEqualTo(r.head);
                assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
                assertThat(r.data()).isEqualTo(Arrays.copyOfRange(rig.imageBytes(), 2 * 512, 3 * 512));
                assertThat(rig.blk.queue(0).inFlight()).isZero();
                assertThat(rig.pci.status()).isZero();
            } finally {
                rig.close();
            }
        }
    }
    // end::test-reset-kick-in-flight[]
}
