package dev.dataplane.aio;

import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Test helper: work that other threads hand to a loop, found in the prepare phase the way
 * chapter 2's bottom halves will be. Producers {@link #add} and then notify the context.
 */
final class WorkQueue implements AioEventSource {
    private final ConcurrentLinkedQueue<Runnable> items = new ConcurrentLinkedQueue<>();

    void add(Runnable work) {
        items.add(work);
    }

    int size() {
        return items.size();
    }

    @Override
    public long timeoutNs() {
        return items.isEmpty() ? -1 : 0;
    }

    @Override
    public boolean dispatch() {
        boolean any = false;
        Runnable r;
        while ((r = items.poll()) != null) {
            r.run();
            any = true;
        }
        return any;
    }

    @Override
    public Phase phase() {
        return Phase.BEFORE_HANDLERS;
    }
}
