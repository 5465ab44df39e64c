package dev.dataplane.aio.bench;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.AioEventSource;
import dev.dataplane.aio.EventNotifier;
import java.util.concurrent.TimeUnit;

/**
 * Two {@link AioContext} event loops that bounce a message back and forth through
 * {@link EventNotifier}s. Loop A is the thread that builds the pair (the JMH benchmark thread,
 * or {@code main}); loop B is a thread of its own running {@code while (!stop) ctx.poll(true)}.
 * One {@link #roundTrip()} is A pinging B and then waiting, inside its own {@code poll(true)},
 * for B's pong.
 *
 * <p>Three flavours:
 * <ul>
 *   <li>{@link #blocking()}: no busy polling; every message is an eventfd write that wakes the
 *       receiver out of its wait in the kernel.</li>
 *   <li>{@link #notifying()}: no busy polling; a message is put in the receiver's mailbox (an
 *       {@link AioEventSource}) and the receiver's context is told with
 *       {@link AioContext#notifyEvent()}, which writes the eventfd only if the receiver may be
 *       asleep. This is the shape of Netty's {@code execute()} and of QEMU's
 *       {@code aio_bh_schedule_oneshot} (chapter 2).</li>
 *   <li>{@link #polling(long)}: both contexts busy-poll for up to {@code maxNs} before sleeping,
 *       and a receiver that is busy-polling tells senders not to write its eventfd at all, the
 *       way a virtio device suppresses guest notifications while it polls the virtqueue.</li>
 * </ul>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Threads.</b> A's context belongs to the constructing thread, which alone may call
 * {@link #roundTrip()} and {@link #close()} ({@code poll} enforces this for us). B's context
 * belongs to B's thread, which also closes it on the way out. {@code pongReceived} is touched
 * only by A, so it is a plain field.
 *
 * <p><b>Messages.</b> At most one message is in flight: B answers only after taking the ping, and
 * A pings again only after taking the pong. So a message needs no queue. In blocking mode it is
 * the eventfd itself; in polling mode it is {@link Side}'s {@code pending} flag (the "virtqueue
 * has a buffer"), with the eventfd as the doorbell. A receiver clears {@code pending} before it
 * answers, so that clear happens-before the next message's set and nothing is lost.
 *
 * <p><b>Failures.</b> If B's loop dies, A would wait forever in {@code poll(true)}; B therefore
 * records the error and rings A's doorbell, and A rethrows it.
 */
public final class AioPingPong implements AutoCloseable {

    /**
     * The busy-polling ceiling of {@link #polling(long)} used by the benchmark: QEMU's default
     * {@code poll-max-ns} for an IOThread (32768 ns, about 32 µs). It is the figure a reader can
     * compare with QEMU, and it is long enough here: once B polls, A's wait for a pong is B's
     * reaction time plus A's own wake-up (tens of µs at most on these virtual machines, see
     * machine-facts), so the adaptive rule can grow A's window from there; once both poll, a round
     * trip takes about a microsecond, far inside the window. A shorter ceiling would shrink the
     * windows to zero every time a spinner loses its CPU for a moment on a 2-vCPU machine; a
     * longer one would only make an idle loop spin longer after its last event.
     */
    public static final long QEMU_IOTHREAD_POLL_MAX_NS = 32_768;

    private enum Flavour { DOORBELL, NOTIFY, POLLING }

    private final Flavour flavour;
    private final boolean polling;
    private final Side a;
    private final Side b;
    private final Thread loopB;
    private volatile boolean stop;
    private volatile Throwable loopBFailure;
    /** Set by A's handler when the pong arrives; A's thread only. */
    private boolean pongReceived;

    /** A pair without busy polling: every message wakes its receiver through the kernel. */
    public static AioPingPong blocking() {
        return new AioPingPong(Flavour.DOORBELL, 0);
    }

    /** A pair without busy polling that hands messages over with {@code notifyEvent()}. */
    public static AioPingPong notifying() {
        return new AioPingPong(Flavour.NOTIFY, 0);
    }

