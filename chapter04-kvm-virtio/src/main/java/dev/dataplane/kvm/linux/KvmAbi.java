package dev.dataplane.kvm.linux;

/**
 * The numbers of KVM's user-space ABI on x86-64 ({@code <linux/kvm.h>}, {@code <asm/kvm.h>}):
 * ioctl request codes, capability numbers, exit reasons, flags, and the byte offsets of the fields
 * of the structures Dataplane exchanges with the kernel.
 *
 * <p>Implementation notes.
 *
 * <p><b>Request codes are computed, not copied.</b> An ioctl request packs four fields into 32
 * bits, exactly as the kernel's {@code _IOC} macro does ({@code <asm-generic/ioctl.h>}):
 * bits 0-7 the command number, bits 8-15 the "type" (KVM's is {@code 0xAE}), bits 16-29 the size
 * of the argument structure, bits 30-31 the direction ({@code _IOW}: user space writes, the kernel
 * reads; {@code _IOR}: the kernel writes; {@code _IOWR}: both). Writing them the kernel's way
 * makes each definition checkable against the header by eye: {@code KVM_SET_REGS} is
 * {@code _IOW(KVMIO, 0x82, struct kvm_regs)}, so it is {@link #iow}{@code (0x82, SIZEOF_KVM_REGS)}.
 * A unit test pins every code against the value the C compiler computes.
 *
 * <p><b>Structures are described by offsets.</b> The bindings never map a structure with JNA's
 * {@code Structure} (reflective, and microseconds per call); they fill a block of native memory at
 * the offsets below. Every offset is the {@code offsetof} of the x86-64 layout, also pinned by a
 * test.
 */
public final class KvmAbi {

    private KvmAbi() {
    }

    // ---- _IOC ----

    private static final int IOC_NONE = 0;
    private static final int IOC_WRITE = 1;
    private static final int IOC_READ = 2;
    /** {@code KVMIO}: the ioctl "type" byte of every KVM request. */
    public static final int KVMIO = 0xAE;

    /** {@code _IOC(dir, type, nr, size)}. */
    static long ioc(int dir, int type, int nr, int size) {
        if (size < 0 || size >= (1 << 14)) {
            throw new IllegalArgumentException("ioctl argument size " + size + " does not fit 14 bits");
        }
        return ((long) dir << 30) | ((long) size << 16) | ((long) type << 8) | nr;
    }

    /** {@code _IO(KVMIO, nr)}: no argument structure (the argument, if any, is an integer). */
    static long io(int nr) {
        return ioc(IOC_NONE, KVMIO, nr, 0);
    }

    /** {@code _IOW(KVMIO, nr, size)}: the kernel reads a structure of {@code size} bytes. */
    static long iow(int nr, int size) {
        return ioc(IOC_WRITE, KVMIO, nr, size);
    }

    /** {@code _IOR(KVMIO, nr, size)}: the kernel writes a structure of {@code size} bytes. */
    static long ior(int nr, int size) {
        return ioc(IOC_READ, KVMIO, nr, size);
    }

    /** {@code _IOWR(KVMIO, nr, size)}: the kernel reads and writes the structure. */
    static long iowr(int nr, int size) {
        return ioc(IOC_READ | IOC_WRITE, KVMIO, nr, size);
    }

    // ---- structure sizes (x86-64) ----

    public static final int SIZEOF_KVM_REGS = 144;
    public static final int SIZEOF_KVM_SREGS = 312;
    public static final int SIZEOF_KVM_SEGMENT = 24;
    public static final int SIZEOF_KVM_DTABLE = 16;
    public static final int SIZEOF_KVM_USERSPACE_MEMORY_REGION = 32;
    public static final int SIZEOF_KVM_IOEVENTFD = 64;
    public static final int SIZEOF_KVM_IRQFD = 32;
    public static final int SIZEOF_KVM_PIT_CONFIG = 64;
    public static final int SIZEOF_KVM_IRQ_ROUTING = 8;
    public static final int SIZEOF_KVM_IRQ_ROUTING_ENTRY = 48;
    public static final int SIZEOF_KVM_IRQ_LEVEL = 8;
    /** {@code struct kvm_signal_mask} without its flexible array: just {@code __u32 len}. */
    public static final int SIZEOF_KVM_SIGNAL_MASK = 4;

    // ---- ioctls on the system fd (/dev/kvm) ----

