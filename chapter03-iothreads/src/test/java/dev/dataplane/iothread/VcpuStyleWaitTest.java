package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.MainLoopThread;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A thread that is not the main-loop thread but holds the BQL (a vCPU handling an exit, in chapter
 * 4) is "the main loop" for as long as it holds it: it waits by polling the main context itself,
 * while the real main loop sleeps without the lock.
 */
class VcpuStyleWaitTest {

    @Test
    void aVcpuLikeThreadHoldingTheBqlWaitsByPollingTheMainContext() throws Exception {
        try (MainLoopThread loop = new MainLoopThread()) {
            IoThread io = loop.call(() -> IoThread.start("io"));
            AtomicBoolean done = new AtomicBoolean();
            AtomicReference<String> kickRanOn = new AtomicReference<>();
            loop.loop().bql().withLock(() -> {
                BottomHalves.of(io.context()).scheduleOneshot("finish", () -> {
                    Waiters.untilPolling(loop.loop(), 1);
                    done.set(true);
                    loop.loop().aioWait().kick();
                });
                BottomHalves.of(loop.loop().context()).scheduleOneshot("main-work",
                        () -> kickRanOn.set(Thread.currentThread().getName()));
                assertThat(loop.loop().aioWait().waitWhile(io.context(), () -> !done.get())).isTrue();
                // While we hold the BQL the main loop cannot dispatch: its work ran in our poll.
                assertThat(kickRanOn.get()).isEqualTo(Thread.currentThread().getName());
            });
            loop.run(io::stop);
        }
    }
}
