/**
 * A KVM guest whose virtio-blk disk is served by an IOThread (chapter 4).
 *
 * <p>This chapter is not written yet. The module exists so that the monorepo has its final
 * shape from the first chapter on; it depends only on {@code chapter03-iothreads}.
 */
package dev.dataplane.virtio;
