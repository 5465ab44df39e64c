package dev.dataplane.virtio;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.EventNotifier;
import dev.dataplane.iothread.AioWait;
import dev.dataplane.iothread.CodeRules;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.iothread.rules.IoOrGsCode;
import dev.dataplane.pc.IoDevice;
import dev.dataplane.pc.PciFunction;
import dev.dataplane.virtio.trace.InterruptEvent;
import dev.dataplane.virtio.trace.KickEvent;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A virtio device behind the legacy ("0.9.5", transitional) virtio-pci interface (QEMU:
 * {@code hw/virtio/virtio-pci.c}, the {@code VIRTIO_PCI_*} registers): a PCI header with vendor
 * 0x1AF4 and one I/O BAR holding the register block.
 *
 * <pre>
 *   offset  size  register
 *    0      4     host features (device -> driver), bits 0..31
 *    4      4     guest features (driver -> device)
 *    8      4     queue PFN: the selected queue's address in 4-KiB frames (0 = off)
 *   12      2     queue size of the selected queue (read-only)
 *   14      2     queue select
 *   16      2     queue notify: write the queue's index to kick it
 *   18      1     device status
 *   19      1     ISR status: bit 0 queue interrupt, bit 1 configuration change; reading clears it
 *   20      ...   device-specific configuration (no MSI-X registers in between)
 * </pre>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Threads.</b> The register block and the PCI header run in vCPU threads with the BQL held
 * (global-state code). The device's queues are served in the device's context, an IOThread's or
 * the main loop's; {@link #notifyQueue} and {@link #deviceError} come from there and never take
 * the BQL. What both sides touch is guarded by small locks of its own: the ISR and the INTx level
 * by {@code irqLock}, the status by an atomic (the device context may add NEEDS_RESET).
 *
 * <p><b>The dataplane</b> (seed 002). When the driver sets DRIVER_OK, every queue gets a host
 * notifier, an {@link EventNotifier} handled in the device's context; the machine's
 * {@link NotifyBinder} attaches it to the notify register as an ioeventfd, so a kick costs the
 * vCPU no exit to userspace and no BQL. Without a binding ({@link NotifyBinder#NONE}), a notify
 * write reaches {@link #queueNotify} in the vCPU thread: if the device lives in the main loop,
 * the vCPU runs the queue there and then, under the BQL (the old, synchronous way); if it lives in
 * an IOThread, the vCPU sets the host notifier and the IOThread does the work.
 *
 * <p><b>Stopping</b> (reset, or DRIVER_OK cleared) goes in the reverse order, and its order is
 * the point: first the ioeventfds are unbound, so no new kick can reach a notifier; then, in the
 * device's context, each notifier's handler is removed and the notifier is tested once more, so a
 * kick that arrived between the guest's write and the removal is still served (the race the
 * seed's patch closes); then the transport waits until no request is in flight; only then is the
 * device reset. A completion after the reset would write into rings the driver has given up.
 */
public final class VirtioPciLegacy implements PciFunction {

    public static final int VENDOR_ID = 0x1AF4;

    public static final int REG_HOST_FEATURES = 0;
    public static final int REG_GUEST_FEATURES = 4;
    public static final int REG_QUEUE_PFN = 8;
    public static final int REG_QUEUE_NUM = 12;
    public static final int REG_QUEUE_SEL = 14;
    public static final int REG_QUEUE_NOTIFY = 16;
    public static final int REG_STATUS = 18;
    public static final int REG_ISR = 19;
    /** Where the device-specific configuration starts when MSI-X is off. */
    public static final int REG_CONFIG = 20;

    public static final int STATUS_ACKNOWLEDGE = 1;
    public static final int STATUS_DRIVER = 2;
    public static final int STATUS_DRIVER_OK = 4;
    public static final int STATUS_FEATURES_OK = 8;
    public static final int STATUS_NEEDS_RESET = 64;
    public static final int STATUS_FAILED = 128;

    public static final int ISR_QUEUE = 1;
    public static final int ISR_CONFIG = 2;

    private static final int PCI_COMMAND = 0x04;
    private static final int PCI_STATUS = 0x06;
    private static final int PCI_BAR0 = 0x10;
    private static final int PCI_COMMAND_INTX_DISABLE = 1 << 10;
    private static final int PCI_STATUS_INTERRUPT = 1 << 3;

    private final VirtioDevice device;
    private final AioContext ctx;
    private final AioWait aioWait;
    private final NotifyBinder binder;
    private final int barSize;
    private final LegacyRegisters registers = new LegacyRegisters();

    // ---- PCI configuration space (BQL) ----
    private final byte[] config = new byte[256];
    private final byte[] writeMask = new byte[256];

    // ---- the register block's state (BQL) ----
    private long guestFeatures;
    private int queueSel;
    private boolean started;
    private HostNotifier[] notifiers = new HostNotifier[0];

    /** Written by the vCPU (BQL); NEEDS_RESET is added by the device context. */
    private final AtomicInteger status = new AtomicInteger();
    private volatile String lastError;

    // ---- interrupt (any thread, under irqLock) ----
    private final Object irqLock = new Object();
    private int isr;
    private boolean lineLevel;
    private boolean intxDisabled;
    private IntxLine line = level -> { };

    // ---- statistics (any thread) ----
    private final AtomicLong registerKicks = new AtomicLong();
    private final AtomicLong ignoredKicks = new AtomicLong();
    private final AtomicLong interrupts = new AtomicLong();

    /**
     * @param device  the device model; it is plugged into this transport
     * @param aioWait the main loop's, for stopping the queues (waiting in the device's context)
     * @param binder  the machine's ioeventfd binder, or {@link NotifyBinder#NONE}
     */
    @GlobalStateCode
    public VirtioPciLegacy(VirtioDevice device, AioWait aioWait, NotifyBinder binder) {
        this.device = Objects.requireNonNull(device, "device");
        this.ctx = device.context();
        this.aioWait = Objects.requireNonNull(aioWait, "aioWait");
        this.binder = Objects.requireNonNull(binder, "binder");
        this.barSize = Integer.highestOneBit(Math.max(32, REG_CONFIG + device.configSize()) * 2 - 1);
        buildConfigHeader();
        device.plug(new Transport());
    }

    // ------------------------------------------------------------------------------------
    // PCI configuration space
    // ------------------------------------------------------------------------------------

    private void buildConfigHeader() {
        put16(0x00, VENDOR_ID);
        put16(0x02, device.pciDeviceId());
        config[0x08] = 0;                                   // revision 0: legacy virtio
        put16(0x0A, device.pciClassCode() >>> 8);           // subclass, class
        config[0x09] = (byte) device.pciClassCode();        // programming interface
        config[0x0E] = 0;                                   // header type 0, single function
        put32(PCI_BAR0, 1);                                 // an I/O BAR, not assigned yet
        put16(0x2C, VENDOR_ID);                             // subsystem vendor
        put16(0x2E, device.deviceId());                     // subsystem id = virtio device type
        config[0x3D] = 1;                                   // interrupt pin A
        // What the driver and the firmware may change: command (I/O, memory, bus master, INTx
        // disable), cache line size, latency timer, BAR0's address bits, interrupt line.
        writeMask[PCI_COMMAND] = 0x07;
        writeMask[PCI_COMMAND + 1] = (byte) (PCI_COMMAND_INTX_DISABLE >>> 8);
        writeMask[0x0C] = (byte) 0xFF;
        writeMask[0x0D] = (byte) 0xFF;
        int barMask = ~(barSize - 1) & 0xFFFFFFFC;
        for (int i = 0; i < 4; i++) {
            writeMask[PCI_BAR0 + i] = (byte) (barMask >>> (8 * i));
        }
        writeMask[0x3C] = (byte) 0xFF;
    }

    @Override
    @GlobalStateCode
    public int configRead(int offset, int size) {
        if (!validConfigAccess(offset, size)) {
            return -1;
        }
        int v = 0;
        for (int i = 0; i < size; i++) {
            v |= (configByte(offset + i) & 0xFF) << (8 * i);
        }
        return v;
    }

    private byte configByte(int offset) {
        if (offset == PCI_STATUS) {
            synchronized (irqLock) {
                return (byte) (lineLevel ? PCI_STATUS_INTERRUPT : 0);
            }
        }
        return config[offset];
    }

    @Override
    @GlobalStateCode
    public void configWrite(int offset, int size, int value) {
        if (!validConfigAccess(offset, size)) {
            return;
        }
        for (int i = 0; i < size; i++) {
            int o = offset + i;
            byte b = (byte) (value >>> (8 * i));
            config[o] = (byte) ((config[o] & ~writeMask[o]) | (b & writeMask[o]));
        }
        if (offset <= PCI_COMMAND + 1 && offset + size > PCI_COMMAND) {
            boolean disabled = (get16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) != 0;
            synchronized (irqLock) {
                intxDisabled = disabled;
                updateLineLocked();
            }
        }
    }

    private static boolean validConfigAccess(int offset, int size) {
        return (size == 1 || size == 2 || size == 4) && offset >= 0 && offset + size <= 256 && offset % size == 0;
    }

    @Override
    public List<Bar> bars() {
        return List.of(new Bar(0, true, barSize, registers));
    }

    /** The legacy register block, BAR 0's device. */
    public IoDevice registers() {
        return registers;
    }

    @Override
    @GlobalStateCode
    public void connectIntx(IntxLine line) {
        synchronized (irqLock) {
            this.line = Objects.requireNonNull(line, "line");
        }
    }

    // ------------------------------------------------------------------------------------
    // The register block (vCPU thread, BQL held)
    // ------------------------------------------------------------------------------------

    private final class LegacyRegisters implements IoDevice {
        @Override
        @GlobalStateCode
        public long read(long offset, int size) {
            return registerRead(offset, size);
        }

        @Override
        @GlobalStateCode
        public void write(long offset, int size, long value) {
            registerWrite(offset, size, value);
        }
    }

    @GlobalStateCode
    private long registerRead(long offset, int size) {
        if (offset >= REG_CONFIG && offset < barSize) {
            int off = (int) offset - REG_CONFIG;
            if ((size == 1 || size == 2 || size == 4) && off + size <= device.configSize()) {
                return device.configRead(off, size) & mask(size);
            }
            return mask(size);
        }
        VirtQueue vq = selectedQueue();
        switch (key(offset, size)) {
            case REG_HOST_FEATURES << 4 | 4:
                return device.hostFeatures() & 0xFFFFFFFFL;
            case REG_GUEST_FEATURES << 4 | 4:
                return guestFeatures;
            case REG_QUEUE_PFN << 4 | 4:
                return vq == null ? 0 : vq.legacyPfn() & 0xFFFFFFFFL;
            case REG_QUEUE_NUM << 4 | 2:
                return vq == null ? 0 : vq.size();
            case REG_QUEUE_SEL << 4 | 2:
                return queueSel;
            case REG_QUEUE_NOTIFY << 4 | 2:
                return 0;
            case REG_STATUS << 4 | 1:
                return status.get() & 0xFF;
            case REG_ISR << 4 | 1:
                return readAndClearIsr();
            default:
                return mask(size);
        }
    }

    @GlobalStateCode
    private void registerWrite(long offset, int size, long value) {
        if (offset >= REG_CONFIG && offset < barSize) {
            int off = (int) offset - REG_CONFIG;
            if ((size == 1 || size == 2 || size == 4) && off + size <= device.configSize()) {
                device.configWrite(off, size, value & mask(size));
            }
            return;
        }
        switch (key(offset, size)) {
            case REG_GUEST_FEATURES << 4 | 4:
                if (!started) { // features are fixed once the driver is running
                    guestFeatures = value & device.hostFeatures() & 0xFFFFFFFFL;
                    device.setGuestFeatures(guestFeatures);
                }
                break;
            case REG_QUEUE_PFN << 4 | 4: {
                VirtQueue vq = selectedQueue();
                if (vq != null && !started) { // the device context owns the rings while started
                    vq.setLegacyPfn(value & 0xFFFFFFFFL);
                }
                break;
            }
            case REG_QUEUE_SEL << 4 | 2:
                queueSel = (int) (value & 0xFFFF);
                break;
            case REG_QUEUE_NOTIFY << 4 | 2:
                queueNotify((int) (value & 0xFFFF));
                break;
            case REG_STATUS << 4 | 1:
                setStatus((int) (value & 0xFF));
                break;
            default:
                break; // read-only or unknown: ignored, as hardware would
        }
    }

    private static int key(long offset, int size) {
        return offset < 0 || offset >= REG_CONFIG ? -1 : (int) offset << 4 | size;
    }

    private static long mask(int size) {
        return size >= 8 ? -1L : (1L << (8 * size)) - 1;
    }

    private VirtQueue selectedQueue() {
        return queueSel < device.numQueues() ? device.queue(queueSel) : null;
    }

    // tag::legacy-queue-notify[]
    /**
     * A notify write that reached userspace (QEMU: {@code virtio_queue_notify}): no ioeventfd
     * caught it, because there is none ({@code ioeventfd=off}) or it is being set up or torn
     * down. vCPU thread, BQL held.
     */
    @GlobalStateCode
    public void queueNotify(int index) {
        if (!started || index >= device.numQueues() || notifiers[index] == null) {
            ignoredKicks.incrementAndGet(); // before DRIVER_OK, an invalid index, or a queue never set up
            return;
        }
        registerKicks.incrementAndGet();
        if (ctx.inHomeThread()) {
            // The device lives in the main loop, whose home we are while we hold the BQL: serve
            // the queue here and now, in the vCPU thread (the synchronous path of seed 002).
            traceKick(index, KickEvent.VIA_REGISTER);
            device.handleQueue(notifiers[index].vq);
        } else {
            // The device lives in an IOThread: only that thread may touch the queue.
            notifiers[index].notifier.set();
        }
    }
    // end::legacy-queue-notify[]

    // ------------------------------------------------------------------------------------
    // Status, start and stop (BQL held)
    // ------------------------------------------------------------------------------------

    @GlobalStateCode
    private void setStatus(int value) {
        CodeRules.globalStateCode();
        if (value == 0) {
            reset();
            return;
        }
        int old = status.getAndUpdate(s -> value | (s & STATUS_NEEDS_RESET));
        boolean wasOk = (old & STATUS_DRIVER_OK) != 0;
        boolean ok = (value & STATUS_DRIVER_OK) != 0;
        if (ok && !wasOk) {
            startQueues();
        } else if (!ok && wasOk) {
            stopQueues();
        }
    }

    /** The device status, with NEEDS_RESET if the device set it. Any thread. */
    public int status() {
        return status.get();
    }

    /** Why the device last asked for a reset, or null. Any thread. */
    public String lastError() {
        return lastError;
    }

    // tag::dataplane-start[]
    /** DRIVER_OK: give every queue a host notifier in the device's context and bind it to the register. */
    @GlobalStateCode
    private void startQueues() {
        HostNotifier[] hns = new HostNotifier[device.numQueues()];
        for (int i = 0; i < hns.length; i++) {
            VirtQueue vq = device.queue(i);
            if (!vq.isReady() && vq.error() == null) {
                continue; // never set up: kicks for it are ignored
            }
            HostNotifier hn = new HostNotifier(vq, new EventNotifier());
            hns[i] = hn;
            // With a poll function, as QEMU's virtio_queue_aio_attach_host_notifier: a context
            // that busy-polls sees the avail ring move without the eventfd, and a handler without
            // one would switch busy polling off for the whole context.
            ctx.setEventNotifier(hn.notifier, true, hn::read, hn::pollAvail, hn::pollReady);
            ctx.setEventNotifierPoll(hn.notifier, hn::pollBegin, hn::pollEnd);
            hn.binding = binder.bind(0, REG_QUEUE_NOTIFY, 2, i, hn.notifier);
            hn.via = hn.binding != null ? KickEvent.VIA_IOEVENTFD : KickEvent.VIA_REGISTER;
            // Chains the driver made available before DRIVER_OK wait for no kick of their own.
            hn.startPending = true;
            hn.notifier.set();
        }
        notifiers = hns;
        started = true;
    }
    // end::dataplane-start[]

    // tag::dataplane-stop[]
    /** Reset or DRIVER_OK cleared: unbind, serve the last kicks, wait for requests in flight. */
    @GlobalStateCode
    private void stopQueues() {
        if (!started) {
            return;
        }
        started = false;
        HostNotifier[] hns = notifiers;
        // 1. No new kick reaches a notifier (a write now exits to a vCPU, which waits for our BQL).
        for (HostNotifier hn : hns) {
            if (hn != null && hn.binding != null) {
                hn.binding.close();
                hn.binding = null;
            }
            if (hn != null) {
                hn.via = KickEvent.VIA_STOP; // for the trace: a kick served from now on came before the stop
            }
        }
        // 2. In the device's context: stop listening, then serve a kick that came just before.
        aioWait.runInContext(ctx, () -> detachNotifiers(hns));
        // 3. Requests already submitted complete before anyone touches the rings again.
        aioWait.waitWhile(ctx, this::requestsInFlight);
        for (HostNotifier hn : hns) {
            if (hn != null) {
                hn.notifier.close();
            }
        }
        notifiers = new HostNotifier[0];
    }

    @IoCode
    private void detachNotifiers(HostNotifier[] hns) {
        // tag::exercise-ch04-kick-before-unbind[]
        for (HostNotifier hn : hns) {
            if (hn != null) {
                ctx.removeEventNotifier(hn.notifier);
                hn.read(hn.notifier);
            }
        }
        // end::exercise-ch04-kick-before-unbind[]
    }
    // end::dataplane-stop[]

    @IoOrGsCode
    private boolean requestsInFlight() {
        for (int i = 0; i < device.numQueues(); i++) {
            if (device.queue(i).inFlight() > 0) {
                return true;
            }
        }
        return false;
    }

    /** Write 0 to the status: stop, drain, reset device and queues (QEMU: {@code virtio_pci_reset}). */
    @GlobalStateCode
    private void reset() {
        stopQueues();
        device.reset();
        guestFeatures = 0;
        queueSel = 0;
        status.set(0);
        lastError = null;
        synchronized (irqLock) {
            isr = 0;
            updateLineLocked();
        }
    }

    /** One queue's host notifier: the eventfd a kick sets, served in the device's context. */
    private final class HostNotifier {
        final VirtQueue vq;
        final EventNotifier notifier;
        NotifyBinder.Binding binding;
        /**
         * For the trace: who sets the notifier, an ioeventfd or a vCPU passing a register write
         * on; {@code stop} once the transport is stopping. Volatile: the stop changes it while the
         * device's context may be reading it.
         */
        volatile String via;
        /**
         * For the trace: the DRIVER_OK look at the queue is pending. A plain field: written before
         * the handler is registered, whose registration orders them for the device's context.
         */
        boolean startPending;

        HostNotifier(VirtQueue vq, EventNotifier notifier) {
            this.vq = vq;
            this.notifier = notifier;
        }

        /** QEMU: {@code virtio_queue_host_notifier_read}. In the device's context. */
        @IoCode
        void read(EventNotifier n) {
            if (n.testAndClear()) {
                traceKick(vq.index(), startPending ? KickEvent.VIA_START : via);
                startPending = false;
                device.handleQueue(vq);
            }
        }

        // tag::host-notifier-poll[]
        /**
         * Busy polling's readiness check (QEMU: {@code virtio_queue_host_notifier_aio_poll}): a
         * chain is waiting. One read of guest RAM, no system call.
         */
        @IoCode
        boolean pollAvail() {
            return !vq.isEmpty();
        }

        /** Polling found a chain: serve the queue as a kick would (the eventfd may stay set; harmless). */
        @IoCode
        void pollReady(EventNotifier n) {
            traceKick(vq.index(), startPending ? KickEvent.VIA_START : KickEvent.VIA_POLL);
            startPending = false;
            device.handleQueue(vq);
        }

        /** The context starts polling: the driver need not kick, we are looking anyway. */
        @IoCode
        void pollBegin(EventNotifier n) {
            vq.setNotification(false);
        }

        /**
         * The context stops polling (it is about to sleep): kicks are needed again. The context
         * polls once more after this, so a chain published just before the flag is seen.
         */
        @IoCode
        void pollEnd(EventNotifier n) {
            vq.setNotification(true);
        }
        // end::host-notifier-poll[]
    }

    private static void traceKick(int queue, String via) {
        KickEvent trace = new KickEvent();
        if (trace.shouldCommit()) {
            trace.queue = queue;
            trace.via = via;
            trace.commit();
        }
    }

    // ------------------------------------------------------------------------------------
    // Interrupts (any thread, no BQL)
    // ------------------------------------------------------------------------------------

    // tag::legacy-interrupt[]
    @IoCode
    private void raise(int bits) {
        synchronized (irqLock) {
            isr |= bits;
            interrupts.incrementAndGet();
            updateLineLocked();
        }
    }

    /** Reading the ISR clears it and lowers the line: the legacy driver's acknowledgement. */
    @GlobalStateCode
    private int readAndClearIsr() {
        synchronized (irqLock) {
            int v = isr;
            isr = 0;
            updateLineLocked();
            return v;
        }
    }

    /**
     * The INTx level follows the ISR (unless the driver disabled INTx). Raising is repeated each
     * time: the machine's line may be an irqfd that the interrupt controller lowered on EOI.
     * Under irqLock, so that the level set last matches the ISR.
     */
    private void updateLineLocked() {
        boolean level = isr != 0 && !intxDisabled;
        if (level || lineLevel) {
            line.set(level);
        }
        lineLevel = level;
    }
    // end::legacy-interrupt[]

    /** The ISR without clearing it, for tests. */
    public int peekIsr() {
        synchronized (irqLock) {
            return isr;
        }
    }

    /** Counters: kicks that reached the register block and were served, kicks ignored, interrupts raised. */
    public record Statistics(long registerKicks, long ignoredKicks, long interrupts) {
    }

    public Statistics statistics() {
        return new Statistics(registerKicks.get(), ignoredKicks.get(), interrupts.get());
    }

    private final class Transport implements VirtioTransport {
        @Override
        @IoCode
        public void notifyQueue(VirtQueue vq) {
            boolean inject = vq.shouldNotify();
            if (inject) {
                raise(ISR_QUEUE);
            }
            InterruptEvent trace = new InterruptEvent();
            if (trace.shouldCommit()) {
                trace.queue = vq.index();
                trace.injected = inject;
                trace.usedIndex = vq.usedIndex();
                trace.commit();
            }
            aioWait.kick(); // a stop may be waiting for this request
        }

        @Override
        @IoOrGsCode
        public void deviceError(String why) {
            lastError = why;
            int old = status.getAndUpdate(s -> s | STATUS_NEEDS_RESET);
            if ((old & STATUS_NEEDS_RESET) == 0 && (old & STATUS_DRIVER_OK) != 0) {
                raise(ISR_CONFIG);
            }
            aioWait.kick();
        }
    }

    private void put16(int off, int v) {
        config[off] = (byte) v;
        config[off + 1] = (byte) (v >>> 8);
    }

    private void put32(int off, int v) {
        put16(off, v);
        put16(off + 2, v >>> 16);
    }

    private int get16(int off) {
        return (config[off] & 0xFF) | (config[off + 1] & 0xFF) << 8;
    }
}
