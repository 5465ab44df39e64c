package dev.dataplane.aio.model;

import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.ACCEPT;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.ACCEPT_XCHG;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.DISPATCH_BH;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.DISPATCH_FD;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.DRAIN_EVENTFD;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.DRAIN_IF_ACCEPTED;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.LOWER;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.POLL;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.PREPARE;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.RAISE;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.READ_NOTIFIED;
import static dev.dataplane.aio.model.WakeupProtocolModel.LoopOp.WAIT;
import static dev.dataplane.aio.model.WakeupProtocolModel.NotifierOp.CHECK_NOTIFIED;
import static dev.dataplane.aio.model.WakeupProtocolModel.NotifierOp.PUBLISH;
import static dev.dataplane.aio.model.WakeupProtocolModel.NotifierOp.READ_NOTIFY_ME;
import static dev.dataplane.aio.model.WakeupProtocolModel.NotifierOp.SET_NOTIFIED;
import static dev.dataplane.aio.model.WakeupProtocolModel.NotifierOp.SET_NOTIFIED_AFTER_WRITE;
import static dev.dataplane.aio.model.WakeupProtocolModel.NotifierOp.WRITE_EVENTFD;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The wake-up protocol between event loops ({@code aio_poll}, or the GSource of a glib main loop)
 * and {@code aio_notify}, as a {@link Model}: the shared variables {@code requests},
 * {@code notified}, {@code notifyMe} and the eventfd, one or two loops, and a few notifiers that
 * each publish one request and notify once.
 *
 * <p>Implementation notes. A design is data: the loop's iteration is a list of {@link LoopOp}s
 * and {@code aio_notify} is a list of {@link NotifierOp}s, each op one atomic step. The historical
 * designs differ only in which ops appear and in what order (see {@link ProtocolVariant}). An op
 * that does not apply in the current iteration (raising {@code notifyMe} when the timeout is
 * already zero, draining an eventfd that the wait did not report) is skipped without a step,
 * exactly as the C code skips it with an {@code if}; that keeps the traces readable. The only
 * blocking op is a wait with timeout -1: it has no move while the eventfd is clear, and the
 * eventfd write of some notifier makes it runnable again. Level-triggered readiness is modelled
 * faithfully: if another loop drains the eventfd first, a sleeping loop stays asleep, as a thread
 * in {@code ppoll} does when it re-checks its fds after a wake-up.
 *
 * <p>Requests are a counter, like scheduled bottom halves that prepare can see: a loop's
 * dispatch runs all of them. The property is the absence of a lost wake-up: no end state in
 * which a loop sleeps for ever with requests pending. A sanity invariant also checks that no loop
 * goes to sleep after it has read {@code notified == true}.
 */
final class WakeupProtocolModel implements Model<WakeupProtocolModel.State> {

    /** One atomic step of an event loop's iteration. */
    enum LoopOp {
        /** Look at pending work; if there is any, the wait will not block (timeout 0). */
        PREPARE,
        /** Announce "I may sleep": {@code notifyMe += 2} (aio_poll) or {@code |= 1} (GSource). */
        RAISE,
        /** If a notify happened since the last accept, do not block. */
        READ_NOTIFIED,
        /** Today: sleep until the eventfd is set; no system call at all when the timeout is 0. */
        WAIT,
        /** 2015: {@code qemu_poll_ns} is called even with timeout 0, and then only peeks. */
        POLL,
        /** No longer about to sleep: undo {@link #RAISE}. */
        LOWER,
        /** Today's {@code aio_notify_accept}: {@code notified = false}. */
        ACCEPT,
        /** Run every pending request (the bottom halves). */
        DISPATCH_BH,
        /** The context notifier's read handler drains the eventfd, if the wait reported it. */
        DISPATCH_FD,
        /** 2015 accept, before {@code notified} existed: {@code event_notifier_test_and_clear}. */
        DRAIN_EVENTFD,
        /** 2015 accept with {@code notified} (05e514b1d4): {@code was = xchg(notified, false)}. */
        ACCEPT_XCHG,
        /** ... followed by draining the eventfd only if {@code notified} was set. */
        DRAIN_IF_ACCEPTED
    }

