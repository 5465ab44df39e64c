package dev.dataplane.bh.demo;

import static dev.dataplane.aio.demo.DemoCli.awaitQuietly;
import static dev.dataplane.aio.demo.DemoCli.checkRange;
import static dev.dataplane.aio.demo.DemoCli.removeShutdownHook;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.demo.DemoCli;
import dev.dataplane.aio.demo.DemoCli.DemoFailure;
import dev.dataplane.bh.demo.FileHasher.Result;
import dev.dataplane.timer.Clocks;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Chapter 2's workshop demo: SHA-256 of every file under some paths, computed by one
 * {@link AioContext}'s thread pool and completed in the loop thread through a bottom half, with
 * periodic timers for a live status line and a tick, and the files handed to the loop by another
 * thread in oneshot bottom halves.
 *
 * <pre>
 * scripts/dataplane                          # the JDK that runs the demo, 4 workers
 * scripts/dataplane --workers 1 ~/src        # one worker: compare the MB/s
 * scripts/dataplane --limit 20 --tick-ms 100 # a short run with many ticks
 * </pre>
 *
 * <p>Exit status: 0 if every file was hashed, 1 if a file failed at run time (the summary says
 * which) or something unexpected broke, 2 for bad options or paths. Errors are one line on
 * stderr; {@code --debug} adds the stack trace. Ctrl-C stops the run early and prints the summary
 * so far; the JVM then exits with 130, as any program stopped by Ctrl-C does.
 */
@Command(name = HashDemo.NAME, mixinStandardHelpOptions = true, sortOptions = false,
        version = "hash-demo 0.1.0-SNAPSHOT (Dataplane chapter 2)",
        description = {"SHA-256 of every file under PATH..., run by one AioContext: a thread pool hashes "
                + "the files and completes each one in the loop thread through a bottom half; periodic "
                + "timers print a status line and a tick; a walker thread hands the files over in "
                + "oneshot bottom halves.", ""},
        footer = {"", "Ctrl-C stops early and prints the summary so far.",
                "Exit status: 0 all hashed, 1 a file failed or a run-time error, 2 bad options or paths."})
public final class HashDemo implements Callable<Integer> {

    static final String NAME = "hash-demo";
    static final int EXIT_FAILURE = DemoCli.EXIT_FAILURE;
    static final int EXIT_USAGE = DemoCli.EXIT_USAGE;
    static final int MAX_WORKERS = 64;
    static final long MAX_PERIOD_MS = 3_600_000;
    static final int FIRST_HASHES = 3;

    @Parameters(paramLabel = "PATH", arity = "0..*",
            description = "Files or directories to hash; directories are walked, symbolic links in them "
                    + "are skipped (default: the JDK running the demo, ${sys:java.home}).")
    private List<String> paths = new ArrayList<>();

    @Option(names = "--workers", paramLabel = "N", defaultValue = "4",
            description = "Most thread-pool workers (default: ${DEFAULT-VALUE}).")
    private int workers;

    @Option(names = "--status-ms", paramLabel = "MS", defaultValue = "500",
            description = "Period of the status timer (default: ${DEFAULT-VALUE}).")
    private long statusMs;

    @Option(names = "--tick-ms", paramLabel = "MS", defaultValue = "1000",
            description = "Period of the tick timer, 0 for none (default: ${DEFAULT-VALUE}).")
    private long tickMs;

