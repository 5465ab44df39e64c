package dev.dataplane.aio.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.model.WakeupProtocolModel.Scenario;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Exhaustive interleaving checks of the wake-up protocol (see the package documentation). Every
 * counterexample is printed, so the build log shows the interleavings the book quotes.
 */
class WakeupProtocolModelTest {

    // ---------------------------------------------------------------------------------------
    // Today's protocol
    // ---------------------------------------------------------------------------------------

    @Test
    void correctProtocolNeverLosesAWakeUp() {
        CheckResult two = ProtocolVariant.CORRECT.check();
        CheckResult three = ModelChecker.check(
                new WakeupProtocolModel("CORRECT", WakeupProtocolModel.TODAY, Scenario.oneLoop(3)));

        for (CheckResult r : List.of(two, three)) {
            System.out.println(r.summary());
            assertThat(r.counterexample()).as(r.model()).isEmpty();
            assertThat(r.states()).as(r.model()).isPositive();
            // The poller did reach its idle end state (asleep, nothing pending): the search
            // got all the way through, it did not just stop early.
            assertThat(r.endStates()).as(r.model()).isPositive();
        }
        assertThat(three.states()).isGreaterThan(two.states());
    }

    @Test
    void todaysProtocolReliesOnASinglePollerPerContext() {
        // Two threads polling one context: the foreign poller's notifier handler drains an
        // eventfd written for the other one after its own dispatch has finished. This is why
        // poll() is home-thread only (QEMU 0dc165c1bd after b37548fcd1).
        CheckResult r = ModelChecker.check(new WakeupProtocolModel("TWO_POLLERS",
                WakeupProtocolModel.TODAY, Scenario.twoPollers(2)));
        Counterexample cex = printed(r);

        assertThat(cex.violation()).startsWith("lost wake-up: poller asleep");
        assertThat(cex.lastStepOf("foreign-poller").action())
                .isEqualTo("dispatch: notifier handler drains eventfd");
        assertThat(cex.finalState()).contains("notified=true", "eventfd=0");
    }

    // ---------------------------------------------------------------------------------------
    // Every broken variant, and its fix on the same scenario
    // ---------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(value = ProtocolVariant.class, names = "CORRECT", mode = EnumSource.Mode.EXCLUDE)
    void everyBrokenVariantLosesAWakeUpThatItsFixDoesNot(ProtocolVariant variant) {
        System.out.println(variant + ": " + variant.history());
        CheckResult broken = variant.check();
        Counterexample cex = printed(broken);
        assertThat(cex.steps()).isNotEmpty();
        assertThat(cex.violation()).startsWith("lost wake-up:");
        assertThat(cex.finalState()).containsPattern("asleep|POLL");

        CheckResult fixed = variant.checkFixed();
        System.out.println(fixed.summary());
        assertThat(fixed.counterexample()).as(fixed.model()).isEmpty();
        assertThat(fixed.endStates()).as(fixed.model()).isPositive();
    }

    @Test
    void checkBeforeRaiseSleepsAfterANotifierFoundNobodyToWake() {
        Counterexample cex = printed(ProtocolVariant.CHECK_BEFORE_RAISE.check());

        int pollerChecked = cex.indexOf("poller", "read notified=false");
        int notifierSkipped = cex.indexOf("notifier1", "read notifyMe=0 -> skip eventfd write");
        int pollerRaised = cex.indexOf("poller", "notifyMe += 2");
        assertThat(pollerChecked).isNotNegative().isLessThan(notifierSkipped);
        assertThat(notifierSkipped).isLessThan(pollerRaised);
        // Announcing the intent to sleep was the poller's last act: then it slept.
        assertThat(cex.lastStepOf("poller").action()).startsWith("notifyMe += 2");
        assertThat(cex.finalState()).contains("poller: asleep in wait(-1)", "notified=true");
    }

    @Test
    void clearAfterDispatchLetsTheVcpuEatTheMainLoopsWakeUp() {
        Counterexample cex = printed(ProtocolVariant.CLEAR_AFTER_DISPATCH.check());

        int vcpuDispatched = cex.indexOf("vcpu", "dispatch: runs");
        int vcpuDrained = cex.indexOf("vcpu", "accept: drains eventfd");
        int wakeUpWritten = indexOfAny(cex, "eventfd=1");
        assertThat(vcpuDispatched).isNotNegative().isLessThan(wakeUpWritten);
        assertThat(wakeUpWritten).isLessThan(vcpuDrained);
        assertThat(cex.steps().get(wakeUpWritten - 1).action()).startsWith("read notifyMe=1");
        assertThat(cex.lastStepOf("vcpu").action()).isEqualTo("accept: drains eventfd");
        assertThat(cex.violation()).startsWith("lost wake-up: main-loop asleep");
    }

