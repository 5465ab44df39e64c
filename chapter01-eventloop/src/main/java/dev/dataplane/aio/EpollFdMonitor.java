package dev.dataplane.aio;

import dev.dataplane.aio.linux.EpollEvents;
import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.aio.linux.PollFds;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Waits with epoll(7): QEMU's {@code fdmon-epoll.c}.
 *
 * <p>Implementation notes.
 *
 * <p>The kernel keeps the interest list, so {@link #update} makes one {@code epoll_ctl} per
 * handler change (from whichever thread changes the handler, under the list mutex) and a wait
 * costs O(ready fds) instead of O(registered fds).
 *
 * <p>The epoll data word cannot hold a Java reference, so it holds the fd, and {@link #byFd}
 * maps the fd back to the current node. A node that was replaced between the kernel reporting
 * the fd and the lookup is simply found in its new form: handlers are level-triggered, so
 * dispatching the newest registration for a ready fd is always right.
 *
 * <p>epoll_wait's timeout is in milliseconds. For a finite timeout the monitor first ppoll()s
 * the epoll fd itself (an epoll fd is readable when any of its fds is ready), which has a
 * nanosecond timeout, and then collects the events with a zero-timeout epoll_wait. Chapter 2's
 * timers need that precision.
 *
 * <p>While external handlers are disabled the interest list still contains their fds, so the
 * monitor waits with {@link PollFdMonitor} instead, which leaves them out.
 *
 * <p>If an epoll_ctl fails the context goes back to ppoll for good, as QEMU does.
 */
final class EpollFdMonitor implements FdMonitor {
    private static final int MAX_EVENTS = 128;

    private final AioContext ctx;
    private final int epfd;
    private final EpollEvents events = new EpollEvents(MAX_EVENTS);
    private final PollFds epollFdAsPollFd = new PollFds(1);
    /** The same for a released sleep, which may overlap another thread's {@link #await}. */
    private final PollFds sleepFd = new PollFds(1);
    /** fd -> current node; written under the list mutex, read by the home thread. */
    private volatile AtomicReferenceArray<AioHandler> byFd = new AtomicReferenceArray<>(64);

    EpollFdMonitor(AioContext ctx) {
        this.ctx = ctx;
        this.epfd = LibC.epollCreate(LibC.EPOLL_CLOEXEC);
    }

    @Override
    public String name() {
        return "epoll";
    }

    /** Adds every live handler to the interest list. Called with the list mutex held. */
    void addAll(AioHandler head) {
        for (AioHandler node = head; node != null; node = node.next) {
            if (!node.deleted && node.events != 0) {
                LibC.epollCtl(epfd, LibC.EPOLL_CTL_ADD, node.fd, node.events, node.fd);
                remember(node.fd, node);
            }
        }
    }

    @Override
    public void update(AioHandler oldNode, AioHandler newNode) {
        try {
            if (newNode == null) {
                if (oldNode.events != 0) {
                    LibC.epollCtl(epfd, LibC.EPOLL_CTL_DEL, oldNode.fd, 0, 0);
                }
                remember(oldNode.fd, null);
            } else {
                boolean wasWatched = oldNode != null && oldNode.events != 0;
                if (newNode.events == 0) {
                    if (wasWatched) {
                        LibC.epollCtl(epfd, LibC.EPOLL_CTL_DEL, newNode.fd, 0, 0);
                    }
                } else {
                    int op = wasWatched ? LibC.EPOLL_CTL_MOD : LibC.EPOLL_CTL_ADD;
                    LibC.epollCtl(epfd, op, newNode.fd, newNode.events, newNode.fd);
                }
                remember(newNode.fd, newNode);
            }
        } catch (LinuxException e) {
            ctx.fallBackToPoll(e);
        }
    }

    private void remember(int fd, AioHandler node) {
        AtomicReferenceArray<AioHandler> map = byFd;
        if (fd >= map.length()) {
            AtomicReferenceArray<AioHandler> bigger = new AtomicReferenceArray<>(Math.max(fd + 1, map.length() * 2));
            for (int i = 0; i < map.length(); i++) {
                bigger.set(i, map.get(i));
            }
            byFd = map = bigger;
        }
        map.set(fd, node);
    }

    @Override
    public boolean needWait() {
        return ctx.pollDisabled();
    }

    // tag::fdmon-epoll-wait[]
    @Override
    public int await(ReadyList ready, long timeoutNs) {
        if (ctx.isExternalDisabled()) {
            return ctx.pollMonitor().await(ready, timeoutNs, false);
        }
        ctx.probeBeforeSyscall(this, null, 0, timeoutNs);
        if (timeoutNs > 0) {
            // Nanosecond-precise wait on the epoll fd itself, then collect without blocking.
            epollFdAsPollFd.set(0, epfd, LibC.POLLIN);
            if (LibC.ppoll(epollFdAsPollFd, 1, timeoutNs) == 0) {
                return 0;
            }
            timeoutNs = 0;
        }
        int n = LibC.epollWait(epfd, events, timeoutNs < 0 ? -1 : 0);
        AtomicReferenceArray<AioHandler> map = byFd;
        int queued = 0;
        for (int i = 0; i < n; i++) {
            int fd = (int) events.data(i);
            AioHandler node = fd < map.length() ? map.get(fd) : null;
            if (node != null && !node.deleted) {
                ready.addReady(node, events.events(i));
                queued++;
            }
        }
        return queued;
    }
    // end::fdmon-epoll-wait[]

    @Override
    public void sleep(long timeoutNs) {
        if (ctx.isExternalDisabled()) {
            ctx.pollMonitor().sleep(timeoutNs);
            return;
        }
        // An epoll fd is readable while any fd on its interest list is ready.
        sleepFd.set(0, epfd, LibC.POLLIN);
        ctx.probeBeforeSyscall(this, null, 0, timeoutNs);
        LibC.ppoll(sleepFd, 1, timeoutNs);
    }

    @Override
    public void close() {
        LibC.closeFd(epfd);
    }
}
