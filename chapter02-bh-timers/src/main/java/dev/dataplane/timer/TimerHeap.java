package dev.dataplane.timer;

import java.util.Arrays;

/**
 * The active timers of one {@link TimerList}, ordered by expiry and, among equal expiries, by
 * the order in which they were armed. Not thread-safe: the list's lock guards it.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Why not QEMU's list.</b> QEMU keeps active timers in a singly linked list sorted by
 * expiry. Reading and popping the head is free, which is all a run pass needs, but arming walks
 * the list twice (once to unlink the timer, once to find its place): O(N) per arm, O(N²) to arm N
 * timers with scattered deadlines. QEMU gets away with it because a context rarely holds more
 * than a handful of timers. This project's target is a million armed timers whose cost per timer
 * does not grow with the count, so the order is kept by a 4-ary min-heap instead: arming is
 * O(log N), and close to O(1) for random deadlines, which rarely climb more than a level;
 * reading the head is O(1); popping it is O(log N). {@code TimerScaleBenchmark} measures it
 * against a model of QEMU's list and against the bare cost of visiting the timers.
 *
 * <p><b>FIFO among equal deadlines.</b> A heap is not stable by itself. Each insertion takes the
 * next value of a per-heap sequence counter and the heap orders by {@code (expire, seq)}; a
 * timer armed later sorts after every armed timer with the same expiry, which is QEMU's "insert
 * after all timers expiring at or before". A modified timer gets a new number, as re-inserting
 * it in QEMU puts it behind its equals. The counter is a {@code long}: centuries of arming.
 *
 * <p><b>Lazy deletion.</b> An entry is {@code (expire, seq, timer)}, and it is <em>live</em> while
 * the timer's {@link AioTimer#heapSeq} equals the entry's {@code seq}. Disarming a timer only
 * sets its {@code heapSeq} to -1, and re-arming gives it a new number, so an old entry simply
 * goes stale where it stands; nothing is searched or moved. Two rules keep the garbage
 * harmless: the <b>head is always live</b> (every operation that may leave a stale entry in
 * front pops stale entries until a live one is there, so {@link #head()} and
 * {@link #headExpireNs()} are exact), and stale entries never outnumber live ones by much (when
 * they do, the heap is rebuilt from its live entries in O(N), which the deletions since the last
 * rebuild pay for). Go's runtime keeps its timers the same way: a 4-ary heap whose deleted timers
 * are removed lazily. The usual alternative, each timer remembering its slot so that it can be
 * removed in place, writes that slot into the timer object every time a sift moves it; timers
 * live all over the Java heap, so with many of them each such write is a cache miss.
 *
 * <p><b>The due run: expiring many timers at once.</b> Popping a heap is a chain of dependent
 * loads from the root to a leaf. Once the arrays outgrow the CPU caches (around a hundred
 * thousand timers) every level of that chain waits for memory, and a pass that expires a million
 * timers one pop at a time costs most of a microsecond per timer. So a pass first asks
 * {@link #takeDue(long)}: if at least an eighth of the entries are due, they are moved out of
 * the heap in one linear scan into a separate array, the <em>due run</em>, which is sorted by
 * expiry with an LSD radix sort (a few sequential passes whose number depends on the range of
 * the expiries, not on how many there are; groups of equal expiry are then put in arming order),
 * and the rest of the heap is rebuilt bottom-up. Both steps read and write memory in order,
 * which the hardware prefetches, so the cost per timer grows only as far as the bare cost of
 * touching that many timers does. From then on the head is whichever of the run's front and
 * the heap's top comes first; new timers, including ones a callback arms for a time already
 * past, go into the heap and take their turn against the run, so the order is exactly what one
 * sorted list would give. A pass with only a few due timers pops them from the heap as before:
 * the scan would cost more than it saves. That is the case left with a log factor: a pass that
 * finds a few timers due among a million still pays a walk down a heap that does not fit in the
 * caches, for each of them.

 * <p><b>Layout.</b> Keys live in one {@code long[]}, expiry and sequence number side by side,
 * the timers in an array beside it, so a sift compares numbers in contiguous memory: the four
 * children of a node are eight adjacent longs, one or two cache lines. Four children per node
 * halve the depth of a binary heap for the price of more comparisons per level, which are cheap
 * once the line is loaded. The due run and its sorting buffer use the same layout. All arrays
 * grow by doubling and never shrink: a list that once held a million timers keeps the room.
 */
