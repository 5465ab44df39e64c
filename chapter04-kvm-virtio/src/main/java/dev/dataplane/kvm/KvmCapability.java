package dev.dataplane.kvm;

import dev.dataplane.kvm.linux.KvmAbi;

/** The KVM extensions Dataplane asks about ({@code KVM_CAP_*}, checked with {@code KVM_CHECK_EXTENSION}). */
public enum KvmCapability {
    IRQCHIP(KvmAbi.KVM_CAP_IRQCHIP),
    USER_MEMORY(KvmAbi.KVM_CAP_USER_MEMORY),
    SET_TSS_ADDR(KvmAbi.KVM_CAP_SET_TSS_ADDR),
    NR_VCPUS(KvmAbi.KVM_CAP_NR_VCPUS),
    NR_MEMSLOTS(KvmAbi.KVM_CAP_NR_MEMSLOTS),
    IRQ_ROUTING(KvmAbi.KVM_CAP_IRQ_ROUTING),
    IRQFD(KvmAbi.KVM_CAP_IRQFD),
    PIT2(KvmAbi.KVM_CAP_PIT2),
    IOEVENTFD(KvmAbi.KVM_CAP_IOEVENTFD),
    MAX_VCPUS(KvmAbi.KVM_CAP_MAX_VCPUS),
    SIGNAL_MSI(KvmAbi.KVM_CAP_SIGNAL_MSI),
    IRQFD_RESAMPLE(KvmAbi.KVM_CAP_IRQFD_RESAMPLE),
    IOEVENTFD_ANY_LENGTH(KvmAbi.KVM_CAP_IOEVENTFD_ANY_LENGTH),
    IMMEDIATE_EXIT(KvmAbi.KVM_CAP_IMMEDIATE_EXIT);

    private final int number;

    KvmCapability(int number) {
        this.number = number;
    }

    /** The {@code KVM_CAP_*} number. */
    public int number() {
        return number;
    }
}
