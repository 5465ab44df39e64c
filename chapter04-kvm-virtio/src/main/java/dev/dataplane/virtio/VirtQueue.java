package dev.dataplane.virtio;

import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.kvm.GuestMemory;
import dev.dataplane.kvm.GuestMemoryException;
import dev.dataplane.virtio.trace.RequestEvent;
import java.lang.invoke.VarHandle;

/**
 * The device's side of one split virtqueue in guest memory (QEMU: {@code VirtQueue},
 * {@code hw/virtio/virtio.c}): the descriptor table, the available ring the driver fills and the
 * used ring the device fills.
 *
 * <pre>
 *   descriptor table   size x { u64 addr; u32 len; u16 flags; u16 next; }
 *   available ring     u16 flags; u16 idx; u16 ring[size]; u16 used_event;   (driver writes)
 *   used ring          u16 flags; u16 idx; { u32 id; u32 len; } ring[size]; u16 avail_event;   (device writes)
 * </pre>
 *
 * <p>The device takes a chain with {@link #pop()}, does the request, and gives the chain back
 * with {@link #push}; {@link #shouldNotify()} then says whether the driver wants an interrupt.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>The guest is untrusted.</b> Every index, address, length and flag read from the rings is
 * checked before it is used. A chain that breaks the rules (an index out of range, a loop, more
 * descriptors than the queue has, a buffer outside RAM, a zero-length buffer, a device-readable
 * buffer after a device-writable one, a nested or misplaced indirect table, an available index
 * that ran more than a queue ahead) is a driver bug that the device cannot answer sensibly: the
 * queue stops, {@link #error()} says why, and the device model reports NEEDS_RESET (QEMU:
 * {@code virtio_error}). A chain is walked with a counter, not a visited set: more steps than
 * descriptors means a loop, and nothing is allocated in proportion to a guest-chosen number: the
 * scratch arrays have the queue's size, which the device chose.
 *
 * <p><b>Memory ordering</b> (the pairs the virtio specification's barriers describe). The driver
 * runs on other CPUs and writes the rings with plain stores and its own barriers; guest memory
 * has no Java fields to make volatile, so the device orders its plain accesses with
 * {@link VarHandle} fences.
 * <ol>
 *   <li><em>avail idx, then acquire fence, then ring entries and descriptors</em> (pop). The
 *       driver writes the descriptors and the ring entry, then a write barrier, then the index.
 *       Seeing the new index, the device must not read the entry it announces any earlier.</li>
 *   <li><em>used element, then release fence, then used idx</em> (push). The driver reads the
 *       index and then the elements; they, and the data the request wrote, must be visible
 *       first.</li>
 *   <li><em>used idx, then full fence, then avail flags or used_event</em> (shouldNotify); and
 *       <em>used flags or avail_event, then full fence, then avail idx</em> (enableNotification).
 *       Both are store-then-load pairs (Dekker) with the driver doing the mirror image: without
 *       the full fence the load could be satisfied before the store is visible, each side would
 *       miss the other's update, and a request or an interrupt would be lost.</li>
 * </ol>
 *
 * <p><b>Threads.</b> The transport sets the queue up and resets it with the BQL held while the
 * device is stopped ({@link GlobalStateCode}); everything else runs in the device's
 * {@code AioContext} ({@link IoCode}). The hand-over between them is the start and stop of the
 * queue's notifier in that context (a lock inside the event loop), which orders the plain fields
 * below. {@link #inFlight()} is read by a drain in another thread, hence volatile.
 */
public final class VirtQueue {

    /** Descriptor flag: the chain continues at {@code next}. */
    public static final int VRING_DESC_F_NEXT = 1;
    /** Descriptor flag: the device writes this buffer (otherwise it only reads it). */
    public static final int VRING_DESC_F_WRITE = 2;
    /** Descriptor flag: the buffer is a table of descriptors (VIRTIO_RING_F_INDIRECT_DESC). */
    public static final int VRING_DESC_F_INDIRECT = 4;
    /** Available-ring flag: the driver does not want interrupts. */
    public static final int VRING_AVAIL_F_NO_INTERRUPT = 1;
    /** Used-ring flag: the device does not want notifications. */
    public static final int VRING_USED_F_NO_NOTIFY = 1;
    /** Feature bit: descriptors may point to indirect tables. */
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    /** Feature bit: used_event / avail_event replace the flags for suppression. */
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;

