package dev.dataplane.iothread.demo;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.AioWait;
import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.IoThread;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.iothread.rules.GlobalStateCode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The machine the console drives: the main loop, the IOThreads, and the jobs in them, with the
 * console's commands. Everything here is global-state code: it runs in the main loop, with the
 * BQL, and reaches into an IOThread only through {@link AioWait#callInContext}.
 *
 * <h2>Implementation notes</h2>
 *
 * <p>The console runs one command at a time (see {@link CommandConsole}), so a command never sees
 * another one half-done: a job being moved is never listed, stopped or moved by a second command
 * in the middle. The IOThreads go on working while a command waits for them, and so does the
 * main loop: its nested polls run bottom halves and the console's fd handler, which only queues.
 */
final class Workshop {

    /** A mistake in a command; the console prints the message as one line. */
    static final class CommandError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CommandError(String message) {
            super(message);
        }
    }

    static final String HELP = String.join(System.lineSeparator(),
            "commands:",
            "  threads                          the IOThreads and the jobs in each",
            "  stats                            what each IOThread and the main loop have been doing",
            "  move JOB IOTHREAD                stop JOB in its IOThread and start it in IOTHREAD",
            "  start ticker NAME IOTHREAD [MS]  a new ticker job (a timer every MS ms, default 1000)",
            "  start hasher NAME IOTHREAD DIR   a new hasher job over the tree DIR",
            "  stop JOB                         stop a job and forget it",
            "  live on|off                      the jobs' periodic live lines",
            "  help                             this list",
            "  quit                             stop everything, print the summary and exit (also: end of input)");

    private final MainLoop main;
    private final AioWait aioWait;
    private final PrintStream out;
    private final Map<String, IoThread> iothreads = new LinkedHashMap<>();
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    /** Jobs stopped with the stop command: their activity still goes into the summary. */
    private final List<Job> stoppedJobs = new ArrayList<>();
    private final Map<String, Long> mainActivity = new LinkedHashMap<>();
    private final long startNs = System.nanoTime();
    private CommandConsole console;
    private Consumer<String> live = line -> { };
    private final long reportMs;
    private final boolean debug;
    /** Test seam: runs in the main loop as a move command begins, before the move's first wait. */
    Runnable beforeMove = () -> { };

    Workshop(MainLoop main, PrintStream out, long reportMs, boolean debug) {
        this.main = main;
        this.aioWait = main.aioWait();
        this.out = out;
        this.reportMs = reportMs;
        this.debug = debug;
    }

    void setConsole(CommandConsole console) {
        this.console = console;
        this.live = console::post;
    }

    // ------------------------------------------------------------------------------------
    // Setting up
    // ------------------------------------------------------------------------------------

    @GlobalStateCode
    IoThread startIoThread(String name) {
        IoThread io = IoThread.start(name);
        iothreads.put(name, io);
        return io;
    }

    Job newTicker(String name, long periodMs) {
        return new TickerJob(name, periodMs, aioWait, live, reportMs);
    }

    Job newHasher(String name, Path root, long paceMs) {
        return new HasherJob(name, root, paceMs, aioWait, live, reportMs);
    }

    /** Gives {@code job} to {@code io}: it attaches in the IOThread, and this waits until it has. */
    @GlobalStateCode
    void startJob(Job job, IoThread io) {
        if (jobs.containsKey(job.name)) {
            throw new CommandError("a job named '" + job.name + "' exists already; " + describeJobs());
        }
        job.setHome(io);
        jobs.put(job.name, job);
        AioContext ctx = io.context();
        aioWait.runInContext(ctx, () -> job.attach(ctx));
    }

    // ------------------------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------------------------

    /** Runs one command line; returns false for quit. Main loop. */
    @GlobalStateCode
    boolean execute(String line) {
        String[] words = line.trim().split("\\s+");
        String cmd = words[0].toLowerCase(Locale.ROOT);
        List<String> args = Arrays.asList(words).subList(1, words.length);
        try {
            switch (cmd) {
                case "help", "?" -> out.println(HELP);
                case "threads" -> threads(args);
                case "stats" -> stats(args);
                case "move" -> move(args);
                case "start" -> start(args);
                case "stop" -> stop(args);
                case "live" -> live(args);
                case "quit", "exit" -> {
                    count("commands run");
                    return false;
                }
                default -> throw new CommandError("unknown command '" + words[0] + "'; type help for the list");
            }
            count("commands run");
        } catch (CommandError e) {
            count("commands refused");
            out.println("error: " + e.getMessage());
        } catch (RuntimeException e) {
            count("commands failed");
            if (debug) {
                e.printStackTrace(out);
            }
            out.println("error: " + cmd + " failed: " + e + (debug ? "" : " (rerun with --debug for the stack trace)"));
        }
        return true;
    }

    private void threads(List<String> args) {
        expectArgs("threads", args, 0, 0, "threads");
        out.printf("%-12s %-8s %s%n", "IOTHREAD", "STATE", "JOBS");
        for (IoThread io : iothreads.values()) {
            List<Job> here = jobs.values().stream().filter(j -> j.home() == io).toList();
            out.printf("%-12s %-8s %s%n", io.name(), io.isRunning() ? "running" : "stopped",
                    here.isEmpty() ? "(none)" : here.stream().map(j -> j.name).collect(Collectors.joining(", ")));
            // The job's state lives in its IOThread: ask it there, never read it from here.
            for (Job job : io.isRunning() ? here : List.<Job>of()) {
                Job.Snapshot s = aioWait.callInContext(io.context(), job::describe);
                out.printf("  %-10s %-7s %s%n", s.name(), s.kind(), s.summary());
            }
        }
        out.printf("%-12s %-8s %s (thread '%s', holds the BQL except while it sleeps)%n", main.name(),
                "running", "the console", main.thread().getName());
    }

    private void stats(List<String> args) {
        expectArgs("stats", args, 0, 0, "stats");
        out.printf("%-12s %8s %11s %10s %8s %12s %11s %8s %8s%n", "THREAD", "STATE", "ITERATIONS", "DISPATCHES",
                "WAITS", "BUSY-POLL ms", "BLOCKED ms", "CPU ms", "ALIVE s");
        for (IoThread io : iothreads.values()) {
            IoThread.Statistics s = io.statistics();
            out.printf("%-12s %8s %11d %10d %8d %12.1f %11.1f %8s %8.1f%n", s.name(), s.running() ? "running" : "stopped",
                    s.iterations(), s.dispatches(), s.waits(), ms(s.busyPollNs()), ms(s.blockedNs()),
                    s.cpuNs() < 0 ? "-" : String.format("%.1f", ms(s.cpuNs())), s.aliveNs() / 1e9);
        }
        AioContext.Statistics m = main.context().statistics();
        out.printf("%-12s %8s %11d %10d %8d %12.1f %11.1f %8s %8.1f%n", main.name(), "running", main.iterations(),
                m.dispatches(), m.waits(), ms(m.busyPollNs()), ms(m.blockedNs()), "-", (System.nanoTime() - startNs) / 1e9);
        Bql.Statistics b = main.bql().statistics();
        out.printf("BQL          %d acquisitions, %d contended (%.1f ms waiting), held %.1f ms in all%n",
                b.acquisitions(), b.contended(), ms(b.waitedNs()), ms(b.heldNs()));
    }

    // tag::demo-move[]
    /**
     * Moves a job to another IOThread. Main loop. The job's state may only be touched in its home
     * context (see {@link Job}), so the main loop does not stop or start it itself: it asks the old
     * IOThread to detach it, waits there until its last pool request has completed, and asks the
     * new IOThread to attach it. Each step runs in the thread that owns the job at that moment.
     */
    @GlobalStateCode
    void moveJob(Job job, IoThread to) {
        IoThread from = job.home();
        AioContext oldCtx = from.context();
        AioContext newCtx = to.context();
        aioWait.runInContext(oldCtx, job::detach);     // 1. in the old IOThread: no timers, no new work
        aioWait.waitWhile(oldCtx, job::busy);           // 2. its requests complete there and kick us
        job.setHome(to);                                //    now no thread runs any of it
        aioWait.runInContext(newCtx, () -> job.attach(newCtx)); // 3. in the new IOThread: carry on
    }
    // end::demo-move[]

    private void move(List<String> args) {
        expectArgs("move", args, 2, 2, "move JOB IOTHREAD");
        Job job = job(args.get(0));
        IoThread to = iothread(args.get(1));
        IoThread from = job.home();
        if (from == to) {
            out.printf("%s is in %s already%n", job.name, to.name());
            return;
        }
        long t0 = System.nanoTime();
        beforeMove.run();
        moveJob(job, to);
        count("jobs moved");
        out.printf("moved %s from %s to %s in %.1f ms%n", job.name, from.name(), to.name(), ms(System.nanoTime() - t0));
    }

    private void start(List<String> args) {
        String usage = "start ticker NAME IOTHREAD [MS] | start hasher NAME IOTHREAD DIR";
        expectArgs("start", args, 3, 4, usage);
        String kind = args.get(0);
        String name = args.get(1);
        IoThread io = iothread(args.get(2));
        Job job;
        if (kind.equals(TickerJob.KIND)) {
            long ms = args.size() == 4 ? number(args.get(3), "MS", 1, ConsoleDemo.MAX_PERIOD_MS) : 1000;
            job = newTicker(name, ms);
        } else if (kind.equals(HasherJob.KIND)) {
            if (args.size() != 4) {
                throw new CommandError("start hasher needs a directory; usage: " + usage);
            }
            job = newHasher(name, ConsoleDemo.checkedDirectory(args.get(3), CommandError::new), ConsoleDemo.DEFAULT_PACE_MS);
        } else {
            throw new CommandError("no job kind '" + kind + "'; use ticker or hasher");
        }
        startJob(job, io);
        count("jobs started");
        out.printf("started %s %s in %s%n", job.kind(), name, io.name());
    }

    private void stop(List<String> args) {
        expectArgs("stop", args, 1, 1, "stop JOB");
        Job job = job(args.get(0));
        stopJob(job);
        jobs.remove(job.name);
        stoppedJobs.add(job);
        count("jobs stopped");
        out.printf("stopped %s in %s%n", job.name, job.home().name());
    }

    /** Detaches a job in its IOThread and waits until nothing of it runs any more. Main loop. */
    @GlobalStateCode
    private void stopJob(Job job) {
        AioContext ctx = job.home().context();
        aioWait.runInContext(ctx, job::detach);
        aioWait.waitWhile(ctx, job::busy);
    }

    private void live(List<String> args) {
        expectArgs("live", args, 1, 1, "live on|off");
        switch (args.get(0)) {
            case "on" -> console.setLive(true);
            case "off" -> console.setLive(false);
            default -> throw new CommandError("live takes on or off, not '" + args.get(0) + "'");
        }
        out.println("live lines " + (console.live() ? "on" : "off"));
    }

    // ------------------------------------------------------------------------------------
    // Shutting down and the summary
    // ------------------------------------------------------------------------------------

    /**
     * Stops every job, then every IOThread. Main loop. Returns the first IOThread failure, or null.
     */
    @GlobalStateCode
    RuntimeException shutdown() {
        for (Job job : jobs.values()) {
            if (job.home().isRunning()) {
                stopJob(job);
            }
        }
        RuntimeException failure = null;
        for (IoThread io : iothreads.values()) {
            try {
                io.stop();
            } catch (RuntimeException e) {
                failure = failure == null ? e : failure;
            }
        }
        return failure;
    }

    /** The summary: what each thread did. Main loop, after {@link #shutdown()} (every IOThread joined). */
    void printSummary(String name) {
        out.printf("%n%s summary (%.1f s)%n", name, (System.nanoTime() - startNs) / 1e9);
        List<Job> all = new ArrayList<>(jobs.values());
        all.addAll(stoppedJobs);
        for (Job job : all) {
            // describe() is home-thread code, but no thread is home now: every job is detached and
            // drained and every IOThread joined, which makes their writes visible here.
            out.printf("  job %-10s %-7s ended in %-10s %s%n", job.name, job.kind(), job.home().name(), job.describe().summary());
        }
        // Thread -> what -> count, over all jobs; the main loop first, then IOThreads, then workers.
        Map<String, Map<String, Long>> byThread = new TreeMap<>();
        for (Job job : all) {
            job.activity().forEach((thread, what) -> what.forEach((w, n) ->
                    byThread.computeIfAbsent(thread, t -> new LinkedHashMap<>()).merge(w, n, Long::sum)));
        }
        Map<String, Map<String, Long>> ordered = new LinkedHashMap<>();
        ordered.put(main.thread().getName(), new LinkedHashMap<>(mainActivity));
        for (String io : iothreads.keySet()) {
            ordered.put(io, byThread.getOrDefault(io, new LinkedHashMap<>()));
        }
        byThread.forEach(ordered::putIfAbsent);
        Function<String, String> role = t -> t.equals(main.thread().getName()) ? " (main loop)"
                : iothreads.containsKey(t) ? " (IOThread)" : "";
        int width = ordered.keySet().stream().mapToInt(t -> (t + role.apply(t)).length()).max().orElse(0);
        String label = "  threads  ";
        for (Map.Entry<String, Map<String, Long>> e : ordered.entrySet()) {
            String what = e.getValue().entrySet().stream().map(w -> w.getKey() + " " + w.getValue())
                    .collect(Collectors.joining(", "));
            out.printf("%s%-" + width + "s  %s%n", label, e.getKey() + role.apply(e.getKey()), what.isEmpty() ? "-" : what);
            label = " ".repeat(label.length());
        }
        for (IoThread io : iothreads.values()) {
            IoThread.Statistics s = io.statistics();
            out.printf("  %-10s %d iterations, %d waits, %.1f ms blocked in the kernel, %.1f ms busy polling%n",
                    io.name(), s.iterations(), s.waits(), ms(s.blockedNs()), ms(s.busyPollNs()));
        }
        Bql.Statistics b = main.bql().statistics();
        out.printf("  %-10s %d iterations; BQL %d acquisitions, %d contended, held %.1f ms%n", main.name(),
                main.iterations(), b.acquisitions(), b.contended(), ms(b.heldNs()));
    }

    // ------------------------------------------------------------------------------------
    // Small helpers
    // ------------------------------------------------------------------------------------

    private void count(String what) {
        mainActivity.merge(what, 1L, Long::sum);
    }

    private Job job(String name) {
        Job job = jobs.get(name);
        if (job == null) {
            throw new CommandError("no job '" + name + "'; " + describeJobs());
        }
        return job;
    }

    private String describeJobs() {
        return jobs.isEmpty() ? "there are no jobs" : "jobs: " + String.join(", ", jobs.keySet());
    }

    private IoThread iothread(String name) {
        IoThread io = iothreads.get(name);
        if (io == null) {
            throw new CommandError("no IOThread '" + name + "'; IOThreads: " + String.join(", ", iothreads.keySet()));
        }
        return io;
    }

    private static void expectArgs(String cmd, List<String> args, int min, int max, String usage) {
        if (args.size() < min || args.size() > max) {
            throw new CommandError(cmd + " takes " + (min == max ? String.valueOf(min) : min + " to " + max)
                    + " argument" + (max == 1 ? "" : "s") + "; usage: " + usage);
        }
    }

    private static long number(String s, String what, long min, long max) {
        try {
            long n = Long.parseLong(s);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // the message below says what is expected
        }
        throw new CommandError(what + " must be a number from " + min + " to " + max + ", not '" + s + "'");
    }

    private static double ms(long ns) {
        return ns / 1e6;
    }

    Map<String, IoThread> iothreads() {
        return iothreads;
    }

    Map<String, Job> jobs() {
        return jobs;
    }
}
