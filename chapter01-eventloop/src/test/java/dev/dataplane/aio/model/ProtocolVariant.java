package dev.dataplane.aio.model;

import dev.dataplane.aio.model.WakeupProtocolModel.Scenario;
import java.util.function.Supplier;

/**
 * The wake-up protocol as it is today, and four designs from its history that lose wake-ups.
 * Each constant is data: the model of that design, the scenario in which it was (or can be)
 * caught, and the fixed design run on the very same scenario, so that a test can show that the
 * bug, not the scenario, causes the hang.
 */
enum ProtocolVariant {

    /** Today's protocol: raise {@code notifyMe}, fence, read {@code notified}; accept before dispatch. */
    CORRECT("QEMU since 2020; Dataplane's AioContext",
            () -> new WakeupProtocolModel("CORRECT", WakeupProtocolModel.TODAY, Scenario.oneLoop(2)),
            () -> new WakeupProtocolModel("CORRECT", WakeupProtocolModel.TODAY, Scenario.oneLoop(2))),

    /**
     * The loop looks for a pending notification before it announces that it may sleep. A notify
     * that falls in between reads {@code notifyMe == 0}, skips the eventfd, and the loop then
     * sleeps. The check must come after the announcement (aio_notify.promela, {@code -DBUG}).
     */
    CHECK_BEFORE_RAISE("aio_notify.promela -DBUG",
            () -> new WakeupProtocolModel("CHECK_BEFORE_RAISE",
                    WakeupProtocolModel.CHECK_BEFORE_RAISE, Scenario.oneLoop(2)),
            () -> new WakeupProtocolModel("CHECK_BEFORE_RAISE fixed",
                    WakeupProtocolModel.TODAY, Scenario.oneLoop(2))),

    /**
     * The eventfd is drained after dispatch instead of before (fixed by {@code 21a03d17f2},
     * 2015; aio_notify_bug.promela). The 2015 loop raised {@code notifyMe} before it looked at
     * the bottom halves, so a single loop always sees a request published during its dispatch at
     * its next look, and the late drain costs nothing. It bites with two loops on one context,
     * which is how it was found: a vCPU thread's {@code aio_poll} dispatches, a notifier writes
     * the eventfd for the main loop sleeping in its GSource, and the vCPU's late drain eats it.
     */
    CLEAR_AFTER_DISPATCH("21a03d17f2 (2015); aio_notify_bug.promela",
            () -> new WakeupProtocolModel("CLEAR_AFTER_DISPATCH",
                    WakeupProtocolModel.ACCEPT_AFTER_DISPATCH_2015, Scenario.mainLoopAndVcpu(2)),
            () -> new WakeupProtocolModel("CLEAR_AFTER_DISPATCH fixed",
                    WakeupProtocolModel.ACCEPT_BEFORE_DISPATCH_2015, Scenario.mainLoopAndVcpu(2))),

    /**
     * In the 2015 design {@code notified} meant "the eventfd has been written" and let accept
     * skip the drain. Applying the same shortcut on the notifying side (skip the write if
     * {@code notified} is already set) loses a wake-up: {@code notified} can be set late, after
     * the loop's accept has drained the eventfd, and then silences the next notifier while the
     * loop sleeps (aio_notify_accept.promela, {@code BUG2}; the comment on
     * {@code AioContext.notified} in QEMU warns against it).
     */
    SKIP_WRITE_IF_NOTIFIED("aio_notify_accept.promela -DBUG2 (design of 05e514b1d4, 2015)",
            () -> new WakeupProtocolModel("SKIP_WRITE_IF_NOTIFIED",
                    WakeupProtocolModel.SKIP_WRITE_IF_NOTIFIED_2015, Scenario.oneLoop(3)),
            () -> new WakeupProtocolModel("SKIP_WRITE_IF_NOTIFIED fixed",
                    WakeupProtocolModel.NOTIFIED_2015, Scenario.oneLoop(3))),

    /**
     * The 2014 {@code ctx->dispatching} shortcut (fixed by {@code eabc977973}, 2015): skip the
     * eventfd write while some {@code aio_poll} is dispatching. See {@link DispatchingFlagModel}.
     */
    DISPATCHING_FLAG("eabc977973 (2015)",
            () -> new DispatchingFlagModel(DispatchingFlagModel.Design.DISPATCHING_FLAG_2014),
            () -> new DispatchingFlagModel(DispatchingFlagModel.Design.NOTIFY_ME_2015));

    private final String history;
    private final Supplier<Model<?>> model;
    private final Supplier<Model<?>> fixed;

    ProtocolVariant(String history, Supplier<Model<?>> model, Supplier<Model<?>> fixed) {
        this.history = history;
        this.model = model;
        this.fixed = fixed;
    }

    /** Where the design comes from: QEMU commits or Promela models. */
    String history() {
        return history;
    }

    Model<?> model() {
        return model.get();
    }

    /** The fixed design on the same scenario (for {@link #CORRECT}, the same model). */
    Model<?> fixedModel() {
        return fixed.get();
    }

    CheckResult check() {
        return ModelChecker.check(model());
    }

    CheckResult checkFixed() {
        return ModelChecker.check(fixedModel());
    }
}
