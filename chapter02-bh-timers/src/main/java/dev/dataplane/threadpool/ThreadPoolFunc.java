package dev.dataplane.threadpool;

/**
 * The blocking work of one thread-pool request, run on a worker thread (QEMU:
 * {@code ThreadPoolFunc}, {@code int (*)(void *opaque)}).
 *
 * <p>It returns an int, as QEMU's functions do, because that is what block I/O needs: a
 * non-negative count (bytes read or written) on success, a negative errno on failure. Chapter 4's
 * image backend, for example, reads at an offset into guest memory and returns the bytes it
 * transferred or {@code -EIO}. Nothing else travels back: what the work produced it writes where
 * the submitter will look for it (guest memory, a buffer), and the release store of the request's
 * DONE state makes those writes visible to the completion callback.
 *
 * <p>A function may throw; a Java {@code read} throws {@code IOException} rather than returning
 * -1. The worker catches whatever it throws, completes the request with {@code -EIO} and keeps the
 * throwable for the callback ({@link ThreadPoolRequest#failure()}). A worker thread never dies
 * because its work failed.
 */
@FunctionalInterface
public interface ThreadPoolFunc {

    /** Does the work. Runs on a worker thread, without any of the pool's locks held. */
    int run() throws Exception;
}