    @Test
    void clearAfterDispatchIsHarmlessWithASingleLoop() {
        // The 2015 loop looks at the bottom halves after raising notifyMe, so one loop alone
        // always finds what arrived during its dispatch. It took a second loop to expose the bug.
        CheckResult r = ModelChecker.check(new WakeupProtocolModel("CLEAR_AFTER_DISPATCH, one loop",
                WakeupProtocolModel.ACCEPT_AFTER_DISPATCH_2015, Scenario.oneLoop(3)));
        System.out.println(r.summary());
        assertThat(r.counterexample()).isEmpty();
        assertThat(r.states()).isPositive();
    }

    @Test
    void skipWriteIfNotifiedIsSilencedByALateNotifiedFlag() {
        Counterexample cex = printed(ProtocolVariant.SKIP_WRITE_IF_NOTIFIED.check());

        int lastAccept = lastIndexOf(cex, "poller", "accept: xchg(notified, false)");
        int lateFlag = firstIndexAfter(cex, lastAccept, "notified=true");
        int silenced = firstIndexAfter(cex, lateFlag, "read notified=true -> skip eventfd write");
        assertThat(lastAccept).isNotNegative();
        assertThat(lateFlag).isGreaterThan(lastAccept);
        assertThat(silenced).isGreaterThan(lateFlag);
        assertThat(cex.steps().get(lateFlag).actor()).startsWith("notifier");
        assertThat(cex.finalState()).contains("notified=true", "eventfd=0", "poller: asleep in wait(-1)");
    }

    // ---------------------------------------------------------------------------------------
    // ctx->dispatching (2014) and notifyMe (2015)
    // ---------------------------------------------------------------------------------------

    @Test
    void dispatchingFlagLeavesTheMainLoopAsleepWithACompletionPending() {
        Counterexample cex = printed(ProtocolVariant.DISPATCHING_FLAG.check());

        assertThat(cex.indexOf("vcpu", "aio_notify: read dispatching=true -> skip eventfd write"))
                .isNotNegative();
        assertThat(cex.steps().get(cex.steps().size() - 1))
                .isEqualTo(new TraceStep("worker2",
                        "qemu_bh_schedule: scheduled already 1 -> no aio_notify"));
        assertThat(cex.violation()).contains("main-loop asleep in poll(-1)", "R2 finished");
        assertThat(cex.finalState()).contains("scheduled=1", "R2=DONE");
    }

    @Test
    void theInterleavingFromTheFixsCommitMessageHangsWithTheDispatchingFlag() {
        // The order described for eabc977973: the main loop sleeps in poll(-1); the vCPU's
        // aio_poll runs the completion BH, which re-schedules itself while dispatching; after it
        // has redone its loop, the worker finds the BH already scheduled.
        List<String> schedule = new ArrayList<>();
        schedule.addAll(times("main-loop", 2));   // prepare (timeout -1), release the BQL
        schedule.addAll(times("vcpu", 3));        // take the BQL, dispatching=false, timeout -1
        schedule.addAll(times("worker1", 4));     // R1 done, schedule, notify, write eventfd
        schedule.addAll(times("vcpu", 11));       // wake, dispatch the BH, drain, return, leave
        schedule.addAll(times("worker2", 2));     // R2 done, BH already scheduled
        Model<?> model = new DispatchingFlagModel(DispatchingFlagModel.Design.DISPATCHING_FLAG_2014);

        Optional<Counterexample> replayed = ModelChecker.replay(model, schedule);

        assertThat(replayed).isPresent();
        Counterexample cex = replayed.get();
        System.out.println(cex.render());
        assertThat(cex.indexOf("vcpu", "completion BH re-schedules itself: scheduled 0 -> 1"))
                .isLessThan(cex.indexOf("vcpu",
                        "aio_notify: read dispatching=true -> skip eventfd write"));
        assertThat(cex.indexOf("vcpu", "poll(-1) wakes up")).isPositive();
        assertThat(cex.violation()).contains("main-loop asleep in poll(-1)");
    }

