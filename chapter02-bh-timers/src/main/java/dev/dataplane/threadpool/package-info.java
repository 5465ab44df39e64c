/**
 * The thread pool (chapter 2): blocking work run on worker threads and completed in the home
 * thread of the {@link dev.dataplane.aio.AioContext} that submitted it, through a bottom half.
 * QEMU's {@code util/thread-pool.c} (the AIO flavour).
 *
 * <p>{@link dev.dataplane.threadpool.ThreadPool} is a context's pool, one per context, made on
 * first use; {@link dev.dataplane.threadpool.ThreadPoolRequest} is one submitted piece of work,
 * which can be cancelled while it waits for a worker. Chapter 4's image-file backend does its
 * positional reads and writes through it.
 */
package dev.dataplane.threadpool;
