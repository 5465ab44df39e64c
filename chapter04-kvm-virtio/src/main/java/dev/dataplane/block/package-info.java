/**
 * Block devices for chapter 4: virtio-blk ({@link dev.dataplane.block.VirtioBlk}) over a
 * {@link dev.dataplane.block.BlockBackend}, here a raw image file
 * ({@link dev.dataplane.block.RawImage}) read and written straight into guest memory on the
 * context's thread pool.
 */
package dev.dataplane.block;