    /** {@code _IO(KVMIO, 0x00)}; returns the API version, which is 12 on every kernel since 2.6.22. */
    public static final long KVM_GET_API_VERSION = io(0x00);
    /** {@code _IO(KVMIO, 0x01)}; argument: the machine type (0); returns the new VM fd. */
    public static final long KVM_CREATE_VM = io(0x01);
    /** {@code _IO(KVMIO, 0x03)}; argument: a capability number; returns 0 (absent) or a positive value. Also valid on a VM fd. */
    public static final long KVM_CHECK_EXTENSION = io(0x03);
    /** {@code _IO(KVMIO, 0x04)}; returns the size of the kvm_run mapping of a vCPU fd. */
    public static final long KVM_GET_VCPU_MMAP_SIZE = io(0x04);

    // ---- ioctls on a VM fd ----

    /** {@code _IO(KVMIO, 0x41)}; argument: the vCPU id; returns the vCPU fd. */
    public static final long KVM_CREATE_VCPU = io(0x41);
    /** {@code _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region)}: add, move or delete a memory slot. */
    public static final long KVM_SET_USER_MEMORY_REGION = iow(0x46, SIZEOF_KVM_USERSPACE_MEMORY_REGION);
    /** {@code _IO(KVMIO, 0x47)}; argument: a guest-physical address for the 3 pages VMX needs for real mode. */
    public static final long KVM_SET_TSS_ADDR = io(0x47);
    /** {@code _IO(KVMIO, 0x60)}: in-kernel PIC pair, IOAPIC and a local APIC per vCPU. */
    public static final long KVM_CREATE_IRQCHIP = io(0x60);
    /** {@code _IOW(KVMIO, 0x61, struct kvm_irq_level)}: drive an irqchip input (GSI) high or low. */
    public static final long KVM_IRQ_LINE = iow(0x61, SIZEOF_KVM_IRQ_LEVEL);
    /** {@code _IOW(KVMIO, 0x6a, struct kvm_irq_routing)}: replace the whole GSI routing table. */
    public static final long KVM_SET_GSI_ROUTING = iow(0x6a, SIZEOF_KVM_IRQ_ROUTING);
    /** {@code _IOW(KVMIO, 0x76, struct kvm_irqfd)}: an eventfd that injects a GSI when written. */
    public static final long KVM_IRQFD = iow(0x76, SIZEOF_KVM_IRQFD);
    /** {@code _IOW(KVMIO, 0x77, struct kvm_pit_config)}: in-kernel 8254 timer. */
    public static final long KVM_CREATE_PIT2 = iow(0x77, SIZEOF_KVM_PIT_CONFIG);
    /** {@code _IOW(KVMIO, 0x79, struct kvm_ioeventfd)}: an eventfd that a guest write signals instead of exiting. */
    public static final long KVM_IOEVENTFD = iow(0x79, SIZEOF_KVM_IOEVENTFD);

    // ---- ioctls on a vCPU fd ----

    /** {@code _IO(KVMIO, 0x80)}: run the vCPU until an exit user space must handle. */
    public static final long KVM_RUN = io(0x80);
    /** {@code _IOR(KVMIO, 0x81, struct kvm_regs)}. */
    public static final long KVM_GET_REGS = ior(0x81, SIZEOF_KVM_REGS);
    /** {@code _IOW(KVMIO, 0x82, struct kvm_regs)}. */
    public static final long KVM_SET_REGS = iow(0x82, SIZEOF_KVM_REGS);
    /** {@code _IOR(KVMIO, 0x83, struct kvm_sregs)}. */
    public static final long KVM_GET_SREGS = ior(0x83, SIZEOF_KVM_SREGS);
    /** {@code _IOW(KVMIO, 0x84, struct kvm_sregs)}. */
    public static final long KVM_SET_SREGS = iow(0x84, SIZEOF_KVM_SREGS);
    /** {@code _IOW(KVMIO, 0x8b, struct kvm_signal_mask)}: the signal mask in force while inside KVM_RUN. */
    public static final long KVM_SET_SIGNAL_MASK = iow(0x8b, SIZEOF_KVM_SIGNAL_MASK);

    // ---- capabilities (KVM_CAP_*) ----

    public static final int KVM_CAP_IRQCHIP = 0;
    public static final int KVM_CAP_USER_MEMORY = 3;
    public static final int KVM_CAP_SET_TSS_ADDR = 4;
    public static final int KVM_CAP_NR_VCPUS = 9;
    public static final int KVM_CAP_NR_MEMSLOTS = 10;
    public static final int KVM_CAP_IRQ_ROUTING = 25;
    public static final int KVM_CAP_IRQFD = 32;
    public static final int KVM_CAP_PIT2 = 33;
    public static final int KVM_CAP_IOEVENTFD = 36;
    public static final int KVM_CAP_MAX_VCPUS = 66;
    public static final int KVM_CAP_SIGNAL_MSI = 77;
    public static final int KVM_CAP_IRQFD_RESAMPLE = 82;
    public static final int KVM_CAP_IOEVENTFD_ANY_LENGTH = 122;
    public static final int KVM_CAP_IMMEDIATE_EXIT = 136;

