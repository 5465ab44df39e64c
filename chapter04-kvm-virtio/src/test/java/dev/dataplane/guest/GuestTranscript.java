package dev.dataplane.guest;

import dev.dataplane.vmm.Markers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The guest's serial output, line by line, with the time each line started and ended, and the
 * timed runs its markers delimit.
 *
 * <p>Implementation notes: a timed run lasts from the end of its begin line
 * ({@code "@QD1 begin n=1000"}) to the first byte of its end line ({@code "@QD1 end"}): the guest
 * starts its work right after printing the newline and prints the end line right after the last
 * request, so neither line's own printing (two VM exits per character) is counted. The stream is
 * read byte by byte for that reason; the host side reads through a buffer, so a byte is
 * timestamped when the reader sees it, which on a loaded machine may be a little late for both
 * markers alike.
 */
public final class GuestTranscript {

    /** One line of output, without its line end; times from the supplied clock, in nanoseconds. */
    public record Line(String text, long startNanos, long endNanos) {
    }

    /** One timed run: its name ("QD1"), the requests the guest announced, and its duration. */
    public record TimedRun(String name, int requests, long nanos) {

        /** Wall time per request (or per loop iteration), in microseconds. */
        public double microsPerRequest() {
            return nanos / 1000.0 / requests;
        }
    }

    private final List<Line> lines;

    public GuestTranscript(List<Line> lines) {
        this.lines = List.copyOf(lines);
    }

    /** Reads {@code in} to its end, timestamping with {@link System#nanoTime()}. */
    public static GuestTranscript read(InputStream in) throws IOException {
        return read(in, System::nanoTime);
    }

    /** Reads {@code in} to its end; "\r" is dropped, "\n" ends a line, a last unfinished line is kept. */
    public static GuestTranscript read(InputStream in, LongSupplier clock) throws IOException {
        List<Line> lines = new ArrayList<>();
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        long start = -1;
        int b;
        while ((b = in.read()) >= 0) {
            if (start < 0) {
                start = clock.getAsLong();
            }
            if (b == '\n') {
                lines.add(new Line(text.toString(StandardCharsets.UTF_8), start, clock.getAsLong()));
                text.reset();
                start = -1;
            } else if (b != '\r') {
                text.write(b);
            }
        }
        if (start >= 0) {
            lines.add(new Line(text.toString(StandardCharsets.UTF_8), start, clock.getAsLong()));
        }
        return new GuestTranscript(lines);
    }

    public List<Line> lines() {
        return lines;
    }

    /** The lines' text only. */
    public List<String> texts() {
        return lines.stream().map(Line::text).toList();
    }

    /** Every run that has both its begin and its end line, in the order they ended. */
    public Map<String, TimedRun> runs() {
        Map<String, TimedRun> runs = new LinkedHashMap<>();
        Map<String, Line> begins = new LinkedHashMap<>();
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (Line line : lines) {
            Optional<Markers.Begin> begin = Markers.Begin.parse(line.text());
            Optional<String> end = Markers.endOf(line.text());
            if (begin.isPresent()) {
                begins.put(begin.get().name(), line);
                counts.put(begin.get().name(), Math.toIntExact(begin.get().n()));
            } else if (end.isPresent() && begins.containsKey(end.get())) {
                String name = end.get();
                long nanos = line.startNanos() - begins.get(name).endNanos();
                runs.put(name, new TimedRun(name, counts.get(name), nanos));
            }
        }
        return runs;
    }

    /** The run called {@code name}, if both its markers were printed. */
    public Optional<TimedRun> run(String name) {
        return Optional.ofNullable(runs().get(name));
    }

    @Override
    public String toString() {
        return String.join("\n", texts());
    }
}
