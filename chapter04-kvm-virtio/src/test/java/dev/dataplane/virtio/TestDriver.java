package dev.dataplane.virtio;

import static dev.dataplane.virtio.VirtioPciLegacy.REG_GUEST_FEATURES;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_HOST_FEATURES;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_NOTIFY;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_NUM;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_PFN;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_QUEUE_SEL;
import static dev.dataplane.virtio.VirtioPciLegacy.REG_STATUS;

import dev.dataplane.pc.IoDevice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A test "guest driver" for a legacy virtio-blk device: it talks to the register block as the
 * guest's port I/O would, builds chains in fake memory, and reads the answers. Register accesses
 * must come from a thread holding the BQL (the test thread as main loop plays the vCPU).
 */
public final class TestDriver {
    /** Where the driver's buffers start; the ring lives below. */
    public static final long HEAP = 0x10000;

    public final FakeGuestMemory mem;
    public final IoDevice regs;
    private GuestRing ring;
    private long heap = HEAP;
    private int nextDesc;

    public TestDriver(FakeGuestMemory mem, IoDevice regs) {
        this.mem = mem;
        this.regs = regs;
    }

    public GuestRing ring() {
        return ring;
    }

    public long hostFeatures() {
        return regs.read(REG_HOST_FEATURES, 4);
    }

    public int status() {
        return (int) regs.read(REG_STATUS, 1);
    }

    public void setStatus(int s) {
        regs.write(REG_STATUS, 1, s);
    }

    /** Reset, negotiate {@code wanted & host}, set up queue 0 at page frame 1, DRIVER_OK. */
    public void init(long wanted) {
        setStatus(0);
        setStatus(VirtioPciLegacy.STATUS_ACKNOWLEDGE | VirtioPciLegacy.STATUS_DRIVER);
        regs.write(REG_GUEST_FEATURES, 4, hostFeatures() & wanted);
        regs.write(REG_QUEUE_SEL, 2, 0);
        int size = (int) regs.read(REG_QUEUE_NUM, 2);
        ring = new GuestRing(mem, 1, size);
        regs.write(REG_QUEUE_PFN, 4, ring.pfn());
        heap = HEAP;
        nextDesc = 0;
        setStatus(VirtioPciLegacy.STATUS_ACKNOWLEDGE | VirtioPciLegacy.STATUS_DRIVER
                | VirtioPciLegacy.STATUS_DRIVER_OK);
    }

    /** Kicks queue 0 through the notify register (a vCPU exit). */
    public void kick() {
        regs.write(REG_QUEUE_NOTIFY, 2, 0);
    }

    /** {@code n} bytes of driver memory, 16-byte aligned, zeroed. */
    public long alloc(int n) {
        long a = heap;
        heap = (heap + n + 15) & ~15L;
        if (heap > mem.size()) {
            throw new IllegalStateException("test driver heap exhausted");
        }
        mem.clear(a, n);
        return a;
    }

    /** One buffer of a chain. */
    public record Buf(long addr, long len, boolean writable) {
    }

    /** Writes the buffers as a chain of fresh descriptors; returns the head (not yet available). */
    public int chain(Buf... bufs) {
        int size = ring.size;
        int head = nextDesc;
        for (int k = 0; k < bufs.length; k++) {
            int i = (nextDesc + k) % size;
            int next = (nextDesc + k + 1) % size;
            int flags = (bufs[k].writable() ? VirtQueue.VRING_DESC_F_WRITE : 0)
                    | (k < bufs.length - 1 ? VirtQueue.VRING_DESC_F_NEXT : 0);
            ring.desc(i, bufs[k].addr(), bufs[k].len(), flags, next);
        }
        nextDesc = (nextDesc + bufs.length) % size;
        return head;
    }

    /** A virtio-blk request as the driver sees it. */
    public final class Req {
        public final int head;
        public final long header;
        public final long data;
        public final int dataLen;
        public final long statusAddr;

        Req(int head, long header, long data, int dataLen, long statusAddr) {
            this.head = head;
            this.header = header;
            this.data = data;
            this.dataLen = dataLen;
            this.statusAddr = statusAddr;
        }

        /** The status byte: 0xFF until the device wrote it. */
        public int status() {
            return mem.readByte(statusAddr) & 0xFF;
        }

        public byte[] data() {
            byte[] b = new byte[dataLen];
            mem.read(data, b, 0, dataLen);
            return b;
        }
    }

    /** Writes a 16-byte header at {@code addr}. */
    public void header(long addr, int type, long sector) {
        mem.write(addr, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(0, type).putLong(8, sector).array(), 0, 16);
    }

    /**
     * Builds the classic three-part request (header R, data R or W, status W), makes it available
     * and returns it. {@code dataLen} 0 leaves the data buffer out.
     */
    public Req request(int type, long sector, int dataLen, boolean dataWritable, byte[] payload) {
        long hdr = alloc(16);
        header(hdr, type, sector);
        long data = dataLen > 0 ? alloc(dataLen) : 0;
        if (payload != null) {
            mem.write(data, payload, 0, payload.length);
        }
        long st = alloc(1);
        mem.writeByte(st, (byte) 0xFF);
        int head = dataLen > 0
                ? chain(new Buf(hdr, 16, false), new Buf(data, dataLen, dataWritable), new Buf(st, 1, true))
                : chain(new Buf(hdr, 16, false), new Buf(st, 1, true));
        ring.makeAvailable(head);
        return new Req(head, hdr, data, dataLen, st);
    }

    public Req read(long sector, int bytes) {
        return request(0, sector, bytes, true, null);
    }

    public Req write(long sector, byte[] data) {
        return request(1, sector, data.length, false, data);
    }

    public Req flush() {
        return request(4, 0, 0, false, null);
    }

    public Req getId(int bytes) {
        return request(8, 0, bytes, true, null);
    }

    /** A request from arbitrary buffers: the header is written into the first one if it is 16+ bytes. */
    public Req custom(int type, long sector, Buf... bufs) {
        if (bufs.length > 0 && bufs[0].len() >= 16) {
            header(bufs[0].addr(), type, sector);
        }
        Buf last = bufs[bufs.length - 1];
        long st = last.addr() + last.len() - 1;
        if (last.len() > 0 && mem.contains(st, 1)) {
            mem.writeByte(st, (byte) 0xFF);
        }
        int head = chain(bufs);
        ring.makeAvailable(head);
        return new Req(head, bufs[0].addr(), 0, 0, mem.contains(st, 1) ? st : 0);
    }

    public int usedIdx() {
        return ring.usedIdx();
    }
}