    /** One atomic step of a notifier: publish work, then {@code aio_notify}. */
    enum NotifierOp {
        /** Publish one request ({@code qemu_bh_schedule}). */
        PUBLISH,
        /** Today: every notify sets {@code notified}, before looking at {@code notifyMe}. */
        SET_NOTIFIED,
        /** Full fence, then: is anybody in prepare or poll, i.e. possibly asleep? */
        READ_NOTIFY_ME,
        /** {@code event_notifier_set}, if somebody may be asleep. */
        WRITE_EVENTFD,
        /** The broken shortcut: skip the eventfd write if {@code notified} is already set. */
        CHECK_NOTIFIED,
        /** 2015: {@code notified} means "the eventfd has been written", so it is set after it. */
        SET_NOTIFIED_AFTER_WRITE
    }

    /**
     * A protocol design: the ops of one loop iteration and of one notify, in program order.
     *
     * @param name  for reports
     * @param loop  one iteration of a blocking poll; it repeats
     * @param notifier one publish + notify; it runs once per notifier
     */
    record Design(String name, List<LoopOp> loop, List<NotifierOp> notifier) {
        Design {
            loop = List.copyOf(loop);
            notifier = List.copyOf(notifier);
        }
    }

    /** How a loop announces that it may sleep: the two users of {@code notifyMe}'s bits. */
    enum Announce {
        /** A blocking {@code aio_poll}: +2 per call, so nested and concurrent calls add up. */
        AIO_POLL,
        /** The GSource between prepare and check: bit 0. */
        GSOURCE;

        int raise(int notifyMe) {
            return this == AIO_POLL ? notifyMe + 2 : notifyMe | 1;
        }

        int lower(int notifyMe) {
            return this == AIO_POLL ? notifyMe - 2 : notifyMe & ~1;
        }

        String raiseText() {
            return this == AIO_POLL ? "notifyMe += 2" : "notifyMe |= 1";
        }

        String lowerText() {
            return this == AIO_POLL ? "notifyMe -= 2" : "notifyMe &= ~1";
        }
    }

    /**
     * One event loop thread.
     *
     * @param iterations how many blocking polls it runs, or {@link #FOREVER}
     */
    record LoopRole(String name, Announce announce, int iterations) {
    }

    /** {@link LoopRole#iterations} of a thread that polls for ever (an IOThread, the main loop). */
    static final int FOREVER = -1;

    /**
     * Who runs: the loops, and how many notifiers (each publishes one request and notifies once).
     */
    record Scenario(String name, List<LoopRole> loops, int notifiers) {
        Scenario {
            loops = List.copyOf(loops);
        }

        static Scenario oneLoop(int notifiers) {
            return new Scenario("one poller, " + notifiers + " notifier(s)",
                    List.of(new LoopRole("poller", Announce.AIO_POLL, FOREVER)), notifiers);
        }

        /**
         * Two threads running blocking polls of one context at the same time: what the
         * home-thread rule of today's {@code poll()} forbids.
         */
        static Scenario twoPollers(int notifiers) {
            return new Scenario("two concurrent pollers of one context, " + notifiers + " notifiers",
                    List.of(new LoopRole("poller", Announce.AIO_POLL, FOREVER),
                            new LoopRole("foreign-poller", Announce.AIO_POLL, 1)),
                    notifiers);
        }

        /**
         * The 2015 shape: the main loop sleeps in its GSource while a vCPU thread runs one
         * blocking {@code aio_poll} of the same context (a synchronous disk access).
         */
        static Scenario mainLoopAndVcpu(int notifiers) {
            return new Scenario("GSource main loop + a vCPU's aio_poll, " + notifiers + " notifiers",
                    List.of(new LoopRole("main-loop", Announce.GSOURCE, FOREVER),
                            new LoopRole("vcpu", Announce.AIO_POLL, 1)),
                    notifiers);
        }
    }

    // ---------------------------------------------------------------------------------------
    // State
    // ---------------------------------------------------------------------------------------

