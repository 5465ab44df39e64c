package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import dev.dataplane.aio.archfixtures.HandsWorkToAnExecutor;
import dev.dataplane.aio.archfixtures.ReachesIntoALaterChapter;
import dev.dataplane.aio.archfixtures.UsesJnaOutsideTheBindings;
import dev.dataplane.aio.archfixtures.WaitsOnASelector;
import dev.dataplane.aio.archfixtures.demo.DemoMayUseAnExecutor;
import org.junit.jupiter.api.Test;

/**
 * A rule that never fires proves nothing, so each rule of {@link ArchitectureTest} is run here,
 * unchanged, against a class that breaks it ({@code dev.dataplane.aio.archfixtures}).
 */
class ArchitectureRulesCatchViolationsTest {

    private static EvaluationResult evaluate(ArchRule rule, Class<?>... classes) {
        JavaClasses imported = new ClassFileImporter().importClasses(classes);
        return rule.evaluate(imported);
    }

    @Test
    void jnaOutsideTheLinuxBindingsIsCaught() {
        EvaluationResult result = evaluate(ArchitectureTest.JNA_ONLY_IN_THE_LINUX_BINDINGS, UsesJnaOutsideTheBindings.class);

        assertThat(result.hasViolation()).isTrue();
        assertThat(result.getFailureReport().getDetails()).singleElement().asString()
                .contains(UsesJnaOutsideTheBindings.class.getName() + ".lastError()")
                .contains("com.sun.jna.Native.getLastError()");
    }

    @Test
    void aThreadPoolInTheEventLoopCoreIsCaught() {
        EvaluationResult result = evaluate(ArchitectureTest.THE_EVENT_LOOP_RUNS_ITS_OWN_HANDLERS, HandsWorkToAnExecutor.class);

        assertThat(result.hasViolation()).isTrue();
        assertThat(result.getFailureReport().toString())
                .contains(HandsWorkToAnExecutor.class.getName())
                .contains("java.util.concurrent.ExecutorService");
    }

    @Test
    void aNioSelectorInTheEventLoopCoreIsCaught() {
        EvaluationResult result = evaluate(ArchitectureTest.THE_EVENT_LOOP_RUNS_ITS_OWN_HANDLERS, WaitsOnASelector.class);

        assertThat(result.hasViolation()).isTrue();
        assertThat(result.getFailureReport().toString())
                .contains(WaitsOnASelector.class.getName())
                .contains("java.nio.channels.Selector");
    }

    @Test
    void demosMayUseThreadPools() {
        // AioContext is in the import so that the rule has core classes to check (an empty check fails).
        EvaluationResult result = evaluate(ArchitectureTest.THE_EVENT_LOOP_RUNS_ITS_OWN_HANDLERS,
                AioContext.class, DemoMayUseAnExecutor.class);

        assertThat(result.hasViolation()).as(result.getFailureReport().toString()).isFalse();
    }

    @Test
    void theEventLoopReachingIntoALaterChapterIsCaught() {
        EvaluationResult result = evaluate(ArchitectureTest.THE_EVENT_LOOP_KNOWS_NO_LATER_CHAPTER, ReachesIntoALaterChapter.class);

        assertThat(result.hasViolation()).isTrue();
        assertThat(result.getFailureReport().toString())
                .contains(ReachesIntoALaterChapter.class.getName())
                .contains("dev.dataplane.bh.archfixtures.LaterChapterType");
    }

    @Test
    void aFailureNamesTheRuleItsReasonAndTheOffendingCall() {
        // tag::arch-failure[]
        // A backslash at the end of a line joins it to the next: the report's first line is one long line.
        String expected = """
                Architecture Violation [Priority: MEDIUM] - Rule 'no classes that reside in a package 'dev.dataplane..' \
                and reside outside of package 'dev.dataplane.aio.linux..' should depend on classes that reside in a \
                package 'com.sun.jna..', because every native call is declared in dev.dataplane.aio.linux, the one \
                place to audit them; everything else calls its plain Java wrappers' was violated (1 times):
                Method <dev.dataplane.aio.archfixtures.UsesJnaOutsideTheBindings.lastError()> calls method \
                <com.sun.jna.Native.getLastError()> in (UsesJnaOutsideTheBindings.java:12)""";
        // end::arch-failure[]

        String report = evaluate(ArchitectureTest.JNA_ONLY_IN_THE_LINUX_BINDINGS, UsesJnaOutsideTheBindings.class)
                .getFailureReport().toString();

        assertThat(report).isEqualTo(expected);
    }
}