    /** The legacy interface's page size: the queue's address is given in 4-KiB frames. */
    public static final int LEGACY_PAGE_SHIFT = 12;
    /** The legacy interface aligns the used ring to 4 KiB. */
    public static final int LEGACY_USED_ALIGN = 4096;
    /** The largest queue a split ring allows. */
    public static final int MAX_SIZE = 32768;

    private static final int DESC_SIZE = 16;

    private final GuestMemory mem;
    private final int index;
    private final int size;

    // ---- set up by the transport (BQL, device stopped) ----
    private long descAddr;
    private long availAddr;
    private long usedAddr;
    private boolean ready;
    private boolean indirectEnabled;
    private boolean eventIdxEnabled;

    // ---- the device's context ----
    private int lastAvailIdx;
    private int usedIdx;
    private int signalledUsed;
    private boolean signalledUsedValid;
    private boolean notificationEnabled = true;
    private String error;
    /** Bumped by {@link #reset()}, so that an element of an older life cannot be pushed. */
    private int generation;
    /** Popped and neither pushed nor detached (QEMU: {@code vq->inuse}); read by drains. */
    private volatile int inFlight;

    // Scratch space for one chain walk; the queue's size bounds every chain.
    private final long[] scratchAddr;
    private final long[] scratchLen;
    private final boolean[] scratchWritable;