    // ---- exit reasons (kvm_run.exit_reason) ----

    public static final int KVM_EXIT_UNKNOWN = 0;
    public static final int KVM_EXIT_EXCEPTION = 1;
    public static final int KVM_EXIT_IO = 2;
    public static final int KVM_EXIT_DEBUG = 4;
    public static final int KVM_EXIT_HLT = 5;
    public static final int KVM_EXIT_MMIO = 6;
    public static final int KVM_EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int KVM_EXIT_SHUTDOWN = 8;
    public static final int KVM_EXIT_FAIL_ENTRY = 9;
    public static final int KVM_EXIT_INTR = 10;
    public static final int KVM_EXIT_INTERNAL_ERROR = 17;
    public static final int KVM_EXIT_SYSTEM_EVENT = 24;

    /** kvm_run.io.direction. */
    public static final int KVM_EXIT_IO_IN = 0;
    public static final int KVM_EXIT_IO_OUT = 1;

    /** kvm_run.internal.suberror. */
    public static final int KVM_INTERNAL_ERROR_EMULATION = 1;
    public static final int KVM_INTERNAL_ERROR_SIMUL_EX = 2;
    public static final int KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
    public static final int KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;

    /** kvm_run.system_event.type. */
    public static final int KVM_SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int KVM_SYSTEM_EVENT_RESET = 2;
    public static final int KVM_SYSTEM_EVENT_CRASH = 3;

    // ---- flags ----

    public static final int KVM_IOEVENTFD_FLAG_DATAMATCH = 1;
    public static final int KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
    public static final int KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;
    public static final int KVM_IRQFD_FLAG_DEASSIGN = 1;
    public static final int KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;
    public static final int KVM_IRQ_ROUTING_IRQCHIP = 1;
    public static final int KVM_IRQ_ROUTING_MSI = 2;
    /** kvm_irq_routing_irqchip.irqchip: the master 8259, the slave 8259, the IOAPIC. */
    public static final int KVM_IRQCHIP_PIC_MASTER = 0;
    public static final int KVM_IRQCHIP_PIC_SLAVE = 1;
    public static final int KVM_IRQCHIP_IOAPIC = 2;

    // ---- struct kvm_run (the vCPU's shared page) ----

    public static final int RUN_REQUEST_INTERRUPT_WINDOW = 0; // __u8
    public static final int RUN_IMMEDIATE_EXIT = 1;           // __u8
    public static final int RUN_EXIT_REASON = 8;              // __u32
    public static final int RUN_READY_FOR_INTERRUPT_INJECTION = 12; // __u8
    public static final int RUN_IF_FLAG = 13;                 // __u8
    /** Start of the exit-specific union. */
    public static final int RUN_EXIT_UNION = 32;
    // io: direction u8, size u8, port u16, count u32, data_offset u64 (from the start of the page)
    public static final int RUN_IO_DIRECTION = 32;
    public static final int RUN_IO_SIZE = 33;
    public static final int RUN_IO_PORT = 34;
    public static final int RUN_IO_COUNT = 36;
    public static final int RUN_IO_DATA_OFFSET = 40;
    // mmio: phys_addr u64, data u8[8], len u32, is_write u8
    public static final int RUN_MMIO_PHYS_ADDR = 32;
    public static final int RUN_MMIO_DATA = 40;
    public static final int RUN_MMIO_LEN = 48;
    public static final int RUN_MMIO_IS_WRITE = 52;
    // internal: suberror u32, ndata u32, data u64[16]
    public static final int RUN_INTERNAL_SUBERROR = 32;
    public static final int RUN_INTERNAL_NDATA = 36;
    public static final int RUN_INTERNAL_DATA = 40;
    public static final int RUN_INTERNAL_DATA_MAX = 16;
    // fail_entry: hardware_entry_failure_reason u64, cpu u32
    public static final int RUN_FAIL_ENTRY_REASON = 32;
    public static final int RUN_FAIL_ENTRY_CPU = 40;
    // system_event: type u32, ndata u32
    public static final int RUN_SYSTEM_EVENT_TYPE = 32;

    // ---- struct kvm_regs: 18 __u64 in this order ----
    // rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags (rip at 128, rflags at 136)

    // ---- struct kvm_sregs ----

