/**
 * Virtio for chapter 4: the split virtqueue ({@link dev.dataplane.virtio.VirtQueue}), the device
 * model interface ({@link dev.dataplane.virtio.VirtioDevice}) and the legacy virtio-pci transport
 * ({@link dev.dataplane.virtio.VirtioPciLegacy}) whose queue notifiers become ioeventfds served
 * in an IOThread when the driver is ready ({@link dev.dataplane.virtio.NotifyBinder}).
 *
 * <p>Everything read from guest memory is untrusted: see {@code VirtQueue}'s implementation notes.
 */
package dev.dataplane.virtio;
