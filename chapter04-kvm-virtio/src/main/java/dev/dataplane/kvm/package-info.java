/**
 * KVM from Java: the system fd ({@link dev.dataplane.kvm.Kvm}), a VM with its RAM, in-kernel
 * irqchip, ioeventfds and irqfds ({@link dev.dataplane.kvm.KvmVm}), vCPUs and the threads that run
 * them ({@link dev.dataplane.kvm.KvmVcpu}, {@link dev.dataplane.kvm.VcpuThread}), and how a run ends
 * ({@link dev.dataplane.kvm.RunControl}, {@link dev.dataplane.kvm.MachineOutcome}).
 *
 * <p>Every native declaration is in {@code dev.dataplane.kvm.linux}; an ArchUnit rule keeps JNA out
 * of this package. Everything that holds a file descriptor or a mapping is {@link AutoCloseable},
 * and closing a VM closes everything it made.
 */
package dev.dataplane.kvm;