    @Test
    void notifyMeAloneStillHangsWhileTheEventfdIsDrainedAfterDispatch() {
        // The right question (is anybody in prepare or poll?) writes the eventfd for the main
        // loop, but the vCPU's notifier handler then drains it: the 21a03d17f2 bug.
        CheckResult r = ModelChecker.check(
                new DispatchingFlagModel(DispatchingFlagModel.Design.NOTIFY_ME_DRAIN_AFTER_DISPATCH));
        Counterexample cex = printed(r);

        int written = cex.indexOf("vcpu", "aio_notify: read notifyMe=1 -> write eventfd");
        int drained = cex.indexOf("vcpu", "dispatch: notifier handler drains eventfd");
        assertThat(written).isNotNegative().isLessThan(drained);
        assertThat(cex.violation()).contains("main-loop asleep in poll(-1)");
    }

    @Test
    void notifyMeWithEarlyDrainSurvivesTheThreeThreadScenario() {
        CheckResult r = ProtocolVariant.DISPATCHING_FLAG.checkFixed();
        System.out.println(r.summary());
        assertThat(r.counterexample()).isEmpty();
        assertThat(r.states()).isPositive();
        assertThat(r.endStates()).isPositive();
    }

    // ---------------------------------------------------------------------------------------
    // The checker itself
    // ---------------------------------------------------------------------------------------

    @Test
    void checkerFindsTheLostWakeUpOfACheckThenSleepToy() {
        CheckResult broken = ModelChecker.check(signalToy(false));
        Counterexample cex = printed(broken);
        assertThat(cex.steps()).containsExactly(
                new TraceStep("waiter", "read ready=false"),
                new TraceStep("setter", "ready=true"),
                new TraceStep("setter", "read sleeping=false -> no wake-up"),
                new TraceStep("waiter", "sleeping=true, sleeps"));

        CheckResult fixed = ModelChecker.check(signalToy(true));
        System.out.println(fixed.summary());
        assertThat(fixed.counterexample()).isEmpty();
    }

    @Test
    void checkerReportsAnInvariantBrokenByARacyLock() {
        Counterexample cex = printed(ModelChecker.check(racyLockToy()));
        assertThat(cex.violation()).isEqualTo("a and b are both in the critical section");
        assertThat(cex.steps()).hasSize(4);
    }

    @Test
    void checkerIsDeterministic() {
        Counterexample first = ProtocolVariant.DISPATCHING_FLAG.check().counterexample().orElseThrow();
        Counterexample second = ProtocolVariant.DISPATCHING_FLAG.check().counterexample().orElseThrow();
        assertThat(second).isEqualTo(first);
    }

    // ---------------------------------------------------------------------------------------
    // Helpers and toy models
    // ---------------------------------------------------------------------------------------

    private static Counterexample printed(CheckResult r) {
        System.out.println(r.summary());
        assertThat(r.counterexample()).as(r.model()).isPresent();
        Counterexample cex = r.counterexample().get();
        System.out.println(cex.render());
        return cex;
    }

    private static List<String> times(String actor, int n) {
        return Collections.nCopies(n, actor);
    }

    private static int indexOfAny(Counterexample cex, String action) {
        for (int i = 0; i < cex.steps().size(); i++) {
            if (cex.steps().get(i).action().equals(action)) {
                return i;
            }
        }
        return -1;
    }

    private static int lastIndexOf(Counterexample cex, String actor, String fragment) {
        for (int i = cex.steps().size() - 1; i >= 0; i--) {
            TraceStep s = cex.steps().get(i);
            if (s.actor().equals(actor) && s.action().contains(fragment)) {
                return i;
            }
        }
        return -1;
    }

    private static int firstIndexAfter(Counterexample cex, int from, String fragment) {
        for (int i = from + 1; i < cex.steps().size(); i++) {
            if (cex.steps().get(i).action().contains(fragment)) {
                return i;
            }
        }
        return -1;
    }

    /** A waiter that sleeps until woken, and a setter that wakes it only if it sees it asleep. */
    private record Signal(boolean ready, boolean sleeping, int waiter, int setter) {
        Signal waiterAt(int pc, boolean asleep) {
            return new Signal(ready, asleep, pc, setter);
        }

        Signal setterAt(int pc, boolean asleep) {
            return new Signal(true, asleep, waiter, pc);
        }
    }

