package dev.dataplane.pc;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Keeps the lines a guest prints on the serial port, each with the {@link System#nanoTime()} at
 * which its newline arrived, and lets another thread wait for a line. Tests use it to check what
 * the guest said; the benchmark uses the stamps of marker lines such as {@code @QD1 begin} and
 * {@code @QD1 end} to time the guest's workloads from the host.
 *
 * <p>Thread-safe: the serial port adds lines on vCPU threads, readers ask from any thread. Only
 * the newest {@code capacity} lines are kept, so an endlessly printing guest cannot exhaust the
 * host's memory.
 */
public final class SerialCapture implements Serial8250.LineListener {

    /** One line and when its newline reached the UART. */
    public record Line(String text, long nanoTime) {
    }

    private final int capacity;
    private final ArrayDeque<Line> lines = new ArrayDeque<>(); // guarded by this
    private long total; // guarded by this

    public SerialCapture() {
        this(65_536);
    }

    public SerialCapture(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.capacity = capacity;
    }

    @Override
    public synchronized void line(String text, long nanoTime) {
        if (lines.size() == capacity) {
            lines.removeFirst();
        }
        lines.addLast(new Line(text, nanoTime));
        total++;
        notifyAll();
    }

    /** The kept lines, oldest first. */
    public synchronized List<Line> lines() {
        return List.copyOf(lines);
    }

    /** The kept lines' text joined with newlines (each line ends with one). */
    public synchronized String text() {
        StringBuilder sb = new StringBuilder();
        for (Line l : lines) {
            sb.append(l.text()).append('\n');
        }
        return sb.toString();
    }

    /** Lines received in all, including those no longer kept. */
    public synchronized long total() {
        return total;
    }

    /** The first kept line matching {@code match}. */
    public synchronized Optional<Line> find(Predicate<String> match) {
        for (Line l : lines) {
            if (match.test(l.text())) {
                return Optional.of(l);
            }
        }
        return Optional.empty();
    }

    /**
     * Waits until a kept line matches {@code match} or {@code timeout} passes.
     *
     * @return the first matching line, or empty on timeout
     */
    public synchronized Optional<Line> await(Predicate<String> match, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (;;) {
            Optional<Line> found = find(match);
            long left = deadline - System.nanoTime();
            if (found.isPresent() || left <= 0) {
                return found;
            }
            long ms = Math.max(1, left / 1_000_000);
            wait(ms);
        }
    }
}
