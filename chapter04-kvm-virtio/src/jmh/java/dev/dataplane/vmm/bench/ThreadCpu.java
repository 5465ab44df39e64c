package dev.dataplane.vmm.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * CPU time of every thread of a process, as the kernel accounts it, read from
 * {@code /proc/<pid>/task/<tid>/}: a thread is known by its name ({@code comm}: QEMU's
 * {@code "IO io0"} with {@code debug-threads=on}, the JVM's {@code "iothread0"}, both set natively
 * with {@code pthread_setname_np}), its time by {@code schedstat} (nanoseconds on the CPU) or,
 * where the kernel has no scheduler statistics, by {@code stat}'s utime + stime (clock ticks,
 * 10 ms apiece: too coarse for a run of a few hundred milliseconds, hence schedstat first).
 *
 * <p>A sample is taken when a marker line arrives, so the difference between two samples is the
 * CPU each thread spent in one timed run; threads that start or end in between are counted from
 * zero or up to their last sample.
 */
final class ThreadCpu {

    /** Kernel clock ticks per second for {@code stat} (USER_HZ; 100 on every Linux we run on). */
    private static final long TICK_NS = 10_000_000;

    /**
     * One thread at one moment: its CPU time, and how often the scheduler took the CPU away from
     * it while it could still run ({@code nonvoluntary_ctxt_switches} in {@code status}).
     */
    record ThreadTime(long tid, String name, long cpuNs, long preempted) {
    }

    private ThreadCpu() {
    }

    // tag::bench-thread-cpu[]
    /** Every live thread of {@code pid} by tid, with its CPU time so far; empty once the process is gone. */
    static Map<Long, ThreadTime> sample(long pid) {
        Map<Long, ThreadTime> threads = new LinkedHashMap<>();
        Path tasks = Path.of("/proc", Long.toString(pid), "task");
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(tasks)) {
            for (Path task : dir) {
                long tid = Long.parseLong(task.getFileName().toString());
                try {
                    String name = Files.readString(task.resolve("comm")).strip();
                    threads.put(tid, new ThreadTime(tid, name, cpuNs(task), preempted(task)));
                } catch (IOException | NumberFormatException | StringIndexOutOfBoundsException e) {
                    // The thread ended between the listing and the read (ENOENT, or ESRCH while
                    // it is exiting): it has no time to add.
                }
            }
        } catch (NoSuchFileException e) {
            return Map.of();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + tasks + ": " + e.getMessage(), e);
        }
        return threads;
    }

    private static long cpuNs(Path task) throws IOException {
        Path schedstat = task.resolve("schedstat");
        if (Files.exists(schedstat)) {
            String s = Files.readString(schedstat).strip();
            return Long.parseLong(s.substring(0, s.indexOf(' ')));  // 1st field: ns on the CPU
        }
        // stat: "tid (comm) state ..." — comm may contain spaces and parentheses, so split
        // after the last ')'; utime and stime are fields 14 and 15, i.e. 12th and 13th after it.
        String stat = Files.readString(task.resolve("stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * TICK_NS;
    }
    // end::bench-thread-cpu[]

    private static long preempted(Path task) throws IOException {
        for (String line : Files.readAllLines(task.resolve("status"))) {
            if (line.startsWith("nonvoluntary_ctxt_switches:")) {
                return Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            }
        }
        return 0;
    }

    /** CPU spent between two samples by the threads {@code role} picks, in nanoseconds. */
    static long spent(Map<Long, ThreadTime> before, Map<Long, ThreadTime> after, long pid, Role role) {
        return delta(before, after, pid, role, ThreadTime::cpuNs);
    }

    /** Preemptions between two samples of the threads {@code role} picks. */
    static long preempted(Map<Long, ThreadTime> before, Map<Long, ThreadTime> after, long pid, Role role) {
        return delta(before, after, pid, role, ThreadTime::preempted);
    }

    private static long delta(Map<Long, ThreadTime> before, Map<Long, ThreadTime> after, long pid, Role role,
                              java.util.function.ToLongFunction<ThreadTime> figure) {
        long sum = 0;
        for (ThreadTime t : after.values()) {
            if (role.matches(pid, t)) {
                ThreadTime b = before.get(t.tid());
                sum += figure.applyAsLong(t) - (b == null ? 0 : figure.applyAsLong(b));
            }
        }
        return sum;
    }

    /** Which threads a figure counts. */
    @FunctionalInterface
    interface Role {
        boolean matches(long pid, ThreadTime t);
    }
}
