package dev.dataplane.aio;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.nio.channels.SelectableChannel;
import java.nio.channels.Selector;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Chapter 1's architecture, checked on the production classes. The rules are constants so that
 * {@link ArchitectureRulesCatchViolationsTest} can run the very same rule objects against classes
 * that break them.
 *
 * <p>Do not add {@code ImportOption.DoNotIncludeJars}: in a reactor build, sibling modules reach
 * the class path as jars, and later chapters' copies of these rules must see them.
 */
@AnalyzeClasses(packages = "dev.dataplane", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    // tag::arch-rules[]
    /** What the event loop must not lean on: it multiplexes file descriptors and runs handlers itself. */
    static final DescribedPredicate<JavaClass> ANOTHER_EVENT_LOOP_OR_THREAD_POOL =
            assignableTo(Selector.class)
                    .or(assignableTo(SelectableChannel.class))
                    .or(resideInAPackage("java.nio.channels.spi.."))
                    .or(assignableTo(Executor.class)) // ExecutorService, ForkJoinPool, ThreadPoolExecutor...
                    .or(assignableTo(CompletableFuture.class))
                    .as("belong to another event loop or a thread pool (java.nio selectors and selectable"
                            + " channels, executors, CompletableFuture)");

    @ArchTest
    static final ArchRule JNA_ONLY_IN_THE_LINUX_BINDINGS = noClasses()
            .that().resideInAPackage("dev.dataplane..")
            .and().resideOutsideOfPackage("dev.dataplane.aio.linux..")
            .should().dependOnClassesThat().resideInAPackage("com.sun.jna..")
            .because("every native call is declared in dev.dataplane.aio.linux, the one place to audit"
                    + " them; everything else calls its plain Java wrappers");

    @ArchTest
    static final ArchRule THE_EVENT_LOOP_RUNS_ITS_OWN_HANDLERS = noClasses()
            .that().resideInAPackage("dev.dataplane.aio..")
            .and().resideOutsideOfPackage("..demo..")
            .should().dependOnClassesThat(ANOTHER_EVENT_LOOP_OR_THREAD_POOL)
            .because("the AioContext is the event loop: it waits in ppoll/epoll_wait and runs every"
                    + " handler on its home thread, so nothing may move that work elsewhere");

    @ArchTest
    static final ArchRule THE_EVENT_LOOP_KNOWS_NO_LATER_CHAPTER = noClasses()
            .that().resideInAPackage("dev.dataplane.aio..")
            .should().dependOnClassesThat().resideInAnyPackage(
                    "dev.dataplane.bh..", "dev.dataplane.timer..", "dev.dataplane.iothread..",
                    "dev.dataplane.kvm..", "dev.dataplane.virtio..", "dev.dataplane.block..",
                    "dev.dataplane.drain..")
            .because("chapter 1 is the bottom layer: later chapters plug into it (AioEventSource),"
                    + " it never calls up into them");
    // end::arch-rules[]
}