    /** A pair that busy-polls for up to {@code maxNs} and suppresses kicks while polling. */
    public static AioPingPong polling(long maxNs) {
        if (maxNs <= 0) {
            throw new IllegalArgumentException("polling needs a positive poll-max-ns: " + maxNs);
        }
        return new AioPingPong(Flavour.POLLING, maxNs);
    }

    private AioPingPong(Flavour flavour, long maxNs) {
        this.flavour = flavour;
        this.polling = flavour == Flavour.POLLING;
        this.loopB = new Thread(this::runLoopB, polling ? "aio-poll-loop-b" : "aio-loop-b");
        loopB.setDaemon(true); // a benchmark that fails must not keep its fork alive
        this.a = new Side(AioContext.builder().name("bench-a").build());
        this.b = new Side(AioContext.builder().name("bench-b").homeThread(loopB).build());
        if (polling) {
            // As QEMU's IOThread does: grow and shrink 0 mean "double" and "drop to zero".
            a.ctx.setPollParams(maxNs, 0, 0);
            b.ctx.setPollParams(maxNs, 0, 0);
            registerPolling(b, a::send);
            registerPolling(a, () -> pongReceived = true);
        } else if (flavour == Flavour.NOTIFY) {
            // tag::bench-aio-notify[]
            // Each side's mailbox is an event source: the loop finds a message in its prepare
            // phase, and notifyEvent() wakes it only if it may be asleep.
            b.mailbox = new Mailbox(a::send);
            a.mailbox = new Mailbox(() -> pongReceived = true);
            b.ctx.addEventSource(b.mailbox);
            a.ctx.addEventSource(a.mailbox);
            // end::bench-aio-notify[]
        } else {
            // tag::bench-aio-pingpong[]
            // B answers a ping: clear B's notifier, then set A's, which is the pong.
            b.ctx.setEventNotifier(b.inbox, false, n -> {
                if (n.testAndClear()) {
                    a.inbox.set();
                }
            }, null, null);
            // A takes the pong: clear A's notifier and let roundTrip() return.
            a.ctx.setEventNotifier(a.inbox, false, n -> {
                if (n.testAndClear()) {
                    pongReceived = true;
                }
            }, null, null);
            // end::bench-aio-pingpong[]
        }
        loopB.start(); // publishes everything above to B
    }

    // tag::bench-aio-roundtrip[]
    /** One ping from A to B and B's pong back. A's thread only. */
    public void roundTrip() {
        pongReceived = false;
        b.send();
        while (!pongReceived) {
            a.ctx.poll(true);
            if (loopBFailure != null) {
                throw new IllegalStateException("loop B died", loopBFailure);
            }
        }
    }
    // end::bench-aio-roundtrip[]

    private void runLoopB() {
        try {
            while (!stop) {
                b.ctx.poll(true);
            }
        } catch (Throwable t) {
            loopBFailure = t;
            a.ctx.notifyEvent(); // wakes A in every flavour; roundTrip() then rethrows
            throw t;
        } finally {
            b.ctx.removeEventNotifier(b.inbox);
            b.ctx.close();
        }
    }

    /** Loop B's thread, for measuring its CPU time. */
    public Thread loopBThread() {
        return loopB;
    }

    /** Loop B's counters; read from another thread they may be slightly stale. */
    public AioContext.Statistics loopBStatistics() {
        return b.ctx.statistics();
    }

    public boolean isPolling() {
        return polling;
    }

