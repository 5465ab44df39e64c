package dev.dataplane.aio;

import java.util.ArrayList;

/**
 * The handlers one {@code poll()} call found ready, in the order they were found.
 *
 * <p>A handler sits on at most one ready list. If a nested poll finds a handler that an outer
 * poll has queued but not yet dispatched, the nested one takes it (QEMU removes it from the
 * "nested parent's list"); here the node records its owner, and the outer list skips entries it
 * no longer owns. One list per nesting depth is kept and reused, so polling allocates nothing.
 */
final class ReadyList {
    private final ArrayList<AioHandler> nodes = new ArrayList<>();
    /** Set by busy polling when a handler other than the context's notifier was ready. */
    boolean pollProgress;

    /** Queues {@code node} with the events a wait reported. */
    void addReady(AioHandler node, int revents) {
        node.readyOwner = this;
        node.revents = revents;
        nodes.add(node);
    }

    /** Queues {@code node} because its userspace poll succeeded. */
    void addPollReady(AioHandler node) {
        node.readyOwner = this;
        node.pollReady = true;
        nodes.add(node);
    }

    int size() {
        return nodes.size();
    }

    /** Entry {@code i}, or null if a nested poll has taken it over. */
    AioHandler owned(int i) {
        AioHandler n = nodes.get(i);
        if (n.readyOwner != this) {
            return null;
        }
        n.readyOwner = null;
        return n;
    }

    void clear() {
        nodes.clear();
    }
}
