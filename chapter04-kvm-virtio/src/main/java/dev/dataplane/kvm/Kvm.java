package dev.dataplane.kvm;

import dev.dataplane.kvm.linux.KvmAbi;
import dev.dataplane.kvm.linux.KvmSys;
import java.nio.file.Path;

/**
 * The KVM system file descriptor: an open {@code /dev/kvm} (QEMU: {@code KVMState.fd},
 * {@code kvm_init} in {@code accel/kvm/kvm-all.c}). It answers questions about the kernel's KVM
 * (API version, extensions, the size of a vCPU's shared page) and creates VMs.
 *
 * <p>A VM does not need the system fd once created, but Dataplane keeps the {@code Kvm} open for the
 * life of its VMs (it asks it for the vCPU mapping size), and closing it does not close them.
 */
public final class Kvm implements AutoCloseable {

    /** The only API version there has ever been in a released kernel (since 2.6.22). */
    public static final int API_VERSION = 12;
    /** Where Linux puts the KVM device. */
    public static final Path DEFAULT_DEVICE = Path.of("/dev/kvm");

    private final int fd;
    private final Path device;
    private final int vcpuMmapSize;
    private boolean closed;

    private Kvm(int fd, Path device) {
        this.fd = fd;
        this.device = device;
        try {
            int version = KvmSys.ioctl(fd, KvmAbi.KVM_GET_API_VERSION, 0L, "KVM_GET_API_VERSION");
            if (version != API_VERSION) {
                throw new IllegalStateException(device + " speaks KVM API version " + version + "; Dataplane needs "
                        + API_VERSION);
            }
            this.vcpuMmapSize = KvmSys.ioctl(fd, KvmAbi.KVM_GET_VCPU_MMAP_SIZE, 0L, "KVM_GET_VCPU_MMAP_SIZE");
        } catch (RuntimeException e) {
            KvmSys.close(fd, device.toString());
            throw e;
        }
    }

    /** Opens {@code /dev/kvm}. */
    public static Kvm open() {
        return open(DEFAULT_DEVICE);
    }

    /**
     * Opens the KVM device at {@code device} and checks its API version. A missing device or one
     * this user may not open fails with a {@link dev.dataplane.aio.linux.LinuxException} whose
     * message names the path and the errno, e.g.
     * {@code open KVM device /dev/kvm: EACCES (Permission denied)}.
     */
    public static Kvm open(Path device) {
        return new Kvm(KvmSys.open(device.toString(), "KVM device"), device);
    }

    /** The result of {@code KVM_CHECK_EXTENSION}: 0 if absent, else a positive, capability-specific value. */
    public int checkExtension(KvmCapability cap) {
        return KvmSys.ioctl(fd, KvmAbi.KVM_CHECK_EXTENSION, cap.number(), "KVM_CHECK_EXTENSION(" + cap + ")");
    }

    public boolean hasExtension(KvmCapability cap) {
        return checkExtension(cap) > 0;
    }

    /** Throws {@link IllegalStateException} naming the capability unless the kernel has it. */
    public void requireExtension(KvmCapability cap) {
        if (!hasExtension(cap)) {
            throw new IllegalStateException("KVM at " + device + " lacks KVM_CAP_" + cap + ", which Dataplane needs");
        }
    }

    /** Size of a vCPU's {@code kvm_run} mapping ({@code KVM_GET_VCPU_MMAP_SIZE}). */
    public int vcpuMmapSize() {
        return vcpuMmapSize;
    }

    /** Creates a VM ({@code KVM_CREATE_VM}); see {@link KvmVm#create(Kvm)}. */
    public KvmVm createVm() {
        return KvmVm.create(this);
    }

    int fd() {
        return fd;
    }

    public Path device() {
        return device;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            KvmSys.close(fd, device.toString());
        }
    }
}
