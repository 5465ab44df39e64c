package dev.dataplane.bh;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jetbrains.lincheck.datastructures.ManagedStrategyGuaranteeKt.forClasses;

import dev.dataplane.aio.AioContext;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;
import kotlin.Unit;
import kotlin.reflect.KFunction;
import kotlin.reflect.jvm.ReflectJvmMapping;
import org.jetbrains.lincheck.LincheckAssertionError;
import org.jetbrains.lincheck.datastructures.DSLThreadScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The bottom-half list model-checked with Lincheck: the real {@link BottomHalf} and
 * {@link BottomHalves} code, not a model of it.
 *
 * <p><b>What Lincheck does.</b> It builds small concurrent scenarios from a class's
 * {@code @Operation} methods: a few operations per thread, plus a sequential part before and
 * after. In model-checking mode it instruments the bytecode and runs each scenario many times,
 * choosing at every shared-memory access (a field or array read or write, a {@code VarHandle}
 * operation, a fence) whether the thread goes on or another one takes over, until it has tried
 * every interleaving with few switches or used its budget. After each run it asks whether the
 * results could have come from the same operations run one at a time, in an order that respects
 * what happened before what (linearizability). A failure prints the scenario and the
 * interleaving that broke it, down to single field accesses. Lincheck makes the test instances
 * itself, through the no-arg constructor, one per run.
 *
 * <p><b>The sequential specification</b> is the same class run one operation at a time: a
 * {@code poll} (the bottom-half pass that {@code AioContext.poll} makes,
 * {@link BottomHalves#dispatch}) runs each bottom half scheduled before it, once; a
 * {@code cancel} before the poll means no run; a deleted bottom half never runs;
 * {@code timeoutNs} is 0 while a bottom half is scheduled, 10 ms while only idle ones are, and -1
 * otherwise.
 *
 * <p><b>Why the producers are grouped.</b> The list as a whole is not linearizable. Its windows
 * are benign, since whatever was scheduled still runs, at worst in the next poll; but a model
 * checker finds every one of them:
 * <ol>
 *   <li><em>Two threads schedule the same bottom half.</em> The first one's
 *       {@code getAndBitwiseOr} sets PENDING; the second sees it set and returns at once, before
 *       the first has pushed the bottom half onto the list. A poll that starts now, after a
 *       {@code schedule()} has returned, does not run it; the next poll does.</li>
 *   <li><em>One thread schedules two bottom halves during a poll.</em> The poll takes the whole
 *       list first, then takes its bottom halves off one at a time. A thread that now schedules
 *       {@code x}, which is not on the taken list (it goes to the next poll), and then {@code y},
 *       which is and has not been taken off yet (it joins this poll), sees its later schedule run
 *       first; no one-at-a-time order explains that.</li>
 * </ol>
 * So the generated scenarios stay out of both: one thread produces
 * ({@code nonParallelGroup = "producer"}) and touches one bottom half only, {@code a}; the other
 * is the home thread ({@code "consumer"}), which polls, asks for the timeout and schedules its own
 * bottom half {@code b} between polls, as device code running in the loop does. Several
 * producers, and oneshots (a new bottom half each time), get hand-written scenarios instead,
 * whose outcome only polls made after every thread has finished look at
 * ({@link SharedBottomHalf}).
 *
 * <p>Counting runs cannot see the 2015 late clear ({@link HistoricalBug#LATE_SCHEDULED_CLEAR}):
 * a schedule swallowed while the callback runs looks like one made just before the poll. What it
 * loses is the work handed over with that schedule, so {@link HandedOverWork} counts work.
 *
 * <p>Callbacks are small named classes, not lambdas: Lincheck cannot track the captured fields
 * of the JVM's hidden lambda classes and warns about each one. (The shared context's own
 * notifier lambdas still make it warn once per field; the module's Surefire configuration sets
 * {@code lincheck.logLevel=error}.)
 */
public class BottomHalfLincheckTest {
    /**
     * The context every list of every run notifies. Never polled, so no poll can be asleep and
     * {@code notifyEvent()} never writes its eventfd; one per class instead of one per run.
     */
    private static final AioContext CTX = AioContext.builder().name("lincheck").build();

    /** The historical bugs of the runs being checked; read by the constructors. */
    private static HistoricalBug[] bugs = {};

    private final BottomHalves bhs = BottomHalves.detached(CTX, bugs);
    private int runsOfA;
    private int runsOfB;
    /** Scheduled by another thread; {@link #replaceA()} deletes it and makes a new one. */
    private BottomHalf a = bhs.newBh("a", new CountA());
    /** The home thread's own bottom half. */
    private final BottomHalf b = bhs.newBh("b", new CountB());

    private final class CountA implements Runnable {
        @Override
        public void run() {
            runsOfA++;
        }
    }

    private final class CountB implements Runnable {
        @Override
        public void run() {
            runsOfB++;
        }
    }

    @AfterAll
    static void closeContext() {
        CTX.close();
    }

    // tag::lincheck-ops[]
    // ---- another thread: schedules, cancels and replaces a ----

    @Operation(nonParallelGroup = "producer")
    public void scheduleA() {
        a.schedule();
    }

    @Operation(nonParallelGroup = "producer")
    public void scheduleIdleA() {
        a.scheduleIdle();
    }

    @Operation(nonParallelGroup = "producer")
    public void cancelA() {
        a.cancel();
    }

    @Operation(nonParallelGroup = "producer")
    public void replaceA() {
        a.delete(); // freed by the next poll without running
        a = bhs.newBh("a", new CountA());
    }

    // ---- the home thread: its own b, and the loop's two questions ----

    @Operation(nonParallelGroup = "consumer")
    public void scheduleB() {
        b.schedule();
    }

    @Operation(nonParallelGroup = "consumer")
    public void cancelB() {
        b.cancel();
    }

    /** One bottom-half pass, as {@code AioContext.poll} makes it; how often each ran in it. */
    @Operation(nonParallelGroup = "consumer")
    public String poll() {
        int a0 = runsOfA;
        int b0 = runsOfB;
        bhs.dispatch();
        return "a=" + (runsOfA - a0) + " b=" + (runsOfB - b0);
    }

    /** The prepare phase's question: 0 = don't sleep, 10 ms = only idle work, -1 = sleep. */
    @Operation(nonParallelGroup = "consumer")
    public long timeoutNs() {
        return bhs.timeoutNs();
    }
    // end::lincheck-ops[]

    /**
     * Work handed from a thread to the home thread through a bottom half, the way the thread pool
     * hands back completed requests: the producer adds an item, then schedules; the callback
     * takes every item there is. A poll reports the items it took. A schedule whose item is never
     * taken shows as an item no later poll reports.
     *
     * <p>Only items are reported, not runs or timeouts, because of a third benign window: the
     * callback runs after its bottom half was taken off the list, so an item handed over in
     * between is taken at once, and the schedule that came with it makes one more run later,
     * which finds nothing to do. A callback must accept an empty run; the item count does not
     * change.
     */
    public static class HandedOverWork {
        private final BottomHalves bhs = BottomHalves.detached(CTX, bugs);
        private final AtomicInteger handedOver = new AtomicInteger();
        private int taken;
        private final BottomHalf consumer = bhs.newBh("consumer", new TakeAll());

        private final class TakeAll implements Runnable {
            @Override
            public void run() {
                taken += handedOver.getAndSet(0);
            }
        }

        // tag::lincheck-handover-ops[]
        @Operation(nonParallelGroup = "producer")
        public void handOver() {
            handedOver.incrementAndGet(); // the work first, then the schedule
            consumer.schedule();
        }

        @Operation(nonParallelGroup = "consumer")
        public int poll() {
            int before = taken;
            bhs.dispatch();
            return taken - before;
        }
        // end::lincheck-handover-ops[]
    }

    /**
     * Several threads scheduling one bottom half, and a oneshot each. The checks are hand-written
     * scenarios: their results are only observed by polls made after every thread has finished.
     */
    public static class SharedBottomHalf {
        private final BottomHalves bhs = BottomHalves.detached(CTX, bugs);
        private int runsOfShared;
        private int runsOfOneshots;
        private final BottomHalf shared = bhs.newBh("shared", new CountShared());

        private final class CountShared implements Runnable {
            @Override
            public void run() {
                runsOfShared++;
            }
        }

        private final class CountOneshot implements Runnable {
            @Override
            public void run() {
                runsOfOneshots++;
            }
        }

        @Operation
        public void schedule() {
            shared.schedule();
        }

        @Operation
        public void oneshot() {
            bhs.scheduleOneshot("oneshot", new CountOneshot());
        }

        /** A pass by the home thread while the others schedule; nobody looks at what it ran. */
        @Operation
        public void dispatch() {
            bhs.dispatch();
        }

        /** A pass, then the runs so far. */
        @Operation
        public String poll() {
            bhs.dispatch();
            return "shared=" + runsOfShared + " oneshots=" + runsOfOneshots;
        }
    }

    // ---- checking ----

    /**
     * Small budgets: the whole class must stay fast on a busy two-core machine. Lincheck's
     * scenarios and its search are seeded, so every run explores the same interleavings.
     */
    private static ModelCheckingOptions randomScenarios() {
        return withGuarantees(new ModelCheckingOptions())
                .iterations(6)
                .invocationsPerIteration(100)
                .threads(2)
                .actorsPerThread(3)
                .actorsBefore(2)
                .actorsAfter(2);
    }

    /**
     * What need not be explored. The JFR events are thread-confined, and tracing, not the
     * algorithm. {@code notifyEvent()} is the real call, made as one step: nothing polls the
     * context, so its own interleavings cannot change a result. The slices are the home thread's.
     */
    private static ModelCheckingOptions withGuarantees(ModelCheckingOptions options) {
        return options
                .addGuarantee(forClasses(n -> n.startsWith("dev.dataplane.") && n.contains(".trace.")).allMethods().ignore())
                .addGuarantee(forClasses(AioContext.class.getName()).methods("notifyEvent").treatAsAtomic())
                .addGuarantee(forClasses(ArrayDeque.class.getName()).allMethods().treatAsAtomic());
    }

    /** Two threads each schedule the shared bottom half and a oneshot; the home thread maybe polls meanwhile. */
    private static ModelCheckingOptions twoProducers(boolean homeThreadPollsMeanwhile) {
        return withGuarantees(new ModelCheckingOptions())
                .iterations(0) // no generated scenarios: only this one
                .invocationsPerIteration(400)
                .addCustomScenario(s -> {
                    s.parallel(p -> {
                        p.thread(t -> actors(t, "schedule", "oneshot"));
                        p.thread(t -> actors(t, "schedule", "oneshot"));
                        if (homeThreadPollsMeanwhile) {
                            p.thread(t -> actors(t, "dispatch"));
                        }
                        return Unit.INSTANCE;
                    });
                    s.post(t -> actors(t, "poll", "poll"));
                    return Unit.INSTANCE;
                });
    }

    /** Adds {@link SharedBottomHalf}'s operations, by name, to a hand-written thread. */
    private static Unit actors(DSLThreadScenario thread, String... operations) {
        for (String name : operations) {
            thread.actor(operation(name));
        }
        return Unit.INSTANCE;
    }

    private static KFunction<?> operation(String name) {
        try {
            // The scenario DSL is Kotlin's: it names operations by Kotlin function references.
            return ReflectJvmMapping.getKotlinFunction(SharedBottomHalf.class.getMethod(name));
        } catch (NoSuchMethodException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * For the tests that expect a failure: Lincheck shrinks a failing scenario before it reports
     * it, which reruns many smaller scenarios and costs seconds. The assertions need only the
     * failure; switch this off to read the short trace.
     */
    private static ModelCheckingOptions unminimized(ModelCheckingOptions options) {
        return options.minimizeFailedScenario(false);
    }

    /** Checks {@code model} with its lists built with {@code variant}'s bugs. */
    private static void check(ModelCheckingOptions options, Class<?> model, HistoricalBug... variant) {
        bugs = variant;
        try {
            options.check(model);
        } finally {
            bugs = new HistoricalBug[0];
        }
    }

    @Test
    void a_poll_runs_what_was_scheduled_before_it_in_every_interleaving_with_another_thread() {
        check(randomScenarios(), BottomHalfLincheckTest.class);
    }

    @Test
    void reading_the_owner_after_publishing_touches_a_deleted_bottom_half_the_home_thread_freed_meanwhile() {
        // The same harness bites: a poll frees the deleted a between replaceA's push and its
        // read of the owner.
        assertThatThrownBy(() -> check(unminimized(randomScenarios()), BottomHalfLincheckTest.class, HistoricalBug.READ_OWNER_AFTER_PUBLISH))
                .isInstanceOf(LincheckAssertionError.class)
                .hasMessageContaining("IllegalStateException: bottom half 'a' used after it was freed");
    }

    @Test
    void work_handed_over_with_a_schedule_is_taken_by_a_later_run_in_every_interleaving() {
        check(randomScenarios(), HandedOverWork.class);
    }

    @Test
    void a_late_clear_of_scheduled_strands_work_handed_over_during_the_callback() {
        assertThatThrownBy(() -> check(unminimized(randomScenarios()), HandedOverWork.class, HistoricalBug.LATE_SCHEDULED_CLEAR))
                .isInstanceOf(LincheckAssertionError.class)
                .hasMessageContaining("= Invalid execution results =")
                .hasMessageContaining("bh.peekFlags()"); // the broken pass's read, in the interleaving
    }

    @Test
    void two_threads_scheduling_one_bottom_half_get_one_run_and_each_oneshot_runs_once() {
        check(twoProducers(false), SharedBottomHalf.class);
    }

    @Test
    void while_the_home_thread_polls_meanwhile_every_schedule_is_answered_and_each_oneshot_runs_once() {
        check(twoProducers(true), SharedBottomHalf.class);
    }

    @Test
    void reading_the_owner_after_publishing_touches_a_oneshot_the_home_thread_already_freed() {
        assertThatThrownBy(() -> check(unminimized(twoProducers(true)), SharedBottomHalf.class, HistoricalBug.READ_OWNER_AFTER_PUBLISH))
                .isInstanceOf(LincheckAssertionError.class)
                .hasMessageContaining("IllegalStateException: bottom half 'oneshot' used after it was freed");
    }
}