    /**
     * The whole system. Shared: {@code requests} (pending work), {@code notified},
     * {@code notifyMe}, {@code eventfd} (the context notifier's counter, 0 or non-zero).
     */
    record State(int requests, boolean notified, int notifyMe, boolean eventfd,
                 List<Loop> loops, List<Notifier> notifiers) {
        State {
            loops = List.copyOf(loops);
            notifiers = List.copyOf(notifiers);
        }

        State withRequests(int n) {
            return new State(n, notified, notifyMe, eventfd, loops, notifiers);
        }

        State withNotified(boolean b) {
            return new State(requests, b, notifyMe, eventfd, loops, notifiers);
        }

        State withNotifyMe(int n) {
            return new State(requests, notified, n, eventfd, loops, notifiers);
        }

        State withEventfd(boolean b) {
            return new State(requests, notified, notifyMe, b, loops, notifiers);
        }

        State with(int who, Loop l) {
            List<Loop> copy = new ArrayList<>(loops);
            copy.set(who, l);
            return new State(requests, notified, notifyMe, eventfd, copy, notifiers);
        }

        State with(int who, Notifier n) {
            List<Notifier> copy = new ArrayList<>(notifiers);
            copy.set(who, n);
            return new State(requests, notified, notifyMe, eventfd, loops, copy);
        }
    }

    /**
     * A loop's program counter and the locals of its current iteration.
     *
     * @param pc          index into {@link Design#loop}, or -1 once the loop has finished
     * @param mayBlock    the timeout is still -1
     * @param sawNotified it read {@code notified == true} in this iteration
     * @param raised      it has raised {@code notifyMe} in this iteration
     * @param fdReady     its wait reported the eventfd readable
     * @param accepted    {@link LoopOp#ACCEPT_XCHG} found {@code notified} set
     */
    record Loop(int pc, int iterationsLeft, boolean mayBlock, boolean sawNotified, boolean raised,
                boolean fdReady, boolean accepted) {

        static Loop startIteration(int iterationsLeft) {
            return new Loop(0, iterationsLeft, true, false, false, false, false);
        }

        boolean finished() {
            return pc < 0;
        }

        Loop at(int newPc) {
            return new Loop(newPc, iterationsLeft, mayBlock, sawNotified, raised, fdReady, accepted);
        }

        Loop dontBlock() {
            return new Loop(pc, iterationsLeft, false, sawNotified, raised, fdReady, accepted);
        }

        Loop sawNotifiedSet() {
            return new Loop(pc, iterationsLeft, false, true, raised, fdReady, accepted);
        }

        Loop withRaised(boolean r) {
            return new Loop(pc, iterationsLeft, mayBlock, sawNotified, r, fdReady, accepted);
        }

        Loop withFdReady(boolean r) {
            return new Loop(pc, iterationsLeft, mayBlock, sawNotified, raised, r, accepted);
        }

        Loop withAccepted(boolean a) {
            return new Loop(pc, iterationsLeft, mayBlock, sawNotified, raised, fdReady, a);
        }
    }

    /**
     * A notifier's program counter and locals.
     *
     * @param pc          index into {@link Design#notifier}; {@code size()} once finished
     * @param kick        it read {@code notifyMe != 0}: somebody may be asleep
     * @param sawNotified {@link NotifierOp#CHECK_NOTIFIED} found {@code notified} already set
     */
    record Notifier(int pc, boolean kick, boolean sawNotified) {
        Notifier at(int newPc) {
            return new Notifier(newPc, kick, sawNotified);
        }
    }

    // ---------------------------------------------------------------------------------------
    // The designs
    // ---------------------------------------------------------------------------------------

    // tag::model-protocol[]
    /** Today's protocol (QEMU since 2020, and Dataplane's {@code AioContext}). */
    static final Design TODAY = new Design("today's protocol",
            List.of(PREPARE, RAISE, READ_NOTIFIED, WAIT, LOWER, ACCEPT, DISPATCH_BH, DISPATCH_FD),
            List.of(PUBLISH, SET_NOTIFIED, READ_NOTIFY_ME, WRITE_EVENTFD));

