package dev.dataplane.iothread.demo;

import dev.dataplane.bh.demo.HashJob;
import dev.dataplane.iothread.AioWait;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.threadpool.ThreadPoolRequest;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.TimerListGroup;
import dev.dataplane.timer.TimerScale;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * A job that walks a directory tree for ever, one step at a time, and computes the SHA-256 of
 * every regular file in it. Each step (list one directory, or hash one file) is blocking I/O, so
 * it runs on a worker of the home context's thread pool; its completion runs in the IOThread,
 * records the result and arms a timer for the next step. At most one step is in flight, and the
 * pace timer keeps the job cheap: it is there to be watched, not to be fast.
 *
 * <p>When the walk is done the next round starts again at the root, so the job never ends.
 * Symbolic links are skipped (a link to a parent would make the walk endless within a round).
 */
final class HasherJob extends Job {

    static final String KIND = "hasher";

    private final Path root;
    private final long paceMs;

    // ---- home thread only (see Job) ----
    /** What is left of this round: directories to list and files to hash, depth first. */
    private final ArrayDeque<Entry> todo = new ArrayDeque<>();
    private AioTimer paceTimer;
    private long round;
    private long filesHashed;
    private long filesFailed;
    private long bytes;
    private String lastFile = "";
    private String lastHash = "";
    private String lastError;

    HasherJob(String name, Path root, long paceMs, AioWait aioWait, Consumer<String> live, long reportMs) {
        super(name, aioWait, live, reportMs);
        this.root = root;
        this.paceMs = paceMs;
    }

    @Override
    String kind() {
        return KIND;
    }

    @Override
    @IoCode
    void onAttach() {
        paceTimer = TimerListGroup.of(context()).newTimer(ClockType.REALTIME, TimerScale.MS, this::step);
        paceTimer.mod(nowMs()); // the next step at once, in this thread's next poll
    }

    @Override
    @IoCode
    void onDetach() {
        paceTimer.del();
        paceTimer = null;
    }

    @Override
    String summary() {
        return String.format("round %d, %d files hashed (%.1f MB), %d failed, last %s", round, filesHashed,
                bytes / 1e6, filesFailed, lastHash.isEmpty() ? "-" : lastHash.substring(0, 12) + " " + lastFile)
                + (lastError != null ? "; last error: " + lastError : "");
    }

    /** The pace timer: one step of the walk. Home thread. */
    @IoCode
    private void step() {
        if (!attached() || busy()) {
            return;
        }
        if (todo.isEmpty()) {
            round++;
            todo.add(new Entry(root, true));
        }
        Entry next = todo.removeFirst();
        if (next.directory()) {
            Listing listing = new Listing(next.path());
            submit("list", listing::list, (req, ret) -> listed(listing, req));
        } else {
            HashJob hashing = new HashJob(next.path());
            submit("sha256", hashing::hash, (req, ret) -> hashed(hashing, req));
        }
    }

    /** A directory has been listed on a worker. Home thread. */
    private void listed(Listing listing, ThreadPoolRequest req) {
        if (req.failure() != null) {
            failed(listing.dir, req.failure());
        } else {
            // Depth first, in name order: push the entries in reverse so the first comes out first.
            List<Entry> entries = listing.entries;
            for (int i = entries.size() - 1; i >= 0; i--) {
                todo.addFirst(entries.get(i));
            }
            note(name + " directories listed");
        }
        next();
    }

    /** A file has been hashed on a worker. Home thread. */
    private void hashed(HashJob hashing, ThreadPoolRequest req) {
        if (req.failure() != null) {
            failed(hashing.path(), req.failure());
        } else {
            filesHashed++;
            bytes += hashing.bytes();
            lastFile = root.relativize(hashing.path()).toString();
            lastHash = hashing.hex();
            note(name + " completions");
            note(hashing.worker(), name + " files hashed");
        }
        next();
    }

    private void failed(Path path, Throwable failure) {
        filesFailed++;
        lastError = path + ": " + HashJob.describe(failure);
        note(name + " failures");
    }

    /** Arms the pace timer for the next step, unless the job has been detached meanwhile. */
    private void next() {
        if (attached()) {
            paceTimer.mod(nowMs() + paceMs);
        }
    }

    /** A path of the walk, and whether it is a directory (the worker that listed it looked). */
    private record Entry(Path path, boolean directory) {
    }

    /**
     * One directory's listing, filled in on a worker and read in the home thread, which thus never
     * touches the file system itself.
     */
    private static final class Listing {
        final Path dir;
        List<Entry> entries = List.of();

        Listing(Path dir) {
            this.dir = dir;
        }

        /** On a worker: regular files and real directories, sorted; links and devices are left out. */
        int list() throws IOException {
            List<Entry> found = new ArrayList<>();
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
                for (Path p : stream) {
                    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        found.add(new Entry(p, true));
                    } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        found.add(new Entry(p, false));
                    }
                }
            }
            found.sort(Comparator.comparing(Entry::path));
            entries = found;
            return found.size();
        }
    }
}
