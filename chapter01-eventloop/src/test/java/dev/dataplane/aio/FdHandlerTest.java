package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.linux.LibC;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Registering, replacing and removing fd handlers, and what dispatch promises about them. */
class FdHandlerTest {
    private final AioContext ctx = AioContext.builder().name("fd-handler-test").build();
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        ctx.close();
        for (AutoCloseable r : resources) {
            r.close();
        }
    }

    private EventNotifier notifier() {
        EventNotifier n = new EventNotifier();
        resources.add(n);
        return n;
    }

    private AioHandler nodeFor(int fd) {
        for (AioHandler n = ctx.handlerListHead(); n != null; n = n.next) {
            if (n.fd == fd && !n.deleted) {
                return n;
            }
        }
        throw new AssertionError("no handler for fd " + fd);
    }

    @Test
    void readHandlersAreLevelTriggered() {
        EventNotifier n = notifier();
        AtomicInteger calls = new AtomicInteger();
        // Does not clear the notifier for its first two calls: it must be called again and again.
        ctx.setEventNotifier(n, false, e -> {
            if (calls.incrementAndGet() > 2) {
                e.testAndClear();
            }
        }, null, null);
        n.set();
        assertThat(ctx.poll(false)).isTrue();
        assertThat(ctx.poll(false)).isTrue();
        assertThat(ctx.poll(false)).isTrue();
        assertThat(calls).hasValue(3);
        assertThat(ctx.poll(false)).isFalse();
        assertThat(calls).hasValue(3);
    }

    @Test
    void writeHandlerRunsWhileTheFdIsWritable() {
        int[] pipe = LibC.pipe(LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        resources.add(() -> {
            LibC.closeFd(pipe[0]);
            LibC.closeFd(pipe[1]);
        });
        AtomicInteger writes = new AtomicInteger();
        ctx.setFdHandler(pipe[1], false, null, writes::incrementAndGet, null, null);
        assertThat(ctx.poll(false)).isTrue();
        assertThat(ctx.poll(false)).isTrue();
        assertThat(writes).hasValue(2);
        ctx.removeFdHandler(pipe[1]);
        assertThat(ctx.poll(false)).isFalse();
        assertThat(writes).hasValue(2);
    }

    @Test
    void aReplacedHandlerIsNeverCalledAgain() {
        EventNotifier n = notifier();
        AtomicInteger oldCalls = new AtomicInteger();
        AtomicInteger newCalls = new AtomicInteger();
        TestSources.countReads(ctx, n, false, oldCalls);
        AioHandler oldNode = nodeFor(n.fd());
        TestSources.countReads(ctx, n, false, newCalls);
        AioHandler newNode = nodeFor(n.fd());

        n.set();
        assertThat(ctx.poll(false)).isTrue();
        assertThat(oldCalls).hasValue(0);
        assertThat(newCalls).hasValue(1);
        // Replacement built a new node; the old one was retired, not edited.
        assertThat(newNode).isNotSameAs(oldNode);
        assertThat(oldNode.deleted).isTrue();
    }

    @Test
    void aHandlerRemovedByAnotherDuringDispatchIsNotCalledAndTheWalkGoesOn() {
        EventNotifier a = notifier();
        EventNotifier b = notifier();
        EventNotifier c = notifier();
        List<String> calls = new ArrayList<>();
        // Whichever of a and b runs first removes the other; c must still run.
        ctx.setEventNotifier(a, false, e -> {
            e.testAndClear();
            calls.add("a");
            ctx.removeEventNotifier(b);
        }, null, null);
        ctx.setEventNotifier(b, false, e -> {
            e.testAndClear();
            calls.add("b");
            ctx.removeEventNotifier(a);
        }, null, null);
        ctx.setEventNotifier(c, false, e -> {
            e.testAndClear();
            calls.add("c");
        }, null, null);
        a.set();
        b.set();
        c.set();

        assertThat(ctx.poll(false)).isTrue();
        assertThat(calls).hasSize(2).contains("c");
        assertThat(calls.stream().filter(s -> !s.equals("c"))).hasSize(1);
    }

    @Test
    void aHandlerThatRemovesItselfInItsReadCallbackGetsNoWriteCallback() {
        EventNotifier n = notifier(); // an eventfd: writable always, readable once set
        AtomicInteger reads = new AtomicInteger();
        AtomicInteger writes = new AtomicInteger();
        ctx.setFdHandler(n.fd(), false, () -> {
            reads.incrementAndGet();
            ctx.removeFdHandler(n.fd());
        }, writes::incrementAndGet, null, null);
        n.set();
        ctx.poll(false);
        assertThat(reads).hasValue(1);
        assertThat(writes).hasValue(0);
        assertThat(ctx.poll(false)).isFalse();
    }

    @Test
    void onlyTheOutermostWalkerFreesARemovedHandler() {
        EventNotifier outer = notifier();
        EventNotifier victim = notifier();
        AtomicInteger victimCalls = new AtomicInteger();
        TestSources.countReads(ctx, victim, false, victimCalls);
        AioHandler victimNode = nodeFor(victim.fd());
        boolean[] freedDuringNestedPoll = {true};
        ctx.setEventNotifier(outer, false, e -> {
            e.testAndClear();
            ctx.removeEventNotifier(victim);
            ctx.poll(false); // a nested walker must not free what the outer walk may still hold
            freedDuringNestedPoll[0] = victimNode.freed;
        }, null, null);
        victim.set();
        outer.set();

        ctx.poll(false);

        assertThat(freedDuringNestedPoll[0]).as("freed by the nested poll").isFalse();
        assertThat(victimNode.deleted).isTrue();
        assertThat(victimNode.freed).as("freed once the outermost poll finished").isTrue();
        // Whether or not the victim ran before it was removed, it never runs afterwards.
        int before = victimCalls.get();
        ctx.poll(false);
        assertThat(victimCalls).hasValue(before);
    }

    @Test
    void aHandlerRemovedWhileNobodyWalksIsFreedAtOnce() {
        EventNotifier n = notifier();
        ctx.setEventNotifier(n, false, EventNotifier::testAndClear, null, null);
        AioHandler node = nodeFor(n.fd());
        ctx.removeEventNotifier(n);
        assertThat(node.freed).isTrue();
        assertThat(node.ioRead).isNull();
    }

    @Test
    void aHandlerAddedFromAnotherThreadIsSeenByABlockedPoll() {
        CountDownLatch aboutToBlock = new CountDownLatch(1);
        try (LoopThread loop = new LoopThread("blocked-loop",
                b -> b.probe(TestSources.onSleep(aboutToBlock)).fdMonitor(AioContext.FdMonitorKind.POLL));
             EventNotifier n = new EventNotifier()) {
            LoopThread.await(aboutToBlock); // the loop sleeps in ppoll without n's fd in its set
            CountDownLatch called = new CountDownLatch(1);
            n.set();
            loop.ctx.setEventNotifier(n, false, e -> {
                e.testAndClear();
                called.countDown();
            }, null, null);
            LoopThread.await(called); // only the registration's notify can make it look again
            loop.runAndWait(() -> loop.ctx.removeEventNotifier(n));
        }
    }

    @Test
    void aPollFunctionWithoutPollReadyIsNeverCalled() {
        try (AioContext ctx = new AioContext(); EventNotifier n = new EventNotifier()) {
            AtomicInteger polls = new AtomicInteger();
            ctx.addEventSource(TestSources.fixedTimeout(1_000_000L));
            ctx.setPollParams(1_000_000_000L, 0, 0);
            ctx.setEventNotifier(n, false, EventNotifier::testAndClear, () -> {
                polls.incrementAndGet();
                return true;
            }, null);
            TestSources.dispatchThroughFd(ctx, n); // dispatched through the fd
            ctx.poll(true);                              // would busy-poll if it had joined
            assertThat(polls).hasValue(0);
            ctx.removeEventNotifier(n);
        }
    }

    @Test
    void removingAnUnknownFdIsHarmless() {
        ctx.removeFdHandler(12345);
        ctx.setFdPoll(12345, () -> { }, () -> { });
        assertThat(ctx.poll(false)).isFalse();
    }

    @Test
    void theContextNotifierCannotBeReplacedFromOutside() {
        assertThatThrownBy(() -> ctx.setFdHandler(ctx.contextNotifier().fd(), false, () -> { }, null, null, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("own notifier");
    }

    @Test
    void aClosedContextRefusesRegistrationAndPolling() {
        AioContext closed = new AioContext();
        closed.close();
        EventNotifier n = notifier();
        assertThatThrownBy(() -> closed.setEventNotifier(n, false, EventNotifier::testAndClear, null, null))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> closed.poll(false)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aHandlerRemovedAfterItsEventsWereCollectedGetsNoReadCallback() {
        try (AioContext ctx = new AioContext(); EventNotifier z = new EventNotifier();
             EventNotifier x = new EventNotifier(); EventNotifier y = new EventNotifier()) {
            ctx.addEventSource(TestSources.fixedTimeout(1_000_000_000L)); // bounds every sleep
            ctx.setPollParams(10_000_000_000L, 0, 0);
            AtomicBoolean zWork = new AtomicBoolean();
            ctx.setEventNotifier(z, false, EventNotifier::testAndClear, zWork::get, e -> zWork.set(false));
            TestSources.dispatchThroughFd(ctx, z); // z joins polling with a 4 us window
            AtomicInteger xReads = new AtomicInteger();
            AtomicInteger xBegins = new AtomicInteger();
            ctx.setEventNotifier(x, false, e -> {
                e.testAndClear();
                xReads.incrementAndGet();
            }, () -> false, e -> { });
            ctx.setEventNotifierPoll(x, e -> {           // runs after x's revents were taken
                xBegins.incrementAndGet();
                ctx.removeEventNotifier(x);
            }, null);
            ctx.setEventNotifier(y, false, e -> {        // newer, so dispatched before x
                e.testAndClear();
                zWork.set(true);
                ctx.poll(true);                          // busy-polls z: poll mode stays on
            }, () -> false, e -> { });
            ctx.poll(false);
            x.set();
            y.set();
            ctx.poll(true);
            assertThat(xBegins).as("x's io_poll_begin ran (scenario reached)").hasValue(1);
            assertThat(xReads).as("read callback of a removed handler").hasValue(0);
            ctx.removeEventNotifier(y);
            ctx.removeEventNotifier(z);
        }
    }
}
