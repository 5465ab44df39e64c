package dev.dataplane.vmm.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a request's time goes on the host, from a JFR recording of Dataplane: the device's own
 * events, summarised. Uses nothing but the JDK, so it runs straight from its source file:
 *
 * <pre>
 * DATAPLANE_JVM_OPTS=-XX:StartFlightRecording:filename=/tmp/dp.jfr \
 *     scripts/dataplane --append "warm=10000 loop=0 qd1=4000 qd16=0"
 * java chapter04-kvm-virtio/src/jmh/java/dev/dataplane/vmm/bench/RequestJourney.java /tmp/dp.jfr 4000
 * </pre>
 *
 * <p>The second argument keeps only the last N requests (here the QD1 run; without it, all).
 * Printed: for each step, the median and the 10th and 90th percentiles in microseconds.
 */
public final class RequestJourney {

    private RequestJourney() {
    }

    // tag::journey[]
    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: RequestJourney RECORDING.jfr [LAST_N_REQUESTS]");
            System.exit(2);
        }
        List<RecordedEvent> requests = new ArrayList<>();  // pop -> used ring, on the device's thread
        List<RecordedEvent> completions = new ArrayList<>(); // the pool's view of the same requests
        for (RecordedEvent e : RecordingFile.readAllEvents(Path.of(args[0]))) {
            switch (e.getEventType().getName()) {
                case "dataplane.virtio.Request" -> requests.add(e);
                case "dataplane.threadpool.Complete" -> completions.add(e);
                default -> { }
            }
        }
        int last = args.length == 2 ? Integer.parseInt(args[1]) : Integer.MAX_VALUE;
        requests = tail(requests, last);
        completions = tail(completions, last);
        System.out.printf(Locale.ROOT, "%d requests; microseconds: median [10th .. 90th percentile]%n", requests.size());
        row("pop -> used ring (whole device)", requests.stream().map(RecordedEvent::getDuration).toList());
        row("  submit -> a worker starts", completions.stream().map(e -> e.getDuration("queueWaitNs")).toList());
        row("  the worker's read", completions.stream().map(e -> e.getDuration("runNs")).toList());
        row("  worker done -> callback", completions.stream().map(e -> e.getDuration("handBackNs")).toList());
        row("  the callback (used ring, interrupt)", completions.stream().map(RecordedEvent::getDuration).toList());
    }
    // end::journey[]

    private static List<RecordedEvent> tail(List<RecordedEvent> events, int n) {
        return events.subList(Math.max(0, events.size() - n), events.size());
    }

    private static void row(String step, List<Duration> durations) {
        if (durations.isEmpty()) {
            System.out.printf(Locale.ROOT, "%-40s no events (was the recording on?)%n", step);
            return;
        }
        double[] us = durations.stream().mapToDouble(d -> d.toNanos() / 1e3).sorted().toArray();
        System.out.printf(Locale.ROOT, "%-40s %6.1f [%5.1f .. %6.1f]%n", step, us[us.length / 2],
                us[us.length / 10], us[us.length * 9 / 10]);
    }
}