    /** cs, ds, es, fs, gs, ss, tr, ldt: eight struct kvm_segment from offset 0, 24 bytes apart. */
    public static final int SREGS_SEGMENTS = 0;
    public static final int SREGS_GDT = 192;
    public static final int SREGS_IDT = 208;
    public static final int SREGS_CR0 = 224;
    public static final int SREGS_CR2 = 232;
    public static final int SREGS_CR3 = 240;
    public static final int SREGS_CR4 = 248;
    public static final int SREGS_CR8 = 256;
    public static final int SREGS_EFER = 264;
    public static final int SREGS_APIC_BASE = 272;
    /** __u64 interrupt_bitmap[4]: a pending external interrupt (one bit per vector). */
    public static final int SREGS_INTERRUPT_BITMAP = 280;

    // struct kvm_segment: base u64, limit u32, selector u16, type u8, present, dpl, db, s, l, g, avl, unusable u8, padding
    public static final int SEG_BASE = 0;
    public static final int SEG_LIMIT = 8;
    public static final int SEG_SELECTOR = 12;
    public static final int SEG_TYPE = 14;
    public static final int SEG_PRESENT = 15;
    public static final int SEG_DPL = 16;
    public static final int SEG_DB = 17;
    public static final int SEG_S = 18;
    public static final int SEG_L = 19;
    public static final int SEG_G = 20;
    public static final int SEG_AVL = 21;
    public static final int SEG_UNUSABLE = 22;
    // struct kvm_dtable: base u64, limit u16, padding
    public static final int DTABLE_BASE = 0;
    public static final int DTABLE_LIMIT = 8;

    // ---- struct kvm_userspace_memory_region: slot u32, flags u32, guest_phys_addr, memory_size, userspace_addr u64 ----
    public static final int MEMREGION_SLOT = 0;
    public static final int MEMREGION_FLAGS = 4;
    public static final int MEMREGION_GUEST_PHYS_ADDR = 8;
    public static final int MEMREGION_MEMORY_SIZE = 16;
    public static final int MEMREGION_USERSPACE_ADDR = 24;

    // ---- struct kvm_ioeventfd: datamatch u64, addr u64, len u32, fd s32, flags u32, pad[36] ----
    public static final int IOEVENTFD_DATAMATCH = 0;
    public static final int IOEVENTFD_ADDR = 8;
    public static final int IOEVENTFD_LEN = 16;
    public static final int IOEVENTFD_FD = 20;
    public static final int IOEVENTFD_FLAGS = 24;

    // ---- struct kvm_irqfd: fd u32, gsi u32, flags u32, resamplefd u32, pad[16] ----
    public static final int IRQFD_FD = 0;
    public static final int IRQFD_GSI = 4;
    public static final int IRQFD_FLAGS = 8;
    public static final int IRQFD_RESAMPLEFD = 12;

    // ---- struct kvm_irq_routing: nr u32, flags u32, entries[] from 8 ----
    // ---- struct kvm_irq_routing_entry: gsi u32, type u32, flags u32, pad u32, union u (32 bytes) from 16 ----
    public static final int ROUTE_GSI = 0;
    public static final int ROUTE_TYPE = 4;
    public static final int ROUTE_FLAGS = 8;
    public static final int ROUTE_U = 16;
    // u.irqchip: irqchip u32, pin u32; u.msi: address_lo u32, address_hi u32, data u32
    public static final int ROUTE_IRQCHIP_CHIP = 16;
    public static final int ROUTE_IRQCHIP_PIN = 20;
    public static final int ROUTE_MSI_ADDRESS_LO = 16;
    public static final int ROUTE_MSI_ADDRESS_HI = 20;
    public static final int ROUTE_MSI_DATA = 24;

    /** Size in bytes of the kernel's {@code sigset_t} on x86-64 (64 signals), as KVM_SET_SIGNAL_MASK wants it. */
    public static final int KERNEL_SIGSET_SIZE = 8;

    /** A readable name for an exit reason, for messages and traces. */
    public static String exitReasonName(int reason) {
        return switch (reason) {
            case KVM_EXIT_UNKNOWN -> "UNKNOWN";
            case KVM_EXIT_EXCEPTION -> "EXCEPTION";
            case KVM_EXIT_IO -> "IO";
            case KVM_EXIT_DEBUG -> "DEBUG";
            case KVM_EXIT_HLT -> "HLT";
            case KVM_EXIT_MMIO -> "MMIO";
            case KVM_EXIT_IRQ_WINDOW_OPEN -> "IRQ_WINDOW_OPEN";
            case KVM_EXIT_SHUTDOWN -> "SHUTDOWN";
            case KVM_EXIT_FAIL_ENTRY -> "FAIL_ENTRY";
            case KVM_EXIT_INTR -> "INTR";
            case KVM_EXIT_INTERNAL_ERROR -> "INTERNAL_ERROR";
            case KVM_EXIT_SYSTEM_EVENT -> "SYSTEM_EVENT";
            default -> "exit reason " + reason;
        };
    }
}
