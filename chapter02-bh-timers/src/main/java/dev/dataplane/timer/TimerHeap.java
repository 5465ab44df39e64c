package dev.dataplane.timer;

import java.util.Arrays;

/**
 * The active timers of one {@link TimerList}, ordered by expiry and, among equal expiries, by
 * the order in which they were armed. Not thread-safe: the list's lock guards it.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Why not QEMU's list.</b> QEMU keeps active timers in a singly linked list sorted by
 * expiry ({@code timer_mod_ns_locked} walks it to find the insertion point). The head is then
 * free to read and to pop, which is all the run pass needs, but arming a timer costs a walk
 * over every timer that expires earlier: O(N) per arm, O(N²) to arm N timers with scattered
 * deadlines. QEMU gets away with it because a context rarely has more than a handful of timers.
 * This project's target is a million armed timers whose cost per timer does not grow with the
 * count, so the order is kept by a binary min-heap instead: arming, disarming and popping the
 * head are O(log N), reading the head is O(1). (With random deadlines a new timer rarely climbs
 * more than a level or two, so arming is close to O(1) in practice; popping always walks down
 * the heap.) {@code TimerScaleBenchmark} measures both structures.
 *
 * <p><b>FIFO among equal deadlines.</b> A heap is not stable by itself. Each insertion therefore
 * takes the next value of a per-heap sequence counter and the heap orders by
 * {@code (expireNs, seq)}; a timer armed later sorts after every timer with the same expiry that
 * is already armed, which is exactly QEMU's "insert after all timers expiring at or before". A
 * timer that is modified gets a new sequence number, as re-inserting it in QEMU puts it after
 * its equals. The counter is a {@code long}: it would take centuries of arming to wrap.
 *
 * <p><b>Layout.</b> Keys live in two primitive arrays beside the timer array, so that sifting
 * compares numbers in contiguous memory instead of following a reference to each timer; with a
 * million timers that is the difference between a cache miss per comparison and a miss per few
 * levels. Each timer remembers its own slot ({@link AioTimer#heapIndex}), so deleting or moving
 * an armed timer finds it in O(1) and re-sifts from there. The arrays grow by doubling and
 * never shrink: a list that once held a million timers keeps the room.
 */
final class TimerHeap {
    private static final int INITIAL_CAPACITY = 16;

    private AioTimer[] timers = new AioTimer[INITIAL_CAPACITY];
    private long[] expires = new long[INITIAL_CAPACITY];
    private long[] seqs = new long[INITIAL_CAPACITY];
    private int size;
    private long nextSeq;

    int size() {
        return size;
    }

    /** The timer that expires first, or null. */
    AioTimer head() {
        return size == 0 ? null : timers[0];
    }

    /** The head's expiry, or -1 if the heap is empty. */
    long headExpireNs() {
        return size == 0 ? -1 : expires[0];
    }

    // tag::heap-insert[]
    /**
     * Adds {@code t} (not in the heap) with expiry {@code expireNs}, after every timer already
     * in the heap with the same expiry. Returns whether it became the head.
     */
    boolean insert(AioTimer t, long expireNs) {
        if (size == timers.length) {
            grow();
        }
        siftUp(size++, t, expireNs, nextSeq++);
        return t.heapIndex == 0;
    }
    // end::heap-insert[]

    /** Removes {@code t}, which must be in the heap. */
    void remove(AioTimer t) {
        int i = t.heapIndex;
        t.heapIndex = -1;
        int last = --size;
        AioTimer moved = timers[last];
        long movedExpire = expires[last];
        long movedSeq = seqs[last];
        timers[last] = null; // no stale reference keeps a dropped timer alive
        if (i == last) {
            return;
        }
        // The last element fills the hole; it may belong above it (the hole was deep in another
        // branch) or below it (the usual case, and always when the hole is the head).
        if (i > 0 && before(movedExpire, movedSeq, expires[parent(i)], seqs[parent(i)])) {
            siftUp(i, moved, movedExpire, movedSeq);
        } else {
            siftDown(i, moved, movedExpire, movedSeq);
        }
    }

    /** Removes and returns the head; the heap must not be empty. */
    AioTimer removeHead() {
        AioTimer head = timers[0];
        remove(head);
        return head;
    }

    /** Moves a hole at {@code i} up until {@code (e, s)} fits there, then puts {@code t} in it. */
    private void siftUp(int i, AioTimer t, long e, long s) {
        while (i > 0) {
            int p = parent(i);
            if (!before(e, s, expires[p], seqs[p])) {
                break;
            }
            place(i, timers[p], expires[p], seqs[p]);
            i = p;
        }
        place(i, t, e, s);
    }

    /** Moves a hole at {@code i} down until {@code (e, s)} fits there, then puts {@code t} in it. */
    private void siftDown(int i, AioTimer t, long e, long s) {
        int firstLeaf = size >>> 1;
        while (i < firstLeaf) {
            int c = 2 * i + 1;
            int r = c + 1;
            if (r < size && before(expires[r], seqs[r], expires[c], seqs[c])) {
                c = r;
            }
            if (!before(expires[c], seqs[c], e, s)) {
                break;
            }
            place(i, timers[c], expires[c], seqs[c]);
            i = c;
        }
        place(i, t, e, s);
    }

    private void place(int i, AioTimer t, long e, long s) {
        timers[i] = t;
        expires[i] = e;
        seqs[i] = s;
        t.heapIndex = i;
    }

    /** Whether key {@code (e1, s1)} sorts before {@code (e2, s2)}; sequence numbers are unique. */
    private static boolean before(long e1, long s1, long e2, long s2) {
        return e1 < e2 || (e1 == e2 && s1 < s2);
    }

    private static int parent(int i) {
        return (i - 1) >>> 1;
    }

    private void grow() {
        int capacity = timers.length * 2;
        if (capacity < 0) {
            throw new IllegalStateException("too many timers in one list");
        }
        timers = Arrays.copyOf(timers, capacity);
        expires = Arrays.copyOf(expires, capacity);
        seqs = Arrays.copyOf(seqs, capacity);
    }
}
