package dev.dataplane.iothread;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.iothread.archfixtures.ContradictoryMarkers;
import dev.dataplane.iothread.archfixtures.FollowsTheRules;
import dev.dataplane.iothread.archfixtures.MainLoopOnlyWithoutGlobalStateMarker;
import dev.dataplane.iothread.archfixtures.ReachesTheBqlIndirectly;
import dev.dataplane.iothread.archfixtures.TakesTheBqlWithoutSayingSo;
import dev.dataplane.iothread.archfixtures.UsesAMainLoopHelper;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.timer.archfixtures.TimerThatChecksForTheMainLoop;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A rule that never fires proves nothing, so each rule of {@link ThreadRules} is run here,
 * unchanged, against a class that breaks it and no other rule ({@code archfixtures}), and all of
 * them against a class that breaks none. The complete failure reports are pinned down in
 * {@code thread-rule-failures.txt}, which the book includes, so its examples cannot go stale.
 */
class ThreadRulesCatchViolationsTest {

    /** The fixtures plus the classes whose markers the rules read (Bql's, the helpers'). */
    private static EvaluationResult evaluate(ArchRule rule, Class<?>... fixtures) {
        List<Class<?>> classes = new ArrayList<>(List.of(fixtures));
        classes.addAll(List.of(Bql.class, MainLoopHelpers.class));
        JavaClasses imported = new ClassFileImporter().importClasses(classes);
        return rule.evaluate(imported);
    }

    @Test
    void ioCodeUsingAMainLoopHelperIsCaught() {
        EvaluationResult result = evaluate(ThreadRules.IO_CODE_NEVER_TAKES_THE_BQL, UsesAMainLoopHelper.class);

        assertThat(result.getFailureReport().getDetails()).singleElement().asString()
                .startsWith("Method <" + UsesAMainLoopHelper.class.getName() + ".complete(java.lang.Runnable)>")
                .contains("reaches <" + MainLoopHelpers.class.getName() + ".bhNew(java.lang.String, java.lang.Runnable)>")
                .contains("is a main-loop-only helper")
                .contains("UsesAMainLoopHelper.complete(Runnable) -> MainLoopHelpers.bhNew(String, Runnable)");
        assertThat(result.getFailureReport().toString()).isEqualTo(example("failure-io-code-no-bql-direct"));
    }

    @Test
    void ioCodeReachingTheBqlThroughOtherCodeIsCaughtWithThePath() {
        EvaluationResult result = evaluate(ThreadRules.IO_CODE_NEVER_TAKES_THE_BQL, ReachesTheBqlIndirectly.class,
                ReachesTheBqlIndirectly.MachineStatistics.class);

        // One report, for the I/O method; the unmarked helper and the global-state code are not I/O code.
        assertThat(result.getFailureReport().getDetails()).singleElement().asString()
                .startsWith("Method <" + ReachesTheBqlIndirectly.class.getName() + ".handleRequest()>")
                .contains("reaches <" + Bql.class.getName() + ".lock()>, which takes or releases the BQL")
                .contains("ReachesTheBqlIndirectly.handleRequest() -> ReachesTheBqlIndirectly.countRequest()"
                        + " -> ReachesTheBqlIndirectly.MachineStatistics.publish(Bql, long) -> Bql.lock()");
        assertThat(result.getFailureReport().toString()).isEqualTo(example("failure-io-code-no-bql"));
    }

    @Test
    void theBqlTakenOutsideGlobalStateCodeIsCaught() {
        EvaluationResult result = evaluate(ThreadRules.ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL,
                TakesTheBqlWithoutSayingSo.class);

        assertThat(result.getFailureReport().getDetails()).singleElement().asString()
                .contains(TakesTheBqlWithoutSayingSo.class.getName() + ".resetDevice(" + Bql.class.getName() + ")")
                .contains("calls method <" + Bql.class.getName() + ".withLock(java.lang.Runnable)>");
        assertThat(result.getFailureReport().toString()).isEqualTo(example("failure-only-gs-takes-bql"));
    }

