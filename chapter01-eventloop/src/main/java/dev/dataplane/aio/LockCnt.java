package dev.dataplane.aio;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A counter of active readers combined with a mutex for writers: QEMU's {@code QemuLockCnt}
 * ({@code util/lockcnt.c}), which protects an {@link AioContext}'s handler list.
 *
 * <p>Implementation notes.
 *
 * <p>Readers ("walkers") {@link #inc()} before walking the list and {@link #dec()} after; they
 * never block each other and never take the mutex while someone else is walking. Writers
 * {@link #lock()} the mutex. The two meet in one rule: <em>the count can only go from 0 to 1
 * while holding the mutex</em>. So a writer that holds the mutex and sees a count of 0 knows
 * that nobody is walking and nobody can start: it may unlink and free nodes at once. If the
 * count is not 0, the writer only marks nodes deleted, and the last walker to leave does the
 * freeing ({@link #decIfLock()}): "only the outermost walker frees".
 *
 * <p>In C the freeing is about memory. In Java the garbage collector keeps an unlinked node
 * alive while a walker still holds it, so what this protects here is <em>behaviour</em>: the
 * list a walker is iterating must not change shape under it, and a node that a walker may still
 * look at must stay consistent (it is poisoned only once nobody can reach it).
 *
 * <p>QEMU packs the count and the lock into one futex word; an {@link AtomicInteger} plus a
 * {@link ReentrantLock} shows the same protocol with less cleverness.
 */
final class LockCnt {
    private final AtomicInteger count = new AtomicInteger();
    private final ReentrantLock mutex = new ReentrantLock();

    /** Starts a walk. Waits only if a writer holds the mutex and nobody is walking. */
    void inc() {
        for (;;) {
            int c = count.get();
            if (c == 0) {
                // 0 -> 1 must happen under the mutex, so that a writer that saw 0 stays alone.
                mutex.lock();
                try {
                    count.incrementAndGet();
                } finally {
                    mutex.unlock();
                }
                return;
            }
            if (count.compareAndSet(c, c + 1)) {
                return;
            }
        }
    }

    /** Ends a walk. */
    void dec() {
        count.decrementAndGet();
    }

    /**
     * Ends a walk if it is the only one, and then returns {@code true} holding the mutex with a
     * count of 0 (the caller frees what was deferred, then calls {@link #incAndUnlock()}).
     * Returns {@code false}, changing nothing, if other walks are active: they will free.
     */
    boolean decIfLock() {
        if (count.get() != 1) {
            return false;
        }
        mutex.lock();
        if (count.compareAndSet(1, 0)) {
            return true;
        }
        mutex.unlock();
        return false;
    }

    /** Undoes {@link #decIfLock()}: becomes a walker again and releases the mutex. */
    void incAndUnlock() {
        count.incrementAndGet();
        mutex.unlock();
    }

    /** Takes the writers' mutex. */
    void lock() {
        mutex.lock();
    }

    void unlock() {
        mutex.unlock();
    }

    /** The number of active walks. Meaningful to a writer holding the mutex. */
    int count() {
        return count.get();
    }
}
