package dev.dataplane.iothread;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.EventNotifier;
import dev.dataplane.aio.EventNotifierHandler;
import dev.dataplane.aio.IoHandler;
import dev.dataplane.bh.BottomHalf;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.bh.ReentrancyGuard;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.MainLoopOnly;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.TimerScale;

/**
 * The "legacy" helpers that work on the main loop without being told so: QEMU's
 * {@code qemu_set_fd_handler}, {@code event_notifier_set_handler}, {@code timer_new_ms},
 * {@code qemu_bh_new}, {@code qemu_bh_new_guarded} and the old {@code qemu_aio_wait}.
 *
 * <p>They find their context through the caller: the main loop whose BQL the calling thread
 * holds. So they work in the main loop and in a vCPU thread handling an exit, and they fail with a
 * clear message anywhere else. In an IOThread they would be a bug even if they worked: the
 * callback would run in the main loop, under the BQL, not in the IOThread that asked for it.
 * I/O code uses the context it was given: {@code ctx.setFdHandler}, {@code BottomHalves.of(ctx)},
 * {@code TimerListGroup.of(ctx)}, {@code ctx.poll}. The ArchUnit rules of this chapter check that
 * no I/O code calls anything here.
 */
@MainLoopOnly
@GlobalStateCode
public final class MainLoopHelpers {

    private MainLoopHelpers() {
    }

    // tag::legacy[]
    /** The main loop the caller belongs to, or an explanation of why it has none. */
    private static MainLoop mainLoop(String helper, String instead) {
        MainLoop loop = MainLoop.current();
        if (loop == null || !CodeRules.inMainLoop()) {
            throw new IllegalStateException("MainLoopHelpers." + helper + " called from thread '"
                    + Thread.currentThread().getName() + "' without the BQL: main-loop helpers work on the"
                    + " main loop's context and may run only in the main loop or with the BQL held."
                    + " Code that runs in an IOThread must use " + instead + " on its own context.");
        }
        return loop;
    }

    /** A bottom half in the main context (QEMU: {@code qemu_bh_new}). */
    @MainLoopOnly
    public static BottomHalf bhNew(String name, Runnable cb) {
        return BottomHalves.of(mainLoop("bhNew", "BottomHalves.of(ctx).newBh").context()).newBh(name, cb);
    }
    // end::legacy[]

    /** A guarded bottom half in the main context (QEMU: {@code qemu_bh_new_guarded}). */
    @MainLoopOnly
    public static BottomHalf bhNewGuarded(String name, Runnable cb, ReentrancyGuard guard) {
        return BottomHalves.of(mainLoop("bhNewGuarded", "BottomHalves.of(ctx).newBh").context())
                .newBh(name, cb, guard);
    }

    /**
     * Watches {@code fd} in the main loop (QEMU: {@code qemu_set_fd_handler}); both callbacks
     * null removes it. QEMU registers these on a separate {@code iohandler_ctx} that nested waits
     * do not poll; Dataplane has only the main context, so a handler here may also run inside an
     * {@link AioWait} of the main loop and must tolerate that.
     */
    @MainLoopOnly
    public static void setFdHandler(int fd, IoHandler read, IoHandler write) {
        AioContext ctx = mainLoop("setFdHandler", "ctx.setFdHandler").context();
        if (read == null && write == null) {
            ctx.removeFdHandler(fd);
        } else {
            ctx.setFdHandler(fd, false, read, write, null, null);
        }
    }

    /** Runs {@code read} in the main loop whenever {@code n} is set (QEMU: {@code event_notifier_set_handler}); null removes it. */
    @MainLoopOnly
    public static void setEventNotifierHandler(EventNotifier n, EventNotifierHandler read) {
        AioContext ctx = mainLoop("setEventNotifierHandler", "ctx.setEventNotifier").context();
        if (read == null) {
            ctx.removeEventNotifier(n);
        } else {
            ctx.setEventNotifier(n, false, read, null, null);
        }
    }

    /**
     * A timer on the main loop's own timer lists (QEMU: {@code timer_new_ns}/{@code _us}/{@code _ms}
     * on {@code main_loop_tlg}): it runs once per main-loop iteration, never inside a nested wait.
     */
    @MainLoopOnly
    public static AioTimer timerNew(ClockType type, TimerScale scale, Runnable cb) {
        return mainLoop("timerNew", "TimerListGroup.of(ctx).newTimer").newTimer(type, scale, cb);
    }

    /** {@link #timerNew} in milliseconds (QEMU: {@code timer_new_ms}). */
    @MainLoopOnly
    public static AioTimer timerNewMs(ClockType type, Runnable cb) {
        return timerNew(type, TimerScale.MS, cb);
    }

    /**
     * One blocking poll of the main context, keeping the BQL (QEMU's long-gone {@code qemu_aio_wait}).
     * Loop on your own condition around it, or better, use {@link AioWait#waitWhile}.
     */
    @MainLoopOnly
    public static boolean aioWait() {
        return mainLoop("aioWait", "ctx.poll(true)").context().poll(true);
    }
}