    @Option(names = "--limit", paramLabel = "N",
            description = "Hash at most N files (default: all).")
    private Long limit;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "32",
            description = "Files per hand-over from the walker to the loop (default: ${DEFAULT-VALUE}).")
    private int batch;

    @Option(names = "--quiet", description = "Only the summary: no status line, no live events.")
    private boolean quiet;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    private boolean debug;

    @Spec
    private CommandSpec spec;

    private final PrintStream out;
    private final Seams seams;

    /** Test seams: the clocks the timers follow, and a look at the hasher before its loop starts. */
    static final class Seams {
        final Clocks clocks;
        final Consumer<FileHasher> started;

        Seams(Clocks clocks, Consumer<FileHasher> started) {
            this.clocks = clocks;
            this.started = started;
        }

        static final Seams NONE = new Seams(Clocks.system(), h -> { });
    }

    private HashDemo(PrintStream out, Seams seams) {
        this.out = out;
        this.seams = seams;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the demo with {@code args}; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, Seams.NONE);
    }

    static int run(String[] args, PrintStream out, PrintStream err, Seams seams) {
        HashDemo demo = new HashDemo(out, seams);
        return new DemoCli(NAME).run(demo, () -> demo.debug, args, out, err);
    }

    @Override
    public Integer call() throws InterruptedException {
        checkRange(spec, "--workers", workers, 1, MAX_WORKERS);
        checkRange(spec, "--status-ms", statusMs, 1, MAX_PERIOD_MS);
        checkRange(spec, "--tick-ms", tickMs, 0, MAX_PERIOD_MS);
        checkRange(spec, "--batch", batch, 1, 100_000);
        if (limit != null) {
            checkRange(spec, "--limit", limit, 1, Long.MAX_VALUE);
        }
        List<Path> roots = checkedRoots();

        LiveLine live = quiet ? null : new LiveLine(out, out == System.out && DemoCli.isTerminal());
        // The thread that creates the context is its home thread: this one polls it, and every
        // completion, timer and oneshot runs here. Closing it stops and joins the pool's workers.
        try (AioContext ctx = AioContext.builder().name(NAME).build()) {
            FileHasher hasher = new FileHasher(ctx, seams.clocks, workers, statusMs, tickMs, live);
            seams.started.accept(hasher);
            return hashAll(hasher, roots);
        }
    }

    private int hashAll(FileHasher hasher, List<Path> roots) throws InterruptedException {
        FileWalker walker = new FileWalker(roots, batch, limit != null ? limit : Long.MAX_VALUE, hasher);
        Thread walkerThread = new Thread(walker, "hash-walker");
        CountDownLatch summaryPrinted = new CountDownLatch(1);
        // Ctrl-C runs the shutdown hooks in a thread of their own: the hook asks the loop to stop
        // (a oneshot bottom half, like the walker's batches) and lets it print its summary.
        Thread ctrlC = new Thread(() -> {
            hasher.requestStop();
            awaitQuietly(summaryPrinted, 10);
        }, NAME + "-ctrl-c");
        Runtime.getRuntime().addShutdownHook(ctrlC);

        out.printf("%s: %s of %s%s, %s at most%n", NAME, HashJob.ALGORITHM, describeRoots(roots),
                limit != null ? " (the first " + limit + " files)" : "", plural(workers, "pool worker"));
        out.printf("%s: loop thread '%s' runs the AioContext; '%s' walks the paths and hands the files over "
                        + "in oneshot bottom halves%n", NAME, Thread.currentThread().getName(), walkerThread.getName());
        try {
            walkerThread.start();
            hasher.run();
        } finally {
            hasher.closeGate();     // whoever comes late (the walker, Ctrl-C) schedules nothing more
            walkerThread.join();
        }
        try {
            return report(hasher.result());
        } finally {
            summaryPrinted.countDown();
            // false on Ctrl-C: the hook is running now, and waits for the summary just printed
            removeShutdownHook(ctrlC);
        }
    }

    private int report(Result r) {
        double seconds = r.elapsedNs() / 1e9;
        out.printf("%n%s summary%n", NAME);
        out.printf("  files          %d hashed, %d failed, %d skipped (not regular files)%s%n", r.hashed(), r.failed(),
                r.skipped(), r.notHashed() > 0 ? ", " + r.notHashed() + " not hashed" : "");
        out.printf("  data           %s in %.2f s, %s%n", FileHasher.megabytes(r.bytes()), seconds,
                FileHasher.rate(r.bytes(), seconds));
        out.printf("  tree digest    %s  (the same for any --workers)%n", r.treeDigest());
        String label = "  first hashes   ";
        for (Map.Entry<String, String> e : r.hashes().entrySet().stream().limit(FIRST_HASHES).toList()) {
            out.printf("%s%s  %s%n", label, e.getValue(), e.getKey());
            label = " ".repeat(label.length());
        }
        if (r.firstError() != null) {
            out.printf("  first error    %s%n", r.firstError());
        }
        if (r.stopped()) {
            out.printf("  stopped        by %s, after %.2f s%n", r.stoppedBy(), seconds);
        }
        printThreads(r);
        out.printf("  bottom halves  %d completion callbacks in %d runs of the pool's completion bottom half; "
                + "%s from other threads%n", r.hashed() + r.failed(), r.completionBhRuns(), plural(r.oneshots(), "oneshot"));
        out.printf("  timers         %s (%d status, %d tick)%n", plural(r.timerRuns(), "run"),
                r.count(r.loopThread(), FileHasher.STATUS_RUNS), r.count(r.loopThread(), FileHasher.TICK_RUNS));
        out.printf("  thread pool    %s started, at most %d at once%n", plural(r.pool().workersStarted(), "worker"),
                r.pool().peakWorkers());
        out.printf("  event loop     %d poll() calls, %d waits (system calls), %d fd handler runs "
                        + "(all of them the context's wake-up eventfd)%n",
                r.loop().polls(), r.loop().waits(), r.loop().dispatches());
        if (r.failed() > 0) {
            throw new DemoFailure(EXIT_FAILURE, r.failed() + " of " + (r.hashed() + r.failed())
                    + " files could not be hashed; first: " + r.firstError());
        }
        return 0;
    }

    /** The "who did what" table: each thread with what it did, the loop thread first. */
    private void printThreads(Result r) {
        int width = r.activity().keySet().stream().mapToInt(String::length).max().orElse(0);
        String label = "  threads        ";
        for (Map.Entry<String, Map<String, Integer>> t : r.activity().entrySet()) {
            StringBuilder what = new StringBuilder();
            t.getValue().forEach((name, n) -> what.append(what.length() == 0 ? "" : ", ").append(name).append(' ').append(n));
            String role = t.getKey().equals(r.loopThread()) ? " (the loop)" : "";
            out.printf("%s%-" + (width + 12) + "s %s%n", label, t.getKey() + role, what);
            label = " ".repeat(label.length());
        }
    }

    // ------------------------------------------------------------------------------------
    // Input checks: one line and exit status 2 for anything the user can fix
    // ------------------------------------------------------------------------------------

    private List<Path> checkedRoots() {
        if (paths.isEmpty()) {
            return List.of(checkedRoot(System.getProperty("java.home")));
        }
        Set<Path> roots = new LinkedHashSet<>(); // the same path twice is hashed once
        for (String p : paths) {
            roots.add(checkedRoot(p));
        }
        return List.copyOf(roots);
    }

    /** The path resolved (links and all), once it is known to be a readable file or directory. */
    private static Path checkedRoot(String given) {
        try {
            Path real = Path.of(given).toRealPath();
            // Opening is the real test of "readable": it is what the walker and the workers will do.
            if (Files.isDirectory(real)) {
                Files.newDirectoryStream(real).close();
                return real;
            }
            if (Files.isRegularFile(real)) {
                FileChannel.open(real).close();
                return real;
            }
            throw new DemoFailure(EXIT_USAGE, given + ": not a regular file or directory (a device or a pipe "
                    + "may never end); give files or directories");
        } catch (InvalidPathException e) {
            throw new DemoFailure(EXIT_USAGE, "'" + given + "' is not a valid path: " + e.getReason());
        } catch (NoSuchFileException e) {
            throw new DemoFailure(EXIT_USAGE, given + ": no such file or directory; check the path, or give none "
                    + "to hash the JDK");
        } catch (AccessDeniedException e) {
            throw new DemoFailure(EXIT_USAGE, given + ": permission denied; give files and directories you can read");
        } catch (IOException e) {
            throw new DemoFailure(EXIT_USAGE, given + ": cannot be read: " + HashJob.describe(e));
        }
    }

    private String describeRoots(List<Path> roots) {
        String first = roots.get(0) + (paths.isEmpty() ? " (the JDK running this demo)" : "");
        return roots.size() == 1 ? first : first + " and " + (roots.size() - 1) + " more";
    }

    // ------------------------------------------------------------------------------------
    // Small helpers
    // ------------------------------------------------------------------------------------

    private static String plural(long n, String thing) {
        return n + " " + thing + (n == 1 ? "" : "s");
    }
}
