package dev.dataplane.aio.bench;

import io.netty.channel.IoEventLoop;
import io.netty.channel.ManualIoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The reference peer: Netty's native epoll event loops passing a task back and forth with
 * {@code execute()}. A ping is a task submitted to loop B; it submits the pong task to loop A.
 *
 * <p><b>Loop A is the calling thread, as in the other peers.</b> Netty 4.2's
 * {@link ManualIoEventLoop} is an event loop whose thread the user supplies and drives: here the
 * constructing thread (the JMH benchmark thread) owns it and calls {@link ManualIoEventLoop#run(long)
 * run(0)}, which waits in {@code epoll_wait} until I/O or a task is ready and then runs the tasks,
 * exactly like {@code AioContext.poll(true)}. With no timer scheduled it waits without touching its
 * timerfd, the same path a Netty-owned loop takes. Loop B is an ordinary Netty-owned
 * {@code SingleThreadIoEventLoop} from a one-thread {@link MultiThreadIoEventLoopGroup}, so both
 * directions pay Netty's real wake-up: a task queue insert, then an eventfd write only if the target
 * is (about to be) asleep in {@code epoll_wait}.
 */
public final class NettyPingPong implements AutoCloseable {
    private final ManualIoEventLoop loopA;
    private final MultiThreadIoEventLoopGroup groupB;
    private final IoEventLoop loopB;
    /** Loop A's thread only: set by the pong task, which loop A runs. */
    private boolean pongReceived;
    private final Runnable pong = () -> pongReceived = true;
    private final Runnable ping;

    public NettyPingPong() {
        Epoll.ensureAvailability(); // fail with Netty's reason rather than a NoClassDefFoundError later
        loopA = new ManualIoEventLoop(Thread.currentThread(), EpollIoHandler.newFactory());
        groupB = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("netty-loop-b", true),
                EpollIoHandler.newFactory());
        loopB = groupB.next();
        ping = () -> loopA.execute(pong);
    }

    /** One task to B and B's task back. A's thread only. */
    public void roundTrip() {
        pongReceived = false;
        loopB.execute(ping);
        while (!pongReceived) {
            loopA.run(0); // 0: block until there is I/O or a task
        }
    }

    /** Stops both loops. A's thread only (it has to drive A's shutdown). */
    @Override
    public void close() {
        groupB.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        loopA.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!loopA.isTerminated() && System.nanoTime() < deadline) {
            loopA.run(TimeUnit.MILLISECONDS.toNanos(10));
        }
        if (!loopA.isTerminated() || !groupB.isTerminated()) {
            throw new IllegalStateException("Netty loops did not terminate within 10 s");
        }
    }
}
