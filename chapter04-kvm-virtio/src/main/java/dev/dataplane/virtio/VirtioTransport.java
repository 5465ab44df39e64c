package dev.dataplane.virtio;

import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.iothread.rules.IoOrGsCode;

/**
 * What a device model asks of its transport (QEMU: the {@code VirtioBusClass} callbacks). Both
 * methods are called from the device's context, which may be an IOThread: they never take the
 * BQL.
 */
public interface VirtioTransport {

    /**
     * The device pushed to {@code vq}: interrupt the guest if it wants one
     * ({@link VirtQueue#shouldNotify()}; QEMU: {@code virtio_notify}).
     */
    @IoCode
    void notifyQueue(VirtQueue vq);

    /**
     * The driver broke the rules in a way the device cannot answer: set NEEDS_RESET and tell the
     * driver (QEMU: {@code virtio_error}). The device stops serving requests until reset.
     */
    @IoOrGsCode
    void deviceError(String why);
}
