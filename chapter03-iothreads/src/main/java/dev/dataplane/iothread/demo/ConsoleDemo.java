package dev.dataplane.iothread.demo;

import static dev.dataplane.aio.demo.DemoCli.awaitQuietly;
import static dev.dataplane.aio.demo.DemoCli.checkRange;
import static dev.dataplane.aio.demo.DemoCli.oneLine;
import static dev.dataplane.aio.demo.DemoCli.removeShutdownHook;

import dev.dataplane.aio.demo.DemoCli;
import dev.dataplane.aio.demo.DemoCli.DemoFailure;
import dev.dataplane.bh.demo.HashJob;
import dev.dataplane.iothread.IoThread;
import dev.dataplane.iothread.MainLoop;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Chapter 3's workshop demo: the JVM's main thread becomes the main loop, starts IOThreads, gives
 * them jobs (hashing a directory tree through each IOThread's thread pool, a ticking timer), and
 * reads commands from standard input with an fd handler: list the threads and jobs, show their
 * statistics, move a job from one IOThread to another.
 *
 * <pre>
 * scripts/dataplane                                  # hash the JDK in iothread0, tick in iothread1
 * scripts/dataplane --iothreads 3 --work ~/src       # your own tree
 * printf 'threads\nmove ticker iothread0\nstats\n' | scripts/dataplane --report-ms 500
 * </pre>
 *
 * <p>Exit status: 0 after {@code quit} or the end of the input, 1 if an IOThread failed or
 * something unexpected broke, 2 for bad options or paths. Errors are one line on stderr;
 * {@code --debug} adds the stack trace. A command's mistakes are answered on the console and do
 * not end the run. Ctrl-C stops as {@code quit} does.
 */
@Command(name = ConsoleDemo.NAME, mixinStandardHelpOptions = true, sortOptions = false,
        version = "console-demo 0.1.0-SNAPSHOT (Dataplane chapter 3)",
        description = {"A main loop with a command console on standard input, and IOThreads serving jobs: "
                + "SHA-256 of a directory tree through each IOThread's thread pool, and a ticking timer. "
                + "Type help for the commands: threads, stats, move JOB IOTHREAD, start, stop, live, quit.", ""},
        footer = {"", "Commands can be piped in: printf 'threads\\nstats\\n' | scripts/dataplane",
                "The end of the input (Ctrl-D), quit or Ctrl-C stop the jobs and the IOThreads and print a summary.",
                "Exit status: 0 done, 1 an IOThread failed or a run-time error, 2 bad options or paths."})
public final class ConsoleDemo implements Callable<Integer> {

    static final String NAME = "console-demo";
    static final int EXIT_FAILURE = DemoCli.EXIT_FAILURE;
    static final int EXIT_USAGE = DemoCli.EXIT_USAGE;
    static final int MAX_IOTHREADS = 16;
    static final long MAX_PERIOD_MS = 3_600_000;
    static final long DEFAULT_PACE_MS = 100;
    static final String TICKER = "ticker";

    @Option(names = "--iothreads", paramLabel = "N", defaultValue = "2",
            description = "IOThreads to start, named iothread0, iothread1, ... (default: ${DEFAULT-VALUE}).")
    private int iothreadCount;

    @Option(names = "--work", paramLabel = "DIR",
            description = "A directory tree for a hasher job; repeat for more jobs (default: the JDK running "
                    + "the demo, ${sys:java.home}).")
    private List<String> work = new ArrayList<>();

    @Option(names = "--pace-ms", paramLabel = "MS", defaultValue = "" + DEFAULT_PACE_MS,
            description = "A hasher's pause between two steps (list a directory or hash a file) "
                    + "(default: ${DEFAULT-VALUE}).")
    private long paceMs;

    @Option(names = "--tick-ms", paramLabel = "MS", defaultValue = "1000",
            description = "Period of the ticker job's timer (default: ${DEFAULT-VALUE}).")
    private long tickMs;

    @Option(names = "--report-ms", paramLabel = "MS", defaultValue = "5000",
            description = "How often each job prints a live line, 0 for never (default: ${DEFAULT-VALUE}).")
    private long reportMs;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    private boolean debug;

    @Spec
    private CommandSpec spec;

    private final int consoleFd;
    private final PrintStream out;
    private final Consumer<Workshop> setUp;

    private ConsoleDemo(int consoleFd, PrintStream out, Consumer<Workshop> setUp) {
        this.consoleFd = consoleFd;
        this.out = out;
        this.setUp = setUp;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the demo with commands from standard input; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, 0, out, err, w -> { });
    }

    /**
     * Test seam: commands from {@code consoleFd} (a pipe's read end) instead of standard input, and
     * a look at the workshop before its console opens.
     */
    static int run(String[] args, int consoleFd, PrintStream out, PrintStream err, Consumer<Workshop> setUp) {
        ConsoleDemo demo = new ConsoleDemo(consoleFd, out, setUp);
        return new DemoCli(NAME).run(demo, () -> demo.debug, args, out, err);
    }

    @Override
    public Integer call() {
        checkRange(spec, "--iothreads", iothreadCount, 1, MAX_IOTHREADS);
        checkRange(spec, "--pace-ms", paceMs, 1, MAX_PERIOD_MS);
        checkRange(spec, "--tick-ms", tickMs, 1, MAX_PERIOD_MS);
        checkRange(spec, "--report-ms", reportMs, 0, MAX_PERIOD_MS);
        List<Path> roots = new ArrayList<>();
        for (String dir : work.isEmpty() ? List.of(System.getProperty("java.home")) : work) {
            roots.add(checkedDirectory(dir, m -> new DemoFailure(EXIT_USAGE, m)));
        }
        // On a terminal the user sees what they type, so the console does not echo commands.
        boolean interactive = consoleFd == 0 && DemoCli.isTerminal();

        // tag::demo-console-main[]
        MainLoop main = MainLoop.create();  // this thread is the main loop now, and holds the BQL
        Object gate = new Object();
        boolean[] open = {true};            // under gate: whether Ctrl-C may still ask main to quit
        CountDownLatch summaryPrinted = new CountDownLatch(1);
        Thread ctrlC = new Thread(() -> {
            synchronized (gate) {
                if (open[0]) {
                    main.requestQuit();     // any thread: a oneshot bottom half in the main context
                }
            }
            awaitQuietly(summaryPrinted, 10);
        }, NAME + "-ctrl-c");
        RuntimeException failure;
        try {
            Workshop workshop = new Workshop(main, out, reportMs, debug);
            CommandConsole console = new CommandConsole(consoleFd, out, !interactive, workshop::execute, main::requestQuit);
            workshop.setConsole(console);
            List<IoThread> iothreads = new ArrayList<>();
            for (int i = 0; i < iothreadCount; i++) {
                iothreads.add(workshop.startIoThread("iothread" + i));
            }
            startJobs(workshop, roots, iothreads);
            setUp.accept(workshop);
            Runtime.getRuntime().addShutdownHook(ctrlC);
            out.printf("%s: main loop in thread '%s' (it holds the BQL except while it sleeps); %s%n", NAME,
                    Thread.currentThread().getName(), describeJobs(workshop));
            out.printf("%s: type help for the commands; quit, Ctrl-D or Ctrl-C to end%n", NAME);
            console.open();                 // from now on the console's fd handler runs commands

            main.run();                     // commands run in the console's fd handler, in here

            console.closeInput();
            failure = workshop.shutdown();  // every job detached in its IOThread, then every IOThread stopped
            console.finish();
            workshop.printSummary(NAME);
        } finally {
            synchronized (gate) {
                open[0] = false;
            }
            summaryPrinted.countDown();
            removeShutdownHook(ctrlC);
            main.close();
        }
        // end::demo-console-main[]
        if (failure != null) {
            if (debug) {
                failure.printStackTrace(out);
            }
            throw new DemoFailure(EXIT_FAILURE, oneLine(failure.getMessage()));
        }
        return 0;
    }

    /** One hasher per root and a ticker, dealt round the IOThreads in turn. */
    private void startJobs(Workshop workshop, List<Path> roots, List<IoThread> iothreads) {
        List<Job> jobs = new ArrayList<>();
        Set<String> names = new HashSet<>(Set.of(TICKER));
        for (Path root : roots) {
            String base = work.isEmpty() ? "hash-jdk"
                    : "hash-" + (root.getFileName() == null ? "root" : root.getFileName().toString());
            String name = base;
            for (int n = 2; !names.add(name); n++) {
                name = base + "-" + n;
            }
            jobs.add(workshop.newHasher(name, root, paceMs));
        }
        jobs.add(workshop.newTicker(TICKER, tickMs));
        for (int i = 0; i < jobs.size(); i++) {
            workshop.startJob(jobs.get(i), iothreads.get(i % iothreads.size()));
        }
    }

    private static String describeJobs(Workshop workshop) {
        StringBuilder s = new StringBuilder();
        workshop.iothreads().values().forEach(io -> {
            List<String> here = workshop.jobs().values().stream().filter(j -> j.home() == io).map(j -> j.name).toList();
            s.append(s.length() == 0 ? "" : "; ").append(io.name()).append(" runs ")
                    .append(here.isEmpty() ? "nothing" : String.join(", ", here));
        });
        return s.toString();
    }

    // ------------------------------------------------------------------------------------
    // Input checks: one line and exit status 2 for anything the user can fix
    // ------------------------------------------------------------------------------------

    /** The directory resolved, once it is known to be one that can be listed. */
    static Path checkedDirectory(String given, Function<String, RuntimeException> error) {
        try {
            Path real = Path.of(given).toRealPath();
            if (!Files.isDirectory(real)) {
                throw error.apply(given + ": not a directory; give a directory tree to hash");
            }
            Files.newDirectoryStream(real).close(); // the real test of "readable"
            return real;
        } catch (InvalidPathException e) {
            throw error.apply("'" + given + "' is not a valid path: " + e.getReason());
        } catch (NoSuchFileException e) {
            throw error.apply(given + ": no such directory; check the path, or give no --work to hash the JDK");
        } catch (AccessDeniedException e) {
            throw error.apply(given + ": permission denied; give a directory you can read");
        } catch (IOException e) {
            throw error.apply(given + ": cannot be read: " + HashJob.describe(e));
        }
    }
}
