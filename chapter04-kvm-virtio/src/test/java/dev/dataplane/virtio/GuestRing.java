package dev.dataplane.virtio;

import java.lang.invoke.VarHandle;

/**
 * The driver's view of a split virtqueue in the legacy layout, as a guest would write it: raw
 * descriptors, the available ring, and reads of the used ring. No validation at all: tests use
 * it to build malformed rings on purpose.
 */
public final class GuestRing {
    public final FakeGuestMemory mem;
    public final long desc;
    public final long avail;
    public final long used;
    public final int size;
    private int availIdx;

    /** The legacy layout for {@code size} entries at page frame {@code pfn}; the areas are zeroed. */
    public GuestRing(FakeGuestMemory mem, long pfn, int size) {
        this.mem = mem;
        this.size = size;
        this.desc = pfn << VirtQueue.LEGACY_PAGE_SHIFT;
        this.avail = desc + 16L * size;
        this.used = VirtQueue.legacyUsedAddress(desc, size);
        mem.clear(desc, (int) (used + 6 + 8L * size - desc));
    }

    public long pfn() {
        return desc >>> VirtQueue.LEGACY_PAGE_SHIFT;
    }

    /** One past the last byte of the ring areas. */
    public long end() {
        return used + 6 + 8L * size;
    }

    public void desc(int i, long addr, long len, int flags, int next) {
        long d = desc + 16L * i;
        mem.writeLong(d, addr);
        mem.writeInt(d + 8, (int) len);
        mem.writeShort(d + 12, (short) flags);
        mem.writeShort(d + 14, (short) next);
    }

    /** Writes a descriptor into a table at {@code table} (an indirect one). */
    public void descAt(long table, int i, long addr, long len, int flags, int next) {
        long d = table + 16L * i;
        mem.writeLong(d, addr);
        mem.writeInt(d + 8, (int) len);
        mem.writeShort(d + 12, (short) flags);
        mem.writeShort(d + 14, (short) next);
    }

    /** Makes {@code head} available: ring entry, barrier, index (what a driver does). */
    public void makeAvailable(int head) {
        mem.writeShort(avail + 4 + 2L * (availIdx % size), (short) head);
        VarHandle.releaseFence();
        availIdx = (availIdx + 1) & 0xffff;
        mem.writeShort(avail + 2, (short) availIdx);
        VarHandle.fullFence();
    }

    /** Writes the available index directly (for runaway indices). */
    public void setAvailIdx(int idx) {
        availIdx = idx & 0xffff;
        mem.writeShort(avail + 2, (short) availIdx);
        VarHandle.fullFence();
    }

    /** Writes a ring entry without publishing it. */
    public void availEntry(int slot, int head) {
        mem.writeShort(avail + 4 + 2L * slot, (short) head);
    }

    public int availIdx() {
        return availIdx;
    }

    public void setAvailFlags(int flags) {
        mem.writeShort(avail, (short) flags);
        VarHandle.fullFence();
    }

    public void setUsedEvent(int idx) {
        mem.writeShort(avail + 4 + 2L * size, (short) idx);
        VarHandle.fullFence();
    }

    public int usedIdx() {
        VarHandle.fullFence();
        return mem.readShort(used + 2) & 0xffff;
    }

    public int usedFlags() {
        return mem.readShort(used) & 0xffff;
    }

    public int availEvent() {
        return mem.readShort(used + 4 + 8L * size) & 0xffff;
    }

    public int usedId(int n) {
        return mem.readInt(used + 4 + 8L * (n % size));
    }

    public int usedLen(int n) {
        return mem.readInt(used + 4 + 8L * (n % size) + 4);
    }
}
