package dev.dataplane.vmm.bench;

import dev.dataplane.vmm.Markers;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One run of the teaching guest under one VMM process (Dataplane's JVM or QEMU), watched from the
 * outside: the serial console is the child's standard output, read here byte by byte and stamped
 * with this JVM's {@link System#nanoTime()}; at every marker line the threads' CPU times are
 * sampled from {@code /proc}, so each timed run gets its wall time and its per-thread CPU time.
 *
 * <p>Implementation notes: a timed run lasts from the newline of its begin line to the newline
 * of its end line, the same for both VMMs (QEMU writes the console byte by byte, Dataplane a line
 * at a time); the end line's own printing, a dozen characters, is inside the interval for both
 * alike. Standard error is kept apart and shown only when a run fails.
 */
final class GuestRun {

    static final String GUEST_PREFIX = "dataplane-guest:";
    static final String PASS_LINE = "dataplane-guest: PASS";

    /** One timed workload: iterations, wall time, and the CPU each thread spent meanwhile. */
    record Timed(String name, long n, long wallNs, Map<Long, ThreadCpu.ThreadTime> before,
                 Map<Long, ThreadCpu.ThreadTime> after) {
        double wallMicrosPer() {
            return wallNs / 1e3 / n;
        }

        /** CPU of the threads {@code role} picks, microseconds per iteration. */
        double cpuMicrosPer(long pid, ThreadCpu.Role role) {
            return ThreadCpu.spent(before, after, pid, role) / 1e3 / n;
        }

        /** How often the threads {@code role} picks were preempted, per iteration. */
        double preemptedPer(long pid, ThreadCpu.Role role) {
            return (double) ThreadCpu.preempted(before, after, pid, role) / n;
        }
    }

    /** What a run produced. {@code firstOutputNs}: launch to the first byte of the guest's first line. */
    record Result(long pid, boolean passed, long firstOutputNs, Map<String, Timed> timed,
                  List<String> lines, String stderr, int exitStatus) {
    }

    private GuestRun() {
    }

    // tag::bench-run[]
    /** Something to do to the running VMM once the guest has said hello (the bench pins its vCPU). */
    interface OnHello {
        void accept(long pid) throws IOException, InterruptedException;
    }

    /**
     * Starts {@code command}, reads the console to its end (or kills it at {@code deadline});
     * {@code onHello} runs when the guest's first line has arrived, before its timed runs.
     */
    static Result run(List<String> command, Duration deadline, OnHello onHello) throws IOException, InterruptedException {
        File err = File.createTempFile("bench-ch04-", ".err");
        try {
            long launched = System.nanoTime();
            Process p = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectError(err)
                    .start();
            long pid = p.pid();
            Watchdog dog = new Watchdog(p, deadline);
            dog.start();
            List<String> lines = new ArrayList<>();
            Map<String, Timed> timed = new LinkedHashMap<>();
            Map<String, Object[]> open = new LinkedHashMap<>();
            long firstOutput = -1;
            try (InputStream in = p.getInputStream()) {
                ByteArrayOutputStream line = new ByteArrayOutputStream();
                long lineStart = -1;
                int b;
                while ((b = in.read()) >= 0) {
                    long now = System.nanoTime();
                    if (lineStart < 0) {
                        lineStart = now;
                    }
                    if (b != '\n') {
                        if (b != '\r') {
                            line.write(b);
                        }
                        continue;
                    }
                    String text = line.toString(StandardCharsets.UTF_8);
                    line.reset();
                    lines.add(text);
                    if (firstOutput < 0 && text.startsWith(GUEST_PREFIX)) {
                        firstOutput = lineStart - launched;
                        onHello.accept(pid);
                    }
                    lineStart = -1;
                    // The marker's newline has just arrived: stamp it, then look at the threads.
                    Optional<Markers.Begin> begin = Markers.Begin.parse(text);
                    Optional<String> end = Markers.endOf(text);
                    if (begin.isPresent()) {
                        open.put(begin.get().name(), new Object[] {now, begin.get().n(), ThreadCpu.sample(pid)});
                    } else if (end.isPresent() && open.containsKey(end.get())) {
                        Map<Long, ThreadCpu.ThreadTime> after = ThreadCpu.sample(pid);
                        Object[] o = open.remove(end.get());
                        @SuppressWarnings("unchecked")
                        Map<Long, ThreadCpu.ThreadTime> before = (Map<Long, ThreadCpu.ThreadTime>) o[2];
                        timed.put(end.get(), new Timed(end.get(), (Long) o[1], now - (Long) o[0], before, after));
                    }
                }
            }
            boolean exited = p.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS);
            dog.interrupt();
            int status = exited ? p.exitValue() : -1;
            boolean passed = exited && !dog.fired && lines.contains(PASS_LINE);
            return new Result(pid, passed, firstOutput, timed, lines,
                    java.nio.file.Files.readString(err.toPath()), status);
        } finally {
            err.delete();
        }
    }
    // end::bench-run[]

    /** Kills a run that outlives its deadline (QEMU pauses on an emulation failure instead of exiting). */
    private static final class Watchdog extends Thread {
        private final Process p;
        private final Duration deadline;
        volatile boolean fired;

        Watchdog(Process p, Duration deadline) {
            super("bench-watchdog");
            setDaemon(true);
            this.p = p;
            this.deadline = deadline;
        }

        @Override
        public void run() {
            try {
                if (!p.waitFor(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
                    fired = true;
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                // the run ended in time
            }
        }
    }
}
