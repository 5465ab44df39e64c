package dev.dataplane.iothread.demo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.aio.linux.LibC;
import dev.dataplane.testsupport.Timeouts;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console demo driven the way a student drives it: commands written to its input, answers
 * awaited on its output. It runs in this JVM with a pipe as its console (its main loop is a
 * thread of the test's), and once as a child JVM whose standard input is piped, as in
 * {@code printf 'threads\nquit\n' | scripts/dataplane}.
 */
class ConsoleDemoTest {

    @TempDir
    Path tmp;

    private Path tree;
    private Session session;

    @BeforeEach
    void makeTree() throws IOException {
        tree = Files.createDirectories(tmp.resolve("tree"));
        Files.createDirectories(tree.resolve("sub"));
        for (int i = 0; i < 6; i++) {
            Files.writeString((i % 2 == 0 ? tree : tree.resolve("sub")).resolve("file-" + i), "content " + i);
        }
    }

    @AfterEach
    void endSession() {
        if (session != null) {
            session.close();
        }
    }

    /** A hasher over the small tree in iothread0 (fast pace) and a fast ticker in iothread1, live lines often. */
    private Session start(Consumer<Workshop> setUp) {
        session = new Session(setUp, "--work", tree.toString(), "--pace-ms", "5", "--tick-ms", "10", "--report-ms", "20");
        session.awaitLine(l -> l.startsWith("console-demo: type help"));
        return session;
    }

    private Session start() {
        return start(w -> { });
    }

    // ------------------------------------------------------------------------------------
    // The commands
    // ------------------------------------------------------------------------------------

    @Test
    void threadsListsEachIoThreadWithItsJobsAndTheirState() {
        Session s = start();

        s.send("threads");

        s.awaitLine(l -> l.matches("iothread0 +running +hash-tree"));
        s.awaitLine(l -> l.matches(" +hash-tree +hasher +round \\d+, \\d+ files hashed .*"));
        s.awaitLine(l -> l.matches("iothread1 +running +ticker"));
        s.awaitLine(l -> l.matches(" +ticker +ticker +\\d+ ticks every 10 ms.*"));
        s.awaitLine(l -> l.startsWith("main-loop ") && l.contains("the console"));
    }

    @Test
    void aMovedJobIsListedUnderItsNewIoThreadAndGoesOnWorkingThere() {
        Session s = start();
        s.awaitLine(l -> l.startsWith("[iothread0] hash-tree: "));  // it works in iothread0 first

        s.send("move hash-tree iothread1");
        int moved = s.awaitLine(l -> l.equals("moved hash-tree from iothread0 to iothread1 in " + msOf(l)));
        // Its own report timer, now in iothread1, says so twice with more files hashed each time:
        // the hashing goes on, and its completions run in iothread1.
        int first = s.awaitLineAfter(moved, l -> l.startsWith("[iothread1] hash-tree: "));
        long before = filesHashed(s.line(first));
        s.awaitLineAfter(first, l -> l.startsWith("[iothread1] hash-tree: ") && filesHashed(l) > before);
        s.send("threads");

        s.awaitLineAfter(moved, l -> l.matches("iothread0 +running +\\(none\\)"));
        s.awaitLineAfter(moved, l -> l.matches("iothread1 +running +hash-tree, ticker"));
        s.send("quit");
        assertThat(s.finish()).isZero();
        // The summary's table of who did what: completions in both IOThreads, files hashed by
        // the pool workers of both.
        assertThat(s.output()).containsPattern("iothread0 \\(IOThread\\) +hash-tree attached 1, .*hash-tree completions \\d+")
                .containsPattern("iothread1 \\(IOThread\\) +.*hash-tree attached 1, .*hash-tree completions \\d+")
                .containsPattern("iothread1/pool-worker-\\d+ +hash-tree files hashed \\d+")
                .containsPattern("job hash-tree +hasher +ended in iothread1 ")
                .containsPattern(Pattern.quote(s.mainLoopThread()) + " \\(main loop\\) +jobs moved 1, commands run 3");
    }

    @Test
    void statsShowsBothIoThreadsIteratingAndTheBql() {
        Session s = start();
        // The ticker in iothread1 has run 3 times, so iothread1 has come out of poll 3 times at least.
        s.awaitLine(l -> l.startsWith("[iothread1] ticker: ") && ticks(l) >= 3);
        s.awaitLine(l -> l.startsWith("[iothread0] hash-tree: ") && filesHashed(l) >= 1);

        s.send("stats");

        int header = s.awaitLine(l -> l.matches("THREAD +STATE +ITERATIONS +DISPATCHES +WAITS +BUSY-POLL ms +BLOCKED ms +CPU ms +ALIVE s"));
        assertThat(iterations(s.line(s.awaitLineAfter(header, l -> l.startsWith("iothread0 "))))).isPositive();
        assertThat(iterations(s.line(s.awaitLineAfter(header, l -> l.startsWith("iothread1 "))))).isGreaterThanOrEqualTo(3);
        s.awaitLineAfter(header, l -> l.matches("main-loop +running +\\d+ .*"));
        s.awaitLineAfter(header, l -> l.matches("BQL +\\d+ acquisitions, \\d+ contended \\(\\d+\\.\\d ms waiting\\), held .*"));
    }

    @Test
    void aLineTypedWhileAMoveWaitsIsQueuedAndRunsAfterTheMove() {
        // As the move begins, the "user" types another command. The move's waits poll the main
        // context, whose fd handler then runs inside the move: it must only queue the line.
        Session s = start(w -> w.beforeMove = () -> session.send("threads"));

        s.send("move ticker iothread0");

        int moved = s.awaitLine(l -> l.startsWith("moved ticker from iothread1 to iothread0 in "));
        int echo = s.awaitLine(l -> l.equals("> threads"));
        assertThat(echo).as("the queued command ran after the move's output").isGreaterThan(moved);
        s.awaitLineAfter(echo, l -> l.matches("iothread0 +running +hash-tree, ticker"));
    }

    @Test
    void aMistakeInACommandIsOneLineAndTheConsoleGoesOn() {
        Session s = start();

        s.send("frobnicate");
        s.send("move nosuchjob iothread1");
        s.send("move ticker iothread7");
        s.send("move ticker");
        s.send("threads");

        s.awaitLine(l -> l.equals("error: unknown command 'frobnicate'; type help for the list"));
        s.awaitLine(l -> l.equals("error: no job 'nosuchjob'; jobs: hash-tree, ticker"));
        s.awaitLine(l -> l.equals("error: no IOThread 'iothread7'; IOThreads: iothread0, iothread1"));
        s.awaitLine(l -> l.equals("error: move takes 2 arguments; usage: move JOB IOTHREAD"));
        s.awaitLine(l -> l.matches("iothread1 +running +ticker"));
        s.send("quit");
        assertThat(s.finish()).isZero();
        assertThat(s.err()).isEmpty();
    }

    @Test
    void startAndStopAddAndRemoveJobs() throws IOException {
        Path other = Files.createDirectories(tmp.resolve("other"));
        Files.writeString(other.resolve("x"), "x");
        Session s = start();

        s.send("start hasher extra iothread1 " + other);
        s.awaitLine(l -> l.equals("started hasher extra in iothread1"));
        s.awaitLine(l -> l.startsWith("[iothread1] extra: ") && filesHashed(l) >= 1);
        s.send("stop ticker");
        s.awaitLine(l -> l.equals("stopped ticker in iothread1"));
        s.send("threads");
        s.awaitLine(l -> l.matches("iothread1 +running +extra"));
        s.send("start hasher broken iothread0 " + tmp.resolve("missing"));
        s.awaitLine(l -> l.startsWith("error: " + tmp.resolve("missing") + ": no such directory"));
    }

    // ------------------------------------------------------------------------------------
    // The end: quit, end of input
    // ------------------------------------------------------------------------------------

    @Test
    void theEndOfTheInputRunsWhatWasQueuedThenQuitsWithASummary() {
        Session s = new Session(w -> { }, "--work", tree.toString(), "--report-ms", "0");
        session = s;

        s.sendRaw("threads\nstats");  // the last line has no newline
        s.closeInput();

        assertThat(s.finish()).isZero();
        assertThat(s.output()).contains("> threads").contains("> stats").contains("console-demo summary")
                .containsPattern("iothread0 +\\d+ iterations");
        assertThat(s.err()).isEmpty();
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("iothread"));
    }

    @Test
    void quitDropsTheCommandsAfterIt() {
        Session s = new Session(w -> { }, "--work", tree.toString(), "--report-ms", "0");
        session = s;

        s.sendRaw("quit\nthreads\n");

        assertThat(s.finish()).isZero();
        assertThat(s.output()).contains("> quit").doesNotContain("> threads").contains("console-demo summary");
    }

    // ------------------------------------------------------------------------------------
    // Bad input on the command line: one line, exit status 2, no stack trace
    // ------------------------------------------------------------------------------------

    @Test
    void aMissingDirectoryIsAUsageErrorOnOneLine() {
        String missing = tmp.resolve("no-such-dir").toString();

        Outcome r = runOnce("--work", missing);

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString().isEqualTo(
                "console-demo: " + missing + ": no such directory; check the path, or give no --work to hash the JDK");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void aFileIsNotADirectory() throws IOException {
        Path file = Files.writeString(tmp.resolve("plain"), "x");

        Outcome r = runOnce("--work", file.toString());

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString().endsWith("plain: not a directory; give a directory tree to hash");
    }

    @Test
    void badOptionsAreUsageErrorsThatSayWhatIsValid() {
        Outcome zero = runOnce("--iothreads", "0");
        assertUsageError(zero);
        assertThat(zero.errLines()).singleElement().asString().isEqualTo(
                "console-demo: --iothreads 0 is out of range; use 1 to 16; see --help");

        Outcome unknown = runOnce("--bogus");
        assertUsageError(unknown);
        assertThat(unknown.errLines()).singleElement().asString().contains("--bogus").endsWith("see --help");

        Outcome notANumber = runOnce("--tick-ms", "soon");
        assertUsageError(notANumber);
        assertThat(notANumber.errLines()).singleElement().asString().contains("--tick-ms").contains("soon");
    }

    @Test
    void debugAddsTheStackTrace() {
        Outcome r = runOnce("--debug", "--work", tmp.resolve("nowhere").toString());

        assertThat(r.exitCode()).isEqualTo(ConsoleDemo.EXIT_USAGE);
        assertThat(r.err()).contains("DemoFailure").contains("\tat ").contains("console-demo: ");
    }

    @Test
    void helpListsTheOptionsAndExitsZero() {
        Outcome r = runOnce("--help");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("--iothreads").contains("--work").contains("--report-ms").contains("--debug");
    }

    private static void assertUsageError(Outcome r) {
        assertThat(r.exitCode()).isEqualTo(ConsoleDemo.EXIT_USAGE);
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    /** A run that ends before any console opens (bad options, --help): no input needed. */
    private static Outcome runOnce(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = ConsoleDemo.run(args, -1, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), w -> {
                    throw new AssertionError("the demo started although its options were bad");
                });
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    record Outcome(int exitCode, String out, String err) {
        List<String> errLines() {
            return err.lines().toList();
        }
    }

    // ------------------------------------------------------------------------------------
    // A child JVM with piped standard input, as scripts/dataplane runs it
    // ------------------------------------------------------------------------------------

    @Test
    void aChildJvmReadsCommandsFromPipedStandardInputAndQuitsAtItsEnd() throws Exception {
        Path log = tmp.resolve("child.log");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                ConsoleDemo.class.getName(), "--work", tree.toString(), "--report-ms", "0")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try (OutputStream stdin = p.getOutputStream()) {
            stdin.write("threads\nmove ticker iothread0\nthreads\n".getBytes(StandardCharsets.UTF_8));
        } // closed: the end of the input ends the run

        assertThat(p.waitFor(Timeouts.CHILD_PROCESS.toMillis(), TimeUnit.MILLISECONDS))
                .as("the demo ends at the end of its input").isTrue();
        String output = Files.readString(log);
        assertThat(p.exitValue()).as(output).isZero();
        assertThat(output).contains("> threads").contains("moved ticker from iothread1 to iothread0")
                .containsPattern("iothread0 +running +hash-tree, ticker").contains("console-demo summary")
                .doesNotContain("Exception");
    }

    // ------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------

    private static final Pattern FILES_HASHED = Pattern.compile(" (\\d+) files hashed");
    private static final Pattern TICKS = Pattern.compile(": (\\d+) ticks");
    private static final Pattern ITERATIONS = Pattern.compile("^\\S+ +\\S+ +(\\d+) ");

    private static long filesHashed(String line) {
        return number(FILES_HASHED, line);
    }

    private static long ticks(String line) {
        return number(TICKS, line);
    }

    private static long iterations(String statsRow) {
        return number(ITERATIONS, statsRow);
    }

    private static long number(Pattern p, String line) {
        Matcher m = p.matcher(line);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** The "N.N ms" a line ends with, so that a line can be matched exactly but for the time. */
    private static String msOf(String line) {
        Matcher m = Pattern.compile("\\d+\\.\\d ms$").matcher(line);
        return m.find() ? m.group() : "(no time)";
    }

    /**
     * One run of the demo in a thread of its own, which becomes its main loop; its console reads
     * a pipe the test writes to, and its output is split into lines the test can wait for.
     */
    static final class Session implements AutoCloseable {
        private final int[] pipe = LibC.pipe(LibC.O_CLOEXEC); // [0] the demo reads, [1] we write
        private final Lines out = new Lines();
        private final ByteArrayOutputStream err = new ByteArrayOutputStream();
        private final Thread thread;
        private volatile int exitCode = -1;
        private volatile Throwable crash;
        private boolean inputClosed;
        private boolean closed;

        Session(Consumer<Workshop> setUp, String... args) {
            thread = new Thread(() -> {
                try {
                    exitCode = ConsoleDemo.run(args, pipe[0], new PrintStream(out, true, StandardCharsets.UTF_8),
                            new PrintStream(err, true, StandardCharsets.UTF_8), setUp);
                } catch (Throwable t) {
                    crash = t;
                }
            }, "test-main-loop");
            thread.start();
        }

        String mainLoopThread() {
            return thread.getName();
        }

        /** Types a command. Any thread (a test seam runs it in the main loop). */
        void send(String line) {
            sendRaw(line + "\n");
        }

        void sendRaw(String text) {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            assertThat(LibC.write(pipe[1], bytes, bytes.length)).isEqualTo(bytes.length);
        }

        void closeInput() {
            if (!inputClosed) {
                inputClosed = true;
                LibC.closeFd(pipe[1]);
            }
        }

        /** Waits for a line matching {@code p}; returns its index. */
        int awaitLine(Predicate<String> p) {
            return awaitLineAfter(-1, p);
        }

        /** Waits for a line after line {@code index} matching {@code p}; returns its index. */
        int awaitLineAfter(int index, Predicate<String> p) {
            return out.await(index, p, this::describe);
        }

        String line(int index) {
            return out.line(index);
        }

        String output() {
            return out.text();
        }

        String err() {
            return err.toString(StandardCharsets.UTF_8);
        }

        /** Closes the input (if still open) and waits for the demo to end; returns its exit status. */
        int finish() {
            closeInput();
            try {
                thread.join(Timeouts.HANDSHAKE.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            assertThat(thread.isAlive()).as("the demo ended; %s", describe()).isFalse();
            assertThat(crash).as("the demo threw").isNull();
            return exitCode;
        }

        private String describe() {
            return "output so far:\n" + out.text() + "\nstderr:\n" + err();
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (thread.isAlive()) {
                finish();
            }
            LibC.closeFd(pipe[0]);
        }
    }

    /** An output stream that keeps what is written as lines and lets a thread wait for one. */
    static final class Lines extends OutputStream {
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
        private final List<String> lines = new ArrayList<>();

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                lines.add(partial.toString(StandardCharsets.UTF_8));
                partial.reset();
                notifyAll();
            } else {
                partial.write(b);
            }
        }

        synchronized int await(int after, Predicate<String> p, java.util.function.Supplier<String> context) {
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            for (int i = after + 1; ; ) {
                for (; i < lines.size(); i++) {
                    if (p.test(lines.get(i))) {
                        return i;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no matching line within " + Timeouts.HANDSHAKE + "; " + context.get());
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError(e);
                }
            }
        }

        synchronized String line(int index) {
            return lines.get(index);
        }

        synchronized String text() {
            return String.join("\n", lines) + (partial.size() > 0 ? "\n" + partial.toString(StandardCharsets.UTF_8) : "");
        }
    }
}
