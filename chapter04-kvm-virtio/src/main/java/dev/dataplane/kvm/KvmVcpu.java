package dev.dataplane.kvm;

import static dev.dataplane.kvm.linux.KvmAbi.*;

import dev.dataplane.kvm.linux.KvmSys;
import dev.dataplane.kvm.linux.MappedRegion;
import dev.dataplane.kvm.linux.NativeBlock;
import java.nio.ByteBuffer;

/**
 * One virtual CPU: its fd, its shared {@code kvm_run} page, and its registers (QEMU:
 * {@code CPUState} with {@code kvm_fd} and {@code kvm_run}, {@code accel/kvm/kvm-all.c}).
 *
 * <p>Implementation notes.
 *
 * <p><b>The kvm_run page.</b> After each {@link #run()} that returns 0, the kernel has written the
 * exit's description into the page that is mapped from the vCPU fd: the exit reason at offset 8 and
 * a union from offset 32 whose meaning depends on it (port I/O, MMIO, internal error...). The
 * accessors below read those fields through a little-endian direct {@link ByteBuffer} at the offsets
 * of {@link dev.dataplane.kvm.linux.KvmAbi}, so handling an exit costs no JNA call at all. For an
 * I/O or MMIO <em>read</em>, user space writes the value back into the page, and the next
 * {@code KVM_RUN} completes the guest's instruction with it.
 *
 * <p><b>Threads.</b> A vCPU is used by one thread at a time: its {@link VcpuThread} while it runs,
 * or the set-up code before. {@code KVM_RUN}, the register ioctls and the page accessors are not
 * safe to call concurrently. The only cross-thread operations are a kick ({@link VcpuThread#kick()})
 * and {@link #setImmediateExit}.
 *
 * <p><b>Closing.</b> {@link #close()} stops and joins the vCPU's thread if one runs it, unmaps the
 * page and closes the fd. The VM closes its vCPUs first when it is closed.
 */
public final class KvmVcpu implements AutoCloseable {
    private final KvmVm vm;
    private final int id;
    private final int fd;
    private final MappedRegion runPage;
    private final ByteBuffer run;
    private final NativeBlock regsBlock = new NativeBlock(SIZEOF_KVM_REGS);
    private final NativeBlock sregsBlock = new NativeBlock(SIZEOF_KVM_SREGS);
    private volatile VcpuThread thread;
    private boolean closed;

    KvmVcpu(KvmVm vm, int id, int fd, int mmapSize) {
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        try {
            this.runPage = MappedRegion.shared(fd, mmapSize, "kvm_run of vCPU " + id);
        } catch (RuntimeException e) {
            KvmSys.close(fd, "vCPU " + id);
            throw e;
        }
        this.run = runPage.buffer();
    }

    public int id() {
        return id;
    }

    public KvmVm vm() {
        return vm;
    }

    int fd() {
        return fd;
    }

    /**
     * {@code KVM_RUN}: runs the guest on this vCPU until an exit that user space must handle.
     * Returns 0 (the exit is described by {@link #exitReason()} and the accessors), or
     * {@code -errno}: {@code -EINTR} when a kick signal ended the run, {@code -EAGAIN} to simply
     * try again, anything else a failure.
     */
    public int run() {
        return KvmSys.kvmRun(fd);
    }

    // ---- the exit, from the kvm_run page ----

    /** {@code kvm_run.exit_reason}, one of {@code KvmAbi.KVM_EXIT_*}. */
    public int exitReason() {
        return run.getInt(RUN_EXIT_REASON);
    }

    /** Port I/O: {@code KVM_EXIT_IO_OUT} (1) or {@code KVM_EXIT_IO_IN} (0). */
    public boolean ioIsOut() {
        return run.get(RUN_IO_DIRECTION) == KVM_EXIT_IO_OUT;
    }

    /** Port I/O: access size in bytes (1, 2 or 4). */
    public int ioSize() {
        return run.get(RUN_IO_SIZE) & 0xFF;
    }

    /** Port I/O: the port. */
    public int ioPort() {
        return run.getShort(RUN_IO_PORT) & 0xFFFF;
    }

    /** Port I/O: number of accesses (more than 1 for {@code rep ins}/{@code rep outs}). */
    public int ioCount() {
        return run.getInt(RUN_IO_COUNT);
    }

    /** Port I/O: where in the page the data of the accesses lies. */
    public long ioDataOffset() {
        return run.getLong(RUN_IO_DATA_OFFSET);
    }

    /** Port I/O: the value of access {@code i} of an OUT. */
    public long ioData(int i) {
        int size = ioSize();
        return readLe(ioDataIndex(i, size), size);
    }

    /** Port I/O: sets the value access {@code i} of an IN returns to the guest. */
    public void setIoData(int i, long value) {
        int size = ioSize();
        writeLe(ioDataIndex(i, size), size, value);
    }