    /**
     * Broken: the waiter checks {@code ready}, then announces that it sleeps. Fixed: it
     * announces first, then checks (the same order as raising notifyMe before reading notified).
     */
    private static Model<Signal> signalToy(boolean announceFirst) {
        Model.Actor<Signal> waiter = new Model.Actor<>() {
            @Override
            public String name() {
                return "waiter";
            }

            @Override
            public List<Model.Move<Signal>> moves(Signal s) {
                if (s.waiter() == 2) {   // asleep until the setter clears "sleeping"
                    return s.sleeping() ? List.of() : Model.Move.one(s.waiterAt(3, false), "woken up");
                }
                if (announceFirst) {
                    return switch (s.waiter()) {
                        case 0 -> Model.Move.one(s.waiterAt(1, true), "sleeping=true");
                        case 1 -> s.ready()
                                ? Model.Move.one(s.waiterAt(3, false), "read ready=true -> done")
                                : Model.Move.one(s.waiterAt(2, true), "read ready=false, sleeps");
                        default -> List.of();
                    };
                }
                return switch (s.waiter()) {
                    case 0 -> s.ready()
                            ? Model.Move.one(s.waiterAt(3, false), "read ready=true -> done")
                            : Model.Move.one(s.waiterAt(1, false), "read ready=false");
                    case 1 -> Model.Move.one(s.waiterAt(2, true), "sleeping=true, sleeps");
                    default -> List.of();
                };
            }
        };
        Model.Actor<Signal> setter = new Model.Actor<>() {
            @Override
            public String name() {
                return "setter";
            }

            @Override
            public List<Model.Move<Signal>> moves(Signal s) {
                return switch (s.setter()) {
                    case 0 -> Model.Move.one(s.setterAt(1, s.sleeping()), "ready=true");
                    case 1 -> Model.Move.one(s.setterAt(2, false), s.sleeping()
                            ? "read sleeping=true -> wakes the waiter"
                            : "read sleeping=false -> no wake-up");
                    default -> List.of();
                };
            }
        };
        return new Model<>() {
            @Override
            public String name() {
                return announceFirst ? "signal toy, announce then check"
                                     : "signal toy, check then announce";
            }

            @Override
            public Signal initialState() {
                return new Signal(false, false, 0, 0);
            }

            @Override
            public List<Actor<Signal>> actors() {
                return List.of(waiter, setter);
            }

            @Override
            public Optional<String> stuckViolation(Signal s) {
                return s.waiter() == 2 && s.ready()
                        ? Optional.of("lost wake-up: waiter asleep although ready=true")
                        : Optional.empty();
            }
        };
    }

    /** Two threads taking a "lock" with a separate read and write of the flag. */
    private record Lock(boolean locked, int a, int b) {
    }

    private static Model<Lock> racyLockToy() {
        return new Model<>() {
            @Override
            public String name() {
                return "racy lock toy";
            }

            @Override
            public Lock initialState() {
                return new Lock(false, 0, 0);
            }

            @Override
            public List<Actor<Lock>> actors() {
                return List.of(locker("a", true), locker("b", false));
            }

            private Actor<Lock> locker(String name, boolean isA) {
                return new Actor<>() {
                    @Override
                    public String name() {
                        return name;
                    }

                    @Override
                    public List<Move<Lock>> moves(Lock s) {
                        int pc = isA ? s.a() : s.b();
                        return switch (pc) {
                            case 0 -> s.locked() ? List.of() : Move.one(at(s, 1), "read locked=false");
                            case 1 -> Move.one(at(new Lock(true, s.a(), s.b()), 2),
                                    "locked=true, enters");
                            case 2 -> Move.one(at(new Lock(false, s.a(), s.b()), 3),
                                    "locked=false, leaves");
                            default -> List.of();
                        };
                    }

                    private Lock at(Lock s, int pc) {
                        return isA ? new Lock(s.locked(), pc, s.b()) : new Lock(s.locked(), s.a(), pc);
                    }
                };
            }

            @Override
            public Optional<String> invariantViolation(Lock s) {
                return s.a() == 2 && s.b() == 2
                        ? Optional.of("a and b are both in the critical section")
                        : Optional.empty();
            }

            @Override
            public Optional<String> stuckViolation(Lock s) {
                return Optional.empty();
            }
        };
    }
}
