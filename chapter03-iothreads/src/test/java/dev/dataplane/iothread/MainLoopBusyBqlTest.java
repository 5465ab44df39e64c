package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.bh.BottomHalf;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.MainLoopThread;
import dev.dataplane.testsupport.Timeouts;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A main loop that always has work never sleeps, yet it must still let go of the BQL between
 * iterations, as QEMU's main loop does around every poll: otherwise a vCPU waits for the BQL as
 * long as any bottom half keeps rescheduling itself.
 */
class MainLoopBusyBqlTest {

    @Test
    void aVcpuGetsTheBqlWhileTheMainLoopRunsBottomHalvesWithoutPause() throws InterruptedException {
        try (MainLoopThread main = new MainLoopThread()) {
            AtomicBoolean keepGoing = new AtomicBoolean(true);
            AtomicLong passes = new AtomicLong();
            CountDownLatch busy = new CountDownLatch(1);
            BottomHalf[] spinner = new BottomHalf[1];
            main.run(() -> {
                spinner[0] = BottomHalves.of(main.loop().context()).newBh("always-more-work", () -> {
                    if (passes.incrementAndGet() == 1_000) {
                        busy.countDown();
                    }
                    if (keepGoing.get()) {
                        spinner[0].schedule(); // the loop never finds itself idle
                    }
                });
                spinner[0].schedule();
            });
            Timeouts.await(busy); // the main loop is now iterating without sleeping

            CountDownLatch gotIt = new CountDownLatch(1);
            Thread vcpu = new Thread(() -> {
                Bql bql = main.loop().bql();
                bql.lock();
                try {
                    keepGoing.set(false); // under the lock: the main loop is not running the spinner now
                    gotIt.countDown();
                } finally {
                    bql.unlock();
                }
            }, "vcpu-0");
            vcpu.setDaemon(true);
            vcpu.start();

            boolean acquired = gotIt.await(Timeouts.HANDSHAKE.toMillis(), TimeUnit.MILLISECONDS);
            keepGoing.set(false); // let the main loop go idle even if the vCPU never got in
            vcpu.join(Timeouts.HANDSHAKE.toMillis());
            assertThat(acquired).as("the vCPU took the BQL while the main loop was busy").isTrue();
            // (Whether the vCPU had to queue depends on where the loop was when it asked: the
            // statistics are not asserted. Without the window it never gets in at all.)
        }
    }
}
