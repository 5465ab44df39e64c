package dev.dataplane.aio.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.dataplane.aio.demo.DemoCli.DemoFailure;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The demos' shared command-line conventions: one-line errors, --debug, exit status. */
class DemoCliTest {

    /** A demo that does what its options say: succeed, fail in a known way, or break. */
    @Command(name = "toy-demo", mixinStandardHelpOptions = true)
    static final class ToyDemo implements Callable<Integer> {
        @Option(names = "--n", defaultValue = "1")
        long n;

        @Option(names = "--fail-with", paramLabel = "CODE")
        Integer failWith;

        @Option(names = "--break")
        boolean broken;

        @Option(names = "--debug")
        boolean debug;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            DemoCli.checkRange(spec, "--n", n, 1, 10, " (a hint)");
            if (failWith != null) {
                throw new DemoFailure(failWith, "it failed\n  as planned");
            }
            if (broken) {
                throw new IllegalStateException("broken\non two lines");
            }
            return 0;
        }
    }

    record Run(int exitCode, String out, String err) {
    }

    private static Run run(Function<? super Exception, String> describe, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ToyDemo demo = new ToyDemo();
        DemoCli cli = describe == null ? new DemoCli("toy-demo") : new DemoCli("toy-demo", describe);
        int code = cli.run(demo, () -> demo.debug, args,
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static Run run(String... args) {
        return run(null, args);
    }

    @Test
    void aSuccessfulRunExitsZeroAndPrintsNoError() {
        Run r = run("--n", "3");

        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEmpty();
    }

    @Test
    void anUnknownOptionIsOneUsageLineNamingTheDemo() {
        Run r = run("--bogus");

        assertThat(r.exitCode()).isEqualTo(DemoCli.EXIT_USAGE);
        assertThat(r.err().lines()).singleElement().asString()
                .startsWith("toy-demo: ").contains("--bogus").endsWith("; see --help");
    }

    @Test
    void aValueOutOfRangeIsAUsageErrorThatGivesTheRangeAndTheHint() {
        Run r = run("--n", "11");

        assertThat(r.exitCode()).isEqualTo(DemoCli.EXIT_USAGE);
        assertThat(r.err()).isEqualTo("toy-demo: --n 11 is out of range; use 1 to 10 (a hint); see --help"
                + System.lineSeparator());
    }

    @Test
    void aDemoFailureEndsWithItsOwnExitCodeAndItsMessageWithoutATrace() {
        Run r = run("--fail-with", "7");

        assertThat(r.exitCode()).isEqualTo(7);
        assertThat(r.err()).isEqualTo("toy-demo: it failed\n  as planned" + System.lineSeparator());
    }

    @Test
    void anUnexpectedExceptionIsOneLineThatPointsToDebug() {
        Run r = run("--break");

        assertThat(r.exitCode()).isEqualTo(DemoCli.EXIT_FAILURE);
        assertThat(r.err()).isEqualTo("toy-demo: unexpected error: java.lang.IllegalStateException: broken; "
                + "on two lines (rerun with --debug for the stack trace)" + System.lineSeparator());
    }

    @Test
    void aDemoMayDescribeUnexpectedExceptionsItsOwnWay() {
        Run r = run(Exception::getMessage, "--break");

        assertThat(r.err()).startsWith("toy-demo: unexpected error: broken; on two lines (rerun");
    }

    @Test
    void debugAddsTheStackTraceAndDropsTheHint() {
        Run failure = run("--debug", "--fail-with", "3");
        assertThat(failure.exitCode()).isEqualTo(3);
        assertThat(failure.err()).contains("DemoFailure").contains("\tat ").contains("toy-demo: it failed");

        Run broken = run("--debug", "--break");
        assertThat(broken.exitCode()).isEqualTo(DemoCli.EXIT_FAILURE);
        assertThat(broken.err()).contains("\tat ").contains("toy-demo: unexpected error: ")
                .doesNotContain("rerun with --debug");
    }

    @Test
    void checkRangeSaysOrMoreWhenThereIsNoUpperBound() {
        ToyDemo demo = new ToyDemo();
        new CommandLine(demo); // injects demo.spec
        assertThat(catchThrowable(() -> DemoCli.checkRange(demo.spec, "--limit", 0, 1, Long.MAX_VALUE)))
                .isInstanceOf(CommandLine.ParameterException.class)
                .hasMessage("--limit 0 is out of range; use 1 or more");
    }

    @Test
    void oneLineJoinsLinesAndStripsBlanks() {
        assertThat(DemoCli.oneLine("  first \n  second\r\nthird  ")).isEqualTo("first; second; third");
        assertThat(DemoCli.oneLine(null)).isEmpty();
    }

    @Test
    void awaitQuietlyReturnsOnceTheLatchIsOpenAndKeepsAnInterrupt() {
        CountDownLatch open = new CountDownLatch(0);
        DemoCli.awaitQuietly(open, 10);

        Thread.currentThread().interrupt();
        DemoCli.awaitQuietly(new CountDownLatch(1), 10);
        assertThat(Thread.interrupted()).as("the interrupt is kept for the caller").isTrue();
    }

    @Test
    void aHookThatWasNeverAddedIsNotRemoved() {
        assertThat(DemoCli.removeShutdownHook(new Thread(() -> { }))).isFalse();
    }
}