final class TimerHeap {
    private static final int INITIAL_CAPACITY = 16;
    /** Children per node. */
    private static final int ARITY = 4;
    /** Below this many stale entries a rebuild is not worth it, whatever the ratio. */
    private static final int MIN_STALE_FOR_REBUILD = 64;
    /** Fewer due timers than this are popped one by one, whatever the heap's size. */
    private static final int MIN_DUE_FOR_RUN = 64;
    /**
     * The radix sort's digit. 2^8 counters, and as many places to write to at once, stay within
     * what the L1 cache and the store buffers handle well; wider digits mean fewer passes but
     * scattered writes, which cost more once the run outgrows the caches.
     */
    private static final int DIGIT_BITS = 8;

    // ---- the heap: entry i is timers[i], expiring at keys[2i], armed as keys[2i + 1] ----
    private AioTimer[] timers = new AioTimer[INITIAL_CAPACITY];
    private long[] keys = new long[2 * INITIAL_CAPACITY];
    private int entries;

    // ---- the due run: entries runStart..runEnd-1, sorted, in the same layout ----
    private AioTimer[] runTimers = new AioTimer[0];
    private long[] runKeys = new long[0];
    private int runStart;
    private int runEnd;
    /** Sorting buffers, kept between passes. */
    private AioTimer[] sortTimers = new AioTimer[0];
    private long[] sortKeys = new long[0];
    private final int[] digitCounts = new int[1 << DIGIT_BITS];
    /** Work list of {@link #countDue}. */
    private int[] dueScan = new int[MIN_DUE_FOR_RUN];

    /** Stale entries in the heap and the run together (which of the two holds one is not tracked). */
    private int stale;
    private long nextSeq;

    /** For tests, to show a script reached both paths: due runs taken, rebuilds to drop stale entries. */
    long dueRunsTaken;
    long staleRebuilds;

    /** The number of armed timers. */
    int size() {
        return entries + (runEnd - runStart) - stale;
    }

    /** Whether {@code t} is armed in this heap. */
    boolean contains(AioTimer t) {
        return t.heapSeq >= 0;
    }

    /** The timer that expires first, or null. */
    AioTimer head() {
        if (runFirst()) {
            return runTimers[runStart];
        }
        return entries == 0 ? null : timers[0];
    }

    /** The head's expiry, or -1 if no timer is armed. */
    long headExpireNs() {
        if (runFirst()) {
            return runKeys[2 * runStart];
        }
        return entries == 0 ? -1 : keys[0];
    }

    /** Whether the head is the due run's front rather than the heap's top. */
    private boolean runFirst() {
        return runStart < runEnd
                && (entries == 0 || before(runKeys[2 * runStart], runKeys[2 * runStart + 1], keys[0], keys[1]));
    }

    // tag::heap-insert[]
    /**
     * Arms {@code t} (not armed) for {@code expireNs}, behind every armed timer with the same
     * expiry. Returns whether it is now the head.
     */
    boolean insert(AioTimer t, long expireNs) {
        if (entries == timers.length) {
            grow();
        }
        long seq = nextSeq++;
        t.heapSeq = seq;
        // The heap's top was live before, so t is the top exactly when it rises to slot 0.
        return siftUp(entries++, t, expireNs, seq) == 0 && !runFirst();
    }
    // end::heap-insert[]

