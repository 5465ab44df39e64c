package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * disableExternal()/enableExternal(): pausing guest-driven handlers, as drained sections did in
 * QEMU from 2015 to 2023. Exercise {@code ch01-enable-external} is graded by these tests.
 */
@Tag("ch01-enable-external")
class ExternalClientsTest {

    /** On epoll the paused guest fd stays in the interest set, so the wait falls back to ppoll. */
    @ParameterizedTest
    @EnumSource(value = AioContext.FdMonitorKind.class, names = {"POLL", "EPOLL"})
    void externalHandlersAreSkippedWhileDisabledAndOthersAreNot(AioContext.FdMonitorKind kind) {
        try (AioContext ctx = AioContext.builder().fdMonitor(kind).build(); EventNotifier guest = new EventNotifier();
             EventNotifier internal = new EventNotifier()) {
            AtomicInteger guestCalls = new AtomicInteger();
            AtomicInteger internalCalls = new AtomicInteger();
            TestSources.countReads(ctx, guest, true, guestCalls);
            TestSources.countReads(ctx, internal, false, internalCalls);
            ctx.disableExternal();
            guest.set();
            internal.set();
            assertThat(ctx.poll(false)).isTrue();
            assertThat(internalCalls).hasValue(1);
            assertThat(guestCalls).hasValue(0);
            assertThat(ctx.isExternalDisabled()).isTrue();

            ctx.enableExternal();
            assertThat(ctx.poll(false)).isTrue();
            assertThat(guestCalls).hasValue(1);
            assertThat(ctx.fdMonitorName()).as("the fallback is per wait, not a switch")
                    .isEqualTo(kind == AioContext.FdMonitorKind.POLL ? "poll" : "epoll");
            ctx.removeEventNotifier(guest);
            ctx.removeEventNotifier(internal);
        }
    }

    @Test
    void disablingNestsByCounting() {
        try (AioContext ctx = new AioContext()) {
            ctx.disableExternal();
            ctx.disableExternal();
            ctx.enableExternal();
            assertThat(ctx.isExternalDisabled()).isTrue();
            ctx.enableExternal();
            assertThat(ctx.isExternalDisabled()).isFalse();
        }
    }

    @Test
    void enablingWithoutDisablingIsAnError() {
        try (AioContext ctx = new AioContext()) {
            assertThatThrownBy(ctx::enableExternal)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("without disableExternal");
            assertThat(ctx.isExternalDisabled()).isFalse();
        }
    }

    @Test
    void aSleepingLoopServesExternalHandlersRightAfterEnableWithoutAnyOtherEvent() {
        CountDownLatch sleepingWithoutGuestFd = new CountDownLatch(1);
        AtomicInteger guestFd = new AtomicInteger(-1);
        PollProbe probe = new PollProbe() {
            @Override
            public void beforeWait(AioContext c, int[] fds, long timeoutNs) {
                if (timeoutNs == -1 && fds != null && guestFd.get() >= 0
                        && java.util.Arrays.stream(fds).noneMatch(fd -> fd == guestFd.get())) {
                    sleepingWithoutGuestFd.countDown();
                }
            }
        };
        try (LoopThread loop = new LoopThread("iothread", b -> b.probe(probe).fdMonitor(AioContext.FdMonitorKind.POLL));
             EventNotifier guest = new EventNotifier()) {
            CountDownLatch served = new CountDownLatch(1);
            loop.ctx.disableExternal();
            guestFd.set(guest.fd());
            loop.ctx.setEventNotifier(guest, true, e -> {
                e.testAndClear();
                served.countDown();
            }, null, null);
            guest.set(); // the guest kicks while the device is paused
            LoopThread.await(sleepingWithoutGuestFd); // asleep with the guest's fd left out
            assertThat(served.getCount()).isEqualTo(1);

            loop.ctx.enableExternal(); // the only event: must be enough
            LoopThread.await(served);
            loop.runAndWait(() -> loop.ctx.removeEventNotifier(guest));
        }
    }

    @Test
    void aBlockingPollNeitherPollsNorCountsAPausedExternalHandler() {
        try (AioContext ctx = new AioContext(); EventNotifier guest = new EventNotifier()) {
            AtomicBoolean work = new AtomicBoolean();
            AtomicInteger ready = new AtomicInteger();
            ctx.setPollParams(10_000_000_000L, 0, 0);
            ctx.setEventNotifier(guest, true, EventNotifier::testAndClear, work::get, e -> {
                work.set(false);
                ready.incrementAndGet();
            });
            ctx.addEventSource(TestSources.fixedTimeout(1_000_000L)); // 1 ms: the poll must sleep it out
            TestSources.dispatchThroughFd(ctx, guest); // joins polling
            ctx.disableExternal();
            work.set(true);
            long hits = ctx.statistics().pollModeHits();
            assertThat(ctx.poll(true)).as("paused guest work is not progress").isFalse();
            assertThat(ctx.statistics().pollModeHits()).isEqualTo(hits);
            assertThat(ready).hasValue(0);
            ctx.enableExternal();
            ctx.poll(true);
            assertThat(ready).hasValue(1);
            ctx.removeEventNotifier(guest);
        }
    }
}
