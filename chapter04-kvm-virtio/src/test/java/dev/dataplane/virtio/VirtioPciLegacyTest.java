package dev.dataplane.virtio;

import static dev.dataplane.virtio.VirtioPciLegacy.REG_GUEST_FEATURES;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_ISR;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_NOTIFY;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_NUM;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_PFN;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_SEL;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_STATUS;
import static dev.dataplane.virtio.VirtioPciLegacy.STATUS_ACKNOWLEDGE;
import static dev.dataplane.virtio.VirtioPciLegacy.STATUS_DRIVER;
import static dev.dataplane.virtio.VirtioPciLegacy.STATUS_DRIVER_OK;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.bh.BottomHalves;
import dev.dataplane.block.BlkRig;
import dev.dataplane.block.BlockBackend;
import dev.dataplane.block.ForwardingBackend;
import dev.dataplane.block.VirtioBlk;
import dev.dataplane.pc.IoDevice;
import dev.dataplane.pc.PciFunction;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.virtio.TestDriver.Req;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The legacy virtio-pci transport: PCI header, register block, status, ISR, reset with requests in flight. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VirtioPciLegacyTest {
    @TempDir
    Path dir;
    private BlkRig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.mem.assertNothingOutsideRamTouched("after the test");
            rig.close();
        }
    }

    private IoDevice regs() {
        return rig.pci.registers();
    }

    // ---- PCI configuration space ----

    @Test
    void theHeaderIdentifiesALegacyVirtioBlockDevice() {
        rig = BlkRig.builder(dir).build();
        PciFunction f = rig.pci;
        assertThat(f.configRead(0x00, 2)).isEqualTo(0x1AF4);
        assertThat(f.configRead(0x02, 2)).isEqualTo(0x1001);
        assertThat(f.configRead(0x08, 1)).as("revision").isZero();
        assertThat(f.configRead(0x08, 4) >>> 8).as("class code").isEqualTo(0x018000);
        assertThat(f.configRead(0x0E, 1)).as("header type").isZero();
        assertThat(f.configRead(0x2C, 2)).isEqualTo(0x1AF4);
        assertThat(f.configRead(0x2E, 2)).as("subsystem id = virtio type").isEqualTo(2);
        assertThat(f.configRead(0x3D, 1)).as("interrupt pin A").isEqualTo(1);
        assertThat(f.configRead(0x10, 4) & 1).as("BAR0 is an I/O BAR").isEqualTo(1);
        assertThat(f.bars()).hasSize(1);
        assertThat(f.bars().get(0).io()).isTrue();
        assertThat(f.bars().get(0).size()).isEqualTo(64);
        assertThat(f.bars().get(0).device()).isSameAs(rig.pci.registers());
    }

    @Test
    void bar0CanBeSizedAndMovedButOtherHeaderFieldsAreReadOnly() {
        rig = BlkRig.builder(dir).build();
        PciFunction f = rig.pci;
        f.configWrite(0x10, 4, 0xFFFFFFFF);
        assertThat(f.configRead(0x10, 4)).as("size mask of a 64-byte I/O BAR").isEqualTo(0xFFFFFFC1);
        f.configWrite(0x10, 4, 0xC040);
        assertThat(f.configRead(0x10, 4)).isEqualTo(0xC041);
        f.configWrite(0x00, 4, 0x12345678);
        assertThat(f.configRead(0x00, 2)).isEqualTo(0x1AF4);
        f.configWrite(0x14, 4, 0xFFFFFFFF);
        assertThat(f.configRead(0x14, 4)).as("no BAR1").isZero();
        f.configWrite(0x3C, 1, 11);
        assertThat(f.configRead(0x3C, 1)).isEqualTo(11);
    }

    @Test
    void badConfigAccessesReadAllOnesAndDoNotThrow() {
        rig = BlkRig.builder(dir).build();
        PciFunction f = rig.pci;
        assertThat(f.configRead(255, 4)).isEqualTo(-1);
        assertThat(f.configRead(-4, 4)).isEqualTo(-1);
        assertThat(f.configRead(1, 2)).as("misaligned").isEqualTo(-1);
        assertThat(f.configRead(0, 3)).isEqualTo(-1);
        f.configWrite(300, 4, 1);
        f.configWrite(-1, 1, 1);
    }

    // ---- the register block ----

    @Test
    void theDriverGetsOnlyFeaturesTheDeviceOffers() {
        rig = BlkRig.builder(dir).options(VirtioBlk.Options.defaults().withRingFeatures(false, false)).build();
        long host = rig.driver.hostFeatures();
        regs().write(REG_GUEST_FEATURES, 4, 0xFFFFFFFFL);
        assertThat(regs().read(REG_GUEST_FEATURES, 4)).isEqualTo(host);
        assertThat(host & (1L << VirtQueue.VIRTIO_RING_F_EVENT_IDX)).isZero();
    }

    @Test
    void featuresCannotChangeOnceTheDriverIsRunning() {
        rig = BlkRig.builder(dir).build();
        rig.driver.init(0);
        regs().write(REG_GUEST_FEATURES, 4, 0xFFFFFFFFL);
        assertThat(regs().read(REG_GUEST_FEATURES, 4)).isZero();
    }

    @Test
    void theQueueIsSetUpThroughItsPageFrameNumber() {
        rig = BlkRig.builder(dir).build();
        regs().write(REG_QUEUE_SEL, 2, 0);
        assertThat(regs().read(REG_QUEUE_NUM, 2)).isEqualTo(256);
        regs().write(REG_QUEUE_PFN, 4, 5);
        assertThat(regs().read(REG_QUEUE_PFN, 4)).isEqualTo(5);
        assertThat(rig.blk.queue(0).descAddress()).isEqualTo(5 * 4096);
        assertThat(rig.blk.queue(0).isReady()).isTrue();
        regs().write(REG_QUEUE_SEL, 2, 1); // there is no queue 1
        assertThat(regs().read(REG_QUEUE_NUM, 2)).isZero();
        regs().write(REG_QUEUE_PFN, 4, 9);
        assertThat(regs().read(REG_QUEUE_PFN, 4)).isZero();
        assertThat(rig.blk.queue(0).legacyPfn()).isEqualTo(5);
    }

    @Test
    void unknownRegistersAndWrongSizesReadAllOnesAndIgnoreWrites() {
        rig = BlkRig.builder(dir).build();
        assertThat(regs().read(0, 2)).isEqualTo(0xFFFF);
        assertThat(regs().read(REG_STATUS, 4)).isEqualTo(0xFFFFFFFFL);
        assertThat(regs().read(-8, 4)).isEqualTo(0xFFFFFFFFL);
        assertThat(regs().read(1L << 40, 1)).isEqualTo(0xFF);
        regs().write(REG_STATUS, 4, 7);
        assertThat(rig.driver.status()).isZero();
        regs().write(Long.MIN_VALUE, 8, -1);
        regs().write(REG_QUEUE_NUM, 2, 3); // read-only
        assertThat(regs().read(REG_QUEUE_NUM, 2)).isEqualTo(256);
    }

    @Test
    void driverOkStartsTheQueueAndAResetStopsAndClearsEverything() {
        rig = BlkRig.builder(dir).ioeventfd().build();
        rig.driver.init(-1L);
        assertThat(rig.binder.log).containsExactly("bind bar0+16/2=0");
        assertThat(rig.driver.status()).isEqualTo(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
        rig.driver.setStatus(0);
        assertThat(rig.binder.log).containsExactly("bind bar0+16/2=0", "unbind 0");
        assertThat(rig.driver.status()).isZero();
        assertThat(regs().read(REG_GUEST_FEATURES, 4)).isZero();
        assertThat(regs().read(REG_QUEUE_PFN, 4)).isZero();
        assertThat(rig.blk.queue(0).isReady()).isFalse();
    }

    @Test
    void clearingDriverOkStopsTheQueueWithoutAReset() {
        rig = BlkRig.builder(dir).ioeventfd().build();
        rig.driver.init(-1L);
        rig.driver.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        assertThat(rig.binder.log).containsExactly("bind bar0+16/2=0", "unbind 0");
        assertThat(rig.blk.queue(0).isReady()).isTrue();
        Req r = rig.driver.flush();
        rig.driver.kick();
        assertThat(rig.pci.statistics().ignoredKicks()).isEqualTo(1);
        rig.driver.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK); // pending chain is served on start
        rig.awaitUsed(1);
        assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
    }

    @Test
    void theIsrIsClearedByReadingItAndTheLineFollows() {
        rig = BlkRig.builder(dir).build();
        rig.driver.init(-1L);
        rig.driver.read(0, 512);
        rig.driver.kick();
        rig.awaitUsed(1);
        assertThat(rig.intx.level).isTrue();
        assertThat(rig.pci.configRead(0x06, 2) & (1 << 3)).as("PCI status: interrupt").isNotZero();
        assertThat(regs().read(REG_ISR, 1)).isEqualTo(VirtioPciLegacy.ISR_QUEUE);
        assertThat(rig.intx.level).isFalse();
        assertThat(regs().read(REG_ISR, 1)).isZero();
        assertThat(rig.pci.configRead(0x06, 2) & (1 << 3)).isZero();
    }

    @Test
    void intxDisableInTheCommandRegisterKeepsTheLineLow() {
        rig = BlkRig.builder(dir).build();
        rig.driver.init(-1L);
        rig.pci.configWrite(0x04, 2, 1 << 10);
        rig.driver.read(0, 512);
        rig.driver.kick();
        rig.awaitUsed(1);
        assertThat(rig.intx.level).isFalse();
        assertThat(rig.pci.peekIsr()).isEqualTo(VirtioPciLegacy.ISR_QUEUE);
        rig.pci.configWrite(0x04, 2, 0);
        assertThat(rig.intx.level).isTrue();
    }

    @Test
    void aNotifyForAQueueThatDoesNotExistIsIgnored() {
        rig = BlkRig.builder(dir).build();
        rig.driver.init(-1L);
        regs().write(REG_QUEUE_NOTIFY, 2, 1);
        regs().write(REG_QUEUE_NOTIFY, 2, 0xFFFF);
        assertThat(rig.pci.statistics().ignoredKicks()).isEqualTo(2);
        assertThat(rig.needsReset()).isFalse();
    }

    @Test
    void aNotifyBeforeDriverOkIsIgnored() {
        rig = BlkRig.builder(dir).build();
        regs().write(REG_QUEUE_NOTIFY, 2, 0);
        assertThat(rig.pci.statistics().ignoredKicks()).isEqualTo(1);
        assertThat(rig.driver.status()).isZero();
    }

    @Test
    void aNotifyForAQueueNeverSetUpIsIgnored() {
        rig = BlkRig.builder(dir).build();
        rig.driver.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK); // no PFN written
        rig.driver.kick();
        assertThat(rig.pci.statistics().ignoredKicks()).isEqualTo(1);
        assertThat(rig.needsReset()).isFalse();
    }

    @Test
    void aQueueWhoseRingsAreOutsideRamIsBrokenOnItsFirstKick() {
        rig = BlkRig.builder(dir).build();
        rig.driver.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        regs().write(REG_QUEUE_PFN, 4, 0xFFFFF);
        rig.driver.setStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
        rig.waitWhile(() -> !rig.needsReset());
        assertThat(rig.pci.lastError()).contains("outside guest RAM");
        assertThat(rig.driver.status() & VirtioPciLegacy.STATUS_NEEDS_RESET).isNotZero();
        rig.driver.setStatus(0);
        assertThat(rig.driver.status()).isZero();
    }

    // ---- reset while requests are in flight ----

    @Test
    void aResetWithRequestsInFlightWaitsForThemAndLosesNothing() {
        HeldBackend[] held = new HeldBackend[1];
        rig = BlkRig.builder(dir).wrapBackend(b -> held[0] = new HeldBackend(b)).build();
        rig.driver.init(-1L);
        List<Req> reqs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            byte[] data = new byte[512];
            Arrays.fill(data, (byte) (0x40 + i));
            reqs.add(rig.driver.write(i, data));
        }
        rig.driver.kick();
        rig.waitWhile(() -> held[0].held.size() < 8);
        assertThat(rig.blk.queue(0).inFlight()).isEqualTo(8);
        // Release the completions only once the reset is waiting for them.
        Thread releaser = releaseWhenSomebodyWaits(held[0]);
        rig.driver.setStatus(0);
        Timeouts.join(releaser);
        assertThat(rig.driver.usedIdx()).as("every request completed before the reset").isEqualTo(8);
        for (Req r : reqs) {
            assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
        }
        byte[] img = rig.imageBytes();
        for (int i = 0; i < 8; i++) {
            assertThat(img[i * 512]).isEqualTo((byte) (0x40 + i));
        }
        assertThat(rig.blk.queue(0).inFlight()).isZero();
        // And the device works again after the driver sets it up anew.
        rig.driver.init(-1L);
        Req again = rig.driver.read(0, 512);
        rig.driver.kick();
        rig.waitWhile(() -> held[0].held.isEmpty());
        held[0].releaseAll();
        rig.awaitUsed(1);
        assertThat(again.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
    }

    private Thread releaseWhenSomebodyWaits(HeldBackend held) {
        Thread t = new Thread(() -> {
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            while (rig.main.aioWait().waiters() == 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            BottomHalves.of(rig.blk.context()).scheduleOneshot("release", held::releaseAll);
        }, "releaser");
        t.start();
        return t;
    }


    /** Does the I/O but holds each completion until released (in the backend's context). */
    static final class HeldBackend extends ForwardingBackend {
        final List<Runnable> held = new java.util.concurrent.CopyOnWriteArrayList<>();

        HeldBackend(BlockBackend delegate) {
            super(delegate);
        }

        void releaseAll() {
            List<Runnable> now = new ArrayList<>(held);
            held.removeAll(now);
            now.forEach(Runnable::run);
        }

        @Override
        protected Completion wrap(Completion done) {
            return ret -> held.add(() -> done.complete(ret));
        }

        @Override
        public void flush(Completion done) {
            delegate.flush(wrap(done));
        }
    }
}