    /**
     * @param size the queue's size, a power of two up to {@link #MAX_SIZE}; the device chooses it
     */
    public VirtQueue(GuestMemory mem, int index, int size) {
        if (size <= 0 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException("queue size must be a power of two in 1.." + MAX_SIZE + ": " + size);
        }
        this.mem = mem;
        this.index = index;
        this.size = size;
        this.scratchAddr = new long[size];
        this.scratchLen = new long[size];
        this.scratchWritable = new boolean[size];
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    // ------------------------------------------------------------------------------------
    // Set-up (transport, BQL held, device stopped)
    // ------------------------------------------------------------------------------------

    /**
     * The legacy layout: the descriptor table at {@code pfn << 12}, the available ring right after
     * it, the used ring at the next 4-KiB boundary (QEMU: {@code virtio_queue_set_addr} with
     * {@code vring_align}). PFN 0 disables the queue.
     *
     * @return whether the three areas lie inside guest RAM (otherwise the queue is not ready)
     */
    @GlobalStateCode
    public boolean setLegacyPfn(long pfn) {
        if (pfn == 0) {
            disable();
            return true;
        }
        long desc = pfn << LEGACY_PAGE_SHIFT;
        long avail = desc + (long) DESC_SIZE * size;
        long used = alignUp(avail + 6 + 2L * size, LEGACY_USED_ALIGN);
        return setAddresses(desc, avail, used);
    }

    /** The legacy used ring's address for a queue of {@code size} at {@code desc}. */
    public static long legacyUsedAddress(long desc, int size) {
        return alignUp(desc + (long) DESC_SIZE * size + 6 + 2L * size, LEGACY_USED_ALIGN);
    }

    /**
     * Sets the three areas' guest-physical addresses (the modern interface's way).
     *
     * @return whether they lie inside guest RAM and are suitably aligned; if not the queue is not
     *         ready, and a kick finds it broken
     */
    @GlobalStateCode
    public boolean setAddresses(long desc, long avail, long used) {
        descAddr = desc;
        availAddr = avail;
        usedAddr = used;
        ready = mem.contains(desc, (long) DESC_SIZE * size)
                && mem.contains(avail, 6 + 2L * size)
                && mem.contains(used, 6 + 8L * size)
                && (desc & 15) == 0 && (avail & 1) == 0 && (used & 3) == 0;
        error = ready ? null : "virtqueue " + index + ": rings outside guest RAM or misaligned (desc 0x"
                + Long.toHexString(desc) + ", avail 0x" + Long.toHexString(avail) + ", used 0x"
                + Long.toHexString(used) + ")";
        return ready;
    }

    /** Which ring features the driver accepted. */
    @GlobalStateCode
    public void setFeatures(boolean indirect, boolean eventIdx) {
        this.indirectEnabled = indirect;
        this.eventIdxEnabled = eventIdx;
    }

    /** Forgets addresses and indices (device reset; QEMU: {@code virtio_queue_reset}). Drain first. */
    @GlobalStateCode
    public void reset() {
        disable();
        indirectEnabled = false;
        eventIdxEnabled = false;
    }

    private void disable() {
        descAddr = 0;
        availAddr = 0;
        usedAddr = 0;
        ready = false;
        error = null;
        lastAvailIdx = 0;
        usedIdx = 0;
        signalledUsed = 0;
        signalledUsedValid = false;
        notificationEnabled = true;
        generation++;
        inFlight = 0;
    }

    /** Whether the driver has given the queue valid addresses. */
    public boolean isReady() {
        return ready;
    }

    public long descAddress() {
        return descAddr;
    }

    public long availAddress() {
        return availAddr;
    }

    public long usedAddress() {
        return usedAddr;
    }

    /** The legacy PFN register's value (0 when not set up by PFN). */
    public long legacyPfn() {
        return descAddr >>> LEGACY_PAGE_SHIFT;
    }

    /** Why the queue stopped, or null while it works. */
    public String error() {
        return error;
    }

    /** Chains popped and not yet pushed or detached. Any thread. */
    public int inFlight() {
        return inFlight;
    }

    // ------------------------------------------------------------------------------------
    // The request path (device context)
    // ------------------------------------------------------------------------------------

    // tag::virtqueue-pop[]
    /**
     * Takes the next chain the driver made available (QEMU: {@code virtqueue_pop}).
     *
     * @return the validated chain, or null: either there is none, or the queue met a malformed
     *         chain (then {@link #error()} is set, the queue stays stopped until reset, and the
     *         device must report NEEDS_RESET)
     */
    @IoCode
    public Element pop() {
        if (error != null || !ready) {
            return null; // broken (error set), or not set up: nothing to take
        }
        try {
            int availIdx = mem.readShort(availAddr + 2) & 0xffff;
            int pending = (availIdx - lastAvailIdx) & 0xffff;
            if (pending == 0) {
                return null;
            }
            if (pending > size) {
                return fail("available index " + availIdx + " is " + pending + " entries ahead of "
                        + lastAvailIdx + ", more than the queue's " + size);
            }
            // Pairs with the driver's write barrier between the ring entry and the index: the
            // entry, and the descriptors it names, are read only after the index that announced them.
            VarHandle.acquireFence();
            int head = mem.readShort(availAddr + 4 + 2L * (lastAvailIdx & (size - 1))) & 0xffff;
            Element e = readChain(head);
            if (e == null) {
                return null;
            }
            lastAvailIdx = (lastAvailIdx + 1) & 0xffff;
            if (eventIdxEnabled && notificationEnabled) {
                // Tell the driver which index we will look at next, so it kicks for that one.
                mem.writeShort(usedAddr + 4 + 8L * size, (short) lastAvailIdx);
            }
            inFlight++;
            e.trace = RequestEvent.beginIfEnabled(); // null unless a recording wants requests
            return e;
        } catch (GuestMemoryException ex) {
            // Unreachable while the set-up checks hold; a broken ring is still the guest's problem.
            return fail("ring access outside guest RAM: " + ex.getMessage());
        }
    }
    // end::virtqueue-pop[]

    // tag::chain-validation[]
    /** Walks and checks the chain at {@code head}; null (and {@link #error}) if it is malformed. */
    private Element readChain(int head) {
        // tag::exercise-ch04-validate-chain[]
        if (head >= size) {
            return fail("head index " + head + " is out of range (queue size " + size + ")");
        }
        long table = descAddr;
        int tableSize = size;
        int i = head;
        int steps = 0;        // descriptors visited in the current table: more than it has = a loop
        int count = 0;        // buffers collected
        boolean seenWritable = false;
        boolean indirect = false;
        while (true) {
            if (++steps > tableSize) {
                return fail("chain at head " + head + " loops or is longer than its table (" + tableSize + ")");
            }
            long d = table + (long) DESC_SIZE * i;
            long addr = mem.readLong(d);
            long len = mem.readInt(d + 8) & 0xffffffffL;
            int flags = mem.readShort(d + 12) & 0xffff;
            int next = mem.readShort(d + 14) & 0xffff;

            if ((flags & VRING_DESC_F_INDIRECT) != 0) {
                if (!indirectEnabled) {
                    return fail("indirect descriptor, but VIRTIO_RING_F_INDIRECT_DESC was not negotiated");
                }
                if (indirect) {
                    return fail("indirect descriptor inside an indirect table");
                }
                if (count != 0 || (flags & VRING_DESC_F_NEXT) != 0) {
                    return fail("an indirect descriptor must be the only one of its chain");
                }
                if (len == 0 || len % DESC_SIZE != 0 || len / DESC_SIZE > size) {
                    return fail("indirect table of " + len + " bytes (must be 1.." + size + " descriptors)");
                }
                if (!mem.contains(addr, len) || (addr & 15) != 0) {
                    return fail("indirect table [0x" + Long.toHexString(addr) + ", +" + len + ") outside guest RAM or misaligned");
                }
                table = addr;
                tableSize = (int) (len / DESC_SIZE);
                i = 0;
                steps = 0;
                indirect = true;
                continue;
            }
            if (len == 0) {
                return fail("zero-length buffer in chain at head " + head);
            }
            if (!mem.contains(addr, len)) {
                return fail("buffer [0x" + Long.toHexString(addr) + ", +" + len + ") is outside guest RAM");
            }
            boolean writable = (flags & VRING_DESC_F_WRITE) != 0;
            if (!writable && seenWritable) {
                return fail("device-readable buffer after a device-writable one in chain at head " + head);
            }
            seenWritable |= writable;
            // steps <= tableSize <= size, so count < size: the scratch arrays are large enough.
            scratchAddr[count] = addr;
            scratchLen[count] = len;
            scratchWritable[count] = writable;
            count++;
            if ((flags & VRING_DESC_F_NEXT) == 0) {
                break;
            }
            if (next >= tableSize) {
                return fail("next index " + next + " is out of range (table of " + tableSize + ")");
            }
            i = next;
        }
        return new Element(this, generation, head, count, scratchAddr, scratchLen, scratchWritable);
        // end::exercise-ch04-validate-chain[]
    }
    // end::chain-validation[]

    private Element fail(String why) {
        error = "virtqueue " + index + ": " + why;
        return null;
    }

    // tag::virtqueue-push[]
    /**
     * Gives a chain back to the driver (QEMU: {@code virtqueue_push}): its head and the number of
     * bytes the device wrote into its writable buffers.
     */
    @IoCode
    public void push(Element e, long written) {
        if (!claim(e)) {
            return;
        }
        if (written < 0 || written > e.inBytes()) {
            throw new IllegalArgumentException("written length " + written + " outside 0.." + e.inBytes());
        }
        long slot = usedAddr + 4 + 8L * (usedIdx & (size - 1));
        mem.writeInt(slot, e.head());
        mem.writeInt(slot + 4, (int) written);
        // Pairs with the driver's read barrier after it reads the used index: the element (and
        // the data the request wrote) must be visible before the index that announces it.
        VarHandle.releaseFence();
        usedIdx = (usedIdx + 1) & 0xffff;
        mem.writeShort(usedAddr + 2, (short) usedIdx);
        inFlight--;
        if (e.trace != null) {
            commitTrace(e, written);
        }
    }
    // end::virtqueue-push[]

    private void commitTrace(Element e, long written) {
        RequestEvent t = e.trace;
        t.end();
        if (t.shouldCommit()) {
            t.queue = index;
            t.head = e.head();
            t.written = written;
            t.commit();
        }
    }

    /**
     * Drops a popped chain without giving it back (QEMU: {@code virtqueue_detach_element}): the
     * device found it unusable and is about to report NEEDS_RESET. Keeps {@link #inFlight()} right
     * so that a drain before the reset ends.
     */
    @IoCode
    public void detach(Element e) {
        if (claim(e)) {
            inFlight--;
        }
    }

    /** Marks the element finished; false if it belongs to an earlier life of the queue (reset since). */
    private boolean claim(Element e) {
        if (e.queue != this) {
            throw new IllegalArgumentException("element of queue " + e.queue.index + " given to queue " + index);
        }
        if (e.done) {
            throw new IllegalStateException("element at head " + e.head() + " already given back");
        }
        e.done = true;
        return e.generation == generation;
    }

    // tag::virtqueue-notify[]
    /**
     * Whether the driver wants an interrupt for what was pushed since the last call (QEMU:
     * {@code virtio_should_notify}). Call after a batch of {@link #push}es.
     */
    @IoCode
    public boolean shouldNotify() {
        if (!ready) {
            return false;
        }
        // Store (used idx, in push) then load (the driver's flags): a Dekker pair with the driver,
        // which stores its flags or used_event and then reads the used index.
        VarHandle.fullFence();
        if (eventIdxEnabled) {
            int usedEvent = mem.readShort(availAddr + 4 + 2L * size) & 0xffff;
            int old = signalledUsed;
            boolean valid = signalledUsedValid;
            signalledUsed = usedIdx;
            signalledUsedValid = true;
            return !valid || needEvent(usedEvent, usedIdx, old);
        }
        return (mem.readShort(availAddr) & VRING_AVAIL_F_NO_INTERRUPT) == 0;
    }

    /** Whether moving the index from {@code old} to {@code now} passed {@code event} (16-bit arithmetic). */
    static boolean needEvent(int event, int now, int old) {
        return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    // end::virtqueue-notify[]

    /**
     * Asks the driver to kick (true) or not to bother (false) while the device is busy with the
     * queue anyway (QEMU: {@code virtio_queue_set_notification}). After enabling, the caller must
     * look at the queue again: a chain made available before the driver saw the change would
     * otherwise wait for a kick that never comes.
     */
    @IoCode
    public void setNotification(boolean enable) {
        notificationEnabled = enable;
        if (!ready || error != null) {
            return;
        }
        if (eventIdxEnabled) {
            if (enable) {
                mem.writeShort(usedAddr + 4 + 8L * size, (short) lastAvailIdx);
            }
        } else {
            mem.writeShort(usedAddr, (short) (enable ? 0 : VRING_USED_F_NO_NOTIFY));
        }
        if (enable) {
            VarHandle.fullFence(); // store the flag, then load avail idx in isEmpty(): a Dekker pair
        }
    }

    /** Whether no chain is waiting (true for a queue that is not set up or is broken). */
    @IoCode
    public boolean isEmpty() {
        if (!ready || error != null) {
            return true;
        }
        return (mem.readShort(availAddr + 2) & 0xffff) == lastAvailIdx;
    }

    /** The device's next available index (for tests and traces). */
    public int lastAvailIndex() {
        return lastAvailIdx;
    }

    /** The device's used index (for tests and traces). */
    public int usedIndex() {
        return usedIdx;
    }

    private static long alignUp(long x, long align) {
        return (x + align - 1) & -align;
    }

    /**
     * One validated chain (QEMU: {@code VirtQueueElement}): its head index and its buffers, the
     * device-readable ones first. Every buffer lies inside guest RAM and is at least one byte.
     */
    public static final class Element {
        private final VirtQueue queue;
        private final int generation;
        private final int head;
        private final long[] addr;
        private final long[] len;
        private final int outCount;
        private final long outBytes;
        private final long inBytes;
        private boolean done;
        /** The request's JFR event from pop to push, or null when no recording wants it. */
        private RequestEvent trace;

        Element(VirtQueue queue, int generation, int head, int count, long[] addrs, long[] lens, boolean[] writable) {
            this.queue = queue;
            this.generation = generation;
            this.head = head;
            this.addr = java.util.Arrays.copyOf(addrs, count);
            this.len = java.util.Arrays.copyOf(lens, count);
            int out = 0;
            long outB = 0;
            long inB = 0;
            for (int k = 0; k < count; k++) {
                if (writable[k]) {
                    inB += lens[k];
                } else {
                    out++;
                    outB += lens[k];
                }
            }
            this.outCount = out;
            this.outBytes = outB;
            this.inBytes = inB;
        }

        public int head() {
            return head;
        }

        /** Whether the chain was given back ({@link VirtQueue#push}) or dropped ({@link VirtQueue#detach}). */
        public boolean isDone() {
            return done;
        }

        /**
         * The JFR event of this request, begun at pop and committed at push, or null while no
         * recording wants {@code dataplane.virtio.Request}; the device fills in what only it
         * knows (type, sector, status).
         */
        public RequestEvent trace() {
            return trace;
        }

        /** Number of buffers (device-readable first, then device-writable). */
        public int count() {
            return addr.length;
        }

        /** Number of device-readable buffers; they are buffers {@code 0 .. outCount()-1}. */
        public int outCount() {
            return outCount;
        }

        public long address(int i) {
            return addr[i];
        }

        public long length(int i) {
            return len[i];
        }

        public boolean isWritable(int i) {
            return i >= outCount;
        }

        /** Total bytes the device may read. */
        public long outBytes() {
            return outBytes;
        }

        /** Total bytes the device may write. */
        public long inBytes() {
            return inBytes;
        }

        @Override
        public String toString() {
            return "Element[queue " + queue.index + ", head " + head + ", " + addr.length + " buffers, out "
                    + outBytes + " B, in " + inBytes + " B]";
        }
    }
}
