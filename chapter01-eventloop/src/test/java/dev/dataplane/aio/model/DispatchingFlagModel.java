package dev.dataplane.aio.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The 2015 three-thread hang behind QEMU commit {@code eabc977973}, as a {@link Model}: a main
 * loop driven by its GSource, a vCPU thread that runs a blocking {@code aio_poll} of the same
 * context for a synchronous write, and thread-pool workers that complete requests through one
 * completion bottom half.
 *
 * <p>The shortcut under test is the 2014 one: {@code aio_notify} skipped the eventfd write while
 * {@code ctx->dispatching} was true, reasoning that a loop busy dispatching will look at the
 * bottom halves again before it sleeps. That is true of the loop that is dispatching, but the
 * flag was one boolean for the whole context, and the GSource main loop in another thread could
 * be asleep in {@code poll(-1)} at the very moment a vCPU's {@code aio_poll} was dispatching.
 * The question the shortcut must ask is the opposite one: "is any loop in prepare or poll, and
 * so possibly asleep?". That is {@code notifyMe}: bit 0 for the GSource between prepare and
 * check, +2 for every blocking {@code aio_poll} between its raise and its lower.
 *
 * <p>Implementation notes. Threads:
 * <ul>
 *   <li>{@code main-loop}: glib's prepare, poll, check, dispatch for the context's GSource. It
 *       holds the BQL except while it sleeps in {@code poll(-1)}, like QEMU's main loop.</li>
 *   <li>{@code vcpu}: takes the BQL (an MMIO exit) and calls {@code aio_poll(ctx, true)} until its
 *       synchronous request R1 has been delivered, then releases the BQL.</li>
 *   <li>{@code worker1}, {@code worker2}: complete R1 and R2 and schedule the completion BH
 *       ({@code xchg(scheduled, 1)}, and {@code aio_notify} only if it was 0).</li>
 * </ul>
 * The completion BH is the thread pool's of that time: for each finished request it re-schedules
 * itself first (so that a callback that polls can still see the others, {@code 3c80ca158c}), runs
 * the callback, and starts over; it returns when no finished request is left. Whichever thread
 * dispatches runs it. The property: no end state in which a finished request is never delivered.
 */
final class DispatchingFlagModel implements Model<DispatchingFlagModel.State> {

    /** The three designs compared on the same scenario. */
    enum Design {
        /** 2014: skip the eventfd write while any {@code aio_poll} is dispatching. */
        DISPATCHING_FLAG_2014("ctx->dispatching (2014)", false, false),
        /**
         * {@code notifyMe} alone: the right question, but the eventfd is still drained by the
         * notifier's handler after the bottom halves ran, so a wake-up written during dispatch can
         * be eaten by the vCPU (the bug that {@code 21a03d17f2} fixed).
         */
        NOTIFY_ME_DRAIN_AFTER_DISPATCH("notifyMe, eventfd drained after dispatch", true, false),
        /** 2015: {@code notifyMe}, and the eventfd drained before dispatch (accept). */
        NOTIFY_ME_2015("notifyMe, eventfd drained before dispatch (2015)", true, true);

        final String label;
        final boolean notifyMe;
        final boolean drainBeforeDispatch;

        Design(String label, boolean notifyMe, boolean drainBeforeDispatch) {
            this.label = label;
            this.notifyMe = notifyMe;
            this.drainBeforeDispatch = drainBeforeDispatch;
        }
    }

    enum Req { IN_FLIGHT, DONE, DELIVERED }

    enum Bql { FREE, MAIN_LOOP, VCPU }

    /** Program counter of an event loop thread (the main loop and the vCPU share the tail). */
    enum LoopPc {
        // main loop only (glib: prepare, poll, check)
        PREPARE_RAISE, PREPARE_LOOK, UNLOCK_FOR_POLL, RELOCK, CHECK_LOWER,
        // vCPU only (aio_poll, plus the loop around it)
        TAKE_BQL, POLL_ENTER, POLL_LOOK, POLL_LEAVE, RESTORE_DISPATCHING, RELEASE_BQL,
        // both
        POLL, ACCEPT, BH_TAKE, BH_SCAN, BH_RESCHEDULE, BH_NOTIFY, BH_NOTIFY_WRITE, BH_CALLBACK,
        FD_HANDLER, FINISHED
    }

