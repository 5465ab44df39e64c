package dev.dataplane.vmm;

import dev.dataplane.pc.Serial8250;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Times the teaching guest's marker lines as they arrive on the serial port: {@code @NAME begin
 * n=N} and {@code @NAME end} bracket N iterations of one workload ({@code LOOP}, {@code QD1},
 * {@code QD16}). The host stamps each line when its newline is written, so a run's time is
 * measured on the host's clock, not the guest's (the guest has no reliable clock here).
 *
 * <p>Thread-safe: lines arrive on the vCPU thread, results are read by the main loop.
 */
public final class Markers implements Serial8250.LineListener {

    // The guest writes these lines, so they are untrusted: at most 18 digits, so that parsing the
    // count can never overflow a long (and throw on the vCPU thread); longer is not a marker.
    private static final Pattern BEGIN = Pattern.compile("@(\\w+) begin n=(\\d{1,18})");
    private static final Pattern END = Pattern.compile("@(\\w+) end");

    /** A begin line: the run's name and the iterations it announces. */
    public record Begin(String name, long n) {
        /** The begin marker {@code line} is, if it is one. The one place that knows the syntax. */
        public static Optional<Begin> parse(String line) {
            Matcher m = BEGIN.matcher(line);
            return m.matches() ? Optional.of(new Begin(m.group(1), Long.parseLong(m.group(2)))) : Optional.empty();
        }
    }

    /** The name of the run whose end marker {@code line} is, if it is one. */
    public static Optional<String> endOf(String line) {
        Matcher m = END.matcher(line);
        return m.matches() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** One timed workload: {@code n} iterations in {@code nanos}. */
    public record Run(String name, long n, long nanos) {
        /** Microseconds per iteration (request). */
        public double microsPerIteration() {
            return n == 0 ? 0 : nanos / 1000.0 / n;
        }
    }

    private final Serial8250.LineListener next;
    private final Map<String, long[]> open = new LinkedHashMap<>();
    private final Map<String, Run> runs = new LinkedHashMap<>();

    /** Times markers and passes every line on to {@code next}. */
    public Markers(Serial8250.LineListener next) {
        this.next = next;
    }

    @Override
    public synchronized void line(String line, long nanoTime) {
        Optional<Begin> begin = Begin.parse(line);
        if (begin.isPresent()) {
            open.put(begin.get().name(), new long[] {nanoTime, begin.get().n()});
        } else {
            endOf(line).ifPresent(name -> {
                long[] b = open.remove(name);
                if (b != null) {
                    runs.put(name, new Run(name, b[1], nanoTime - b[0]));
                }
            });
        }
        next.line(line, nanoTime);
    }

    /** The completed runs, in the order they ended. */
    public synchronized Map<String, Run> runs() {
        return new LinkedHashMap<>(runs);
    }
}
