package dev.dataplane.aio.demo;

import java.io.Console;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * The command-line conventions every chapter's workshop demo follows, in one place: errors are
 * one line on stderr that starts with the demo's name, {@code --debug} adds the stack trace, and
 * the exit status is 0 for success, {@value #EXIT_FAILURE} for a run-time failure and
 * {@value #EXIT_USAGE} for anything the user can fix in the options.
 *
 * <pre>
 * public static int run(String[] args, PrintStream out, PrintStream err) {
 *     MyDemo demo = new MyDemo(out);
 *     return new DemoCli(NAME).run(demo, () -&gt; demo.debug, args, out, err);
 * }
 * </pre>
 *
 * <p>A demo throws {@link DemoFailure} for a failure it can explain in a sentence, and
 * picocli's {@link ParameterException} (see {@link #checkRange}) for a bad option value; anything
 * else is an unexpected error and says so.
 */
public final class DemoCli {

    /** Exit status of a run that failed: a run-time error, or a check that did not hold. */
    public static final int EXIT_FAILURE = 1;
    /** Exit status for bad options or arguments. */
    public static final int EXIT_USAGE = 2;

    private final String name;
    private final Function<? super Exception, String> describeUnexpected;

    /** The conventions for the demo called {@code name}; an unexpected exception is shown by its {@code toString()}. */
    public DemoCli(String name) {
        this(name, Exception::toString);
    }

    /**
     * The same, with {@code describeUnexpected} saying what an unexpected exception was (a
     * demo whose exceptions carry self-explaining messages may leave out their class names).
     */
    public DemoCli(String name, Function<? super Exception, String> describeUnexpected) {
        this.name = Objects.requireNonNull(name, "name");
        this.describeUnexpected = Objects.requireNonNull(describeUnexpected, "describeUnexpected");
    }

    /**
     * Parses {@code args} into {@code command} (a picocli {@code @Command}), runs it and returns
     * the exit status. {@code debug} is asked only after parsing, so it may read the command's
     * {@code --debug} option. Enum option values are case-insensitive.
     */
    public int run(Object command, BooleanSupplier debug, String[] args, PrintStream out, PrintStream err) {
        CommandLine cmd = new CommandLine(command)
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true));
        cmd.setParameterExceptionHandler((e, badArgs) -> {
            err.println(name + ": " + oneLine(e.getMessage()) + "; see --help");
            return EXIT_USAGE;
        });
        cmd.setExecutionExceptionHandler((e, c, parsed) -> {
            boolean withTrace = debug.getAsBoolean();
            if (withTrace) {
                e.printStackTrace(err);
            }
            if (e instanceof DemoFailure f) {
                err.println(name + ": " + f.getMessage());
                return f.exitCode();
            }
            err.println(name + ": unexpected error: " + oneLine(describeUnexpected.apply(e))
                    + (withTrace ? "" : " (rerun with --debug for the stack trace)"));
            return EXIT_FAILURE;
        });
        return cmd.execute(args);
    }

    /**
     * Throws picocli's usage error (exit status {@value #EXIT_USAGE}) unless {@code min <= value <= max}.
     * The message names the option and the range; a {@code max} of {@link Long#MAX_VALUE} reads "or more".
     */
    public static void checkRange(CommandSpec spec, String option, long value, long min, long max) {
        checkRange(spec, option, value, min, max, "");
    }

    /** The same, with {@code hint} appended to the message (e.g. {@code " (0 = any free port)"}). */
    public static void checkRange(CommandSpec spec, String option, long value, long min, long max, String hint) {
        if (value < min || value > max) {
            throw new ParameterException(spec.commandLine(), option + " " + value + " is out of range; use "
                    + min + (max == Long.MAX_VALUE ? " or more" : " to " + max) + hint);
        }
    }

    /** {@code s} on one line: surrounding blanks stripped, each line break (with its blanks) turned into "; ". */
    public static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    /**
     * Removes a Ctrl-C hook after a normal end. Returns false if the JVM is already shutting
     * down: then the hook is running (or about to), and may still touch what it uses.
     */
    public static boolean removeShutdownHook(Thread hook) {
        try {
            return Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            return false;
        }
    }

    /**
     * For a Ctrl-C hook: waits up to {@code seconds} for the demo to print its summary. A hook
     * must not hang the JVM's exit, so an interrupt or the time limit just ends the wait.
     */
    public static void awaitQuietly(CountDownLatch latch, long seconds) {
        try {
            latch.await(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Whether the JVM's standard input and output are a terminal. Before JDK 22,
     * {@link System#console()} is non-null exactly then; from JDK 22 on it is non-null even when
     * they are redirected, and {@code Console.isTerminal()} (not in Java 17's API, hence the
     * reflection) tells.
     */
    public static boolean isTerminal() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        try {
            return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
        } catch (NoSuchMethodException beforeJdk22) {
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }

    /** A failure with a message meant for the user, printed on one line without a stack trace. */
    public static final class DemoFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final int exitCode;

        public DemoFailure(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }

        public DemoFailure(int exitCode, String message, Throwable cause) {
            super(message, cause);
            this.exitCode = exitCode;
        }

        /** The exit status the demo ends with. */
        public int exitCode() {
            return exitCode;
        }
    }
}