    /** The event loop's half: one atomic step of {@code poll(blocking = true)}. */
    private Move<State> loopStep(State s, int who, Loop me, LoopOp op) {
        Announce announce = scenario.loops().get(who).announce();
        return switch (op) {
            case PREPARE -> s.requests() > 0
                    ? move(s.with(who, me.dontBlock()), "prepare: requests=%d -> timeout=0",
                           s.requests())
                    : move(s, "prepare: no requests -> timeout=-1");
            case RAISE -> {
                int n = announce.raise(s.notifyMe());
                yield move(s.withNotifyMe(n).with(who, me.withRaised(true)), "%s -> %d, full fence",
                           announce.raiseText(), n);
            }
            case READ_NOTIFIED -> s.notified()
                    ? move(s.with(who, me.sawNotifiedSet()), "read notified=true -> timeout=0")
                    : move(s, "read notified=false -> timeout stays -1");
            case WAIT, POLL -> me.mayBlock()   // a blocking wait is only offered once eventfd != 0
                    ? move(s.with(who, me.withFdReady(true)), "wait(-1) wakes up: eventfd readable")
                    : move(s.with(who, me.withFdReady(s.eventfd())), "wait(0): eventfd %s",
                           s.eventfd() ? "readable" : "not readable");
            case LOWER -> {
                int n = announce.lower(s.notifyMe());
                yield move(s.withNotifyMe(n).with(who, me.withRaised(false)), "%s -> %d",
                           announce.lowerText(), n);
            }
            case ACCEPT -> move(s.withNotified(false), "accept: notified=false, full fence");
            case DISPATCH_BH -> move(s.withRequests(0), "dispatch: runs %d request(s)",
                                     s.requests());
            case DISPATCH_FD -> move(s.withEventfd(false), "dispatch: notifier handler drains eventfd");
            default -> historicalLoopStep(s, who, me, op);
        };
    }

    /** The notifier's half: publish one request, then {@code aio_notify}. */
    private Move<State> notifierStep(State s, int who, Notifier me, NotifierOp op) {
        return switch (op) {
            case PUBLISH -> move(s.withRequests(s.requests() + 1), "publish: requests=%d",
                                 s.requests() + 1);
            case SET_NOTIFIED -> move(s.withNotified(true), "notified=true, full fence");
            case READ_NOTIFY_ME -> s.notifyMe() != 0
                    ? move(s.with(who, new Notifier(me.pc(), true, me.sawNotified())),
                           "read notifyMe=%d -> write eventfd", s.notifyMe())
                    : move(s, "read notifyMe=0 -> skip eventfd write");
            case WRITE_EVENTFD -> move(s.withEventfd(true), "eventfd=1");
            default -> historicalNotifierStep(s, who, me, op);
        };
    }
    // end::model-protocol[]

    /**
     * Today's loop reading {@code notified} before it raises {@code notifyMe}: the check no
     * longer follows the announcement, so a notify can fall between them (aio_notify.promela,
     * {@code -DBUG}, drops the check after the announcement; the hole is the same).
     */
    static final Design CHECK_BEFORE_RAISE = new Design("notified read before notifyMe is raised",
            List.of(PREPARE, READ_NOTIFIED, RAISE, WAIT, LOWER, ACCEPT, DISPATCH_BH, DISPATCH_FD),
            TODAY.notifier());

    /**
     * 2015 before {@code 21a03d17f2}: no {@code notified} flag yet; the loop raises
     * {@code notifyMe} first and then looks at the bottom halves; the eventfd is drained by the
     * notifier's handler, which runs after the bottom halves (aio_notify_bug.promela, BUG).
     */
    static final Design ACCEPT_AFTER_DISPATCH_2015 = new Design("2015, eventfd drained after dispatch",
            List.of(RAISE, PREPARE, POLL, LOWER, DISPATCH_BH, DRAIN_EVENTFD),
            List.of(PUBLISH, READ_NOTIFY_ME, WRITE_EVENTFD));

    /** The fix {@code 21a03d17f2}: drain (accept) before dispatching. */
    static final Design ACCEPT_BEFORE_DISPATCH_2015 = new Design("2015, eventfd drained before dispatch",
            List.of(RAISE, PREPARE, POLL, LOWER, DRAIN_EVENTFD, DISPATCH_BH),
            ACCEPT_AFTER_DISPATCH_2015.notifier());

    /**
     * 2015 after {@code 05e514b1d4}: {@code notified} means "the eventfd has been written"; it
     * is set after the write and lets accept skip the drain system call when nobody notified
     * (aio_notify_accept.promela, fixed version).
     */
    static final Design NOTIFIED_2015 = new Design("2015, notified set after the eventfd write",
            List.of(RAISE, PREPARE, POLL, LOWER, ACCEPT_XCHG, DRAIN_IF_ACCEPTED, DISPATCH_BH),
            List.of(PUBLISH, READ_NOTIFY_ME, WRITE_EVENTFD, SET_NOTIFIED_AFTER_WRITE));