    /**
     * An event loop thread.
     *
     * @param forever         its current poll has timeout -1
     * @param unlocked        it released the BQL around the poll (main loop)
     * @param fdReady         the poll reported the eventfd readable
     * @param wasDispatching  2014 {@code aio_poll}'s saved {@code ctx->dispatching}
     * @param current         index of the request the completion BH is handling, or -1
     */
    record Loop(LoopPc pc, boolean forever, boolean unlocked, boolean fdReady,
                boolean wasDispatching, int current) {
        Loop at(LoopPc p) {
            return new Loop(p, forever, unlocked, fdReady, wasDispatching, current);
        }
    }

    enum WorkerPc { COMPLETE, SCHEDULE, NOTIFY, NOTIFY_WRITE, FINISHED }

    /** Shared variables, then the four threads. Request i is completed by worker i. */
    record State(Bql bql, boolean eventfd, boolean scheduled, boolean dispatching, int notifyMe,
                 List<Req> requests, Loop main, Loop vcpu, List<WorkerPc> workers) {
        State {
            requests = List.copyOf(requests);
            workers = List.copyOf(workers);
        }

        State bql(Bql b) {
            return new State(b, eventfd, scheduled, dispatching, notifyMe, requests, main, vcpu, workers);
        }

        State eventfd(boolean e) {
            return new State(bql, e, scheduled, dispatching, notifyMe, requests, main, vcpu, workers);
        }

        State scheduled(boolean b) {
            return new State(bql, eventfd, b, dispatching, notifyMe, requests, main, vcpu, workers);
        }

        State dispatching(boolean d) {
            return new State(bql, eventfd, scheduled, d, notifyMe, requests, main, vcpu, workers);
        }

        State notifyMe(int n) {
            return new State(bql, eventfd, scheduled, dispatching, n, requests, main, vcpu, workers);
        }

        State request(int i, Req r) {
            List<Req> copy = new ArrayList<>(requests);
            copy.set(i, r);
            return new State(bql, eventfd, scheduled, dispatching, notifyMe, copy, main, vcpu, workers);
        }

        State worker(int i, WorkerPc pc) {
            List<WorkerPc> copy = new ArrayList<>(workers);
            copy.set(i, pc);
            return new State(bql, eventfd, scheduled, dispatching, notifyMe, requests, main, vcpu, copy);
        }

        Loop loop(boolean isMain) {
            return isMain ? main : vcpu;
        }

        State loop(boolean isMain, Loop l) {
            return isMain
                    ? new State(bql, eventfd, scheduled, dispatching, notifyMe, requests, l, vcpu,
                                workers)
                    : new State(bql, eventfd, scheduled, dispatching, notifyMe, requests, main, l,
                                workers);
        }
    }

    private static final int R1 = 0;

    private final Design design;
    private final List<Actor<State>> actors;

    DispatchingFlagModel(Design design) {
        this.design = design;
        this.actors = List.of(loopActor(true), loopActor(false), workerActor(0), workerActor(1));
    }

    @Override
    public String name() {
        return "DISPATCHING_FLAG scenario [" + design.label
                + "; GSource main loop + vCPU aio_poll + 2 pool workers]";
    }

    @Override
    public State initialState() {
        Loop main = new Loop(startOfMainIteration(), false, false, false, false, -1);
        Loop vcpu = new Loop(LoopPc.TAKE_BQL, false, false, false, false, -1);
        return new State(Bql.MAIN_LOOP, false, false, false, 0,
                List.of(Req.IN_FLIGHT, Req.IN_FLIGHT), main, vcpu,
                List.of(WorkerPc.COMPLETE, WorkerPc.COMPLETE));
    }

    @Override
    public List<Actor<State>> actors() {
        return actors;
    }

    // ---------------------------------------------------------------------------------------
    // Event loop threads
    // ---------------------------------------------------------------------------------------

    private Actor<State> loopActor(boolean isMain) {
        String actorName = isMain ? "main-loop" : "vcpu";
        return Actor.of(actorName, s -> {
            Move<State> m = loopStep(s, isMain, s.loop(isMain));
            return m == null ? List.of() : List.of(m);
        });
    }

