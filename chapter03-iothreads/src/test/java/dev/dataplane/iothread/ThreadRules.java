package dev.dataplane.iothread;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.codeUnits;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.properties.CanBeAnnotated;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.lang.annotation.Annotation;
import java.util.ArrayList;
import java.util.List;

/**
 * The thread rules of chapter 3, as ArchUnit rules over every {@code dev.dataplane} class on the
 * class path: which code may take the BQL, which code may use the main loop's implicit helpers,
 * and which chapters may know either exists. {@link ThreadRulesTest} runs them on the production
 * classes, {@link ThreadRulesCatchViolationsTest} shows each one catching a class that breaks it;
 * later chapters run the same constants on their own classes through chapter 3's test-jar.
 *
 * <p>Import with {@code ImportOption.DoNotIncludeTests}, and for a module whose class path carries
 * other modules' test-jars also {@link DoNotIncludeTestJars}. Do not add
 * {@code ImportOption.DoNotIncludeJars}: in a reactor build sibling modules reach the class path
 * as jars, and the rules must see them (see chapter 1's {@code ArchitectureTest}).
 *
 * <p>The markers and how the nearest one applies are explained in {@link CodeMarkers}; the
 * transitive check of rule {@link #IO_CODE_NEVER_TAKES_THE_BQL} in {@link NeverReaches}.
 */
public final class ThreadRules {

    private ThreadRules() {
    }

    // tag::rule-io-code-no-bql[]
    /**
     * I/O code never takes the BQL and never uses a main-loop-only helper, directly or through any
     * chain of calls within Dataplane (QEMU: an {@code IO_CODE()} function must not call
     * {@code bql_lock} or a {@code GLOBAL_STATE_CODE()} helper such as {@code qemu_bh_new}).
     */
    public static final ArchRule IO_CODE_NEVER_TAKES_THE_BQL = codeUnits()
            .that(CodeMarkers.ioCode())
            .should(new NeverReaches(
                    "never reach Bql.lock()/unlock()/withLock()/callWithLock() or a @MainLoopOnly helper,"
                            + " directly or through other dev.dataplane code",
                    "dev.dataplane.",
                    u -> CodeMarkers.takesOrReleasesTheBql(u) || CodeMarkers.isMainLoopOnly(u),
                    u -> CodeMarkers.takesOrReleasesTheBql(u) ? "takes or releases the BQL"
                            : "is a main-loop-only helper"))
            .because("I/O code runs in an IOThread: taking the BQL there would serialise it with the"
                    + " main loop and every vCPU, which is what IOThreads exist to avoid, and a"
                    + " main-loop helper would register its callback in the main loop instead of the"
                    + " IOThread's own AioContext");
    // end::rule-io-code-no-bql[]

    // tag::rule-only-gs-takes-bql[]
    /** Who takes the BQL: {@link Bql#lock()}, {@link Bql#withLock} or {@link Bql#callWithLock} only in global-state code. */
    public static final ArchRule ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL = noClasses()
            .that().resideInAPackage("dev.dataplane..")
            .should().callMethodWhere(DescribedPredicate.describe(
                    "the target takes the BQL (Bql.lock(), withLock(), callWithLock()) and the caller is not global-state code"
                            + " (@GlobalStateCode on it or on its class)",
                    (JavaMethodCall call) -> takesTheBql(call) && !CodeMarkers.isGlobalStateCode(call.getOrigin())))
            .because("taking the BQL is a decision to act on the whole machine; marking the code"
                    + " @GlobalStateCode says so where a reader sees it, and puts it under the rules"
                    + " (and the run-time checks) of global-state code");
    // end::rule-only-gs-takes-bql[]

    private static boolean takesTheBql(JavaMethodCall call) {
        return call.getTargetOwner().isEquivalentTo(Bql.class) && CodeMarkers.BQL_TAKERS.contains(call.getName());
    }