    /**
     * The same, with the setting side "optimised" like the accepting side: skip the eventfd
     * write when {@code notified} is already set (aio_notify_accept.promela, {@code BUG2}).
     */
    static final Design SKIP_WRITE_IF_NOTIFIED_2015 = new Design(
            "2015, eventfd write skipped if notified",
            NOTIFIED_2015.loop(),
            List.of(PUBLISH, READ_NOTIFY_ME, CHECK_NOTIFIED, WRITE_EVENTFD, SET_NOTIFIED_AFTER_WRITE));

    private Move<State> historicalLoopStep(State s, int who, Loop me, LoopOp op) {
        return switch (op) {
            case DRAIN_EVENTFD -> move(s.withEventfd(false), "accept: drains eventfd");
            case ACCEPT_XCHG -> move(s.withNotified(false).with(who, me.withAccepted(s.notified())),
                                     "accept: xchg(notified, false) returns %b", s.notified());
            case DRAIN_IF_ACCEPTED -> move(s.withEventfd(false), "accept: drains eventfd");
            default -> throw new AssertionError(op);
        };
    }

    private Move<State> historicalNotifierStep(State s, int who, Notifier me, NotifierOp op) {
        return switch (op) {
            case CHECK_NOTIFIED -> s.notified()
                    ? move(s.with(who, new Notifier(me.pc(), me.kick(), true)),
                           "read notified=true -> skip eventfd write")
                    : move(s, "read notified=false -> goes on to write eventfd");
            case SET_NOTIFIED_AFTER_WRITE -> move(s.withNotified(true), "notified=true");
            default -> throw new AssertionError(op);
        };
    }

    /** Ops that the C code skips with an {@code if} in this iteration produce no step. */
    private static boolean applies(LoopOp op, Loop me) {
        return switch (op) {
            case RAISE, READ_NOTIFIED, WAIT -> me.mayBlock();
            case LOWER -> me.raised();
            case DISPATCH_FD -> me.fdReady();
            case DRAIN_IF_ACCEPTED -> me.accepted();
            default -> true;
        };
    }

    private static boolean applies(NotifierOp op, Notifier me) {
        return switch (op) {
            case WRITE_EVENTFD -> me.kick() && !me.sawNotified();
            case CHECK_NOTIFIED, SET_NOTIFIED_AFTER_WRITE -> me.kick();
            default -> true;
        };
    }

    // ---------------------------------------------------------------------------------------
    // The model
    // ---------------------------------------------------------------------------------------

    private final String name;
    private final Design design;
    private final Scenario scenario;
    private final List<Actor<State>> actors;

