/**
 * Bottom halves, clocks and timers, and the thread pool (chapter 2).
 *
 * <p>This chapter is not written yet. The module exists so that the monorepo has its final
 * shape from the first chapter on; it depends only on {@code chapter01-eventloop}.
 */
package dev.dataplane.bh;
