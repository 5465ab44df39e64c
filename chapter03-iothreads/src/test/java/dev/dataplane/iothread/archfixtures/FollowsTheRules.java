package dev.dataplane.iothread.archfixtures;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.iothread.MainLoopHelpers;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.iothread.rules.IoOrGsCode;

/** Breaks no rule: what I/O code and global-state code may do. */
public final class FollowsTheRules {

    private FollowsTheRules() {
    }

    /** I/O code completes in its own context and may ask about the BQL. */
    @IoCode
    static void complete(AioContext ctx, Bql bql, Runnable callback) {
        if (bql.isHeld()) {
            throw new IllegalStateException("I/O code runs without the BQL");
        }
        BottomHalves.of(ctx).scheduleOneshot("request-done", callback);
    }

    /** Work for the main loop is handed over as a reference to global-state code, not called. */
    @IoCode
    static void askTheMainLoop(MainLoop main) {
        BottomHalves.of(main.context()).scheduleOneshot("reconfigure", FollowsTheRules::reconfigure);
    }

    /** Either caller: may assert, may not lock. */
    @IoOrGsCode
    static void check(Bql bql) {
        bql.assertHeld();
    }

    /** Global-state code may take the BQL and use the main-loop helpers. */
    @GlobalStateCode
    static void reconfigure() {
        MainLoopHelpers.bhNew("reconfigured", () -> { }).schedule();
    }

    @GlobalStateCode
    static void fromAVcpu(Bql bql) {
        bql.lock();
        try {
            reconfigure();
        } finally {
            bql.unlock();
        }
    }
}