    /** Stops B and releases both contexts and notifiers. A's thread only. */
    @Override
    public void close() {
        stop = true;
        b.ctx.notifyEvent();
        try {
            loopB.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (loopB.isAlive()) {
            throw new IllegalStateException("loop B did not stop within 10 s");
        }
        a.ctx.removeEventNotifier(a.inbox);
        a.ctx.close();
        a.inbox.close();
        b.inbox.close();
    }

    // tag::bench-poll-suppress[]
    /**
     * Registers {@code side}'s doorbell for busy polling. While the loop polls, its begin
     * callback has told senders not to ring; the end callback, run before the loop goes to sleep,
     * asks for the doorbell again.
     */
    private void registerPolling(Side side, Runnable onMessage) {
        side.onMessage = onMessage;
        side.ctx.setEventNotifier(side.inbox, false,
                n -> {                      // woken through the eventfd
                    n.testAndClear();
                    side.receive();
                },
                side::hasPending,           // AioPollFn: a look at memory, no system call
                n -> side.receive());       // ioPollReady: the poll function saw a message
        side.ctx.setEventNotifierPoll(side.inbox,
                n -> side.kickSuppressed = true,    // io_poll_begin: "I am polling, don't kick me"
                n -> side.kickSuppressed = false);  // io_poll_end: "about to sleep, kick me"
    }
    // end::bench-poll-suppress[]

    /** One loop: its context, the doorbell the peer rings, and the polling-mode flags. */
    private final class Side {
        final AioContext ctx;
        final EventNotifier inbox = new EventNotifier();
        /** Polling mode: a message waits for this side. */
        volatile boolean pending;
        /** Polling mode: this side is busy-polling, so a sender need not write its eventfd. */
        volatile boolean kickSuppressed;
        /** What the message makes this side do; set before B's thread starts. */
        Runnable onMessage;
        /** Notify flavour: where messages wait; set before B's thread starts. */
        Mailbox mailbox;

        Side(AioContext ctx) {
            this.ctx = ctx;
        }

        // tag::bench-poll-suppress[]
        /**
         * Delivers one message to this side. Any thread.
         *
         * <p>In polling mode the eventfd write is skipped while the receiver polls. The danger is
         * a receiver that is just leaving poll mode: it runs io_poll_end (clearing
         * {@code kickSuppressed}) and goes to sleep, while this sender still saw the flag set and
         * rang nobody. AioContext handles exactly that: {@code pollSetStarted(false)} calls each
         * handler's end callback and then its poll function once more, and if that finds a
         * message it does not sleep at all. Here the sender writes {@code pending} and then reads
         * {@code kickSuppressed}; the receiver writes {@code kickSuppressed} and then reads
         * {@code pending}. Both are volatile, so the four accesses fall into one total order and
         * at least one side sees the other's write: either the sender rings, or the final poll
         * finds the message. (With plain or release/acquire accesses each load could pass its own
         * side's store, and the message could wait until some unrelated wake-up.)
         */
        void send() {
            if (flavour == Flavour.NOTIFY) {
                mailbox.post();
                ctx.notifyEvent();       // aio_notify: the eventfd only if the receiver may sleep
                return;
            }
            if (!polling) {
                inbox.set();
                return;
            }
            pending = true;              // put the message where the poll function looks ...
            if (!kickSuppressed) {       // ... and only then ask whether the receiver polls
                inbox.set();
            }
        }
        // end::bench-poll-suppress[]

        boolean hasPending() {
            return pending;
        }

        /** Takes the message, if there is one. This side's loop thread only. */
        void receive() {
            if (pending) {
                pending = false;         // before answering: see "Messages" in the class notes
                onMessage.run();
            }
        }
    }

    /**
     * One message slot read in the loop's prepare phase. At most one message is in flight, so a
     * flag is enough. {@code pending} is volatile: the sender's write of it comes before its
     * notifyEvent(), whose full fence pairs with the one in poll(), so a loop that sees the
     * notification also sees the message.
     */
    private static final class Mailbox implements AioEventSource {
        private final Runnable onMessage;
        private volatile boolean pending;

        Mailbox(Runnable onMessage) {
            this.onMessage = onMessage;
        }

        void post() {
            pending = true;
        }

        @Override
        public long timeoutNs() {
            return pending ? 0 : -1;
        }

        @Override
        public boolean dispatch() {
            if (!pending) {
                return false;
            }
            pending = false;
            onMessage.run();
            return true;
        }

        @Override
        public Phase phase() {
            return Phase.BEFORE_HANDLERS;
        }
    }
}