    /** One atomic step, or null if the thread is finished or blocked. */
    private Move<State> loopStep(State s, boolean isMain, Loop me) {
        Bql mine = isMain ? Bql.MAIN_LOOP : Bql.VCPU;
        switch (me.pc()) {
            // ---- main loop: glib prepare / poll / check
            case PREPARE_RAISE: {
                int n = s.notifyMe() | 1;
                return go(s.notifyMe(n), isMain, me.at(LoopPc.PREPARE_LOOK),
                        "prepare: notifyMe |= 1 -> %d, full fence", n);
            }
            case PREPARE_LOOK: {
                Loop next = new Loop(s.scheduled() ? LoopPc.POLL : LoopPc.UNLOCK_FOR_POLL,
                        !s.scheduled(), false, false, false, -1);
                return go(s, isMain, next, s.scheduled()
                        ? "prepare: completion BH scheduled -> timeout=0"
                        : "prepare: no BH scheduled -> timeout=-1");
            }
            case UNLOCK_FOR_POLL:
                return go(s.bql(Bql.FREE), isMain,
                        new Loop(LoopPc.POLL, me.forever(), true, false, false, -1),
                        "releases the BQL for poll(-1)");
            case RELOCK:
                if (s.bql() != Bql.FREE) {
                    return null;                              // waits for the vCPU to let go
                }
                return go(s.bql(mine), isMain, me.at(checkPhase()), "takes the BQL back");
            case CHECK_LOWER: {
                int n = s.notifyMe() & ~1;
                return go(s.notifyMe(n), isMain, me.at(afterLower()), "check: notifyMe &= ~1 -> %d", n);
            }

            // ---- vCPU: the loop around aio_poll, and aio_poll's own phases
            case TAKE_BQL:
                if (s.bql() != Bql.FREE) {
                    return null;
                }
                return go(s.bql(mine), isMain, me.at(vcpuLoopTest(s)),
                        "takes the BQL (MMIO exit), waits for its synchronous write R1");
            case POLL_ENTER:
                if (design.notifyMe) {
                    int n = s.notifyMe() + 2;
                    return go(s.notifyMe(n), isMain, me.at(LoopPc.POLL_LOOK),
                            "aio_poll(blocking): notifyMe += 2 -> %d, full fence", n);
                }
                return go(s.dispatching(false), isMain,
                        new Loop(LoopPc.POLL_LOOK, false, false, false, s.dispatching(), -1),
                        "aio_poll(blocking): dispatching=false (was %b), full fence", s.dispatching());
            case POLL_LOOK:
                return go(s, isMain, new Loop(LoopPc.POLL, !s.scheduled(), false, false,
                                me.wasDispatching(), -1),
                        s.scheduled() ? "aio_poll: completion BH scheduled -> timeout=0"
                                      : "aio_poll: no BH scheduled -> timeout=-1");
            case POLL_LEAVE:
                if (design.notifyMe) {
                    int n = s.notifyMe() - 2;
                    return go(s.notifyMe(n), isMain, me.at(afterLower()),
                            "aio_poll: notifyMe -= 2 -> %d", n);
                }
                return go(s.dispatching(true), isMain, me.at(LoopPc.BH_TAKE),
                        "aio_poll: dispatching=true");
            case RESTORE_DISPATCHING:
                return go(s.dispatching(me.wasDispatching()), isMain, me.at(vcpuLoopTest(s)),
                        "aio_poll returns: dispatching=%b (restored)", me.wasDispatching());
            case RELEASE_BQL:
                return go(s.bql(Bql.FREE), isMain, me.at(LoopPc.FINISHED),
                        "R1 delivered: releases the BQL, back to the guest");

            // ---- both: poll, accept, dispatch
            case POLL:
                if (me.forever()) {
                    if (!s.eventfd()) {
                        return null;                          // asleep in the kernel
                    }
                    return go(s, isMain, withFdReady(me, true).at(afterPoll(isMain, me)),
                            "poll(-1) wakes up: eventfd readable");
                }
                return go(s, isMain, withFdReady(me, s.eventfd()).at(afterPoll(isMain, me)),
                        "poll(0): eventfd %s", s.eventfd() ? "readable" : "not readable");
            case ACCEPT:
                return go(s.eventfd(false), isMain, me.at(LoopPc.BH_TAKE), "accept: drains eventfd");
            case BH_TAKE:
                if (s.scheduled()) {
                    return go(s.scheduled(false), isMain, me.at(LoopPc.BH_SCAN),
                            "aio_bh_poll: scheduled 1 -> 0, runs the completion BH");
                }
                return go(s, isMain, me.at(afterBottomHalves(isMain, me, s)),
                        "aio_bh_poll: completion BH not scheduled");
            case BH_SCAN: {
                int done = s.requests().indexOf(Req.DONE);
                if (done < 0) {
                    return go(s, isMain, new Loop(afterBottomHalves(isMain, me, s), me.forever(),
                                    me.unlocked(), me.fdReady(), me.wasDispatching(), -1),
                            "completion BH: no finished request left, returns");
                }
                return go(s, isMain, new Loop(LoopPc.BH_RESCHEDULE, me.forever(), me.unlocked(),
                                me.fdReady(), me.wasDispatching(), done),
                        "completion BH: R%d has finished", done + 1);
            }
            case BH_RESCHEDULE:
                if (s.scheduled()) {
                    return go(s, isMain, me.at(LoopPc.BH_CALLBACK),
                            "completion BH re-schedules itself: scheduled already 1");
                }
                return go(s.scheduled(true), isMain, me.at(LoopPc.BH_NOTIFY),
                        "completion BH re-schedules itself: scheduled 0 -> 1");
            case BH_NOTIFY:
                return go(s, isMain, me.at(wouldWrite(s) ? LoopPc.BH_NOTIFY_WRITE : LoopPc.BH_CALLBACK),
                        notifyDecision(s));
            case BH_NOTIFY_WRITE:
                return go(s.eventfd(true), isMain, me.at(LoopPc.BH_CALLBACK), "eventfd=1");
            case BH_CALLBACK:
                return go(s.request(me.current(), Req.DELIVERED), isMain,
                        new Loop(LoopPc.BH_SCAN, me.forever(), me.unlocked(), me.fdReady(),
                                me.wasDispatching(), -1),
                        "R%d's callback runs (request delivered)", me.current() + 1);
            case FD_HANDLER:
                return go(s.eventfd(false), isMain, me.at(endOfDispatch(isMain, s)),
                        "dispatch: notifier handler drains eventfd");
            case FINISHED:
                return null;
            default:
                throw new AssertionError(me.pc());
        }
    }

