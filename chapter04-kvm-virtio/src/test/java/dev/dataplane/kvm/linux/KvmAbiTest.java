package dev.dataplane.kvm.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The request codes computed the kernel's way ({@code _IO}/{@code _IOR}/{@code _IOW}) equal what a C
 * compiler computes from {@code <linux/kvm.h>} on x86-64 (the expected values were printed by a
 * throw-away C program that includes the header and prints each macro).
 */
class KvmAbiTest {

    @Test
    void ioctlRequestCodesMatchTheKernelHeaders() {
        assertThat(KvmAbi.KVM_GET_API_VERSION).isEqualTo(0xAE00L);
        assertThat(KvmAbi.KVM_CREATE_VM).isEqualTo(0xAE01L);
        assertThat(KvmAbi.KVM_CHECK_EXTENSION).isEqualTo(0xAE03L);
        assertThat(KvmAbi.KVM_GET_VCPU_MMAP_SIZE).isEqualTo(0xAE04L);
        assertThat(KvmAbi.KVM_CREATE_VCPU).isEqualTo(0xAE41L);
        assertThat(KvmAbi.KVM_SET_USER_MEMORY_REGION).isEqualTo(0x4020AE46L);
        assertThat(KvmAbi.KVM_SET_TSS_ADDR).isEqualTo(0xAE47L);
        assertThat(KvmAbi.KVM_CREATE_IRQCHIP).isEqualTo(0xAE60L);
        assertThat(KvmAbi.KVM_IRQ_LINE).isEqualTo(0x4008AE61L);
        assertThat(KvmAbi.KVM_SET_GSI_ROUTING).isEqualTo(0x4008AE6AL);
        assertThat(KvmAbi.KVM_IRQFD).isEqualTo(0x4020AE76L);
        assertThat(KvmAbi.KVM_CREATE_PIT2).isEqualTo(0x4040AE77L);
        assertThat(KvmAbi.KVM_IOEVENTFD).isEqualTo(0x4040AE79L);
        assertThat(KvmAbi.KVM_RUN).isEqualTo(0xAE80L);
        assertThat(KvmAbi.KVM_GET_REGS).isEqualTo(0x8090AE81L);
        assertThat(KvmAbi.KVM_SET_REGS).isEqualTo(0x4090AE82L);
        assertThat(KvmAbi.KVM_GET_SREGS).isEqualTo(0x8138AE83L);
        assertThat(KvmAbi.KVM_SET_SREGS).isEqualTo(0x4138AE84L);
        assertThat(KvmAbi.KVM_SET_SIGNAL_MASK).isEqualTo(0x4004AE8BL);
    }

    @Test
    void aRequestWhoseStructureDoesNotFitFourteenBitsIsRefused() {
        assertThatThrownBy(() -> KvmAbi.iow(0x01, 1 << 14)).isInstanceOf(IllegalArgumentException.class);
        assertThat(KvmAbi.iowr(0x01, 8)).isEqualTo(0xC008AE01L);
    }

    @Test
    void exitReasonsHaveNames() {
        assertThat(KvmAbi.exitReasonName(KvmAbi.KVM_EXIT_INTERNAL_ERROR)).isEqualTo("INTERNAL_ERROR");
        assertThat(KvmAbi.exitReasonName(99)).isEqualTo("exit reason 99");
    }
}
