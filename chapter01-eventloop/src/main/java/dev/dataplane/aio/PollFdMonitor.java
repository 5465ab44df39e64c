package dev.dataplane.aio;

import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.PollFds;
import java.util.Arrays;

/**
 * Waits with ppoll(2) over an array rebuilt from the handler list on every wait: QEMU's
 * {@code fdmon-poll.c}.
 *
 * <p>Rebuilding costs O(handlers) per iteration, which is nothing for a handful of fds and the
 * reason {@link EpollFdMonitor} takes over once a context watches many. In exchange
 * {@link #update} has nothing to do, so handler changes from other threads cost no system call,
 * and the array always reflects the list as the home thread sees it at the moment it waits.
 *
 * <p>Only the home thread calls {@link #await}; the arrays are reused, never shared.
 */
final class PollFdMonitor implements FdMonitor {
    private final AioContext ctx;
    private final PollFds pollFds = new PollFds(16);
    /** The array of a released sleep; only one thread sleeps released at a time (the rule's contract). */
    private final PollFds sleepFds = new PollFds(16);
    private AioHandler[] nodes = new AioHandler[16];
    /** True for the throw-away instance a foreign poller gets (see {@link #await}). */
    private final boolean privateToCaller;

    PollFdMonitor(AioContext ctx) {
        this(ctx, false);
    }

    private PollFdMonitor(AioContext ctx, boolean privateToCaller) {
        this.ctx = ctx;
        this.privateToCaller = privateToCaller;
    }

    @Override
    public String name() {
        return "poll";
    }

    @Override
    public void update(AioHandler oldNode, AioHandler newNode) {
        // Nothing to do: the next await() rebuilds the array from the list.
    }

    @Override
    public boolean needWait() {
        // ppoll cannot look at fds from userspace: if any handler has no io_poll, busy polling
        // the others would starve it, so the loop must make the system call.
        return ctx.pollDisabled();
    }

    // tag::fdmon-poll-wait[]
    @Override
    public int await(ReadyList ready, long timeoutNs) {
        return await(ready, timeoutNs, true);
    }

    /** The wait itself; {@code mayUpgrade} is false when epoll borrows it as a fallback. */
    int await(ReadyList ready, long timeoutNs, boolean mayUpgrade) {
        if (!privateToCaller && !ctx.inHomeThread()) {
            // Only reachable with HistoricalBug.FOREIGN_THREAD_POLL: a second poller must not
            // scribble over the home thread's arrays (QEMU keeps them thread-local for the
            // same reason), so it gets its own.
            return new PollFdMonitor(ctx, true).await(ready, timeoutNs, false);
        }
        boolean externalDisabled = ctx.isExternalDisabled();
        int n = 0;
        for (AioHandler node = ctx.handlerListHead(); node != null; node = node.next) {
            if (node.deleted || node.events == 0) {
                continue;
            }
            if (node.isExternal && externalDisabled) {
                continue; // guest-driven fds are left out of the set while disabled
            }
            if (n == nodes.length) {
                nodes = Arrays.copyOf(nodes, n * 2);
            }
            pollFds.ensureCapacityKeeping(n + 1);
            pollFds.set(n, node.fd, node.events);
            nodes[n++] = node;
        }

        // Many fds: epoll is cheaper from now on. The switch happens here because this is the
        // one place that knows the count and holds the list as a walker.
        if (mayUpgrade && ctx.tryUpgradeToEpoll(n)) {
            Arrays.fill(nodes, 0, n, null);
            return ctx.fdMonitor().await(ready, timeoutNs);
        }

        ctx.probeBeforeSyscall(this, nodes, n, timeoutNs);
        int found = LibC.ppoll(pollFds, n, timeoutNs);
        int queued = 0;
        for (int i = 0; i < n && queued < found; i++) {
            int revents = pollFds.revents(i);
            if (revents != 0) {
                ready.addReady(nodes[i], revents);
                queued++;
            }
        }
        Arrays.fill(nodes, 0, n, null); // keep no removed handler reachable from here
        return queued;
    }
    // end::fdmon-poll-wait[]

    @Override
    public void sleep(long timeoutNs) {
        boolean externalDisabled = ctx.isExternalDisabled();
        int n = 0;
        for (AioHandler node = ctx.handlerListHead(); node != null; node = node.next) {
            if (node.deleted || node.events == 0 || (node.isExternal && externalDisabled)) {
                continue;
            }
            sleepFds.ensureCapacityKeeping(n + 1);
            sleepFds.set(n++, node.fd, node.events);
        }
        ctx.probeBeforeSyscall(this, null, 0, timeoutNs);
        LibC.ppoll(sleepFds, n, timeoutNs);
    }

    @Override
    public void close() {
        // No kernel object of its own.
    }
}