    private LoopPc startOfMainIteration() {
        return design.notifyMe ? LoopPc.PREPARE_RAISE : LoopPc.PREPARE_LOOK;
    }

    /** The vCPU's {@code while (!r1_delivered) aio_poll(ctx, true)}. */
    private static LoopPc vcpuLoopTest(State s) {
        return s.requests().get(R1) == Req.DELIVERED ? LoopPc.RELEASE_BQL : LoopPc.POLL_ENTER;
    }

    private LoopPc afterPoll(boolean isMain, Loop me) {
        if (!isMain) {
            return LoopPc.POLL_LEAVE;
        }
        return me.unlocked() ? LoopPc.RELOCK : checkPhase();
    }

    /** The main loop, under the BQL again: glib's check phase. */
    private LoopPc checkPhase() {
        return design.notifyMe ? LoopPc.CHECK_LOWER : LoopPc.BH_TAKE;
    }

    private LoopPc afterLower() {
        return design.drainBeforeDispatch ? LoopPc.ACCEPT : LoopPc.BH_TAKE;
    }

    /** The ready fd handlers run after the bottom halves; only the context notifier's matters. */
    private LoopPc afterBottomHalves(boolean isMain, Loop me, State s) {
        if (!design.drainBeforeDispatch && me.fdReady()) {
            return LoopPc.FD_HANDLER;
        }
        return endOfDispatch(isMain, s);
    }

    /** The main loop starts over; the vCPU's aio_poll returns (2014: restoring the flag). */
    private LoopPc endOfDispatch(boolean isMain, State s) {
        if (isMain) {
            return startOfMainIteration();
        }
        return design.notifyMe ? vcpuLoopTest(s) : LoopPc.RESTORE_DISPATCHING;
    }

    private static Loop withFdReady(Loop me, boolean ready) {
        return new Loop(me.pc(), me.forever(), me.unlocked(), ready, me.wasDispatching(), me.current());
    }