    /** Disarms {@code t}, which must be armed. Returns whether it was the head. */
    boolean remove(AioTimer t) {
        boolean wasHead = head() == t; // the head is live, so this is t's live entry
        t.heapSeq = -1; // its entry is stale from now on, wherever it is
        stale++;
        // At least this many stale entries are in the heap: the run cannot hold more stale
        // entries than it has. (Counting exactly would mean marking every timer that moves into
        // the run, a write to each timer object that the due run exists to avoid.)
        int heapStale = stale - (runEnd - runStart);
        if (wasHead) {
            dropStaleFronts();
        } else if (heapStale > MIN_STALE_FOR_REBUILD && heapStale > entries - heapStale) {
            staleRebuilds++;
            rebuild(Long.MIN_VALUE); // moves nothing to the run (no expiry is that early), drops stale entries
        }
        return wasHead;
    }

    /** Disarms and returns the head; at least one timer must be armed. */
    AioTimer removeHead() {
        AioTimer head;
        if (runFirst()) {
            head = runTimers[runStart];
            runTimers[runStart++] = null;
        } else {
            head = timers[0];
            popTop();
        }
        head.heapSeq = -1;
        dropStaleFronts();
        return head;
    }

    // tag::take-due[]
    /**
     * Called by a run pass once it has read the clock: if many timers are due at {@code nowNs},
     * moves them all from the heap into the due run in one go (see "The due run"). Changes which
     * structure holds them, never the order in which {@link #removeHead()} returns them.
     */
    void takeDue(long nowNs) {
        if (entries == 0 || keys[0] > nowNs) {
            return;
        }
        int enough = Math.max(MIN_DUE_FOR_RUN, entries / 8);
        if (countDue(nowNs, enough) < enough) {
            return; // a few: popping them costs less than a scan of the whole heap
        }
        dueRunsTaken++;
        rebuild(nowNs);
        sortRun();
        dropStaleFronts();
    }
    // end::take-due[]

    /**
     * Counts the heap entries due at {@code nowNs}, up to {@code limit}. Due entries form a
     * subtree that contains the root (a parent is never later than its child), so a walk that
     * stops at every entry not due visits about as many entries as it counts.
     */
    private int countDue(long nowNs, int limit) {
        if (dueScan.length < limit) {
            dueScan = new int[limit];
        }
        int count = 0;
        dueScan[count++] = 0; // the root is due: takeDue checked
        for (int next = 0; next < count && count < limit; next++) {
            int first = ARITY * dueScan[next] + 1;
            for (int c = first; c < first + ARITY && c < entries && count < limit; c++) {
                if (keys[2 * c] <= nowNs) {
                    dueScan[count++] = c;
                }
            }
        }
        return count;
    }

    /**
     * Drops the heap's stale entries, moves its live entries due at {@code dueNs} to the end of
     * the due run, and restores the heap order bottom-up (Floyd), all in O(entries).
     */
    private void rebuild(long dueNs) {
        boolean maybeStale = stale > 0; // if not, no need to look into the timer objects
        int kept = 0;
        for (int i = 0; i < entries; i++) {
            AioTimer t = timers[i];
            long e = keys[2 * i];
            long s = keys[2 * i + 1];
            if (maybeStale && t.heapSeq != s) {
                stale--;
            } else if (e <= dueNs) {
                appendToRun(t, e, s);
            } else {
                set(kept++, t, e, s);
            }
        }
        Arrays.fill(timers, kept, entries, null);
        entries = kept;
        for (int i = entries > 1 ? (entries - 2) / ARITY : -1; i >= 0; i--) { // from the last parent up
            siftDown(i, timers[i], keys[2 * i], keys[2 * i + 1]);
        }
    }

