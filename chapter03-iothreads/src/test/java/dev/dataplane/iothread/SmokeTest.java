package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.bh.BottomHalves;
import dev.dataplane.testsupport.MainLoopThread;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void aMainLoopStartsAnIoThreadRunsWorkInItAndStopsIt() {
        try (MainLoopThread main = new MainLoopThread()) {
            IoThread io = main.call(() -> IoThread.start("iothread0"));
            AtomicReference<String> ranOn = new AtomicReference<>();
            String result = main.call(() -> main.loop().aioWait().callInContext(io.context(),
                    () -> Thread.currentThread().getName()));
            assertThat(result).isEqualTo("iothread0");
            main.run(io::stop);
            assertThat(io.isRunning()).isFalse();
            assertThat(ranOn.get()).isNull();
            BottomHalves.of(main.loop().context());
        }
    }
}