    @Test
    void aLowerChapterThatKnowsTheBqlIsCaught() {
        EvaluationResult result = evaluate(ThreadRules.LOWER_CHAPTERS_KNOW_NO_BQL, TimerThatChecksForTheMainLoop.class);

        assertThat(result.getFailureReport().getDetails()).singleElement().asString()
                .contains(TimerThatChecksForTheMainLoop.class.getName() + ".mayFire()")
                .contains("calls method <" + CodeRules.class.getName() + ".inMainLoop()>");
        assertThat(result.getFailureReport().toString()).isEqualTo(example("failure-lower-chapters-know-no-bql"));
    }

    @Test
    void aMainLoopOnlyHelperWithoutTheGlobalStateMarkerIsCaught() {
        EvaluationResult result = evaluate(ThreadRules.MAIN_LOOP_ONLY_IS_GLOBAL_STATE_CODE,
                MainLoopOnlyWithoutGlobalStateMarker.class);

        assertThat(result.getFailureReport().getDetails()).singleElement().asString()
                .contains(MainLoopOnlyWithoutGlobalStateMarker.class.getName() + ".legacyHelper()")
                .contains("is @MainLoopOnly but not @GlobalStateCode");
        assertThat(result.getFailureReport().toString()).isEqualTo(example("failure-main-loop-only-is-gs"));
    }

    @Test
    void contradictoryMarkersAreCaught() {
        EvaluationResult result = evaluate(ThreadRules.ONE_THREAD_MARKER_EACH, ContradictoryMarkers.class);

        assertThat(result.getFailureReport().getDetails()).singleElement().asString()
                .contains(ContradictoryMarkers.class.getName() + ".either()")
                .contains("is marked @GlobalStateCode and @IoCode");
        assertThat(result.getFailureReport().toString()).isEqualTo(example("failure-one-thread-marker"));
    }

    @Test
    void codeThatFollowsTheRulesPassesEveryRule() {
        // BottomHalves gives the lower-chapter rule a class to check (an empty check fails).
        for (ArchRule rule : ThreadRules.ALL) {
            EvaluationResult result = evaluate(rule, FollowsTheRules.class, BottomHalves.class);

            assertThat(result.hasViolation()).as(result.getFailureReport().toString()).isFalse();
        }
    }

    @Test
    void theRulesKnowEveryMethodThatTakesOrReleasesTheBql() {
        // Rule b looks for calls by name; a new way to take the lock must be added to its list.
        Set<String> globalStateMethods = new HashSet<>();
        for (Method m : Bql.class.getDeclaredMethods()) {
            if (m.isAnnotationPresent(GlobalStateCode.class)) {
                globalStateMethods.add(m.getName());
            }
        }
        Set<String> expected = new HashSet<>(CodeMarkers.BQL_TAKERS);
        expected.add("unlock");

        assertThat(globalStateMethods).isEqualTo(expected);
    }

    /**
     * The region between {@code tag::NAME[]} and {@code end::NAME[]} of
     * {@code archfixtures/thread-rule-failures.txt} (the book includes the same regions).
     */
    private static String example(String tag) {
        String text;
        try (InputStream in = ThreadRulesCatchViolationsTest.class
                .getResourceAsStream("archfixtures/thread-rule-failures.txt")) {
            assertThat(in).as("thread-rule-failures.txt on the test class path").isNotNull();
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        List<String> region = new ArrayList<>();
        boolean inside = false;
        for (String line : text.split("\n", -1)) {
            if (line.contains("tag::" + tag + "[]")) {
                inside = true;
            } else if (line.contains("end::" + tag + "[]")) {
                return String.join("\n", region);
            } else if (inside) {
                region.add(line);
            }
        }
        throw new AssertionError("no region " + tag + " in thread-rule-failures.txt");
    }
}