    private void appendToRun(AioTimer t, long e, long s) {
        if (runEnd == runTimers.length) {
            if (runStart > 0) { // reuse the consumed front before growing
                int n = runEnd - runStart;
                System.arraycopy(runTimers, runStart, runTimers, 0, n);
                System.arraycopy(runKeys, 2 * runStart, runKeys, 0, 2 * n);
                Arrays.fill(runTimers, n, runEnd, null);
                runStart = 0;
                runEnd = n;
            }
            if (runEnd == runTimers.length) {
                int capacity = Math.max(INITIAL_CAPACITY, 2 * runTimers.length);
                runTimers = Arrays.copyOf(runTimers, capacity);
                runKeys = Arrays.copyOf(runKeys, 2 * capacity);
            }
        }
        runTimers[runEnd] = t;
        runKeys[2 * runEnd] = e;
        runKeys[2 * runEnd + 1] = s;
        runEnd++;
    }

    /**
     * Sorts the due run by {@code (expire, seq)}: a least-significant-digit radix sort on the
     * expiry, then each group of equal expiries put in arming order. Only the bits in which the
     * expiries differ are sorted on, so a run of timers spread over a second takes four passes
     * whether it holds a thousand timers or a million.
     */
    private void sortRun() {
        int n = runEnd - runStart;
        if (n < 2) {
            return;
        }
        if (sortTimers.length < n) {
            sortTimers = new AioTimer[runTimers.length];
            sortKeys = new long[runKeys.length];
        }
        if (runStart > 0) { // work on [0, n): shift the run to the front first
            System.arraycopy(runTimers, runStart, runTimers, 0, n);
            System.arraycopy(runKeys, 2 * runStart, runKeys, 0, 2 * n);
            Arrays.fill(runTimers, n, runEnd, null);
            runStart = 0;
            runEnd = n;
        }
        sortRange(0, n, 0);
        // Equal expiries are adjacent now, in no useful order; ties are rare unless deadlines
        // are rounded, and then the groups are sorted the same way on the sequence number.
        for (int i = 0; i < n; ) {
            int j = i + 1;
            while (j < n && runKeys[2 * j] == runKeys[2 * i]) {
                j++;
            }
            if (j - i > 1) {
                sortRange(i, j, 1);
            }
            i = j;
        }
        Arrays.fill(sortTimers, 0, n, null);
    }

    /** Sorts run entries {@code [from, to)} on key {@code field} (0 = expiry, 1 = sequence number). */
    private void sortRange(int from, int to, int field) {
        if (to - from <= 16) { // insertion sort: a radix pass would cost more than it saves
            for (int i = from + 1; i < to; i++) {
                AioTimer t = runTimers[i];
                long e = runKeys[2 * i];
                long s = runKeys[2 * i + 1];
                long key = runKeys[2 * i + field];
                int j = i;
                for (; j > from && runKeys[2 * (j - 1) + field] > key; j--) {
                    runTimers[j] = runTimers[j - 1];
                    runKeys[2 * j] = runKeys[2 * (j - 1)];
                    runKeys[2 * j + 1] = runKeys[2 * (j - 1) + 1];
                }
                runTimers[j] = t;
                runKeys[2 * j] = e;
                runKeys[2 * j + 1] = s;
            }
            return;
        }
        long min = Long.MAX_VALUE;
        long max = Long.MIN_VALUE;
        for (int i = from; i < to; i++) {
            min = Math.min(min, runKeys[2 * i + field]);
            max = Math.max(max, runKeys[2 * i + field]);
        }
        int bits = 64 - Long.numberOfLeadingZeros(max - min); // keys are never negative: no overflow
        boolean inBuffer = false;
        for (int shift = 0; shift < bits; shift += DIGIT_BITS) {
            inBuffer = radixPass(inBuffer, from, to, field, min, shift);
        }
        if (inBuffer) {
            System.arraycopy(sortTimers, from, runTimers, from, to - from);
            System.arraycopy(sortKeys, 2 * from, runKeys, 2 * from, 2 * (to - from));
        }
    }