    private int ioDataIndex(int i, int size) {
        long off = ioDataOffset() + (long) i * size;
        // The kernel chose these numbers, but a wrong one must not become a wild write in the JVM.
        if (i < 0 || i >= ioCount() || size < 1 || size > 8 || off < 0 || off > run.capacity() - size) {
            throw new IllegalStateException("port I/O data " + i + " of " + ioCount() + " (size " + size
                    + ", offset " + off + ") outside the kvm_run mapping");
        }
        return (int) off;
    }

    /** MMIO: the guest-physical address. */
    public long mmioAddress() {
        return run.getLong(RUN_MMIO_PHYS_ADDR);
    }

    /** MMIO: access size in bytes (1..8). */
    public int mmioLength() {
        return run.getInt(RUN_MMIO_LEN);
    }

    public boolean mmioIsWrite() {
        return run.get(RUN_MMIO_IS_WRITE) != 0;
    }

    /** MMIO: the value the guest writes (the low {@link #mmioLength()} bytes, little-endian). */
    public long mmioData() {
        return readLe(RUN_MMIO_DATA, mmioLength8());
    }

    /** MMIO: the value a read returns to the guest. */
    public void setMmioData(long value) {
        writeLe(RUN_MMIO_DATA, mmioLength8(), value);
    }

    private int mmioLength8() {
        int len = mmioLength();
        if (len < 1 || len > 8) {
            throw new IllegalStateException("MMIO length " + len + " outside 1..8");
        }
        return len;
    }

    /** Internal error: {@code KVM_INTERNAL_ERROR_*}. */
    public int internalSuberror() {
        return run.getInt(RUN_INTERNAL_SUBERROR);
    }

    /** Internal error: the extra words KVM reports (for an emulation failure: the instruction bytes and more). */
    public long[] internalData() {
        int n = Math.min(Math.max(run.getInt(RUN_INTERNAL_NDATA), 0), RUN_INTERNAL_DATA_MAX);
        long[] data = new long[n];
        for (int i = 0; i < n; i++) {
            data[i] = run.getLong(RUN_INTERNAL_DATA + 8 * i);
        }
        return data;
    }

    /** Failed entry: the hardware's reason code. */
    public long failEntryReason() {
        return run.getLong(RUN_FAIL_ENTRY_REASON);
    }

    /** System event: {@code KVM_SYSTEM_EVENT_*}. */
    public int systemEventType() {
        return run.getInt(RUN_SYSTEM_EVENT_TYPE);
    }

    /** {@code kvm_run.immediate_exit}: when set, the next KVM_RUN returns {@code -EINTR} without entering the guest. */
    public boolean immediateExit() {
        return run.get(RUN_IMMEDIATE_EXIT) != 0;
    }

    public void setImmediateExit(boolean value) {
        run.put(RUN_IMMEDIATE_EXIT, (byte) (value ? 1 : 0));
    }

    private long readLe(int index, int size) {
        long v = 0;
        for (int b = size - 1; b >= 0; b--) {
            v = (v << 8) | (run.get(index + b) & 0xFF);
        }
        return v;
    }

    private void writeLe(int index, int size, long value) {
        for (int b = 0; b < size; b++) {
            run.put(index + b, (byte) (value >>> (8 * b)));
        }
    }

    // ---- registers ----

    /** {@code KVM_GET_REGS}. */
    public Registers registers() {
        KvmSys.ioctl(fd, KVM_GET_REGS, regsBlock, "KVM_GET_REGS");
        Registers r = new Registers();
        for (Registers.Reg reg : Registers.Reg.values()) {
            r.set(reg, regsBlock.getLong(8 * reg.ordinal()));
        }
        return r;
    }

    /** {@code KVM_SET_REGS}. */
    public void setRegisters(Registers r) {
        for (Registers.Reg reg : Registers.Reg.values()) {
            regsBlock.putLong(8 * reg.ordinal(), r.get(reg));
        }
        KvmSys.ioctl(fd, KVM_SET_REGS, regsBlock, "KVM_SET_REGS");
    }

