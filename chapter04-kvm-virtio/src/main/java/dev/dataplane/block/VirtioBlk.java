package dev.dataplane.block;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.kvm.GuestMemory;
import dev.dataplane.virtio.VirtQueue;
import dev.dataplane.virtio.VirtioDevice;
import dev.dataplane.virtio.VirtioTransport;
import dev.dataplane.virtio.trace.RequestEvent;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A virtio block device (QEMU: {@code VirtIOBlock}, {@code hw/block/virtio-blk.c}) over a
 * {@link BlockBackend}: one request queue, requests IN (read), OUT (write), FLUSH and GET_ID.
 *
 * <p>A request is a chain: a 16-byte header the device reads ({@code u32 type; u32 reserved;
 * u64 sector}), the data (device-readable for OUT, device-writable for IN), and one status byte
 * the device writes last. The header and the data may share buffers (any layout); the status is
 * the last byte of the last writable buffer.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Two kinds of wrong request.</b> A request the device can answer gets an answer: an
 * unknown type {@link #VIRTIO_BLK_S_UNSUPP}; a header shorter than 16 bytes, data that is not a
 * whole number of sectors, sectors past the end of the disk, a write to a read-only disk, a
 * backend error {@link #VIRTIO_BLK_S_IOERR}. A request with nowhere to put the status cannot be
 * answered, and neither can a chain the virtqueue refused: those set NEEDS_RESET (QEMU's
 * {@code virtio_error}) and the device serves nothing more until the driver resets it.
 *
 * <p><b>Threads.</b> Everything on the request path runs in the backend's context (an IOThread,
 * or the main loop), marked {@link IoCode}: the kick, the submission to the thread pool, the
 * completion, the push and the interrupt. Configuration and reset are global-state code, called
 * by the transport with the device stopped.
 */
public final class VirtioBlk implements VirtioDevice {

    public static final int VIRTIO_ID_BLOCK = 2;
    /** The legacy/transitional PCI device ID of virtio-blk. */
    public static final int PCI_DEVICE_ID_LEGACY = 0x1001;
    /** Mass storage, "other" (QEMU: {@code PCI_CLASS_STORAGE_OTHER}). */
    public static final int PCI_CLASS_STORAGE_OTHER = 0x018000;

    public static final int VIRTIO_BLK_F_SIZE_MAX = 1;
    public static final int VIRTIO_BLK_F_SEG_MAX = 2;
    public static final int VIRTIO_BLK_F_RO = 5;
    public static final int VIRTIO_BLK_F_BLK_SIZE = 6;
    public static final int VIRTIO_BLK_F_FLUSH = 9;

    public static final int VIRTIO_BLK_T_IN = 0;
    public static final int VIRTIO_BLK_T_OUT = 1;
    public static final int VIRTIO_BLK_T_FLUSH = 4;
    public static final int VIRTIO_BLK_T_GET_ID = 8;

    public static final int VIRTIO_BLK_S_OK = 0;
    public static final int VIRTIO_BLK_S_IOERR = 1;
    public static final int VIRTIO_BLK_S_UNSUPP = 2;

    /** The ID string's length (no terminating NUL if it fills all of it). */
    public static final int VIRTIO_BLK_ID_BYTES = 20;
    public static final int SECTOR_SIZE = 512;
    private static final int HEADER_BYTES = 16;
    /** How {@link dev.dataplane.virtio.VirtioPciLegacy#lastError()} starts when the device model itself failed. */
    public static final String INTERNAL_ERROR = "virtio-blk internal error";
    /** capacity u64, size_max u32, seg_max u32, geometry u32, blk_size u32. */
    private static final int CONFIG_BYTES = 24;
    /** Views of guest memory are int-sized; a longer buffer becomes several views. */
    private static final int MAX_VIEW = 1 << 30;

    /** Device options. {@code queueSize} is a power of two; {@code serial} is the GET_ID answer. */
    public record Options(int queueSize, boolean readOnly, String serial, boolean indirect, boolean eventIdx) {
        public Options {
            Objects.requireNonNull(serial, "serial");
        }

        public static Options defaults() {
            return new Options(256, false, "dataplane-disk", true, true);
        }

        public Options withReadOnly(boolean ro) {
            return new Options(queueSize, ro, serial, indirect, eventIdx);
        }

        public Options withQueueSize(int n) {
            return new Options(n, readOnly, serial, indirect, eventIdx);
        }

        public Options withRingFeatures(boolean ind, boolean evIdx) {
            return new Options(queueSize, readOnly, serial, ind, evIdx);
        }
    }

    private final GuestMemory mem;
    private final BlockBackend backend;
    private final Options options;
    private final boolean readOnly;
    private final long capacitySectors;
    private final byte[] id = new byte[VIRTIO_BLK_ID_BYTES];
    private final VirtQueue queue;
    private VirtioTransport transport;

    /** Set in the device's context when it reported NEEDS_RESET; cleared by reset (device stopped). */
    private volatile boolean broken;

    // ---- statistics (device context writes, anyone reads) ----
    private volatile long requests;
    private volatile long bytesRead;
    private volatile long bytesWritten;

    public VirtioBlk(GuestMemory mem, BlockBackend backend, Options options) {
        this.mem = Objects.requireNonNull(mem, "mem");
        this.backend = Objects.requireNonNull(backend, "backend");
        this.options = Objects.requireNonNull(options, "options");
        this.readOnly = options.readOnly() || backend.isReadOnly();
        this.capacitySectors = backend.length() / SECTOR_SIZE;
        byte[] serial = options.serial().getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(serial, 0, id, 0, Math.min(serial.length, id.length));
        this.queue = new VirtQueue(mem, 0, options.queueSize());
    }

    // ------------------------------------------------------------------------------------
    // Identity, features, configuration (global-state code)
    // ------------------------------------------------------------------------------------

    @Override
    public int deviceId() {
        return VIRTIO_ID_BLOCK;
    }

    @Override
    public int pciDeviceId() {
        return PCI_DEVICE_ID_LEGACY;
    }

    @Override
    public int pciClassCode() {
        return PCI_CLASS_STORAGE_OTHER;
    }

    @Override
    public long hostFeatures() {
        long f = 1L << VIRTIO_BLK_F_SEG_MAX | 1L << VIRTIO_BLK_F_BLK_SIZE | 1L << VIRTIO_BLK_F_FLUSH;
        if (readOnly) {
            f |= 1L << VIRTIO_BLK_F_RO;
        }
        if (options.indirect()) {
            f |= 1L << VirtQueue.VIRTIO_RING_F_INDIRECT_DESC;
        }
        if (options.eventIdx()) {
            f |= 1L << VirtQueue.VIRTIO_RING_F_EVENT_IDX;
        }
        return f;
    }

    @Override
    public int numQueues() {
        return 1;
    }

    @Override
    public VirtQueue queue(int index) {
        if (index != 0) {
            throw new IndexOutOfBoundsException("virtio-blk has one queue: " + index);
        }
        return queue;
    }

    @Override
    public int configSize() {
        return CONFIG_BYTES;
    }

    @Override
    @GlobalStateCode
    public long configRead(int offset, int size) {
        ByteBuffer c = ByteBuffer.allocate(CONFIG_BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        c.putLong(0, capacitySectors);
        c.putInt(8, 0);                             // size_max: not offered
        c.putInt(12, options.queueSize() - 2);      // seg_max: room for header and status
        c.putInt(16, 0);                            // geometry: not offered
        c.putInt(20, SECTOR_SIZE);                  // blk_size
        long v = 0;
        for (int i = 0; i < size && offset + i < CONFIG_BYTES; i++) {
            v |= (c.get(offset + i) & 0xFFL) << (8 * i);
        }
        return v;
    }

    @Override
    @GlobalStateCode
    public void configWrite(int offset, int size, long value) {
        // Nothing is writable: the write-cache toggle (CONFIG_WCE) is not offered.
    }

    @Override
    public AioContext context() {
        return backend.context();
    }

    @Override
    @GlobalStateCode
    public void plug(VirtioTransport t) {
        if (transport != null) {
            throw new IllegalStateException("already plugged into a transport");
        }
        transport = Objects.requireNonNull(t, "transport");
    }

    @Override
    @GlobalStateCode
    public void setGuestFeatures(long features) {
        queue.setFeatures((features & 1L << VirtQueue.VIRTIO_RING_F_INDIRECT_DESC) != 0,
                (features & 1L << VirtQueue.VIRTIO_RING_F_EVENT_IDX) != 0);
    }

    @Override
    @GlobalStateCode
    public void reset() {
        queue.reset();
        broken = false;
    }

    public boolean isReadOnly() {
        return readOnly;
    }

    public long capacitySectors() {
        return capacitySectors;
    }

    /** Requests taken from the queue, bytes read from and written to the disk. */
    public record Statistics(long requests, long bytesRead, long bytesWritten) {
    }

    public Statistics statistics() {
        return new Statistics(requests, bytesRead, bytesWritten);
    }

    // ------------------------------------------------------------------------------------
    // The request path (device context)
    // ------------------------------------------------------------------------------------

    // tag::blk-handle-queue[]
    /**
     * A kick: take every available chain (QEMU: {@code virtio_blk_handle_vq}). Notifications are
     * off while the queue is being emptied, and the queue is looked at once more after turning
     * them back on, so that a chain made available in between is not left waiting for a kick.
     */
    @Override
    @IoCode
    public void handleQueue(VirtQueue vq) {
        if (broken) {
            return;
        }
        do {
            vq.setNotification(false);
            VirtQueue.Element e;
            while ((e = vq.pop()) != null) {
                requests++;
                try {
                    handleRequest(vq, e);
                } catch (RuntimeException bug) {
                    internalError(vq, e, bug);
                }
                if (broken) {
                    return;
                }
            }
            if (vq.error() != null) {
                fail(vq.error());
                return;
            }
            vq.setNotification(true);
        } while (!vq.isEmpty());
    }
    // end::blk-handle-queue[]

    // tag::blk-request[]
    @IoCode
    private void handleRequest(VirtQueue vq, VirtQueue.Element e) {
        if (e.inBytes() < 1) {
            vq.detach(e);
            fail("request at head " + e.head() + " has no device-writable byte for its status");
            return;
        }
        long status = statusAddress(e);
        if (e.outBytes() < HEADER_BYTES) {
            complete(vq, e, status, VIRTIO_BLK_S_IOERR, 1);
            return;
        }
        byte[] header = new byte[HEADER_BYTES];
        gather(e, header);
        ByteBuffer h = ByteBuffer.wrap(header).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int type = h.getInt(0);
        long sector = h.getLong(8);
        if (e.trace() != null) {
            describe(e, type, sector);
        }
        switch (type) {
            case VIRTIO_BLK_T_IN: {
                long len = e.inBytes() - 1; // everything writable but the status byte
                if (!inRange(sector, len)) {
                    complete(vq, e, status, VIRTIO_BLK_S_IOERR, 1);
                    return;
                }
                backend.readv(sector * SECTOR_SIZE, views(e, true, 0, len),
                        ret -> completeIo(vq, e, status, ret, len + 1, len, 0));
                return;
            }
            case VIRTIO_BLK_T_OUT: {
                long len = e.outBytes() - HEADER_BYTES; // everything readable after the header
                if (readOnly || !inRange(sector, len)) {
                    complete(vq, e, status, VIRTIO_BLK_S_IOERR, 1);
                    return;
                }
                backend.writev(sector * SECTOR_SIZE, views(e, false, HEADER_BYTES, len),
                        ret -> completeIo(vq, e, status, ret, 1, 0, len));
                return;
            }
            case VIRTIO_BLK_T_FLUSH:
                backend.flush(ret -> completeIo(vq, e, status, ret, 1, 0, 0));
                return;
            case VIRTIO_BLK_T_GET_ID:
                getId(vq, e, status);
                return;
            default:
                complete(vq, e, status, VIRTIO_BLK_S_UNSUPP, 1);
        }
    }
    // end::blk-request[]

    // tag::blk-get-id[]
    /**
     * GET_ID: the device's serial, at most {@link #VIRTIO_BLK_ID_BYTES} bytes, into the start of
     * the writable buffers, cut short if the driver gave less room; no terminating NUL when the
     * serial fills all 20 bytes. Completes at once: the answer is in memory, no backend involved.
     * The used length counts the ID bytes and the status byte.
     */
    @IoCode
    private void getId(VirtQueue vq, VirtQueue.Element e, long status) {
        // tag::exercise-ch04-get-id[]
        int n = (int) Math.min(VIRTIO_BLK_ID_BYTES, e.inBytes() - 1);
        scatter(e, id, n);
        complete(vq, e, status, VIRTIO_BLK_S_OK, n + 1);
        // end::exercise-ch04-get-id[]
    }
    // end::blk-get-id[]

    /** Whether {@code len} bytes at {@code sector} are whole sectors inside the disk (unsigned, overflow-safe). */
    private boolean inRange(long sector, long len) {
        if (len % SECTOR_SIZE != 0) {
            return false;
        }
        long n = len / SECTOR_SIZE;
        return Long.compareUnsigned(sector, capacitySectors) <= 0 && n <= capacitySectors - sector;
    }

    @IoCode
    private void completeIo(VirtQueue vq, VirtQueue.Element e, long status, int ret, long written,
                            long read, long wrote) {
        if (ret < 0) {
            complete(vq, e, status, VIRTIO_BLK_S_IOERR, 1);
            return;
        }
        bytesRead += read;
        bytesWritten += wrote;
        complete(vq, e, status, VIRTIO_BLK_S_OK, written);
    }

    /** The status byte, then the used element, then (maybe) the interrupt. */
    @IoCode
    private void complete(VirtQueue vq, VirtQueue.Element e, long statusAddr, int status, long written) {
        mem.writeByte(statusAddr, (byte) status);
        if (e.trace() != null) {
            e.trace().status = status;
        }
        vq.push(e, written);
        transport.notifyQueue(vq);
    }

    /**
     * A request made the device model throw: not the guest's doing (its input is checked), a bug
     * here, e.g. an exercise not solved yet. The chain is given up and the device asks for a
     * reset, rather than leave it in flight, where it would make every later reset wait forever.
     */
    @IoCode
    private void internalError(VirtQueue vq, VirtQueue.Element e, RuntimeException bug) {
        if (!e.isDone()) {
            vq.detach(e);
        }
        fail(INTERNAL_ERROR + " on the request at head " + e.head() + ": " + bug);
    }

    @IoCode
    private void fail(String why) {
        broken = true;
        transport.deviceError(why);
    }

    /** Fills in the request's JFR event (only while a recording wants it). */
    private static void describe(VirtQueue.Element e, int type, long sector) {
        RequestEvent t = e.trace();
        switch (type) {
            case VIRTIO_BLK_T_IN -> {
                t.type = "IN";
                t.sector = sector;
                t.bytes = e.inBytes() - 1;
            }
            case VIRTIO_BLK_T_OUT -> {
                t.type = "OUT";
                t.sector = sector;
                t.bytes = e.outBytes() - HEADER_BYTES;
            }
            case VIRTIO_BLK_T_FLUSH -> t.type = "FLUSH";
            case VIRTIO_BLK_T_GET_ID -> {
                t.type = "GET_ID";
                t.bytes = Math.min(VIRTIO_BLK_ID_BYTES, e.inBytes() - 1);
            }
            default -> t.type = "type " + type;
        }
    }

    /** The last byte of the last device-writable buffer. */
    private static long statusAddress(VirtQueue.Element e) {
        int last = e.count() - 1;
        return e.address(last) + e.length(last) - 1;
    }

    /** Copies the first {@code dst.length} device-readable bytes into {@code dst}. */
    private void gather(VirtQueue.Element e, byte[] dst) {
        int done = 0;
        for (int i = 0; i < e.outCount() && done < dst.length; i++) {
            int n = (int) Math.min(e.length(i), dst.length - done);
            mem.read(e.address(i), dst, done, n);
            done += n;
        }
    }

    /** Copies {@code n} bytes of {@code src} to the start of the device-writable buffers. */
    private void scatter(VirtQueue.Element e, byte[] src, int n) {
        int done = 0;
        for (int i = e.outCount(); i < e.count() && done < n; i++) {
            int k = (int) Math.min(e.length(i), n - done);
            mem.write(e.address(i), src, done, k);
            done += k;
        }
    }

    // tag::blk-zero-copy[]
    /**
     * Views of guest memory for bytes {@code from .. from+len} of the chain's writable (or
     * readable) buffers: what the backend reads into or writes from, with no copy in between.
     * The number of views is bounded by the chain's length, which the queue size bounds.
     */
    private ByteBuffer[] views(VirtQueue.Element e, boolean writable, long from, long len) {
        int first = writable ? e.outCount() : 0;
        int end = writable ? e.count() : e.outCount();
        int count = 0;
        ByteBuffer[] out = new ByteBuffer[16];
        long skip = from;
        long left = len;
        for (int i = first; i < end && left > 0; i++) {
            long bl = e.length(i);
            if (skip >= bl) {
                skip -= bl;
                continue;
            }
            long addr = e.address(i) + skip;
            long n = Math.min(bl - skip, left);
            skip = 0;
            left -= n;
            while (n > 0) {
                int piece = (int) Math.min(n, MAX_VIEW);
                if (count == out.length) {
                    out = resized(out, count, count * 2);
                }
                out[count++] = mem.slice(addr, piece);
                addr += piece;
                n -= piece;
            }
        }
        return resized(out, count, count);
    }
    // end::blk-zero-copy[]

    /**
     * The first {@code count} views in an array of {@code size}. Not {@code Arrays.copyOf}: for an
     * array of objects it makes the copy through reflection, a native call that C1 (the JIT's
     * first tier, which runs this code until C2 has compiled it) does not inline, and this runs
     * once per request.
     */
    private static ByteBuffer[] resized(ByteBuffer[] views, int count, int size) {
        ByteBuffer[] copy = new ByteBuffer[size];
        System.arraycopy(views, 0, copy, 0, count);
        return copy;
    }

    @Override
    public String toString() {
        return "VirtioBlk[" + capacitySectors + " sectors" + (readOnly ? ", read-only" : "") + ", " + backend + "]";
    }
}
