/**
 * Drained sections and the locking rules that replace one context lock (chapter 5).
 *
 * <p>This chapter is not written yet. The module exists so that the monorepo has its final
 * shape from the first chapter on; it depends only on {@code chapter04-kvm-virtio}.
 */
package dev.dataplane.drain;
