/**
 * Bottom halves (chapter 2): work that any thread can hand to an {@link dev.dataplane.aio.AioContext}
 * and that the context's home thread runs in its next {@code poll}. QEMU's {@code QEMUBH},
 * {@code util/async.c}.
 *
 * <p>{@link dev.dataplane.bh.BottomHalves} is a context's list of bottom halves; it plugs into
 * chapter 1's loop as an {@link dev.dataplane.aio.AioEventSource} that runs before the fd
 * handlers. {@link dev.dataplane.bh.BottomHalf} is one callback that can be scheduled, cancelled
 * and deleted; {@link dev.dataplane.bh.ReentrancyGuard} keeps device code from being entered again
 * while it runs.
 */
package dev.dataplane.bh;
