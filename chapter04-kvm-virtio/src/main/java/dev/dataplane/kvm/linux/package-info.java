/**
 * Every JNA declaration of chapter 4: KVM's ioctls and structures ({@link
 * dev.dataplane.kvm.linux.KvmAbi}), {@code open}/{@code ioctl}/{@code mmap} ({@link
 * dev.dataplane.kvm.linux.KvmSys}), mapped memory ({@link dev.dataplane.kvm.linux.MappedRegion}) and
 * the vCPU kick signal ({@link dev.dataplane.kvm.linux.VcpuSignals}).
 *
 * <p>As with chapter 1's {@code dev.dataplane.aio.linux}, native access stays in this one package
 * (an ArchUnit rule checks it); {@code dev.dataplane.kvm} sees file descriptors as {@code int}s,
 * memory as {@link java.nio.ByteBuffer}s and failures as chapter 1's
 * {@link dev.dataplane.aio.linux.LinuxException}.
 */
package dev.dataplane.kvm.linux;
