/**
 * IOThreads, the main loop, the Big QEMU Lock and AioWait (chapter 3).
 *
 * <p>This chapter is not written yet. The module exists so that the monorepo has its final
 * shape from the first chapter on; it depends only on {@code chapter02-bh-timers}.
 */
package dev.dataplane.iothread;