    /** {@code KVM_GET_SREGS}. */
    public SpecialRegisters specialRegisters() {
        KvmSys.ioctl(fd, KVM_GET_SREGS, sregsBlock, "KVM_GET_SREGS");
        NativeBlock b = sregsBlock;
        SpecialRegisters s = new SpecialRegisters();
        for (SpecialRegisters.Seg seg : SpecialRegisters.Seg.values()) {
            int o = SREGS_SEGMENTS + SIZEOF_KVM_SEGMENT * seg.ordinal();
            s.segment(seg, new Segment(b.getLong(o + SEG_BASE), b.getInt(o + SEG_LIMIT), b.getShort(o + SEG_SELECTOR),
                    b.getByte(o + SEG_TYPE), b.getByte(o + SEG_PRESENT) != 0, b.getByte(o + SEG_DPL),
                    b.getByte(o + SEG_DB) != 0, b.getByte(o + SEG_S) != 0, b.getByte(o + SEG_L) != 0,
                    b.getByte(o + SEG_G) != 0, b.getByte(o + SEG_AVL) != 0, b.getByte(o + SEG_UNUSABLE) != 0));
        }
        s.gdt(new SpecialRegisters.DescriptorTable(b.getLong(SREGS_GDT + DTABLE_BASE), b.getShort(SREGS_GDT + DTABLE_LIMIT)));
        s.idt(new SpecialRegisters.DescriptorTable(b.getLong(SREGS_IDT + DTABLE_BASE), b.getShort(SREGS_IDT + DTABLE_LIMIT)));
        s.cr0(b.getLong(SREGS_CR0)).cr2(b.getLong(SREGS_CR2)).cr3(b.getLong(SREGS_CR3)).cr4(b.getLong(SREGS_CR4))
                .cr8(b.getLong(SREGS_CR8)).efer(b.getLong(SREGS_EFER)).apicBase(b.getLong(SREGS_APIC_BASE));
        for (int i = 0; i < 4; i++) {
            s.interruptBitmap(i, b.getLong(SREGS_INTERRUPT_BITMAP + 8 * i));
        }
        return s;
    }

    /** {@code KVM_SET_SREGS}. */
    public void setSpecialRegisters(SpecialRegisters s) {
        NativeBlock b = sregsBlock.clear();
        for (SpecialRegisters.Seg seg : SpecialRegisters.Seg.values()) {
            Segment v = s.segment(seg);
            if (v == null) {
                throw new IllegalArgumentException("segment " + seg + " is not set");
            }
            int o = SREGS_SEGMENTS + SIZEOF_KVM_SEGMENT * seg.ordinal();
            b.putLong(o + SEG_BASE, v.base()).putInt(o + SEG_LIMIT, v.limit()).putShort(o + SEG_SELECTOR, v.selector())
                    .putByte(o + SEG_TYPE, v.type()).putByte(o + SEG_PRESENT, bit(v.present()))
                    .putByte(o + SEG_DPL, v.dpl()).putByte(o + SEG_DB, bit(v.db())).putByte(o + SEG_S, bit(v.s()))
                    .putByte(o + SEG_L, bit(v.l())).putByte(o + SEG_G, bit(v.g())).putByte(o + SEG_AVL, bit(v.avl()))
                    .putByte(o + SEG_UNUSABLE, bit(v.unusable()));
        }
        b.putLong(SREGS_GDT + DTABLE_BASE, s.gdt().base()).putShort(SREGS_GDT + DTABLE_LIMIT, s.gdt().limit());
        b.putLong(SREGS_IDT + DTABLE_BASE, s.idt().base()).putShort(SREGS_IDT + DTABLE_LIMIT, s.idt().limit());
        b.putLong(SREGS_CR0, s.cr0()).putLong(SREGS_CR2, s.cr2()).putLong(SREGS_CR3, s.cr3())
                .putLong(SREGS_CR4, s.cr4()).putLong(SREGS_CR8, s.cr8()).putLong(SREGS_EFER, s.efer())
                .putLong(SREGS_APIC_BASE, s.apicBase());
        for (int i = 0; i < 4; i++) {
            b.putLong(SREGS_INTERRUPT_BITMAP + 8 * i, s.interruptBitmap(i));
        }
        KvmSys.ioctl(fd, KVM_SET_SREGS, b, "KVM_SET_SREGS");
    }

    private static int bit(boolean b) {
        return b ? 1 : 0;
    }

    // ---- thread and lifetime ----

    /** Called by a {@link VcpuThread} that takes this vCPU over. */
    synchronized void attach(VcpuThread t) {
        if (closed) {
            throw new IllegalStateException("vCPU " + id + " is closed");
        }
        if (thread != null) {
            throw new IllegalStateException("vCPU " + id + " already has a thread: " + thread.thread().getName());
        }
        thread = t;
    }

    /** The thread that runs this vCPU, or null. */
    public VcpuThread thread() {
        return thread;
    }

    /**
     * Stops and joins the vCPU's thread if it has one, then unmaps {@code kvm_run} and closes the
     * fd. Idempotent. If the caller holds the BQL, it is released while the thread is joined (the
     * thread may be waiting for it to finish its last exit).
     */
    @Override
    public void close() {
        VcpuThread t = thread;
        if (t != null) {
            t.stopAndJoin();
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            runPage.unmap();
        } finally {
            KvmSys.close(fd, "vCPU " + id);
        }
    }

    @Override
    public String toString() {
        return "vCPU " + id;
    }
}