    WakeupProtocolModel(String name, Design design, Scenario scenario) {
        this.name = name + " [" + design.name() + "; " + scenario.name() + "]";
        this.design = design;
        this.scenario = scenario;
        List<Actor<State>> list = new ArrayList<>();
        for (int i = 0; i < scenario.loops().size(); i++) {
            list.add(loopActor(i));
        }
        for (int i = 0; i < scenario.notifiers(); i++) {
            list.add(notifierActor(i));
        }
        this.actors = List.copyOf(list);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public State initialState() {
        List<Loop> loops = scenario.loops().stream()
                .map(r -> settle(Loop.startIteration(r.iterations())))
                .collect(Collectors.toList());
        List<Notifier> notifiers = IntStream.range(0, scenario.notifiers())
                .mapToObj(i -> settle(new Notifier(0, false, false)))
                .collect(Collectors.toList());
        return new State(0, false, 0, false, loops, notifiers);
    }

    @Override
    public List<Actor<State>> actors() {
        return actors;
    }

    private Actor<State> loopActor(int who) {
        String actorName = scenario.loops().get(who).name();
        return Actor.of(actorName, s -> {
            Loop me = s.loops().get(who);
            if (me.finished() || asleep(s, me)) {
                return List.of();
            }
            Move<State> m = loopStep(s, who, me, design.loop().get(me.pc()));
            Loop after = m.next().loops().get(who);
            State next = m.next().with(who, settle(after.at(after.pc() + 1)));
            return List.of(new Move<>(m.action(), next));
        });
    }

    private Actor<State> notifierActor(int who) {
        String actorName = scenario.notifiers() == 1 ? "notifier" : "notifier" + (who + 1);
        return Actor.of(actorName, s -> {
            Notifier me = s.notifiers().get(who);
            if (me.pc() >= design.notifier().size()) {
                return List.of();
            }
            Move<State> m = notifierStep(s, who, me, design.notifier().get(me.pc()));
            Notifier after = m.next().notifiers().get(who);
            State next = m.next().with(who, settle(after.at(after.pc() + 1)));
            return List.of(new Move<>(m.action(), next));
        });
    }

    /** In a wait with timeout -1 and nothing readable: the kernel keeps the thread asleep. */
    private boolean asleep(State s, Loop me) {
        return isWait(me) && me.mayBlock() && !s.eventfd();
    }

    private boolean isWait(Loop me) {
        if (me.finished()) {
            return false;
        }
        LoopOp op = design.loop().get(me.pc());
        return op == WAIT || op == POLL;
    }

    /** Skips the ops that do not apply; at the end of an iteration starts the next one. */
    private Loop settle(Loop me) {
        Loop l = me;
        while (true) {
            if (l.pc() == design.loop().size()) {
                if (l.iterationsLeft() == 1) {
                    return new Loop(-1, 0, false, false, false, false, false);
                }
                l = Loop.startIteration(l.iterationsLeft() == FOREVER ? FOREVER : l.iterationsLeft() - 1);
            }
            if (applies(design.loop().get(l.pc()), l)) {
                return l;
            }
            l = l.at(l.pc() + 1);
        }
    }

    private Notifier settle(Notifier me) {
        Notifier n = me;
        while (n.pc() < design.notifier().size() && !applies(design.notifier().get(n.pc()), n)) {
            n = n.at(n.pc() + 1);
        }
        return n;
    }

    private static Move<State> move(State next, String format, Object... args) {
        return new Move<>(String.format(format, args), next);
    }

    // ---------------------------------------------------------------------------------------
    // Properties
    // ---------------------------------------------------------------------------------------

    /** Sanity: a loop never commits to sleeping after it has seen a pending notification. */
    @Override
    public Optional<String> invariantViolation(State s) {
        for (int i = 0; i < s.loops().size(); i++) {
            Loop l = s.loops().get(i);
            if (isWait(l) && l.mayBlock() && l.sawNotified()) {
                return Optional.of(scenario.loops().get(i).name()
                        + " is about to sleep although it read notified=true");
            }
        }
        return Optional.empty();
    }

    /** Lost wake-up: nobody can move, some loop sleeps, and requests are pending. */
    @Override
    public Optional<String> stuckViolation(State s) {
        if (s.requests() == 0) {
            return Optional.empty();   // asleep with nothing to do: that is what a loop should do
        }
        String sleepers = IntStream.range(0, s.loops().size())
                .filter(i -> asleep(s, s.loops().get(i)))
                .mapToObj(i -> scenario.loops().get(i).name())
                .collect(Collectors.joining(" and "));
        if (sleepers.isEmpty()) {
            return Optional.of("requests=" + s.requests() + " pending and every loop has exited");
        }
        return Optional.of("lost wake-up: " + sleepers + " asleep in wait(-1) with requests="
                + s.requests() + " pending, and no thread left to write the eventfd");
    }

    @Override
    public String describe(State s) {
        StringBuilder b = new StringBuilder();
        b.append("requests=").append(s.requests())
                .append(" notified=").append(s.notified())
                .append(" notifyMe=").append(s.notifyMe())
                .append(" eventfd=").append(s.eventfd() ? 1 : 0);
        for (int i = 0; i < s.loops().size(); i++) {
            Loop l = s.loops().get(i);
            b.append(" | ").append(scenario.loops().get(i).name()).append(": ");
            if (l.finished()) {
                b.append("finished");
            } else if (asleep(s, l)) {
                b.append("asleep in wait(-1)");
            } else {
                b.append("at ").append(design.loop().get(l.pc()));
            }
        }
        long done = s.notifiers().stream().filter(n -> n.pc() >= design.notifier().size()).count();
        b.append(" | notifiers finished: ").append(done).append('/').append(s.notifiers().size());
        return b.toString();
    }
}