    /**
     * One stable counting-sort pass over entries {@code [from, to)} on digit {@code shift} of
     * {@code key(field) - base}, from the run into the buffer or back. Returns where the entries
     * are afterwards.
     */
    private boolean radixPass(boolean fromBuffer, int from, int to, int field, long base, int shift) {
        AioTimer[] srcT = fromBuffer ? sortTimers : runTimers;
        long[] srcK = fromBuffer ? sortKeys : runKeys;
        AioTimer[] dstT = fromBuffer ? runTimers : sortTimers;
        long[] dstK = fromBuffer ? runKeys : sortKeys;
        int mask = (1 << DIGIT_BITS) - 1;
        int[] count = digitCounts;
        Arrays.fill(count, 0);
        for (int i = from; i < to; i++) {
            count[(int) ((srcK[2 * i + field] - base) >>> shift) & mask]++;
        }
        for (int d = 0, next = from; d <= mask; d++) {
            int c = count[d];
            count[d] = next;
            next += c;
        }
        for (int i = from; i < to; i++) {
            int at = count[(int) ((srcK[2 * i + field] - base) >>> shift) & mask]++;
            dstT[at] = srcT[i];
            dstK[2 * at] = srcK[2 * i];
            dstK[2 * at + 1] = srcK[2 * i + 1];
        }
        return !fromBuffer;
    }

    /** Restores "the head is live": pops stale entries off the run's front and the heap's top. */
    private void dropStaleFronts() {
        while (runStart < runEnd && runTimers[runStart].heapSeq != runKeys[2 * runStart + 1]) {
            runTimers[runStart++] = null;
            stale--;
        }
        if (runStart == runEnd) {
            runStart = 0;
            runEnd = 0;
        }
        while (entries > 0 && timers[0].heapSeq != keys[1]) {
            popTop();
            stale--;
        }
    }

    /** Removes the heap's entry 0, live or not. */
    private void popTop() {
        int last = --entries;
        AioTimer moved = timers[last];
        timers[last] = null; // no stale reference keeps a dropped timer alive
        if (last > 0) {
            siftDown(0, moved, keys[2 * last], keys[2 * last + 1]);
        }
    }

    /** Moves a hole at {@code i} up until {@code (e, s)} fits, fills it with {@code t}; returns where. */
    private int siftUp(int i, AioTimer t, long e, long s) {
        while (i > 0) {
            int p = (i - 1) / ARITY;
            if (!before(e, s, keys[2 * p], keys[2 * p + 1])) {
                break;
            }
            copy(p, i);
            i = p;
        }
        set(i, t, e, s);
        return i;
    }

    /** Moves a hole at {@code i} down until {@code (e, s)} fits, then fills it with {@code t}. */
    private void siftDown(int i, AioTimer t, long e, long s) {
        while (true) {
            int first = ARITY * i + 1;
            if (first >= entries) {
                break;
            }
            int end = Math.min(first + ARITY, entries);
            int c = first;
            for (int k = first + 1; k < end; k++) {
                if (before(keys[2 * k], keys[2 * k + 1], keys[2 * c], keys[2 * c + 1])) {
                    c = k;
                }
            }
            if (!before(keys[2 * c], keys[2 * c + 1], e, s)) {
                break;
            }
            copy(c, i);
            i = c;
        }
        set(i, t, e, s);
    }

    private void copy(int from, int to) {
        timers[to] = timers[from];
        keys[2 * to] = keys[2 * from];
        keys[2 * to + 1] = keys[2 * from + 1];
    }

    private void set(int i, AioTimer t, long e, long s) {
        timers[i] = t;
        keys[2 * i] = e;
        keys[2 * i + 1] = s;
    }

    /** The order: by expiry, then by arming (sequence numbers are unique). */
    private static boolean before(long e1, long s1, long e2, long s2) {
        return e1 < e2 || (e1 == e2 && s1 < s2);
    }

    private void grow() {
        int capacity = timers.length * 2;
        if (capacity <= 0 || 2 * capacity <= 0) {
            throw new IllegalStateException("too many timers in one list");
        }
        timers = Arrays.copyOf(timers, capacity);
        keys = Arrays.copyOf(keys, 2 * capacity);
    }
}