    // ---------------------------------------------------------------------------------------
    // Workers and aio_notify
    // ---------------------------------------------------------------------------------------

    private Actor<State> workerActor(int i) {
        String actorName = "worker" + (i + 1);
        return Actor.of(actorName, s -> {
            return switch (s.workers().get(i)) {
                case COMPLETE -> Move.one(s.request(i, Req.DONE).worker(i, WorkerPc.SCHEDULE),
                        "R%d finishes", i + 1);
                case SCHEDULE -> s.scheduled()
                        ? Move.one(s.worker(i, WorkerPc.FINISHED),
                                "qemu_bh_schedule: scheduled already 1 -> no aio_notify")
                        : Move.one(s.scheduled(true).worker(i, WorkerPc.NOTIFY),
                                "qemu_bh_schedule: scheduled 0 -> 1");
                case NOTIFY -> Move.one(
                        s.worker(i, wouldWrite(s) ? WorkerPc.NOTIFY_WRITE : WorkerPc.FINISHED),
                        notifyDecision(s));
                case NOTIFY_WRITE -> Move.one(s.eventfd(true).worker(i, WorkerPc.FINISHED),
                        "eventfd=1");
                case FINISHED -> List.of();
            };
        });
    }

    /** {@code aio_notify}'s decision, after its full fence. */
    private boolean wouldWrite(State s) {
        return design.notifyMe ? s.notifyMe() != 0 : !s.dispatching();
    }

    /** The trace text for that decision, e.g. "aio_notify: read dispatching=true -> skip ...". */
    private String notifyDecision(State s) {
        String read = design.notifyMe
                ? "read notifyMe=" + s.notifyMe()
                : "read dispatching=" + s.dispatching();
        return "aio_notify: " + read + (wouldWrite(s) ? " -> write eventfd" : " -> skip eventfd write");
    }

    private static Move<State> go(State s, boolean isMain, Loop next, String format, Object... args) {
        return new Move<>(String.format(format, args), s.loop(isMain, next));
    }

    // ---------------------------------------------------------------------------------------
    // Property
    // ---------------------------------------------------------------------------------------

    /** Lost wake-up: nobody can move and a finished request will never be delivered. */
    @Override
    public Optional<String> stuckViolation(State s) {
        List<String> stuck = new ArrayList<>();
        for (int i = 0; i < s.requests().size(); i++) {
            if (s.requests().get(i) == Req.DONE) {
                stuck.add("R" + (i + 1));
            }
        }
        if (stuck.isEmpty()) {
            return Optional.empty();
        }
        List<String> sleepers = new ArrayList<>();
        sleeper(s, true).ifPresent(why -> sleepers.add("main-loop " + why));
        sleeper(s, false).ifPresent(why -> sleepers.add("vcpu " + why));
        return Optional.of("lost wake-up: " + String.join(", ", sleepers) + " while "
                + String.join(" and ", stuck) + " finished but its callback never runs"
                + " (completion BH scheduled=" + (s.scheduled() ? 1 : 0) + ")");
    }

    /** Why a loop thread cannot move, if it is blocked rather than running or finished. */
    private static Optional<String> sleeper(State s, boolean isMain) {
        Loop l = s.loop(isMain);
        if (l.pc() == LoopPc.POLL && l.forever() && !s.eventfd()) {
            return Optional.of("asleep in poll(-1)");
        }
        if ((l.pc() == LoopPc.RELOCK || l.pc() == LoopPc.TAKE_BQL) && s.bql() != Bql.FREE) {
            return Optional.of("waiting for the BQL");
        }
        return Optional.empty();
    }

    @Override
    public String describe(State s) {
        return "bql=" + s.bql() + " eventfd=" + (s.eventfd() ? 1 : 0)
                + " scheduled=" + (s.scheduled() ? 1 : 0)
                + (design.notifyMe ? " notifyMe=" + s.notifyMe() : " dispatching=" + s.dispatching())
                + " R1=" + s.requests().get(0) + " R2=" + s.requests().get(1)
                + " | main-loop: " + sleeper(s, true).orElse(s.main().pc().toString())
                + " | vcpu: " + sleeper(s, false).orElse(s.vcpu().pc().toString())
                + " | workers: "
                + s.workers().stream().map(Enum::name).collect(Collectors.joining(","));
    }
}
