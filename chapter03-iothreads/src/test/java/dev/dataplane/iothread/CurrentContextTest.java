package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.AioContext;
import dev.dataplane.testsupport.MainLoopThread;
import dev.dataplane.testsupport.Timeouts;
import dev.dataplane.threadpool.ThreadPool;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** qemu_get_current_aio_context: own context, else the main one with the BQL, else none. */
@Tag("ch03-current-context")
class CurrentContextTest {

    @Test
    void eachKindOfThreadSeesTheRightContext() throws Exception {
        try (MainLoopThread main = new MainLoopThread()) {
            IoThread io = main.call(() -> IoThread.start("iothread0"));
            AioContext mainCtx = main.loop().context();

            assertThat(main.call(CurrentContext::get)).as("main loop").isSameAs(mainCtx);
            assertThat(main.call(() -> main.loop().aioWait().callInContext(io.context(), CurrentContext::get)))
                    .as("IOThread").isSameAs(io.context());
            assertThat(CurrentContext.get()).as("a thread of its own").isNull();
            main.loop().bql().withLock(() -> {
                assertThat(CurrentContext.get()).as("a thread holding the BQL").isSameAs(mainCtx);
                assertThat(CodeRules.inMainLoop()).isTrue();
            });
            assertThat(CurrentContext.get()).as("after releasing it").isNull();

            AtomicReference<AioContext> inWorker = new AtomicReference<>(mainCtx);
            main.run(() -> main.loop().aioWait().runInContext(io.context(), () ->
                    ThreadPool.of(io.context()).submit("look", () -> {
                        inWorker.set(CurrentContext.get());
                        return 0;
                    }, (req, ret) -> main.loop().aioWait().kick())));
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            while (inWorker.get() == mainCtx && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(inWorker.get()).as("a thread-pool worker").isNull();
            main.run(io::stop);
        }
    }

    @Test
    void anIoThreadThatTookTheBqlStillSeesItsOwnContextAndIsNoMainLoop() {
        try (MainLoop main = MainLoop.create(); IoThread io = IoThread.start("rogue")) {
            main.bql().unlock(); // let the IOThread take it (which real I/O code must never do)
            try {
                AtomicReference<AioContext> seen = new AtomicReference<>();
                AtomicReference<Boolean> inMain = new AtomicReference<>();
                java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
                dev.dataplane.bh.BottomHalves.of(io.context()).scheduleOneshot("take-bql", () -> {
                    main.bql().lock();
                    try {
                        seen.set(CurrentContext.get());
                        inMain.set(CodeRules.inMainLoop());
                    } finally {
                        main.bql().unlock();
                        done.countDown();
                    }
                });
                Timeouts.await(done);
                assertThat(seen.get()).isSameAs(io.context());
                assertThat(inMain.get()).isFalse();
            } finally {
                main.bql().lock();
            }
        }
    }
}