    // tag::rule-lower-chapters-know-no-bql[]
    /** Chapters 1 and 2 (event loop, bottom halves, timers, thread pool) do not know chapter 3. */
    public static final ArchRule LOWER_CHAPTERS_KNOW_NO_BQL = noClasses()
            .that().resideInAnyPackage("dev.dataplane.aio..", "dev.dataplane.bh..", "dev.dataplane.timer..",
                    "dev.dataplane.threadpool..")
            .should().dependOnClassesThat().resideInAPackage("dev.dataplane.iothread..")
            .because("the event loop and its layers work the same in an IOThread and in the main loop;"
                    + " the main loop plugs its BQL in from above, through chapter 1's HomeThreadRule,"
                    + " so the lower layers cannot take it by mistake");
    // end::rule-lower-chapters-know-no-bql[]

    // tag::rule-main-loop-only-is-gs[]
    /** A main-loop-only helper is itself global-state code. */
    public static final ArchRule MAIN_LOOP_ONLY_IS_GLOBAL_STATE_CODE = codeUnits()
            .that(CodeMarkers.mainLoopOnly())
            .should(new ArchCondition<JavaCodeUnit>("be global-state code (@GlobalStateCode on them or on their class)") {
                @Override
                public void check(JavaCodeUnit unit, ConditionEvents events) {
                    if (!CodeMarkers.isGlobalStateCode(unit)) {
                        events.add(SimpleConditionEvent.violated(unit, unit.getDescription()
                                + " is @MainLoopOnly but not @GlobalStateCode in " + unit.getSourceCodeLocation()));
                    }
                }
            })
            .because("a helper that works on the main loop's context without being told so may run only"
                    + " where that context is safe to touch, in the main loop or with the BQL held;"
                    + " the global-state marker makes its callers subject to the same rules");
    // end::rule-main-loop-only-is-gs[]

    // tag::rule-one-thread-marker[]
    /** A class, method or constructor carries at most one of the three thread markers. */
    public static final ArchRule ONE_THREAD_MARKER_EACH = classes()
            .that().resideInAPackage("dev.dataplane..")
            .should(new ArchCondition<JavaClass>("carry at most one thread marker (@GlobalStateCode, @IoCode,"
                    + " @IoOrGsCode) on the class and on each of its methods and constructors") {
                @Override
                public void check(JavaClass type, ConditionEvents events) {
                    report(type, type.getDescription(), type.getSourceCodeLocation().toString(), events);
                    for (JavaCodeUnit unit : type.getCodeUnits()) {
                        report(unit, unit.getDescription(), unit.getSourceCodeLocation().toString(), events);
                    }
                }

                private void report(CanBeAnnotated element, String description, String location,
                                    ConditionEvents events) {
                    List<String> markers = new ArrayList<>();
                    for (Class<? extends Annotation> marker : CodeMarkers.THREAD_MARKERS) {
                        if (element.isAnnotatedWith(marker)) {
                            markers.add("@" + marker.getSimpleName());
                        }
                    }
                    if (markers.size() > 1) {
                        events.add(SimpleConditionEvent.violated(element, description + " is marked "
                                + String.join(" and ", markers) + " in " + location));
                    }
                }
            })
            .because("the markers contradict each other: I/O code must never take the BQL, global-state"
                    + " code may, and @IoOrGsCode already means \"either caller, so the stricter I/O rules\"");
    // end::rule-one-thread-marker[]

    /** Every rule above, for a test that runs them all. */
    public static final List<ArchRule> ALL = List.of(IO_CODE_NEVER_TAKES_THE_BQL,
            ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL, LOWER_CHAPTERS_KNOW_NO_BQL,
            MAIN_LOOP_ONLY_IS_GLOBAL_STATE_CODE, ONE_THREAD_MARKER_EACH);

    /**
     * Leaves out other modules' test-jars ({@code *-tests.jar}). {@code DoNotIncludeTests} only
     * knows test-class directories; once a module is packaged, the test support a later module
     * depends on arrives as a jar, and its helpers are not production code.
     */
    public static final class DoNotIncludeTestJars implements ImportOption {
        @Override
        public boolean includes(Location location) {
            return !location.contains("-tests.jar");
        }
    }
}
