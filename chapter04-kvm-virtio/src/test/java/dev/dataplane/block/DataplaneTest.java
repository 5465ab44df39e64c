package dev.dataplane.block;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.bh.BottomHalves;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.virtio.TestDriver.Req;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where the work happens (seed 002): with the device in an IOThread, requests are handled,
 * completed and interrupted in the IOThread without the BQL, whether the kick came through an
 * ioeventfd or through the notify register; with the device in the main loop and no ioeventfd,
 * the vCPU serves the queue itself under the BQL. And a kick that races with the ioeventfd's
 * removal is still served.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DataplaneTest {
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

    /** Records the thread and the BQL at submission and at completion. */
    static final class WhereBackend extends ForwardingBackend {
        final AtomicReference<Thread> submitThread = new AtomicReference<>();
        final AtomicReference<Thread> completeThread = new AtomicReference<>();
        final AtomicBoolean bqlAtSubmit = new AtomicBoolean();
        final AtomicBoolean bqlAtComplete = new AtomicBoolean();

        WhereBackend(BlockBackend b) {
            super(b);
        }

        @Override
        protected Completion wrap(Completion done) {
            submitThread.set(Thread.currentThread());
            bqlAtSubmit.set(MainLoop.current() != null);
            return ret -> {
                completeThread.set(Thread.currentThread());
                bqlAtComplete.set(MainLoop.current() != null);
                done.complete(ret);
            };
        }
    }

    private WhereBackend where;

    private BlkRig.Builder withWhere() {
        return BlkRig.builder(dir).wrapBackend(b -> where = new WhereBackend(b));
    }

    @Test
    void inAnIoThreadWithAnIoeventfdTheRequestPathNeverTouchesTheBql() {
        rig = withWhere().onIoThread().ioeventfd().build();
        rig.driver.init(-1L);
        byte[] data = new byte[512];
        Arrays.fill(data, (byte) 0x77);
        Req w = rig.driver.write(3, data);
        rig.guestKick(); // what KVM does with a write to a bound notify register
        rig.awaitUsed(1);
        assertThat(w.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
        Thread io = rig.io.thread();
        assertThat(where.submitThread.get()).isSameAs(io);
        assertThat(where.completeThread.get()).isSameAs(io);
        assertThat(where.bqlAtSubmit.get()).isFalse();
        assertThat(where.bqlAtComplete.get()).isFalse();
        assertThat(rig.intx.lastRaiser.get()).as("interrupt injected by the IOThread").isSameAs(io);
        assertThat(rig.intx.raisedWithBql.get()).isFalse();
        assertThat(rig.pci.statistics().registerKicks()).as("no vCPU exit for the kick").isZero();
        assertThat(Arrays.copyOfRange(rig.imageBytes(), 3 * 512, 4 * 512)).isEqualTo(data);
    }

    @Test
    void inAnIoThreadWithoutIoeventfdTheVcpuOnlyPassesTheKickOn() {
        rig = withWhere().onIoThread().build();
        rig.driver.init(-1L);
        Req r = rig.driver.read(1, 512);
        rig.guestKick(); // exits to the register block (the test thread holds the BQL, like a vCPU)
        rig.awaitUsed(1);
        assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
        assertThat(rig.pci.statistics().registerKicks()).isEqualTo(1);
        assertThat(where.submitThread.get()).isSameAs(rig.io.thread());
        assertThat(where.completeThread.get()).isSameAs(rig.io.thread());
        assertThat(rig.intx.lastRaiser.get()).isSameAs(rig.io.thread());
        assertThat(rig.intx.raisedWithBql.get()).isFalse();
    }

    @Test
    void inTheMainLoopWithoutIoeventfdTheVcpuServesTheQueueUnderTheBql() {
        rig = withWhere().build();
        rig.driver.init(-1L);
        Req r = rig.driver.read(1, 512);
        rig.guestKick();
        assertThat(where.submitThread.get()).as("submitted during the register write").isSameAs(Thread.currentThread());
        assertThat(where.bqlAtSubmit.get()).isTrue();
        rig.awaitUsed(1);
        assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
    }

    @Test
    void manyRequestsInFlightInAnIoThread() {
        rig = BlkRig.builder(dir).onIoThread().ioeventfd().build();
        rig.driver.init(-1L);
        List<Req> reqs = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            for (int i = 0; i < 16; i++) {
                byte[] data = new byte[1024];
                Arrays.fill(data, (byte) (round * 16 + i));
                reqs.add(rig.driver.write(2 * i, data));
            }
            rig.guestKick();
            int expected = (round + 1) * 16;
            rig.awaitUsed(expected);
        }
        for (Req r : reqs) {
            assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
        }
        assertThat(rig.imageBytes()[2 * 5 * 512]).isEqualTo((byte) (3 * 16 + 5));
    }

    @Test
    void theQueuesNotifierLetsTheIoThreadBusyPoll() {
        rig = BlkRig.builder(dir).onIoThread().ioeventfd().build();
        // A window far longer than any request here: once an event has arrived within it, the
        // handler's window grows from 0 and the next poll spins before it sleeps. A handler with
        // no poll function (the notifier before chapter 4's benchmark) switches spinning off for
        // the whole context, and busyPollNs stays 0.
        rig.io.context().setPollParams(1_000_000_000L, 0, 0);
        rig.driver.init(-1L);
        for (int i = 0; i < 4; i++) {
            Req r = rig.driver.read(i, 512);
            rig.guestKick();
            rig.awaitUsed(i + 1);
            assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
        }
        long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
        while (rig.io.statistics().busyPollNs() == 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(rig.io.statistics().busyPollNs()).as("time the IOThread spent busy-polling").isPositive();
    }

    // tag::test-kick-before-unbind[]
    @Test
    @Tag("ch04-kick-before-unbind")
    void aKickThatArrivesJustBeforeTheIoeventfdIsRemovedIsStillServed() {
        rig = BlkRig.builder(dir).onIoThread().ioeventfd().build();
        rig.driver.init(-1L);
        // Let the IOThread take the kick that DRIVER_OK gives every queue (on an empty ring) first:
        // otherwise that kick, still pending, would serve the request below on its own.
        rig.main.aioWait().runInContext(rig.blk.context(), () -> { });
        Req r = rig.driver.read(2, 512); // offered, not kicked
        rig.main.aioWait().runInContext(rig.blk.context(), () -> { });
        assertThat(rig.driver.usedIdx()).as("nothing serves an unkicked request").isZero();
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch unpark = new CountDownLatch(1);
        // While the transport unbinds, the guest's kick lands in the eventfd, and the IOThread is
        // busy elsewhere, so its handler cannot have run before the removal.
        rig.binder.onUnbind = () -> {
            BottomHalves.of(rig.blk.context()).scheduleOneshot("busy", () -> {
                parked.countDown();
                Timeouts.await(unpark);
            });
            Timeouts.await(parked);
            rig.binder.notifier(0).set();
        };
        Thread releaser = new Thread(() -> {
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            while (rig.main.aioWait().waiters() == 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            unpark.countDown();
        }, "releaser");
        releaser.start();
        rig.driver.setStatus(0); // reset: unbind, remove the handler in the IOThread, drain
        Timeouts.join(releaser);
        assertThat(rig.driver.usedIdx()).as("the kick was not lost").isEqualTo(1);
        assertThat(r.status()).isEqualTo(VirtioBlk.VIRTIO_BLK_S_OK);
        assertThat(rig.blk.queue(0).inFlight()).isZero();
    }
    // end::test-kick-before-unbind[]
}
