package dev.dataplane.virtio;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;

/**
 * What a virtio device model gives its transport (QEMU: {@code VirtioDeviceClass}): identity,
 * features, queues, its configuration space, the context its queues are served in, and the
 * handler of a kick. The transport ({@link VirtioPciLegacy}) owns the registers, the status and
 * the interrupt; the device owns the requests.
 *
 * <p>Threads: configuration, features and reset are global-state code (a vCPU exit with the BQL
 * held); {@link #handleQueue} is I/O code and runs in {@link #context()}, which may be an
 * IOThread's.
 */
public interface VirtioDevice {

    /** The virtio device type (2 = block). */
    int deviceId();

    /** The PCI device ID of the legacy/transitional interface (0x1000 + type - 1, e.g. 0x1001 for block). */
    int pciDeviceId();

    /** The 24-bit PCI class code (class, subclass, programming interface). */
    int pciClassCode();

    /** The feature bits the device offers (device-specific ones and ring ones). */
    long hostFeatures();

    int numQueues();

    VirtQueue queue(int index);

    /** Bytes of device-specific configuration space. */
    int configSize();

    /** Reads {@code size} bytes at {@code offset}; the transport has checked the range. */
    @GlobalStateCode
    long configRead(int offset, int size);

    @GlobalStateCode
    void configWrite(int offset, int size, long value);

    /** The context whose home thread serves the queues and completes the requests. */
    AioContext context();

    /** Connects the device to its transport, once, before the guest runs. */
    @GlobalStateCode
    void plug(VirtioTransport transport);

    /** The features the driver accepted (a subset of {@link #hostFeatures()}). Device stopped. */
    @GlobalStateCode
    void setGuestFeatures(long features);

    /** The driver kicked queue {@code vq} (QEMU: {@code handle_output}). In {@link #context()}. */
    @IoCode
    void handleQueue(VirtQueue vq);

    /**
     * Back to the state after power-on (QEMU: {@code VirtioDeviceClass.reset}). The transport
     * calls it after it has stopped the queues' notifiers and waited for every request in flight.
     */
    @GlobalStateCode
    void reset();
}
