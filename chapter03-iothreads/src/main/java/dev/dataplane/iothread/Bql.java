package dev.dataplane.iothread;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoOrGsCode;
import dev.dataplane.iothread.trace.BqlHoldEvent;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The Big QEMU Lock: one mutex that serialises the main loop and the vCPU threads whenever they
 * touch global state (QEMU: {@code bql_lock}/{@code bql_unlock}/{@code bql_locked},
 * {@code system/cpus.c}). Each {@link MainLoop} owns one; QEMU has a single global one, Dataplane
 * has one per machine so that tests can run several machines in one JVM.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Who holds it.</b> The main-loop thread holds it all the time except while it sleeps in
 * the kernel and for a moment at the end of a busy iteration (see {@link MainLoop}); a vCPU thread takes it to handle an exit; a test or a tool
 * may take it to act "as the main loop". IOThreads and thread-pool workers never take it: that is
 * the point of an IOThread, and the ArchUnit rules of this chapter check it.
 *
 * <p><b>Not recursive.</b> QEMU asserts {@code !bql_locked()} before locking. Taking it twice in
 * one thread is a design error (the second taker assumed it was alone), so {@link #lock()} throws
 * instead of counting.
 *
 * <p><b>What a holder may assume.</b> While it holds the lock, a thread is admitted as a home
 * thread of the main context (it may poll it, and {@link CurrentContext#get()} returns it) and may
 * use the {@code MainLoopHelpers}. The lock's release/acquire pair is also what publishes the main
 * context's home-thread bookkeeping from one holder to the next.
 *
 * <p><b>Measuring.</b> Every hold is a {@link BqlHoldEvent} (holder, wait time, hold time), and
 * the counters in {@link #statistics()} show how contended the lock is.
 */
public final class Bql {

    /** The BQL the calling thread holds, if any; lets {@link CurrentContext} find the main context. */
    private static final ThreadLocal<Bql> HELD = new ThreadLocal<>();

    private final ReentrantLock lock = new ReentrantLock();
    private final String name;
    private final MainLoop owner;
    private volatile AioContext mainContext;

    // Written by the holder only; read by anyone for statistics.
    private final AtomicLong acquisitions = new AtomicLong();
    private final AtomicLong contended = new AtomicLong();
    private final AtomicLong waitedNs = new AtomicLong();
    private final AtomicLong heldNs = new AtomicLong();
    /** When the current hold began (holder only). */
    private long holdStart;
    private BqlHoldEvent trace;

    Bql(String name, MainLoop owner) {
        this.name = name;
        this.owner = owner;
    }

    /** The main loop this lock belongs to. */
    MainLoop owner() {
        return owner;
    }

    /** Tells the lock which context its holders may poll; set once by the {@link MainLoop}. */
    void attach(AioContext mainContext) {
        this.mainContext = mainContext;
    }

    /** The main context a holder of this lock may use. */
    public AioContext mainContext() {
        return mainContext;
    }

    // tag::bql[]
    /**
     * Takes the lock, waiting if another thread holds it (QEMU: {@code bql_lock}). Only
     * global-state code may call this.
     *
     * @throws IllegalStateException if the calling thread holds it already (it is not recursive)
     */
    @GlobalStateCode
    public void lock() {
        if (lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("thread '" + Thread.currentThread().getName()
                    + "' already holds the BQL; it is not recursive (QEMU asserts !bql_locked())");
        }
        Bql other = HELD.get();
        if (other != null) {
            throw new IllegalStateException("thread '" + Thread.currentThread().getName()
                    + "' holds the BQL of another machine (" + other.name + ")");
        }
        long waited = 0;
        if (!lock.tryLock()) {
            long t0 = System.nanoTime();
            lock.lock();
            waited = System.nanoTime() - t0;
            contended.incrementAndGet();
            waitedNs.addAndGet(waited);
        }
        acquisitions.incrementAndGet();
        HELD.set(this);
        holdStart = System.nanoTime();
        BqlHoldEvent e = new BqlHoldEvent();
        if (e.isEnabled()) {
            e.begin();
            e.waitedNs = waited;
            trace = e;
        }
    }

    /**
     * Releases the lock (QEMU: {@code bql_unlock}).
     *
     * @throws IllegalStateException if the calling thread does not hold it
     */
    @GlobalStateCode
    public void unlock() {
        assertHeld();
        heldNs.addAndGet(System.nanoTime() - holdStart);
        BqlHoldEvent e = trace;
        trace = null;
        HELD.remove();
        lock.unlock();
        if (e != null) {
            e.end();
            e.holder = Thread.currentThread().getName();
            e.commit();
        }
    }

    /** Whether the calling thread holds the lock (QEMU: {@code bql_locked}). Cheap; any code. */
    @IoOrGsCode
    public boolean isHeld() {
        return lock.isHeldByCurrentThread();
    }

    /** Throws unless the calling thread holds the lock; the run-time check of global-state code. */
    @IoOrGsCode
    public void assertHeld() {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("thread '" + Thread.currentThread().getName()
                    + "' must hold the BQL here (it changes global state)");
        }
    }
    // end::bql[]

    /**
     * Runs {@code body} with the lock held and releases it afterwards, also on an exception
     * (QEMU: {@code BQL_LOCK_GUARD()}, {@code WITH_BQL_LOCK_GUARD}).
     */
    @GlobalStateCode
    public void withLock(Runnable body) {
        lock();
        try {
            body.run();
        } finally {
            unlock();
        }
    }

    /** {@link #withLock(Runnable)} for a body with a result. */
    @GlobalStateCode
    public <T> T callWithLock(java.util.function.Supplier<T> body) {
        lock();
        try {
            return body.get();
        } finally {
            unlock();
        }
    }

    /** The BQL the calling thread holds, or null. */
    static Bql heldByCurrentThread() {
        return HELD.get();
    }

    /** Whether some thread holds the lock; for tests and statistics. */
    public boolean isLocked() {
        return lock.isLocked();
    }

    /** Whether {@code thread} is waiting to take the lock; for tests that prove a thread is blocked here. */
    public boolean hasQueuedThread(Thread thread) {
        return lock.hasQueuedThread(thread);
    }

    /**
     * How the lock was used: acquisitions, how many of them had to wait, the total wait and the
     * total hold time. The main loop's own holds are included (one per iteration).
     */
    public record Statistics(long acquisitions, long contended, long waitedNs, long heldNs) {
    }

    public Statistics statistics() {
        return new Statistics(acquisitions.get(), contended.get(), waitedNs.get(), heldNs.get());
    }

    @Override
    public String toString() {
        return "Bql[" + name + (lock.isLocked() ? ", held" : ", free") + "]";
    }
}
