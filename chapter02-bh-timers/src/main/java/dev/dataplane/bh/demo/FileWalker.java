package dev.dataplane.bh.demo;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * The walker thread's work: find the regular files under the demo's paths and hand them to the
 * loop in batches, each batch a oneshot bottom half ({@link FileHasher#handOver}).
 *
 * <p>Walking a directory tree is blocking I/O, so it has its own thread: the loop thread never
 * waits for a directory to be read. The walker shares nothing with the loop. A batch it has handed
 * over belongs to the loop from then on (the bottom half's scheduling publishes it), and the
 * walker starts a new list instead of touching the old one.
 *
 * <p>Symbolic links are not followed: a link inside a tree is counted as skipped, like any other
 * file that is not a regular file (a device, a FIFO). The roots themselves arrive resolved.
 */
final class FileWalker implements Runnable {

    private final List<Path> roots;
    private final int batchSize;
    private final long limit;           // files to find at most
    private final FileHasher hasher;

    // ---- the walker thread's own; handed over with each batch ----
    private List<Path> files = new ArrayList<>();
    private int skipped;
    private List<String> problems = new ArrayList<>();
    private int batches;
    private long found;
    private boolean done;               // the limit is reached, or the loop wants no more files

    FileWalker(List<Path> roots, int batchSize, long limit, FileHasher hasher) {
        this.roots = List.copyOf(roots);
        this.batchSize = batchSize;
        this.limit = limit;
        this.hasher = hasher;
    }

    @Override
    public void run() {
        try {
            for (Path root : roots) {
                if (done) {
                    break;
                }
                Files.walkFileTree(root, new Visitor());
            }
        } catch (IOException | RuntimeException e) {
            problems.add("walking stopped early: " + HashJob.describe(e));
        } finally {
            handOver(true); // always: the loop waits for the last batch to know the input is complete
        }
    }

    private final class Visitor extends SimpleFileVisitor<Path> {
        @Override
        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
            return done || !hasher.wantsFiles() ? FileVisitResult.TERMINATE : FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
            if (!attrs.isRegularFile()) {
                skipped++;
                return FileVisitResult.CONTINUE;
            }
            files.add(file);
            found++;
            if (files.size() == batchSize) {
                handOver(false);
            }
            done |= found == limit || !hasher.wantsFiles();
            return done ? FileVisitResult.TERMINATE : FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path file, IOException e) {
            problems.add(file + ": " + HashJob.describe(e)); // e.g. a directory we may not read
            return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path dir, IOException e) {
            if (e != null) {
                problems.add(dir + ": " + HashJob.describe(e)); // it failed while being listed
            }
            return FileVisitResult.CONTINUE;
        }
    }

    private void handOver(boolean last) {
        batches++;
        if (!hasher.handOver(new FileHasher.Batch(batches, files, skipped, problems, last))) {
            done = true;
        }
        files = new ArrayList<>();
        skipped = 0;
        problems = new ArrayList<>();
    }
}
