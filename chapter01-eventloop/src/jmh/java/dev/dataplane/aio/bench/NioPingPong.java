package dev.dataplane.aio.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;

/**
 * The same ping-pong over plain {@code java.nio}: each loop is a {@link Selector} with no channels
 * at all, a message is a volatile flag plus {@link Selector#wakeup()}. Loop A is the constructing
 * thread, loop B a thread of its own.
 *
 * <p>This is how a Java program without a native transport wakes another selector thread (Netty's
 * NIO transport does the same). {@code wakeup()} is "sticky": a wake-up that arrives while the
 * selector is not selecting makes the next {@code select()} return at once, so the flag is never
 * stranded; it may cost one spurious {@code select()} on a later round trip, which is part of the
 * mechanism's price.
 */
public final class NioPingPong implements AutoCloseable {
    private final Selector selectorA;
    private final Selector selectorB;
    private final Thread loopB;
    private volatile boolean ping;
    private volatile boolean pong;
    private volatile boolean stop;
    private volatile Throwable loopBFailure;

    public NioPingPong() throws IOException {
        selectorA = Selector.open();
        selectorB = Selector.open();
        loopB = new Thread(this::runLoopB, "nio-loop-b");
        loopB.setDaemon(true);
        loopB.start();
    }

    /** One ping from A to B and B's pong back. A's thread only. */
    public void roundTrip() throws IOException {
        ping = true;
        selectorB.wakeup();
        while (!pong) {
            selectorA.select();
            if (loopBFailure != null) {
                throw new IllegalStateException("loop B died", loopBFailure);
            }
        }
        pong = false; // before the next ping, so B's next pong cannot be confused with this one
    }

    private void runLoopB() {
        try {
            while (!stop) {
                selectorB.select();
                if (ping) {
                    ping = false;
                    pong = true;
                    selectorA.wakeup();
                }
            }
        } catch (IOException e) {
            loopBFailure = e;
            selectorA.wakeup();
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            loopBFailure = e;
            selectorA.wakeup();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        stop = true;
        selectorB.wakeup();
        try {
            loopB.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (loopB.isAlive()) {
            throw new IllegalStateException("NIO loop B did not stop within 10 s");
        }
        selectorA.close();
        selectorB.close();
    }
}
