package dev.dataplane.testsupport;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

/** Test helper: records some JFR events while a piece of code runs, for the trace-event tests of every chapter. */
public final class JfrEvents {

    /** The code to record; it may throw. */
    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    private JfrEvents() {
    }

    /**
     * Runs {@code body} with the events {@code names} enabled (no threshold) and returns the
     * events of those types that were recorded meanwhile, in file order.
     */
    public static List<RecordedEvent> record(Body body, String... names) throws Exception {
        Path file = Files.createTempFile("dataplane-trace", ".jfr");
        try (Recording recording = new Recording()) {
            for (String name : names) {
                recording.enable(name).withThreshold(Duration.ZERO);
            }
            recording.start();
            body.run();
            recording.stop();
            recording.dump(file);
            Set<String> wanted = Set.of(names);
            return RecordingFile.readAllEvents(file).stream()
                    .filter(e -> wanted.contains(e.getEventType().getName()))
                    .toList();
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
