package dev.dataplane.kvm;

import static dev.dataplane.kvm.linux.KvmAbi.*;

import dev.dataplane.aio.EventNotifier;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.kvm.linux.KvmSys;
import dev.dataplane.kvm.linux.NativeBlock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A KVM virtual machine: its fd, guest RAM, the in-kernel interrupt controllers and timer, its
 * vCPUs, and the eventfds wired into it (QEMU: {@code KVMState.vmfd} and the {@code kvm_vm_ioctl}
 * callers in {@code accel/kvm/kvm-all.c}, {@code hw/i386/kvm/}).
 *
 * <p>Implementation notes.
 *
 * <p><b>Ownership.</b> The VM owns everything created through it and closes it in {@link #close()},
 * in an order that never leaves a user behind: first the vCPUs (each stops and joins its thread, so
 * no thread is left inside {@code KVM_RUN} or a device handler), then guest RAM (nothing can touch
 * it any more), and last the VM fd. Every step runs even if an earlier one failed; the first failure
 * is thrown with the others suppressed. The ioeventfd and irqfd registrations still open are not
 * deassigned one by one: closing the last fd of the VM destroys it, and the kernel drops all of them
 * with it (and its references to their eventfds). Deassigning them here would even be wrong when a
 * caller has already closed an event notifier (try-with-resources closes in reverse order): the
 * deassign ioctl names the eventfd by fd number, which is then invalid (EBADF) or, worse, reused.
 * The event notifiers passed to {@link #ioeventfd} and {@link #irqfd} stay the caller's.
 *
 * <p><b>Threads.</b> Set-up ({@link #createMemory}, {@link #createIrqchip}, {@link #createVcpu}) is
 * global-state work done before the vCPUs start. {@link #ioeventfd}, {@link #irqfd}, their
 * {@code close()} and {@link #irqLine} may be called from any thread while the vCPUs run: the kernel
 * serialises them, and the registration list here is guarded by the VM's monitor. That is what lets a
 * virtio device switch its notify register to an ioeventfd when the driver sets DRIVER_OK, on the vCPU
 * thread that handles the status write (seed 002).
 */
public final class KvmVm implements AutoCloseable {

    /**
     * Guest-physical address of the three pages Intel VMX needs to emulate real mode
     * ({@code KVM_SET_TSS_ADDR}); QEMU's choice, just below the 4-GiB BIOS area and far above RAM.
     */
    public static final long TSS_ADDR = 0xFFFB_D000L;

    private final Kvm kvm;
    private final int fd;
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    private final Deque<Registration> registrations = new ArrayDeque<>();
    private MmapGuestMemory memory;
    private boolean irqchip;
    private boolean closed;

    private KvmVm(Kvm kvm, int fd) {
        this.kvm = kvm;
        this.fd = fd;
    }

    /** {@code KVM_CREATE_VM} (machine type 0), plus {@code KVM_SET_TSS_ADDR} where the kernel has it. */
    static KvmVm create(Kvm kvm) {
        int fd = KvmSys.ioctl(kvm.fd(), KVM_CREATE_VM, 0L, "KVM_CREATE_VM");
        KvmVm vm = new KvmVm(kvm, fd);
        try {
            if (kvm.hasExtension(KvmCapability.SET_TSS_ADDR)) {
                KvmSys.ioctl(fd, KVM_SET_TSS_ADDR, TSS_ADDR, "KVM_SET_TSS_ADDR");
            }
        } catch (RuntimeException e) {
            vm.close();
            throw e;
        }
        return vm;
    }

    public Kvm kvm() {
        return kvm;
    }

    /**
     * Maps {@code size} bytes of RAM ({@link MmapGuestMemory#allocate}) and registers it as memory
     * slot 0 at guest-physical 0 ({@code KVM_SET_USER_MEMORY_REGION}). Once only; the VM closes it.
     */
    public synchronized MmapGuestMemory createMemory(long size) {
        checkOpen();
        if (memory != null) {
            throw new IllegalStateException("this VM has its RAM already (" + memory.size() + " bytes)");
        }
        MmapGuestMemory m = MmapGuestMemory.allocate(size);
        try {
            setUserMemoryRegion(0, 0, m.size(), m.hostAddress());
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        memory = m;
        return m;
    }

    /** The RAM made by {@link #createMemory}, or null. */
    public synchronized MmapGuestMemory memory() {
        return memory;
    }

    private void setUserMemoryRegion(int slot, long gpa, long size, long hostAddress) {
        NativeBlock b = new NativeBlock(SIZEOF_KVM_USERSPACE_MEMORY_REGION)
                .putInt(MEMREGION_SLOT, slot).putInt(MEMREGION_FLAGS, 0)
                .putLong(MEMREGION_GUEST_PHYS_ADDR, gpa).putLong(MEMREGION_MEMORY_SIZE, size)
                .putLong(MEMREGION_USERSPACE_ADDR, hostAddress);
        KvmSys.ioctl(fd, KVM_SET_USER_MEMORY_REGION, b, "KVM_SET_USER_MEMORY_REGION(slot " + slot + ")");
    }

    /**
     * {@code KVM_CREATE_IRQCHIP}: the in-kernel 8259 pair, IOAPIC and local APICs, with the default
     * GSI routing ({@link GsiRoute#defaultPcRoutes()}). Call before creating vCPUs. With an in-kernel
     * irqchip, a halted vCPU waits for its interrupt inside the kernel: {@code hlt} no longer exits to
     * user space.
     */
    public synchronized void createIrqchip() {
        checkOpen();
        KvmSys.ioctl(fd, KVM_CREATE_IRQCHIP, 0L, "KVM_CREATE_IRQCHIP");
        irqchip = true;
    }

    /** Whether {@link #createIrqchip()} ran. */
    public synchronized boolean hasIrqchip() {
        return irqchip;
    }

    /** {@code KVM_CREATE_PIT2}: the in-kernel 8254 timer on ports 0x40-0x43 (needs the irqchip). */
    public synchronized void createPit2() {
        checkOpen();
        // flags 0: no dummy speaker port; port 0x61 stays with user space.
        KvmSys.ioctl(fd, KVM_CREATE_PIT2, new NativeBlock(SIZEOF_KVM_PIT_CONFIG), "KVM_CREATE_PIT2");
    }

    /** {@code KVM_CREATE_VCPU} and the mapping of its {@code kvm_run} page. */
    public synchronized KvmVcpu createVcpu(int id) {
        checkOpen();
        int vcpuFd = KvmSys.ioctl(fd, KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU(" + id + ")");
        KvmVcpu v = new KvmVcpu(this, id, vcpuFd, kvm.vcpuMmapSize());
        vcpus.add(v);
        return v;
    }

    public synchronized List<KvmVcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    // tag::irq-line[]
    /**
     * {@code KVM_IRQ_LINE}: drives GSI {@code gsi} of the in-kernel irqchip high or low (a device's
     * level-triggered INTx line, set from a vCPU thread under the BQL). Any thread; allocates
     * nothing but a two-word array: {@code struct kvm_irq_level} is {irq u32, level u32}, packed
     * little-endian into one {@code long}.
     */
    public void irqLine(int gsi, boolean level) {
        long[] arg = {(gsi & 0xFFFF_FFFFL) | ((level ? 1L : 0L) << 32)};
        KvmSys.ioctl(fd, KVM_IRQ_LINE, arg, "KVM_IRQ_LINE(gsi " + gsi + ")");
    }
    // end::irq-line[]

    /** {@code KVM_SET_GSI_ROUTING}: replaces the whole routing table with {@code routes}. */
    public void setGsiRouting(List<GsiRoute> routes) {
        NativeBlock b = new NativeBlock(SIZEOF_KVM_IRQ_ROUTING + SIZEOF_KVM_IRQ_ROUTING_ENTRY * routes.size());
        b.putInt(0, routes.size());
        for (int i = 0; i < routes.size(); i++) {
            GsiRoute r = routes.get(i);
            int o = SIZEOF_KVM_IRQ_ROUTING + SIZEOF_KVM_IRQ_ROUTING_ENTRY * i;
            b.putInt(o + ROUTE_GSI, r.gsi()).putInt(o + ROUTE_TYPE, r.type()).putInt(o + ROUTE_U, r.a())
                    .putInt(o + ROUTE_U + 4, r.b()).putInt(o + ROUTE_U + 8, r.c());
        }
        KvmSys.ioctl(fd, KVM_SET_GSI_ROUTING, b, "KVM_SET_GSI_ROUTING(" + routes.size() + " routes)");
    }

    // tag::ioeventfd[]
    /**
     * {@code KVM_IOEVENTFD}: a guest write of {@code len} bytes to {@code addr} in {@code space}
     * signals {@code notifier} inside the kernel and the vCPU goes straight back to the guest; no
     * exit reaches user space (QEMU: {@code kvm_set_ioeventfd_pio}/{@code _mmio},
     * {@code memory_region_add_eventfd}). {@code len} is 1, 2, 4 or 8, or 0 for an MMIO write of
     * any size where the kernel has {@code KVM_CAP_IOEVENTFD_ANY_LENGTH}. Closing the registration
     * deassigns it; writes then exit to user space again.
     */
    public Registration ioeventfd(EventNotifier notifier, IoSpace space, long addr, int len) {
        return ioeventfd(notifier, space, addr, len, false, 0);
    }

    /** {@link #ioeventfd(EventNotifier, IoSpace, long, int)} for writes of exactly {@code value} only. */
    public Registration ioeventfdMatching(EventNotifier notifier, IoSpace space, long addr, int len, long value) {
        return ioeventfd(notifier, space, addr, len, true, value);
    }

    private Registration ioeventfd(EventNotifier notifier, IoSpace space, long addr, int len, boolean match,
                                   long value) {
        if (!(len == 0 || len == 1 || len == 2 || len == 4 || len == 8) || (len == 0 && (match || space == IoSpace.PIO))
                || addr < 0 || (space == IoSpace.PIO && addr + Math.max(len, 1) > 0x10000)) {
            throw new IllegalArgumentException("bad ioeventfd: " + space + " 0x" + Long.toHexString(addr) + " len "
                    + len + (match ? " datamatch" : ""));
        }
        int flags = (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) | (space == IoSpace.PIO ? KVM_IOEVENTFD_FLAG_PIO : 0);
        String what = "KVM_IOEVENTFD(" + space + " 0x" + Long.toHexString(addr) + "/" + len
                + (match ? " == 0x" + Long.toHexString(value) : "") + ", fd " + notifier.fd() + ")";
        int efd = notifier.fd();
        ioeventfdIoctl(efd, addr, len, flags, value, what);
        return register(what, () -> ioeventfdIoctl(efd, addr, len, flags | KVM_IOEVENTFD_FLAG_DEASSIGN, value,
                what + " deassign"));
    }

    private void ioeventfdIoctl(int efd, long addr, int len, int flags, long value, String what) {
        NativeBlock b = new NativeBlock(SIZEOF_KVM_IOEVENTFD)
                .putLong(IOEVENTFD_DATAMATCH, value).putLong(IOEVENTFD_ADDR, addr).putInt(IOEVENTFD_LEN, len)
                .putInt(IOEVENTFD_FD, efd).putInt(IOEVENTFD_FLAGS, flags);
        KvmSys.ioctl(fd, KVM_IOEVENTFD, b, what);
    }
    // end::ioeventfd[]

    /**
     * {@code KVM_IRQFD}: writing {@code notifier} injects GSI {@code gsi} (an edge: raise and lower)
     * from any thread, without a vCPU exit and without the BQL (QEMU:
     * {@code kvm_irqchip_add_irqfd_notifier_gsi}). Needs the in-kernel irqchip. Closing deassigns.
     */
    public Registration irqfd(EventNotifier notifier, int gsi) {
        return irqfd(notifier, gsi, null);
    }

    /**
     * A level-triggered irqfd: writing {@code notifier} raises GSI {@code gsi} and keeps it high until
     * the guest acknowledges the interrupt (EOI); then KVM lowers it and signals {@code resample}, so
     * that the device can raise it again if its condition still holds ({@code KVM_IRQFD_FLAG_RESAMPLE};
     * QEMU: {@code kvm_irqchip_add_irqfd_notifier} with a resample notifier, for INTx).
     */
    public Registration irqfd(EventNotifier notifier, int gsi, EventNotifier resample) {
        int flags = resample == null ? 0 : KVM_IRQFD_FLAG_RESAMPLE;
        int rfd = resample == null ? 0 : resample.fd();
        int efd = notifier.fd();
        String what = "KVM_IRQFD(gsi " + gsi + ", fd " + efd + (resample == null ? "" : ", resample fd " + rfd) + ")";
        irqfdIoctl(efd, gsi, flags, rfd, what);
        // Deassign names the fd and the GSI only; the resample flag must not be set.
        return register(what, () -> irqfdIoctl(efd, gsi, KVM_IRQFD_FLAG_DEASSIGN, 0, what + " deassign"));
    }

    private void irqfdIoctl(int efd, int gsi, int flags, int rfd, String what) {
        NativeBlock b = new NativeBlock(SIZEOF_KVM_IRQFD)
                .putInt(IRQFD_FD, efd).putInt(IRQFD_GSI, gsi).putInt(IRQFD_FLAGS, flags).putInt(IRQFD_RESAMPLEFD, rfd);
        KvmSys.ioctl(fd, KVM_IRQFD, b, what);
    }

    private synchronized Registration register(String what, Runnable deassign) {
        if (closed) {
            deassign.run();
            throw new IllegalStateException("VM closed");
        }
        Registration r = new Registration(what, deassign);
        registrations.push(r);
        return r;
    }

    private synchronized void forget(Registration r) {
        registrations.remove(r);
    }

    /**
     * An ioeventfd or irqfd wired into the VM. {@link #close()} undoes the wiring (idempotent, any
     * thread); the event notifier itself stays open and belongs to the caller, who must close the
     * registration <em>before</em> the notifier (KVM finds the wiring by the notifier's fd number).
     * A registration still open when the VM closes goes with the VM.
     */
    public final class Registration implements AutoCloseable {
        private final String what;
        private final Runnable deassign;
        private boolean active = true;

        private Registration(String what, Runnable deassign) {
            this.what = what;
            this.deassign = deassign;
        }

        public synchronized boolean isActive() {
            return active;
        }

        @Override
        public void close() {
            synchronized (this) {
                if (!active) {
                    return;
                }
                active = false;
            }
            forget(this);
            deassign.run();
        }

        /** The VM is closing: the kernel drops the wiring with the VM; just mark it inactive. */
        private synchronized void dropWithVm() {
            active = false;
        }

        @Override
        public String toString() {
            return what;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("VM closed");
        }
    }

    /** Closes vCPUs, registrations, RAM and the VM fd, in that order (see the class comment). Idempotent. */
    @Override
    public void close() {
        List<KvmVcpu> toClose;
        List<Registration> regs;
        MmapGuestMemory mem;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = new ArrayList<>(vcpus);
            regs = new ArrayList<>(registrations);
            mem = memory;
        }
        RuntimeException failure = null;
        for (KvmVcpu v : toClose) {
            failure = attempt(failure, v::close);
        }
        for (Registration r : regs) {
            r.dropWithVm();
        }
        if (mem != null) {
            failure = attempt(failure, mem::close);
        }
        failure = attempt(failure, () -> KvmSys.close(fd, "VM"));
        if (failure != null) {
            throw failure;
        }
    }

    private static RuntimeException attempt(RuntimeException failure, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            if (failure == null) {
                return e;
            }
            failure.addSuppressed(e);
        }
        return failure;
    }

    /** Whether {@code e} is KVM saying it lacks a feature (EINVAL, ENOTTY, ENOSYS). */
    public static boolean isUnsupported(LinuxException e) {
        return KvmSys.isUnsupported(e);
    }
}
