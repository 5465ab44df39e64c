package dev.dataplane.threadpool;

/**
 * What runs when a thread-pool request is over (QEMU: {@code BlockCompletionFunc}, called as
 * {@code cb(opaque, ret)}). It runs in the home thread of the context the request was submitted
 * to, from the pool's completion bottom half, exactly once per request, cancelled or not.
 */
@FunctionalInterface
public interface CompletionFunc {

    /**
     * @param request the request that is over; {@link ThreadPoolRequest#failure()} tells whether
     *                its work threw
     * @param ret     what the work returned, {@code -EIO} if it threw, or
     *                {@code -}{@link ThreadPool#ECANCELED} if it was cancelled before it started
     */
    void complete(ThreadPoolRequest request, int ret);
}
