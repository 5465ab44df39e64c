package dev.dataplane.kvm.trace;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * One exit of {@code KVM_RUN} handled by the vCPU thread. The duration is the handling itself,
 * with the BQL held (taking the BQL is not in it: chapter 3's {@code dataplane.bql.Hold} has the
 * wait).
 */
@Name("dataplane.kvm.Exit")
@Label("vCPU exit")
@Category({"Dataplane", "KVM"})
@Description("A KVM_RUN exit handled in user space by a vCPU thread, with the BQL held (QEMU: kvm_cpu_exec).")
@StackTrace(false)
public final class VcpuExitEvent extends Event {
    @Label("vCPU")
    public int vcpu;

    @Label("Reason")
    @Description("KVM_EXIT_* without the prefix: IO, MMIO, HLT, SHUTDOWN, ...")
    public String reason;

    @Label("Address")
    @Description("The port (IO) or the guest-physical address (MMIO); -1 for other exits")
    public long address;

    @Label("Size")
    @Description("Bytes per access (IO, MMIO); 0 for other exits")
    public int size;

    @Label("Count")
    @Description("Accesses in this exit: more than 1 for a rep ins/outs, 1 for MMIO, 0 for other exits")
    public int count;

    @Label("Write")
    @Description("true for an out or an MMIO write, false for an in or an MMIO read")
    public boolean write;
}
