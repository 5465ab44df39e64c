package dev.dataplane.aio;

import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.aio.trace.AioDispatchEvent;
import dev.dataplane.aio.trace.AioNotifyEvent;
import dev.dataplane.aio.trace.AioPollEvent;
import dev.dataplane.aio.trace.FdMonitorSwitchEvent;
import dev.dataplane.aio.trace.PollWindowEvent;
import dev.dataplane.aio.trace.RunPollHandlersEvent;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small event loop: file descriptors with callbacks, a wake-up notifier, and
 * {@link #poll(boolean)} to wait for and run whatever is ready. QEMU's {@code AioContext}
 * ({@code include/block/aio.h}, {@code util/async.c}, {@code util/aio-posix.c}).
 *
 * <p>One thread, the context's <em>home thread</em>, runs the loop:
 * <pre>{@code
 * while (!done) {
 *     ctx.poll(true);     // sleep until something happens, then run the callbacks
 * }
 * }</pre>
 * Any thread may register and remove handlers and call {@link #notifyEvent()} to wake the loop.
 * Chapter 2 adds bottom halves and timers through {@link AioEventSource}.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Threads.</b> {@code poll} and every callback run only in the home thread; {@code poll}
 * throws if called elsewhere (QEMU asserts {@code in_aio_context_home_thread}). Handler
 * registration, {@link #notifyEvent()}, {@link #setPollParams} and
 * {@link #disableExternal()}/{@link #enableExternal()} are safe from any thread.
 *
 * <p><b>The handler list</b> is a singly linked list with new nodes pushed at the head, guarded
 * by a {@link LockCnt}: the home thread walks it without a lock as a counted reader; writers take
 * the mutex. A node is never changed once published: replacing a handler publishes a new node
 * and marks the old one deleted. Deleted nodes stay linked while anybody walks, every callback
 * checks {@link AioHandler#deleted} first, and only the outermost walker unlinks them.
 *
 * <p><b>The wake-up protocol.</b> Waking a sleeping loop means writing its eventfd, a system
 * call. Two fields decide when that is needed:
 * <ul>
 *   <li>{@code notifyMe} counts the {@code poll} calls that may be about to sleep (+2 each; bit 0
 *       is reserved, as in QEMU, for a GLib-style prepare/check driver). Only the home thread
 *       writes it, so a plain increment between fences suffices.</li>
 *   <li>{@code notified} is set by every {@link #notifyEvent()} and cleared by the loop's
 *       <em>accept</em>, right after the wait and before anything is dispatched, so a
 *       notification is remembered until the loop has certainly looked at everything again.</li>
 * </ul>
 * The two sides form a Dekker pair. The poller writes {@code notifyMe}, issues a full fence, and
 * reads {@code notified} (and, through the event sources, the work queues). The notifier writes
 * the work and {@code notified}, issues a full fence, and reads {@code notifyMe}. With a full fence
 * on <em>both</em> sides at least one of them sees the other's write: either the poller does not
 * sleep, or the notifier writes the eventfd. A release/acquire pair is not enough, because
 * each side's load may pass its own earlier store (a store buffer on x86, worse on Arm); QEMU
 * hung on aarch64 for exactly that reason ({@code 5710a3e09f}). The fences are
 * {@link VarHandle#fullFence()}; the fields are accessed in opaque mode, the Java analogue of
 * QEMU's relaxed {@code qatomic_read}/{@code qatomic_set}.
 *
 * <p><b>Progress.</b> {@code poll} returns true only if a callback other than the context's own
 * notifier ran (or an event source reported progress). Being woken is not progress, so callers
 * loop on their own condition, never on the return value.
 *
 * <p><b>Adaptive polling.</b> With {@code pollMaxNs > 0}, before sleeping the loop calls the
 * handlers' {@link AioPollFn}s in a tight loop for up to a per-handler window, which grows when
 * events arrive soon after the loop starts waiting and shrinks when they do not. See
 * {@link #adjustPollNs}.
 */
public final class AioContext implements AutoCloseable {

    /** A context moves from ppoll to epoll when it watches this many fds (QEMU: 64). */
    public static final int EPOLL_ENABLE_THRESHOLD = 64;

    /** The first window a handler gets once it starts to be polled (QEMU: 4 µs). */
    static final long INITIAL_POLL_NS = 4_000;

    /** How the context waits for its fds. */
    public enum FdMonitorKind {
        /** Start on ppoll and move to epoll at {@link Builder#epollThreshold} fds (QEMU's way). */
        AUTO,
        /** Always ppoll. */
        POLL,
        /** Always epoll. */
        EPOLL
    }

    private static final VarHandle NOTIFY_ME;
    private static final VarHandle NOTIFIED;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            NOTIFY_ME = l.findVarHandle(AioContext.class, "notifyMe", int.class);
            NOTIFIED = l.findVarHandle(AioContext.class, "notified", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final AtomicInteger NEXT_ID = new AtomicInteger();

    private final String name;
    private volatile Thread homeThread;
    /** Null for the usual single home thread; chapter 3's main context brings its own. */
    private final HomeThreadRule homeRule;

    // ---- the wake-up protocol (accessed through NOTIFY_ME / NOTIFIED only) ----
    private final EventNotifier notifier;
    @SuppressWarnings("unused")
    private int notifyMe;
    @SuppressWarnings("unused")
    private boolean notified;

    // ---- handlers ----
    private final LockCnt listLock = new LockCnt();
    /** Head of the handler list; written under the mutex, read by walkers without it. */
    private volatile AioHandler handlers;
    /** Removed while walked; freed by the outermost walker. Guarded by the list mutex. */
    private final ArrayList<AioHandler> deletedHandlers = new ArrayList<>();
    private volatile boolean haveDeletedHandlers;
    /** Handlers polled in userspace. Home thread, or a writer holding the mutex with count 0. */
    private final ArrayList<AioHandler> pollHandlers = new ArrayList<>();
    /** Whether the poll handlers have had io_poll_begin without io_poll_end. Home thread. */
    private boolean pollStarted;
    /** Number of handlers without io_poll; non-zero means ppoll/epoll must make the call. */
    private final AtomicInteger pollDisableCnt = new AtomicInteger();
    private final AtomicInteger externalDisableCnt = new AtomicInteger();

    // ---- adaptive polling parameters (QEMU: "it doesn't matter if an old value is used once") ----
    private volatile long pollMaxNs;
    private volatile long pollGrow;
    private volatile long pollShrink;

    // ---- fd monitors ----
    private final PollFdMonitor pollMonitor;
    /** Null once epoll is unavailable or has failed; guarded by the list mutex. */
    private EpollFdMonitor epollMonitor;
    private volatile FdMonitor fdMonitor;
    private final int epollThreshold;

    // ---- chapter 2's extension point ----
    private volatile AioEventSource[] sources = new AioEventSource[0];
    /** One object per layer type (bottom halves, timers, thread pool); see {@link #layer}. */
    private final ConcurrentHashMap<Class<?>, Object> layers = new ConcurrentHashMap<>();
    /** The same objects in creation order, so close() can undo them in reverse. Guarded by this. */
    private final ArrayList<Object> layersInOrder = new ArrayList<>();

    // ---- home-thread state ----
    private int pollDepth;
    private final ArrayList<ReadyList> readyLists = new ArrayList<>();
    private long statPolls;
    private long statWaits;
    private long statPollModeHits;
    private long statDispatches;
    private long statBusyPollNs;
    private long statBlockedNs;

    // ---- test seams ----
    private final boolean bugMissingEnableNotify;
    private final boolean bugAcceptAfterDispatch;
    private final boolean bugForeignPoll;
    private final boolean bugKickIsProgress;
    private final boolean bugReplaceInPlace;
    private final boolean bugKickOnlyWhenSleeping;
    private final PollProbe probe;

    private volatile boolean closed;

    /** A context whose home thread is the calling thread, with default settings. */
    public AioContext() {
        this(new Builder());
    }

    /** Options for a new context. */
    public static Builder builder() {
        return new Builder();
    }

    private AioContext(Builder b) {
        this.name = b.name != null ? b.name : "aio-context-" + NEXT_ID.incrementAndGet();
        this.homeThread = b.homeThread != null ? b.homeThread : Thread.currentThread();
        this.homeRule = b.homeRule;
        this.epollThreshold = b.epollThreshold;
        this.bugMissingEnableNotify = b.bugs.contains(HistoricalBug.MISSING_ENABLE_EXTERNAL_NOTIFY);
        this.bugAcceptAfterDispatch = b.bugs.contains(HistoricalBug.ACCEPT_AFTER_DISPATCH);
        this.bugForeignPoll = b.bugs.contains(HistoricalBug.FOREIGN_THREAD_POLL);
        this.bugKickIsProgress = b.bugs.contains(HistoricalBug.KICK_IS_PROGRESS);
        this.bugReplaceInPlace = b.bugs.contains(HistoricalBug.REPLACE_HANDLER_IN_PLACE);
        this.bugKickOnlyWhenSleeping = b.bugs.contains(HistoricalBug.KICK_ONLY_WHEN_SLEEPING);
        this.probe = b.probe;

        this.notifier = new EventNotifier();
        this.pollMonitor = new PollFdMonitor(this);
        EpollFdMonitor epoll = null;
        if (b.fdMonitor != FdMonitorKind.POLL) {
            try {
                epoll = new EpollFdMonitor(this);
            } catch (LinuxException e) {
                if (b.fdMonitor == FdMonitorKind.EPOLL) {
                    notifier.close();
                    throw e;
                }
                // AUTO: stay on ppoll, as QEMU does when epoll_create1 fails.
            }
        }
        this.epollMonitor = epoll;
        this.fdMonitor = b.fdMonitor == FdMonitorKind.EPOLL ? epoll : pollMonitor;

        // tag::context-notifier[]
        // The context's own wake-up channel is an ordinary handler with three special rules:
        // its read callback only drains the eventfd, its userspace poll answers "was I
        // notified?", and nothing it does counts as progress.
        setFdHandlerInternal(notifier.fd(), false, true,
                notifier::testAndClear,
                null,
                () -> (boolean) NOTIFIED.getOpaque(this),
                () -> { });
        // end::context-notifier[]
    }

    /** Options for {@link AioContext#builder()}. */
    public static final class Builder {
        private String name;
        private Thread homeThread;
        private HomeThreadRule homeRule;
        private FdMonitorKind fdMonitor = FdMonitorKind.AUTO;
        private int epollThreshold = EPOLL_ENABLE_THRESHOLD;
        private final EnumSet<HistoricalBug> bugs = EnumSet.noneOf(HistoricalBug.class);
        private PollProbe probe;

        private Builder() {
        }

        /** A name for traces and error messages. */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name);
            return this;
        }

        /** The thread that will run {@code poll}; default: the thread that builds the context. */
        public Builder homeThread(Thread thread) {
            this.homeThread = Objects.requireNonNull(thread);
            return this;
        }

        /**
         * Replaces the single home thread with a rule (chapter 3's main context: the main-loop
         * thread or whoever holds the BQL). See {@link HomeThreadRule} for the contract.
         */
        public Builder homeThreadRule(HomeThreadRule rule) {
            this.homeRule = Objects.requireNonNull(rule);
            return this;
        }

        /** How to wait for fds; default {@link FdMonitorKind#AUTO}. */
        public Builder fdMonitor(FdMonitorKind kind) {
            this.fdMonitor = Objects.requireNonNull(kind);
            return this;
        }

        /** With {@link FdMonitorKind#AUTO}: the fd count at which to move to epoll. */
        public Builder epollThreshold(int fds) {
            if (fds < 1) {
                throw new IllegalArgumentException("epoll threshold must be positive: " + fds);
            }
            this.epollThreshold = fds;
            return this;
        }

        /** Test seam: build a context with a historical bug put back. */
        Builder reintroduce(HistoricalBug... bugs) {
            this.bugs.addAll(Arrays.asList(bugs));
            return this;
        }

        /** Test seam: hooks at the racy moments. */
        Builder probe(PollProbe probe) {
            this.probe = probe;
            return this;
        }

        public AioContext build() {
            return new AioContext(this);
        }
    }

    // ------------------------------------------------------------------------------------
    // Identity and threads
    // ------------------------------------------------------------------------------------

    public String name() {
        return name;
    }

    public Thread homeThread() {
        return homeThread;
    }

    /**
     * Whether the calling thread may run {@link #poll(boolean)}: the home thread, or with a
     * {@link HomeThreadRule} whatever the rule admits.
     */
    public boolean inHomeThread() {
        Thread me = Thread.currentThread();
        return homeRule != null ? homeRule.admits(me) : me == homeThread;
    }

    /** Who may run {@link #poll(boolean)}, in words, for error messages of this and later layers. */
    public String describeHomeThread() {
        return homeRule != null ? homeRule.describe() : "its home thread '" + homeThread.getName() + "'";
    }

    /**
     * How deeply the calling home thread is nested in {@link #poll(boolean)}: 0 outside, 1 in a
     * poll, 2 in a poll called from a callback of a poll, and so on. Home thread only.
     */
    public int pollDepth() {
        return pollDepth;
    }

    /**
     * Hands the context to another thread, for example an event-loop thread started after the
     * context was built. The context must not be polling.
     */
    public void setHomeThread(Thread thread) {
        Objects.requireNonNull(thread);
        if (pollDepth != 0) {
            throw new IllegalStateException(name + ": cannot change the home thread while polling");
        }
        this.homeThread = thread;
    }

    private void assertHomeThread(String what) {
        if (!bugForeignPoll && !inHomeThread()) {
            throw new IllegalStateException("AioContext '" + name + "': " + what + " called from thread '"
                    + Thread.currentThread().getName() + "', but only " + describeHomeThread()
                    + " may do that");
        }
    }

    // ------------------------------------------------------------------------------------
    // Handlers
    // ------------------------------------------------------------------------------------

    /**
     * Registers, replaces or (with every callback null) removes the handler for {@code fd}
     * (QEMU: {@code aio_set_fd_handler}). Safe from any thread; a loop blocked in another thread
     * is woken so that it watches the new set.
     *
     * @param isExternal  whether the fd is driven by a "client" outside the VMM (a guest's
     *                    ioeventfd): such handlers pause while {@link #disableExternal()} holds
     * @param ioRead      runs while the fd is readable (or has hung up or failed)
     * @param ioWrite     runs while the fd is writable
     * @param ioPoll      optional userspace readiness check for adaptive polling; ignored
     *                    without {@code ioPollReady}
     * @param ioPollReady runs when {@code ioPoll} said ready
     */
    public void setFdHandler(int fd, boolean isExternal, IoHandler ioRead, IoHandler ioWrite,
                             AioPollFn ioPoll, IoHandler ioPollReady) {
        checkOpen(); // first: a closed context's notifier fd number may already be reused
        if (fd == notifier.fd()) {
            throw new IllegalArgumentException(name + ": fd " + fd + " is the context's own notifier");
        }
        setFdHandlerInternal(fd, isExternal, false, ioRead, ioWrite, ioPoll, ioPollReady);
    }

    /** Removes the handler for {@code fd}, if any. */
    public void removeFdHandler(int fd) {
        setFdHandler(fd, false, null, null, null, null);
    }

    // tag::set-fd-handler[]
    private void setFdHandlerInternal(int fd, boolean isExternal, boolean isContextNotifier, IoHandler ioRead,
                                      IoHandler ioWrite, AioPollFn ioPoll, IoHandler ioPollReady) {
        checkOpen();
        if (ioPoll != null && ioPollReady == null) {
            ioPoll = null; // polling only makes sense if something runs when it succeeds
        }
        boolean removing = ioRead == null && ioWrite == null && ioPoll == null;
        AioHandler node;
        boolean freeNow = false;

        listLock.lock();
        try {
            node = findHandler(fd);
            if (removing && node == null) {
                return; // nothing registered, nothing to do
            }
            if (!removing && node != null && bugReplaceInPlace) {
                rewriteInPlace(node, ioRead, ioWrite, ioPoll, ioPollReady);
            } else {
                AioHandler newNode = null;
                int pollDisableChange;
                if (removing) {
                    pollDisableChange = node.ioPoll == null ? -1 : 0;
                } else {
                    // Never edit a published node: build a new one and retire the old.
                    newNode = new AioHandler(fd, isExternal, isContextNotifier, ioRead, ioWrite, ioPoll, ioPollReady);
                    newNode.next = handlers;
                    handlers = newNode; // the volatile write publishes a fully built node
                    pollDisableChange = (ioPoll == null ? 1 : 0) - (node != null && node.ioPoll == null ? 1 : 0);
                }
                pollDisableCnt.addAndGet(pollDisableChange);
                fdMonitor.update(node, newNode);
                if (node != null) {
                    freeNow = removeHandler(node);
                }
            }
        } finally {
            listLock.unlock();
        }
        // A loop sleeping in another thread must start watching the new set of fds.
        notifyEvent();
        if (freeNow) {
            node.poison();
        }
    }

    /** Called with the mutex held. Returns true if the node may be freed at once. */
    private boolean removeHandler(AioHandler node) {
        node.revents = 0;
        node.pollReady = false;
        if (node.deleted) {
            return false;
        }
        node.deleted = true; // from now on no walker calls it
        if (listLock.count() != 0) {
            // Somebody is walking: leave the node linked for them; the outermost walker frees.
            deletedHandlers.add(node);
            haveDeletedHandlers = true;
            return false;
        }
        unlink(node);
        removeFromPollList(node);
        return true;
    }
    // end::set-fd-handler[]

    /** The broken replacement of {@link HistoricalBug#REPLACE_HANDLER_IN_PLACE}. */
    private void rewriteInPlace(AioHandler node, IoHandler ioRead, IoHandler ioWrite, AioPollFn ioPoll,
                                IoHandler ioPollReady) {
        node.ioRead = ioRead;
        node.ioWrite = ioWrite;
        node.ioPollReady = ioPollReady;
        if (probe != null) {
            probe.midHandlerRewrite(this, node.fd);
        }
        node.ioPoll = ioPoll;
    }

    /** Sets poll begin/end callbacks on the handler for {@code fd} (QEMU: {@code aio_set_fd_poll}). */
    public void setFdPoll(int fd, IoHandler ioPollBegin, IoHandler ioPollEnd) {
        listLock.lock();
        try {
            AioHandler node = findHandler(fd);
            if (node != null) {
                node.ioPollBegin = ioPollBegin;
                node.ioPollEnd = ioPollEnd;
            }
        } finally {
            listLock.unlock();
        }
    }

    /**
     * Registers an {@link EventNotifier} (QEMU: {@code aio_set_event_notifier}): a handler for
     * its fd whose callbacks receive the notifier. The read handler must clear the notifier.
     */
    public void setEventNotifier(EventNotifier n, boolean isExternal, EventNotifierHandler ioRead,
                                 AioPollFn ioPoll, EventNotifierHandler ioPollReady) {
        setFdHandler(n.fd(), isExternal,
                ioRead == null ? null : () -> ioRead.handle(n),
                null,
                ioPoll,
                ioPollReady == null ? null : () -> ioPollReady.handle(n));
    }

    /** Removes the handler of {@code n}, if any. */
    public void removeEventNotifier(EventNotifier n) {
        removeFdHandler(n.fd());
    }

    /** Sets poll begin/end callbacks on a registered notifier (QEMU: {@code aio_set_event_notifier_poll}). */
    public void setEventNotifierPoll(EventNotifier n, EventNotifierHandler begin, EventNotifierHandler end) {
        setFdPoll(n.fd(), begin == null ? null : () -> begin.handle(n), end == null ? null : () -> end.handle(n));
    }

    private AioHandler findHandler(int fd) {
        for (AioHandler node = handlers; node != null; node = node.next) {
            if (node.fd == fd && !node.deleted) {
                return node;
            }
        }
        return null;
    }

    private void unlink(AioHandler node) {
        AioHandler prev = null;
        for (AioHandler n = handlers; n != null; prev = n, n = n.next) {
            if (n == node) {
                if (prev == null) {
                    handlers = n.next;
                } else {
                    prev.next = n.next;
                }
                return;
            }
        }
    }

    // tag::free-deleted[]
    /** Frees handlers removed during a walk, if this poll is the outermost walker. */
    private void freeDeletedHandlers() {
        if (!haveDeletedHandlers) {
            return;
        }
        if (!listLock.decIfLock()) {
            return; // we are nested (or someone else walks): they will free
        }
        try {
            for (AioHandler node : deletedHandlers) {
                unlink(node);
                removeFromPollList(node);
                node.poison();
            }
            deletedHandlers.clear();
            haveDeletedHandlers = false;
        } finally {
            listLock.incAndUnlock();
        }
    }
    // end::free-deleted[]

    // ------------------------------------------------------------------------------------
    // Event sources (chapter 2's extension point)
    // ------------------------------------------------------------------------------------

    /** Adds a source that {@link #poll(boolean)} consults; see {@link AioEventSource}. Any thread. */
    public synchronized void addEventSource(AioEventSource source) {
        Objects.requireNonNull(source);
        AioEventSource[] s = Arrays.copyOf(sources, sources.length + 1);
        s[s.length - 1] = source;
        sources = s;
        notifyEvent();
    }

    /** Removes a source added with {@link #addEventSource}. */
    public synchronized void removeEventSource(AioEventSource source) {
        sources = Arrays.stream(sources).filter(s -> s != source).toArray(AioEventSource[]::new);
    }

    // tag::layer[]
    /**
     * The context's instance of a layer above chapter 1, created on first use. QEMU's
     * {@code AioContext} struct simply has fields for its bottom-half list, its timer lists and
     * its thread pool; chapter 1 cannot name those types, so it keeps one slot per type instead.
     * A layer usually registers itself with {@link #addEventSource} when created. Any thread; the
     * same {@code type} always yields the same object.
     *
     * <p>Layers that are {@link AutoCloseable} are closed by {@link #close()}, newest first.
     */
    public <T> T layer(Class<T> type, Function<? super AioContext, ? extends T> create) {
        Object found = layers.get(type); // the fast path: one lock-free lookup
        if (found == null) {
            // Not computeIfAbsent: creating one layer may create another (a thread pool needs
            // the bottom halves), and ConcurrentHashMap forbids that recursion.
            synchronized (this) {
                found = layers.get(type);
                if (found == null) {
                    checkOpen();
                    found = Objects.requireNonNull(create.apply(this), "layer factory returned null");
                    layers.put(type, found);
                    layersInOrder.add(found);
                }
            }
        }
        return type.cast(found);
    }
    // end::layer[]

    /** The prepare phase: the nearest "wake me by then" of all sources, -1 if none. */
    private long computeTimeout() {
        long timeout = -1;
        for (AioEventSource s : sources) {
            timeout = soonestTimeout(timeout, s.timeoutNs());
        }
        return timeout;
    }

    private boolean dispatchSources(AioEventSource.Phase phase) {
        boolean progress = false;
        for (AioEventSource s : sources) {
            if (s.phase() == phase) {
                progress |= s.dispatch();
            }
        }
        return progress;
    }

    /** The earlier of two timeouts where -1 means "never" (QEMU: {@code qemu_soonest_timeout}). */
    static long soonestTimeout(long a, long b) {
        // Comparing as unsigned makes -1 the largest value.
        return Long.compareUnsigned(a, b) < 0 ? a : b;
    }

    // ------------------------------------------------------------------------------------
    // poll
    // ------------------------------------------------------------------------------------

    // tag::poll[]
    /**
     * Waits for something to happen and runs it (QEMU: {@code aio_poll}). Home thread only.
     *
     * @param blocking if true, sleep until an fd is ready, an event source has work, or
     *                 {@link #notifyEvent()} is called; if false, only look
     * @return whether progress was made: a handler (other than the context's own notifier) or an
     *         event source did some work. A wake-up alone returns false.
     */
    public boolean poll(boolean blocking) {
        assertHomeThread("poll()");
        checkOpen();
        AioPollEvent trace = new AioPollEvent();
        trace.begin();
        listLock.inc();                                   // 1. we walk the handler list
        ReadyList ready = enterPoll();
        boolean progress = false;
        boolean waited = false;
        long timeout = 0;
        try {
            long start = pollMaxNs != 0 ? System.nanoTime() : 0;

            timeout = blocking ? computeTimeout() : 0;    // 2. prepare: how long may we sleep?
            timeout = tryPollMode(ready, timeout);        // 3. busy-poll first, if enabled
            progress = ready.pollProgress;

            // 4. Announce that we may sleep, then look once more (the Dekker pair with
            //    notifyEvent(): write notifyMe, full fence, read notified).
            boolean useNotifyMe = timeout != 0;
            if (useNotifyMe) {
                NOTIFY_ME.setOpaque(this, (int) NOTIFY_ME.getOpaque(this) + 2);
                VarHandle.fullFence();
                if ((boolean) NOTIFIED.getOpaque(this) && !bugKickOnlyWhenSleeping) {
                    timeout = 0;                          // a notification is pending: don't sleep
                }
            }

            // 5. Wait in the kernel (unless there is nothing to wait for).
            FdMonitor monitor = fdMonitor;
            if (timeout != 0 || monitor.needWait()) {
                if (pollSetStarted(ready, false)) {       // leave poll mode before sleeping
                    timeout = 0;
                    progress = true;
                }
                waited = true;
                statWaits++;
                long sleptFrom = timeout != 0 ? System.nanoTime() : 0;
                // tag::released-sleep[]
                if (timeout != 0 && homeRule != null && homeRule.releaseForSleep(this)) {
                    // Chapter 3's main loop: another admitted thread (a vCPU holding the BQL)
                    // may poll this context while we sleep, so the sleep only waits; the ready
                    // handlers are collected once we are the home thread again.
                    try {
                        monitor.sleep(timeout);
                    } finally {
                        homeRule.reacquireAfterSleep(this);
                    }
                    statBlockedNs += System.nanoTime() - sleptFrom;
                    fdMonitor.await(ready, 0);
                    // end::released-sleep[]
                } else {
                    monitor.await(ready, timeout);
                    if (timeout != 0) {
                        statBlockedNs += System.nanoTime() - sleptFrom;
                    }
                }
            }

            // 6. No longer about to sleep; store-release so the wait is finished first.
            if (useNotifyMe) {
                NOTIFY_ME.setRelease(this, (int) NOTIFY_ME.getOpaque(this) - 2);
            }

            // 7. Accept the notification BEFORE dispatching: anything notified from now on is
            //    remembered for the next iteration.
            if (!bugAcceptAfterDispatch) {
                notifyAccept();
            }

            long blockNs = pollMaxNs != 0 ? System.nanoTime() - start : 0;

            // 8. Dispatch: sources first (bottom halves), then the ready fd handlers.
            progress |= dispatchSources(AioEventSource.Phase.BEFORE_HANDLERS);
            progress |= dispatchReadyHandlers(ready, blockNs);

            if (bugAcceptAfterDispatch) {
                legacyAcceptAndDrain();
            }
            freeDeletedHandlers();                        // 9. outermost walker only
        } finally {
            leavePoll(ready);
            listLock.dec();
        }
        // 10. Timer-like sources run outside the handler list (QEMU: timers).
        progress |= dispatchSources(AioEventSource.Phase.AFTER_HANDLERS);

        statPolls++;
        commitTrace(trace, blocking, timeout, waited, progress);
        return progress;
    }
    // end::poll[]

    private void commitTrace(AioPollEvent trace, boolean blocking, long timeout, boolean waited, boolean progress) {
        if (trace.shouldCommit()) {
            trace.context = name;
            trace.blocking = blocking;
            trace.timeoutNs = timeout;
            trace.waited = waited;
            trace.progress = progress;
            trace.commit();
        }
    }

    private ReadyList enterPoll() {
        if (pollDepth == readyLists.size()) {
            readyLists.add(new ReadyList());
        }
        return readyLists.get(pollDepth++);
    }

    private void leavePoll(ReadyList ready) {
        ready.clear();
        pollDepth--;
    }

    // tag::dispatch-handler[]
    private boolean dispatchReadyHandlers(ReadyList ready, long blockNs) {
        boolean progress = false;
        for (int i = 0; i < ready.size(); i++) {
            AioHandler node = ready.owned(i);
            if (node == null) {
                continue; // a nested poll took it and dispatched it already
            }
            progress |= dispatchHandler(node);
            // Adjust only now: dispatching is what adds a handler to the poll list.
            if (pollMaxNs != 0 && node.onPollList) {
                adjustPollingTime(node, blockNs);
            }
        }
        return progress;
    }

    private boolean dispatchHandler(AioHandler node) {
        int revents = node.revents & node.events;
        node.revents = 0;
        boolean pollReady = node.pollReady;
        node.pollReady = false;

        if (node.isExternal && isExternalDisabled()) {
            return false; // paused; level-triggered, so it will be reported again
        }
        // Activity tends to continue: a handler joins userspace polling once it fired.
        if (!node.deleted && !node.onPollList && node.ioPoll != null) {
            IoHandler begin = node.ioPollBegin;
            if (pollStarted && begin != null) {
                begin.handle();
            }
            addToPollList(node);
        }
        if (!node.deleted && pollReady && revents == 0 && node.ioPollReady != null) {
            // Off the poll list while it runs, so a nested poll cannot recurse into it (6d740fb01b).
            removeFromPollList(node);
            runCallback(node, node.ioPollReady, "pollReady");
            if (!node.deleted && !node.onPollList) {
                addToPollList(node);
            }
            return !node.isContextNotifier || bugKickIsProgress; // a kick is not progress
        }
        boolean progress = false;
        if (!node.deleted && (revents & AioHandler.READ_EVENTS) != 0 && node.ioRead != null) {
            runCallback(node, node.ioRead, "read");
            progress = !node.isContextNotifier || bugKickIsProgress;
        }
        if (!node.deleted && (revents & AioHandler.WRITE_EVENTS) != 0 && node.ioWrite != null) {
            runCallback(node, node.ioWrite, "write");
            progress = true;
        }
        return progress;
    }
    // end::dispatch-handler[]

    private void runCallback(AioHandler node, IoHandler callback, String which) {
        AioDispatchEvent trace = new AioDispatchEvent();
        trace.begin();
        statDispatches++;
        callback.handle();
        trace.context = name;
        trace.fd = node.fd;
        trace.callback = which;
        trace.commit();
    }

    private void addToPollList(AioHandler node) {
        node.onPollList = true;
        pollHandlers.add(node);
    }

    private void removeFromPollList(AioHandler node) {
        if (node.onPollList) {
            node.onPollList = false;
            pollHandlers.remove(node);
        }
    }

    // ------------------------------------------------------------------------------------
    // Adaptive polling
    // ------------------------------------------------------------------------------------

    // tag::try-poll-mode[]
    /**
     * Busy-polls the poll handlers for up to the largest window among them, capped at
     * {@code timeout}. Returns the timeout that is left; sets {@code ready.pollProgress}.
     */
    private long tryPollMode(ReadyList ready, long timeout) {
        ready.pollProgress = false;
        if (pollHandlers.isEmpty()) {
            return timeout;
        }
        long maxNs = 0;
        for (int i = 0; i < pollHandlers.size(); i++) {
            maxNs = Math.max(maxNs, pollHandlers.get(i).pollNs);
        }
        maxNs = soonestTimeout(timeout, maxNs);
        if (maxNs != 0 && !fdMonitor.needWait()) {
            pollSetStarted(ready, true);
            return runPollHandlers(ready, maxNs, timeout);
        }
        return timeout;
    }

    private long runPollHandlers(ReadyList ready, long maxNs, long timeout) {
        RunPollHandlersEvent trace = new RunPollHandlersEvent();
        trace.begin();
        long start = System.nanoTime();
        long elapsed;
        boolean progress;
        do {
            progress = false;
            boolean externalDisabled = isExternalDisabled();
            for (int i = 0; i < pollHandlers.size(); i++) {
                AioHandler node = pollHandlers.get(i);
                if (node.deleted || (node.isExternal && externalDisabled)) {
                    continue;
                }
                if (node.ioPoll.poll()) {
                    ready.addPollReady(node);
                    timeout = 0; // success: stop polling, don't sleep, go dispatch
                    if (!node.isContextNotifier || bugKickIsProgress) {
                        progress = true;
                    }
                }
            }
            elapsed = System.nanoTime() - start;
            maxNs = soonestTimeout(timeout, maxNs);
        } while (elapsed < maxNs && !fdMonitor.needWait());

        statBusyPollNs += elapsed;
        if (progress) {
            statPollModeHits++;
        }
        // Polling in vain used up part of the timeout; keep the overall deadline where it was.
        if (timeout != -1) {
            timeout -= Math.min(timeout, elapsed);
        }
        ready.pollProgress = progress;
        trace.context = name;
        trace.maxNs = maxNs;
        trace.progress = progress;
        trace.timeoutNs = timeout;
        trace.commit();
        return timeout;
    }
    // end::try-poll-mode[]

    /**
     * Enters or leaves poll mode, calling every poll handler's begin or end callback once per
     * transition. On leaving, each handler is polled one last time, because an event may have
     * arrived between its last poll and its end callback (which typically re-enables the
     * notification the event would otherwise have raised). Returns whether that found work.
     */
    private boolean pollSetStarted(ReadyList ready, boolean started) {
        if (started == pollStarted) {
            return false;
        }
        pollStarted = started;
        boolean progress = false;
        listLock.inc();
        try {
            for (int i = 0; i < pollHandlers.size(); i++) {
                AioHandler node = pollHandlers.get(i);
                if (node.deleted) {
                    continue;
                }
                IoHandler fn = started ? node.ioPollBegin : node.ioPollEnd;
                if (fn != null) {
                    fn.handle();
                }
                // Paused external handlers get no last look either: finding their work would
                // count as progress that dispatch then refuses, and the loop would spin.
                if (!started && !(node.isExternal && isExternalDisabled()) && node.ioPoll.poll()) {
                    ready.addPollReady(node);
                    progress = true;
                }
            }
        } finally {
            listLock.dec();
        }
        return progress;
    }

    private void adjustPollingTime(AioHandler node, long blockNs) {
        long old = node.pollNs;
        long now = adjustPollNs(old, blockNs, pollMaxNs, pollGrow, pollShrink);
        if (now != old) {
            node.pollNs = now;
            PollWindowEvent trace = new PollWindowEvent();
            if (trace.shouldCommit()) {
                trace.context = name;
                trace.fd = node.fd;
                trace.oldNs = old;
                trace.newNs = now;
                trace.blockNs = blockNs;
                trace.commit();
            }
        }
    }

    /**
     * The adaptive polling rule (QEMU: {@code adjust_polling_time}). {@code blockNs} is how long
     * the iteration waited, polling included, until this handler's event arrived.
     * <ul>
     *   <li>It arrived within the window: the window is right, keep it.
     *   <li>It took longer than {@code maxNs}: polling could not have caught it, so shrink
     *       (divide by {@code shrink}, or drop to 0 when {@code shrink} is 0).
     *   <li>It took longer than the window but less than {@code maxNs}: a longer window would
     *       have caught it, so grow (multiply by {@code grow}, 2 when 0; start at 4 µs), never
     *       beyond {@code maxNs}.
     * </ul>
     */
    static long adjustPollNs(long ns, long blockNs, long maxNs, long grow, long shrink) {
        // tag::exercise-ch01-poll-window[]
        if (blockNs <= ns) {
            return ns;
        }
        if (blockNs > maxNs) {
            return shrink == 0 ? 0 : ns / shrink;
        }
        if (ns < maxNs && blockNs < maxNs) {
            long grown = ns == 0 ? INITIAL_POLL_NS : ns * (grow == 0 ? 2 : grow);
            return Math.min(grown, maxNs);
        }
        return ns;
        // end::exercise-ch01-poll-window[]
    }

    /**
     * Sets the adaptive polling parameters (QEMU: {@code aio_context_set_poll_params}) and
     * resets every handler's window. {@code maxNs} 0 turns busy polling off (the default);
     * {@code grow} and {@code shrink} 0 mean "double" and "drop to zero". Any thread.
     */
    public void setPollParams(long maxNs, long grow, long shrink) {
        if (maxNs < 0 || grow < 0 || shrink < 0) {
            throw new IllegalArgumentException("poll parameters must be >= 0: max=" + maxNs
                    + " grow=" + grow + " shrink=" + shrink);
        }
        listLock.inc();
        try {
            for (AioHandler node = handlers; node != null; node = node.next) {
                node.pollNs = 0;
            }
        } finally {
            listLock.dec();
        }
        pollMaxNs = maxNs;
        pollGrow = grow;
        pollShrink = shrink;
        notifyEvent();
    }

    public long pollMaxNs() {
        return pollMaxNs;
    }

    /** The current polling window of the handler for {@code fd}, or -1 if it has none. */
    long pollNsOf(int fd) {
        for (AioHandler node = handlers; node != null; node = node.next) {
            if (node.fd == fd && !node.deleted) {
                return node.pollNs;
            }
        }
        return -1;
    }

    boolean pollDisabled() {
        return pollDisableCnt.get() != 0;
    }

    // ------------------------------------------------------------------------------------
    // The wake-up protocol
    // ------------------------------------------------------------------------------------

    // tag::notify[]
    /**
     * Makes the loop look at its fds and event sources again (QEMU: {@code aio_notify}). If a
     * {@code poll} is asleep or about to sleep it is woken; otherwise the next one does not
     * sleep. Any thread.
     *
     * <p>A notification promises only that: one more look. It does not make the loop re-check
     * a flag of yours; to make the loop <em>do</em> something, give it work it will find (an fd,
     * or in chapter 2 a bottom half).
     */
    public void notifyEvent() {
        boolean wroteEventfd = bugKickOnlyWhenSleeping ? legacyKickOnlyWhenSleeping() : kickIfSleeping();
        AioNotifyEvent trace = new AioNotifyEvent();
        if (trace.shouldCommit()) {
            trace.context = name;
            trace.wroteEventfd = wroteEventfd;
            trace.commit();
        }
    }

    /** The notifier's half of the Dekker pair. Returns whether the eventfd was written. */
    private boolean kickIfSleeping() {
        // tag::exercise-ch01-notify[]
        // Release: whatever the caller published before notifying (a handler, a bottom half)
        // is visible to a loop that sees notified == true.
        NOTIFIED.setRelease(this, true);
        // Full fence: our write of notified must not pass our read of notifyMe. Pairs with the
        // fence in poll() between raising notifyMe and reading notified.
        VarHandle.fullFence();
        if ((int) NOTIFY_ME.getOpaque(this) != 0) {
            notifier.set(); // someone may be asleep: the system call is needed
            return true;
        }
        return false; // nobody can be asleep: the next poll will look before it sleeps
        // end::exercise-ch01-notify[]
    }

    /**
     * Acknowledges notifications (QEMU: {@code aio_notify_accept}): called by {@code poll} after
     * waking and before dispatching. It clears the flag only; the eventfd itself is drained by
     * the notifier's read handler when a wait reports it, so a wake-up can never be consumed by
     * anybody but a wait.
     */
    private void notifyAccept() {
        NOTIFIED.setOpaque(this, false);
        // Order the clear before everything dispatch reads (bottom-half flags, work queues):
        // pairs with the release write in kickIfSleeping().
        VarHandle.fullFence();
    }
    // end::notify[]

    /**
     * The notify of {@link HistoricalBug#KICK_ONLY_WHEN_SLEEPING}: with nobody about to sleep the
     * kick leaves no trace at all, so a poll that starts a moment later sleeps through it.
     */
    private boolean legacyKickOnlyWhenSleeping() {
        VarHandle.fullFence();
        if ((int) NOTIFY_ME.getOpaque(this) != 0) {
            notifier.set();
            NOTIFIED.setVolatile(this, true);
            return true;
        }
        return false;
    }

    /** The old accept of {@link HistoricalBug#ACCEPT_AFTER_DISPATCH}: clear and drain. */
    private void legacyAcceptAndDrain() {
        NOTIFIED.setOpaque(this, false);
        VarHandle.fullFence();
        notifier.testAndClear();
    }

    /** Whether a notification is pending (not yet accepted). For tests. */
    boolean isNotified() {
        return (boolean) NOTIFIED.getVolatile(this);
    }

    /** The notifyMe counter. For tests. */
    int notifyMeCount() {
        return (int) NOTIFY_ME.getVolatile(this);
    }

    /** The context's own wake-up notifier. For tests. */
    EventNotifier contextNotifier() {
        return notifier;
    }

    // ------------------------------------------------------------------------------------
    // External clients
    // ------------------------------------------------------------------------------------

    /**
     * Stops handling external (guest-driven) handlers until the matching
     * {@link #enableExternal()} (QEMU: {@code aio_disable_external}, 2015-2023). Nests by
     * counting. Any thread. The effect reaches a sleeping loop the next time it waits.
     */
    public void disableExternal() {
        externalDisableCnt.incrementAndGet();
    }

    // tag::enable-external[]
    /**
     * Undoes one {@link #disableExternal()} (QEMU: {@code aio_enable_external}). When the last
     * one is undone the loop is notified: it may be asleep with the external fds left out of its
     * wait set, and nothing else would make it put them back (QEMU fix {@code 321d1dba8b}).
     */
    public void enableExternal() {
        if (bugMissingEnableNotify) {
            legacyEnableExternal();
            return;
        }
        enableExternalAndKick();
    }

    private void enableExternalAndKick() {
        // tag::exercise-ch01-enable-external[]
        int old = externalDisableCnt.getAndDecrement();
        if (old <= 0) {
            externalDisableCnt.incrementAndGet();
            throw new IllegalStateException(name + ": enableExternal() without disableExternal()");
        }
        if (old == 1) {
            notifyEvent(); // re-arm: make a sleeping loop rebuild its wait set
        }
        // end::exercise-ch01-enable-external[]
    }
    // end::enable-external[]

    /** The 2017 code: decrement only. */
    private void legacyEnableExternal() {
        externalDisableCnt.decrementAndGet();
    }

    public boolean isExternalDisabled() {
        return externalDisableCnt.get() != 0;
    }

    // ------------------------------------------------------------------------------------
    // fd monitors
    // ------------------------------------------------------------------------------------

    /** {@code "poll"} or {@code "epoll"}: how the context currently waits. */
    public String fdMonitorName() {
        return fdMonitor.name();
    }

    FdMonitor fdMonitor() {
        return fdMonitor;
    }

    PollFdMonitor pollMonitor() {
        return pollMonitor;
    }

    AioHandler handlerListHead() {
        return handlers;
    }

    // tag::epoll-upgrade[]
    /**
     * Called by the ppoll monitor in the middle of a wait: if the context watches many fds,
     * move every handler into an epoll set and switch monitors. The switch takes the list
     * mutex, so a handler registered concurrently is either already in the list (and copied)
     * or waits and then goes to the new monitor (the race of QEMU {@code e62da98527}). Only
     * the outermost walker may switch; a nested poll simply tries again later.
     */
    boolean tryUpgradeToEpoll(int fds) {
        if (fds < epollThreshold || fdMonitor != pollMonitor || epollMonitor == null) {
            return false;
        }
        if (!listLock.decIfLock()) {
            return false;
        }
        boolean ok = false;
        try {
            if (epollMonitor != null) {
                epollMonitor.addAll(handlers);
                fdMonitor = epollMonitor;
                ok = true;
                traceSwitch("poll", "epoll", fds);
            }
        } catch (LinuxException e) {
            fallBackToPoll(e);
        } finally {
            listLock.incAndUnlock();
        }
        return ok;
    }
    // end::epoll-upgrade[]

    /** epoll failed: close it and stay on ppoll for good. Called with the mutex held. */
    void fallBackToPoll(LinuxException cause) {
        EpollFdMonitor epoll = epollMonitor;
        if (epoll == null) {
            return;
        }
        epollMonitor = null;
        fdMonitor = pollMonitor;
        traceSwitch("epoll", "poll (" + cause.getMessage() + ")", -1);
        try {
            epoll.close();
        } catch (LinuxException ignored) {
            // Already failing; the fd is gone either way.
        }
    }

    private void traceSwitch(String from, String to, int fds) {
        FdMonitorSwitchEvent trace = new FdMonitorSwitchEvent();
        trace.context = name;
        trace.from = from;
        trace.to = to;
        trace.fds = fds;
        trace.commit();
    }

    void probeBeforeSyscall(FdMonitor monitor, AioHandler[] nodes, int n, long timeoutNs) {
        if (probe != null) {
            int[] fds = null;
            if (nodes != null) {
                fds = new int[n];
                for (int i = 0; i < n; i++) {
                    fds[i] = nodes[i].fd;
                }
            }
            probe.beforeWait(this, fds, timeoutNs);
        }
    }

    // ------------------------------------------------------------------------------------
    // Statistics and life cycle
    // ------------------------------------------------------------------------------------

    /**
     * Counters kept by the home thread: {@code poll} calls, waits in the kernel (each one a
     * system call), iterations where busy polling found work, and callbacks run. Read from
     * another thread they may be slightly stale.
     */
    public record Statistics(long polls, long waits, long pollModeHits, long dispatches,
                             long busyPollNs, long blockedNs) {
    }

    /**
     * The counters, plus two times: {@code busyPollNs} spent busy-polling in userspace and
     * {@code blockedNs} spent asleep in the kernel with a non-zero timeout. What is left of a
     * thread's time is dispatching (and the loop's own bookkeeping).
     */
    public Statistics statistics() {
        return new Statistics(statPolls, statWaits, statPollModeHits, statDispatches,
                statBusyPollNs, statBlockedNs);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("AioContext '" + name + "' is closed");
        }
    }

    /**
     * Releases the context's notifier and epoll fd. Home thread, not while polling. The fds of
     * registered handlers belong to their owners and stay open.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        assertHomeThread("close()");
        if (pollDepth != 0) {
            throw new IllegalStateException(name + ": close() from inside poll()");
        }
        try {
            closeLayers(); // first: a thread pool may still need the notifier to finish
        } finally {
            closed = true;
            listLock.lock();
            try {
                if (epollMonitor != null) {
                    epollMonitor.close();
                    epollMonitor = null;
                }
                fdMonitor = pollMonitor;
            } finally {
                listLock.unlock();
            }
            notifier.close();
        }
    }

    /** Closes the {@link #layer layers}, newest first (a thread pool before its bottom halves). */
    private void closeLayers() {
        ArrayList<Object> toClose;
        synchronized (this) {
            toClose = new ArrayList<>(layersInOrder);
        }
        RuntimeException failure = null;
        for (int i = toClose.size() - 1; i >= 0; i--) {
            if (toClose.get(i) instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    // Close the others anyway; report the first failure once all had their turn.
                    if (failure == null) {
                        failure = new IllegalStateException(name + ": closing layer " + c + " failed", e);
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return "AioContext[" + name + ", " + fdMonitorName() + "]";
    }
}
