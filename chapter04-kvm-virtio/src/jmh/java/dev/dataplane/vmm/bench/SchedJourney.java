package dev.dataplane.vmm.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a queue-depth-1 request's time goes between a VMM's threads, read off the kernel's
 * scheduler events, for either VMM (where {@link RequestJourney} needs Dataplane's own JFR
 * events). Uses nothing but the JDK, so it runs straight from its source file:
 *
 * <pre>
 * perf sched record -o /tmp/dp.data -- scripts/dataplane --append "warm=20000 warm16=10000 loop=0 qd1=4000 qd16=0"
 * perf script -i /tmp/dp.data &gt; /tmp/dp.txt
 * java chapter04-kvm-virtio/src/jmh/java/dev/dataplane/vmm/bench/SchedJourney.java /tmp/dp.txt \
 *     vcpu-0 iothread0 iothread0/pool-worker 3000
 * </pre>
 *
 * <p>For QEMU (run with {@code -name ...,debug-threads=on}) the three threads are
 * {@code "CPU 0/KVM"}, {@code "IO io0"} and {@code "worker"}. The kernel keeps the first 15
 * characters of a thread's name, so names are compared that far ({@code iothread0/pool-worker}
 * matches every worker of the pool). The last argument keeps only the last N requests.
 *
 * <p>At queue depth 1 every request is the same chain of wake-ups: the vCPU thread wakes the
 * queue's thread (the kick, through the ioeventfd); that one wakes a pool worker (the read is
 * submitted); the worker wakes the queue's thread (the read is done); the queue's thread puts the
 * request on the used ring and goes back to sleep; then the guest, which saw the used ring,
 * prepares the next request and kicks again. Each step's time is the gap between two of those
 * events ({@code sched_waking}, and {@code sched_switch} with the sleeping state {@code S}).
 *
 * <p>That chain exists only while the queue's thread sleeps between events. One that busy-polls
 * sees the kick and the finished read without being woken; then only the requests where it
 * happened to be asleep are measured, which is not a fair sample. Record without polling.
 */
public final class SchedJourney {

    private SchedJourney() {
    }

    /** One line of {@code perf script}: who, when, which event, and the event's fields. */
    record Event(String comm, double us, String name, String fields) {
    }

    private static final Pattern LINE = Pattern.compile(
            "^\\s*(.+?)\\s+\\d+\\s+\\[\\d+\\]\\s+([\\d.]+):\\s+sched:(\\w+):\\s*(.*)$");

    public static void main(String[] args) throws IOException {
        if (args.length < 4 || args.length > 5) {
            System.err.println("usage: SchedJourney PERF_SCRIPT.txt VCPU_THREAD QUEUE_THREAD WORKER_THREAD [LAST_N]");
            System.exit(2);
        }
        List<double[]> steps = requests(Files.readAllLines(Path.of(args[0])), args[1], args[2], args[3]);
        int last = args.length == 5 ? Integer.parseInt(args[4]) : Integer.MAX_VALUE;
        steps = steps.subList(Math.max(0, steps.size() - last), steps.size());
        System.out.printf(Locale.ROOT, "%d requests; microseconds: median [25th .. 75th percentile]%n", steps.size());
        for (int i = 0; i < STEPS.length; i++) {
            final int step = i;
            row(STEPS[i], steps.stream().mapToDouble(s -> s[step]).toArray());
        }
    }

    static final String[] STEPS = {
        "kick -> read submitted (queue thread woken, request popped)",
        "submitted -> read done (worker woken, the read)",
        "read done -> queue thread sleeps (completion, used ring)",
        "queue thread sleeps -> next kick (the guest)",
        "kick -> next kick (one request)"};

    // tag::sched-journey[]
    /** Per request that went the whole way round, the gaps of {@link #STEPS} in microseconds. */
    static List<double[]> requests(List<String> perfScript, String vcpuThread, String queueThread, String workerThread) {
        String vcpu = comm(vcpuThread);
        String queue = comm(queueThread);
        String worker = comm(workerThread);
        List<Event> ev = new ArrayList<>();
        for (String line : perfScript) {
            Matcher m = LINE.matcher(line);
            if (m.matches()) {
                ev.add(new Event(m.group(1), Double.parseDouble(m.group(2)) * 1e6, m.group(3), m.group(4)));
            }
        }
        List<double[]> steps = new ArrayList<>();
        int kick = next(ev, 0, ev.size(), e -> wakes(e, vcpu, queue));
        while (kick >= 0) {
            int nextKick = next(ev, kick + 1, ev.size(), e -> wakes(e, vcpu, queue));
            if (nextKick < 0) {
                break;
            }
            // Each step is looked for only up to the next kick: a request whose chain is broken
            // there (a queue thread that polls instead of sleeping, say) is left out.
            int submit = next(ev, kick, nextKick, e -> wakes(e, queue, worker));
            int done = submit < 0 ? -1 : next(ev, submit, nextKick, e -> wakes(e, worker, queue));
            int sleeps = done < 0 ? -1 : next(ev, done, nextKick, e -> sleeps(e, queue));
            if (sleeps >= 0) {
                steps.add(new double[] {
                    ev.get(submit).us() - ev.get(kick).us(), ev.get(done).us() - ev.get(submit).us(),
                    ev.get(sleeps).us() - ev.get(done).us(), ev.get(nextKick).us() - ev.get(sleeps).us(),
                    ev.get(nextKick).us() - ev.get(kick).us()});
            }
            kick = nextKick;
        }
        return steps;
    }
    // end::sched-journey[]

    private static final Pattern WAKEE = Pattern.compile("^comm=(.*?) pid=\\d+ .*");
    private static final Pattern SLEEPER = Pattern.compile("^prev_comm=(.*?) prev_pid=\\d+ .* prev_state=S .*");

    /** A thread's name as the kernel keeps it (TASK_COMM_LEN, 16 bytes with the NUL). */
    private static String comm(String name) {
        return name.length() > 15 ? name.substring(0, 15) : name;
    }

    /** Whether {@code e} is thread {@code who} waking thread {@code whom}. */
    private static boolean wakes(Event e, String who, String whom) {
        if (!e.name().equals("sched_waking") || !e.comm().equals(who)) {
            return false;
        }
        Matcher m = WAKEE.matcher(e.fields());
        return m.matches() && m.group(1).equals(whom);
    }

    /** Whether {@code e} is thread {@code who} going to sleep (not preempted: state S). */
    private static boolean sleeps(Event e, String who) {
        if (!e.name().equals("sched_switch")) {
            return false;
        }
        Matcher m = SLEEPER.matcher(e.fields());
        return m.matches() && m.group(1).equals(who);
    }

    /** The first index in [from, to) whose event satisfies {@code p}, or -1. */
    private static int next(List<Event> ev, int from, int to, java.util.function.Predicate<Event> p) {
        for (int i = from; i < to; i++) {
            if (p.test(ev.get(i))) {
                return i;
            }
        }
        return -1;
    }

    private static void row(String step, double[] us) {
        if (us.length == 0) {
            System.out.printf(Locale.ROOT, "%-60s no requests (are the thread names right?)%n", step);
            return;
        }
        Arrays.sort(us);
        System.out.printf(Locale.ROOT, "%-60s %6.1f [%5.1f .. %6.1f]%n", step, us[us.length / 2],
                us[us.length / 4], us[us.length * 3 / 4]);
    }
}
