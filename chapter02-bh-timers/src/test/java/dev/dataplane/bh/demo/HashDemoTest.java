package dev.dataplane.bh.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.dataplane.bh.demo.FileHasher.Result;
import dev.dataplane.timer.Clocks;
import dev.dataplane.timer.ManualTimeSource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hash demo end to end on generated files: every hash, the summary's counts, which thread ran
 * what, the timers, a stop request from another thread, and the errors a user can make.
 */
class HashDemoTest {

    /** Bounds a broken demo; a healthy run over these small trees takes well under a second. */
    private static final Duration RUN_LIMIT = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    /** What one run printed, how it ended, what it did, and the thread its loop ran in. */
    record Run(int exitCode, String out, String err, Result result, String loopThread) {
        String[] errLines() {
            return err.isEmpty() ? new String[0] : err.split("\\R");
        }

        /** The lines the loop thread printed live (events and status lines). */
        List<String> loopLines() {
            return out.lines().filter(l -> l.startsWith("[" + loopThread + "] ")).toList();
        }
    }

    private static Run run(String... args) {
        return run(Clocks.system(), h -> { }, args);
    }

    private static Run run(Clocks clocks, Consumer<FileHasher> setUp, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        AtomicReference<FileHasher> hasher = new AtomicReference<>();
        AtomicReference<String> loopThread = new AtomicReference<>();
        HashDemo.Seams seams = new HashDemo.Seams(clocks, h -> {
            hasher.set(h);
            loopThread.set(Thread.currentThread().getName()); // the thread that will poll
            setUp.accept(h);
        });
        int code = assertTimeoutPreemptively(RUN_LIMIT, () -> HashDemo.run(args,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), seams));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                hasher.get() == null ? null : hasher.get().result(), loopThread.get());
    }

    // ------------------------------------------------------------------------------------
    // Generated trees, and their hashes computed here
    // ------------------------------------------------------------------------------------

    /**
     * {@code count} files under {@code tmp}, in three directories, with sizes around the
     * workers' 64 KiB read buffer and some empty ones; returns path -> SHA-256, as the demo keys them.
     */
    private SortedMap<String, String> makeTree(int count) throws IOException {
        int[] sizes = {0, 1, 100, 65_535, 65_536, 65_537, 200_003, 4_096};
        Random random = new Random(42);
        Path[] dirs = {tmp, Files.createDirectories(tmp.resolve("a")), Files.createDirectories(tmp.resolve("a/b"))};
        SortedMap<String, String> expected = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            byte[] content = new byte[sizes[i % sizes.length]];
            random.nextBytes(content);
            Path file = Files.write(dirs[i % dirs.length].resolve("file-" + i + ".bin"), content);
            expected.put(file.toRealPath().toString(), sha256(content));
        }
        return expected;
    }

    private static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** The demo's tree digest, recomputed independently: SHA-256 of sha256sum-style lines, sorted by path. */
    private static String treeDigest(SortedMap<String, String> hashes) {
        String lines = hashes.entrySet().stream().map(e -> e.getValue() + "  " + e.getKey() + "\n")
                .collect(Collectors.joining());
        return sha256(lines.getBytes(StandardCharsets.UTF_8));
    }

    private String dir() {
        return tmp.toString();
    }

    // ------------------------------------------------------------------------------------
    // Hashes and counts
    // ------------------------------------------------------------------------------------

    @Test
    void everyFileIsHashedAndEachHashMatchesMessageDigest() throws IOException {
        SortedMap<String, String> expected = makeTree(40);

        Run r = run("--quiet", "--workers", "3", dir());

        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEmpty();
        assertThat(r.result().hashes()).isEqualTo(expected);
        long totalBytes = expected.keySet().stream().mapToLong(p -> sizeOf(Path.of(p))).sum();
        assertThat(r.result().bytes()).isEqualTo(totalBytes);
        assertThat(r.out()).contains("40 hashed, 0 failed, 0 skipped")
                .contains("tree digest    " + treeDigest(expected))
                .doesNotContain("[" + r.loopThread() + "]"); // --quiet: no live lines
    }

    @Test
    void theTreeDigestIsTheSameForOneWorkerAndForFour() throws IOException {
        SortedMap<String, String> expected = makeTree(30);

        Run one = run("--quiet", "--workers", "1", dir());
        Run four = run("--quiet", "--workers", "4", dir());

        assertThat(one.result().treeDigest()).isEqualTo(four.result().treeDigest()).isEqualTo(treeDigest(expected));
        assertThat(one.result().pool().peakWorkers()).isEqualTo(1);
        assertThat(four.result().pool().peakWorkers()).isBetween(1, 4);
    }

    @Test
    void summaryListsTheFirstHashesInPathOrder() throws IOException {
        SortedMap<String, String> expected = makeTree(10);

        Run r = run("--quiet", dir());

        List<String> firstThree = expected.entrySet().stream().limit(HashDemo.FIRST_HASHES)
                .map(e -> e.getValue() + "  " + e.getKey()).toList();
        assertThat(r.out()).contains("first hashes   " + firstThree.get(0));
        firstThree.forEach(line -> assertThat(r.out()).contains(line));
        assertThat(r.out()).doesNotContain(expected.get(expected.lastKey()));
    }

    @Test
    void symbolicLinksInATreeAreSkippedAndCounted() throws IOException {
        SortedMap<String, String> expected = makeTree(5);
        Files.createSymbolicLink(tmp.resolve("link-to-first"), Path.of(expected.firstKey()));

        Run r = run("--quiet", dir());

        assertThat(r.exitCode()).isZero();
        assertThat(r.result().hashes()).isEqualTo(expected);
        assertThat(r.result().skipped()).isEqualTo(1);
        assertThat(r.out()).contains("5 hashed, 0 failed, 1 skipped (not regular files)");
    }

    @Test
    void limitHashesOnlyTheFirstNFilesTheWalkerFinds() throws IOException {
        SortedMap<String, String> all = makeTree(20);

        Run r = run("--quiet", "--limit", "7", dir());

        assertThat(r.exitCode()).isZero();
        assertThat(r.result().hashed()).isEqualTo(7);
        assertThat(all.entrySet()).containsAll(r.result().hashes().entrySet());
        assertThat(r.out()).contains("7 hashed, 0 failed");
    }

    @Test
    void aFileGivenDirectlyIsHashedAndTheSameRootTwiceOnlyOnce() throws IOException {
        SortedMap<String, String> expected = makeTree(3);
        String file = expected.firstKey();

        Run r = run("--quiet", file, file);

        assertThat(r.exitCode()).isZero();
        assertThat(r.result().hashed()).isEqualTo(1);
        assertThat(r.result().hashes()).containsExactly(Map.entry(file, expected.get(file)));
    }

    @Test
    void anEmptyDirectoryIsNoErrorJustNoFiles() throws IOException {
        Path empty = Files.createDirectory(tmp.resolve("empty"));

        Run r = run("--quiet", empty.toString());

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("0 hashed, 0 failed, 0 skipped");
    }

    @Test
    void withoutPathsTheDemoHashesTheJdkThatRunsIt() {
        Run r = run("--quiet", "--limit", "3");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains(realJavaHome() + " (the JDK running this demo)").contains("3 hashed, 0 failed");
        assertThat(r.result().hashes().keySet()).allSatisfy(p -> assertThat(p).startsWith(realJavaHome()));
    }

    private static String realJavaHome() {
        try {
            return Path.of(System.getProperty("java.home")).toRealPath().toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ------------------------------------------------------------------------------------
    // Which thread did what
    // ------------------------------------------------------------------------------------

    @Test
    void completionsRunInTheLoopThreadAndOnlyPoolWorkersReadTheFiles() throws IOException {
        makeTree(24);

        Run r = run("--quiet", "--workers", "3", dir());
        Result result = r.result();
        String loop = r.loopThread();

        assertThat(result.loopThread()).isEqualTo(loop);
        assertThat(result.count(loop, FileHasher.COMPLETIONS)).isEqualTo(24);
        assertThat(result.count(loop, FileHasher.FILES_HASHED)).as("the loop hashes nothing itself").isZero();
        Map<String, Map<String, Integer>> others = new TreeMap<>(result.activity());
        others.remove(loop);
        assertThat(others.values()).noneMatch(what -> what.containsKey(FileHasher.COMPLETIONS));

        Map<String, Integer> perWorker = others.entrySet().stream()
                .filter(e -> e.getValue().containsKey(FileHasher.FILES_HASHED))
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get(FileHasher.FILES_HASHED)));
        assertThat(perWorker.keySet()).allSatisfy(t -> assertThat(t).startsWith(HashDemo.NAME + "/pool-worker-"));
        assertThat(perWorker.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(24);
        assertThat(perWorker).hasSizeBetween(1, 3);
        // Every line of the "threads" table names a real thread and what it did.
        perWorker.forEach((worker, n) -> assertThat(r.out()).containsPattern(
                Pattern.quote(worker) + " +files hashed " + n));
    }

    @Test
    void theWalkerHandsEveryBatchOverAsAOneshotThatRunsInTheLoopThread() throws IOException {
        makeTree(20);

        Run r = run("--quiet", "--batch", "3", dir()); // 20 files: 6 full batches and a last one of 2
        Result result = r.result();

        assertThat(result.hashed()).isEqualTo(20);
        assertThat(result.batches()).isEqualTo(7);
        assertThat(result.count("hash-walker", FileHasher.BATCHES_SENT)).isEqualTo(7);
        assertThat(result.count(r.loopThread(), FileHasher.BATCHES_TAKEN)).isEqualTo(7);
        assertThat(result.oneshots()).isEqualTo(7);
    }

    @Test
    void liveOutputNamesTheSenderOfEachBatchAndUsesPlainLinesOutsideATerminal() throws IOException {
        makeTree(6);

        Run r = run("--batch", "2", dir());

        assertThat(r.exitCode()).isZero();
        assertThat(r.loopLines().stream().filter(l -> l.contains(" from hash-walker: 2 files"))).hasSize(3);
        assertThat(r.loopLines()).anyMatch(l -> l.contains("the last (oneshot bottom half"));
        assertThat(r.out()).doesNotContain("\r"); // not a terminal: no redrawing
    }

    // ------------------------------------------------------------------------------------
    // Timers, on a manual clock: the test decides when time passes
    // ------------------------------------------------------------------------------------

    @Test
    void periodicTimersPrintStatusLinesAndTicksInTheLoopThread() throws IOException {
        makeTree(10);
        ManualTimeSource time = new ManualTimeSource();
        // Each completion lets 100 ms pass; the timers run after the bottom halves of that poll.
        Run r = run(Clocks.using(time), h -> h.afterCompletion = () -> time.advance(Duration.ofMillis(100)),
                "--status-ms", "100", "--tick-ms", "200", "--workers", "1", dir());
        Result result = r.result();
        String loop = r.loopThread();

        assertThat(r.exitCode()).isZero();
        // Periodic: each timer ran more than once (10 files x 100 ms of manual time).
        assertThat(result.count(loop, FileHasher.STATUS_RUNS)).isGreaterThanOrEqualTo(2);
        assertThat(result.count(loop, FileHasher.TICK_RUNS)).isGreaterThanOrEqualTo(2);
        assertThat(result.timerRuns())
                .isEqualTo(result.count(loop, FileHasher.STATUS_RUNS) + result.count(loop, FileHasher.TICK_RUNS));
        assertThat(result.elapsedNs()).isEqualTo(Duration.ofSeconds(1).toNanos()); // 10 files x 100 ms, manual time
        // Time moves in steps of 100 ms, so a tick is late by a whole number of steps (usually none).
        String me = Pattern.quote("[" + loop + "]");
        assertThat(r.loopLines()).anyMatch(l -> l.matches(
                me + " tick 1 at 0\\.[2-9] s \\((0|\\d00)\\.0 ms late\\): \\d+ bottom-half runs since the last tick"));
        assertThat(r.loopLines()).anyMatch(l -> l.matches(me + " +\\d+\\.\\d s  files \\d+ done, .*"));
        // The last status line is printed when the loop ends: everything done.
        assertThat(r.loopLines().get(r.loopLines().size() - 1))
                .contains("files 10 done, 0 in pool, 0 queued").contains("workers 1 (peak 1)");
    }

    @Test
    void quietRunsNoStatusTimerButStillTicks() throws IOException {
        makeTree(4);
        ManualTimeSource time = new ManualTimeSource();

        Run r = run(Clocks.using(time), h -> h.afterCompletion = () -> time.advance(Duration.ofMillis(100)),
                "--quiet", "--tick-ms", "100", "--workers", "1", dir());

        assertThat(r.result().count(r.loopThread(), FileHasher.STATUS_RUNS)).isZero();
        assertThat(r.result().count(r.loopThread(), FileHasher.TICK_RUNS)).isPositive();
        assertThat(r.loopLines()).isEmpty();
    }

    // ------------------------------------------------------------------------------------
    // Failures at run time, and stopping early
    // ------------------------------------------------------------------------------------

    @Test
    void aFileThatVanishesBeforeItsTurnIsReportedInTheSummaryAndTheRunExitsOne() throws IOException {
        makeTree(10);
        AtomicReference<Path> vanished = new AtomicReference<>();
        // One batch of all ten, one worker: at the first completion most files still wait in the
        // loop's queue, so deleting the last of them makes its worker fail to open it.
        Run r = run(Clocks.system(), h -> h.afterCompletion = () -> {
            if (vanished.get() == null) {
                Path victim = h.queuedFiles().get(h.queuedFiles().size() - 1);
                vanished.set(victim);
                deleteQuietly(victim);
            }
        }, "--quiet", "--workers", "1", "--batch", "100", dir());

        assertThat(r.exitCode()).isEqualTo(HashDemo.EXIT_FAILURE);
        assertThat(r.result().hashed()).isEqualTo(9);
        assertThat(r.result().failed()).isEqualTo(1);
        assertThat(r.result().hashes()).doesNotContainKey(vanished.get().toString());
        assertThat(r.out()).contains("9 hashed, 1 failed")
                .contains("first error    " + vanished.get() + ": no such file (did it vanish?)");
        assertThat(r.errLines()).singleElement().asString()
                .isEqualTo("hash-demo: 1 of 10 files could not be hashed; first: " + vanished.get()
                        + ": no such file (did it vanish?)");
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aStopRequestFromAnotherThreadEndsTheRunWithTheSummarySoFar() throws IOException {
        makeTree(60);
        AtomicInteger completions = new AtomicInteger();
        // At the third completion another thread asks to stop, as the Ctrl-C hook does; joining
        // it here guarantees the oneshot is scheduled before the loop goes on.
        Run r = run(Clocks.system(), h -> h.afterCompletion = () -> {
            if (completions.incrementAndGet() == 3) {
                Thread stopper = new Thread(h::requestStop, "test-ctrl-c");
                stopper.start();
                joinQuietly(stopper);
            }
        }, "--workers", "1", "--batch", "100", dir());
        Result result = r.result();

        assertThat(r.exitCode()).isZero();
        assertThat(result.stoppedBy()).isEqualTo("test-ctrl-c");
        assertThat(result.count("test-ctrl-c", FileHasher.STOPS_SENT)).isEqualTo(1);
        assertThat(result.count(r.loopThread(), FileHasher.STOPS_TAKEN)).isEqualTo(1);
        // Files already in the pool finish; the queued ones are dropped. (A worker could finish a
        // few more before the stop's bottom half runs, but not all 57 that were left.)
        assertThat(result.hashed()).isGreaterThanOrEqualTo(3);
        assertThat(result.notHashed()).isPositive();
        assertThat(result.hashed() + result.notHashed()).isEqualTo(60);
        assertThat(r.out()).contains("stopped        by test-ctrl-c")
                .contains(result.notHashed() + " not hashed")
                .contains("stop requested by test-ctrl-c");
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aStopRequestAfterTheRunHasEndedIsHarmless() throws IOException {
        makeTree(3);
        AtomicReference<FileHasher> hasher = new AtomicReference<>();

        Run r = run(Clocks.system(), hasher::set, "--quiet", dir());
        hasher.get().requestStop(); // the Ctrl-C hook may fire this late; the gate is shut

        assertThat(r.exitCode()).isZero();
        assertThat(r.result().stopped()).isFalse();
    }

    @Test
    void runsLeaveNoWalkerOrWorkerThreadBehind() throws IOException {
        makeTree(12);

        Run r = run("--quiet", "--workers", "4", dir());

        assertThat(r.exitCode()).isZero();
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("hash-walker")
                || t.getName().startsWith(HashDemo.NAME + "/pool-worker-"));
    }

    // ------------------------------------------------------------------------------------
    // Bad input: one line, exit status 2, no stack trace
    // ------------------------------------------------------------------------------------

    @Test
    void aMissingPathIsAUsageErrorOnOneLineThatNamesIt() {
        String missing = tmp.resolve("no-such-dir").toString();

        Run r = run(missing);

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString()
                .isEqualTo("hash-demo: " + missing + ": no such file or directory; check the path, "
                        + "or give none to hash the JDK");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void anUnreadableFileIsAUsageError() throws IOException {
        Path secret = Files.writeString(tmp.resolve("secret"), "x");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("---------"));
        assumeFalse(Files.isReadable(secret), "running as root: every file is readable");

        Run r = run(secret.toString());

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString().contains(secret.toString()).contains("permission denied");
    }

    @Test
    void aDeviceIsRefusedBecauseReadingItMightNeverEnd() {
        Run r = run("/dev/zero");

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString()
                .startsWith("hash-demo: /dev/zero: not a regular file or directory");
    }

    @Test
    void anUnknownOptionIsAUsageError() {
        Run r = run("--bogus");

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString().startsWith("hash-demo: ").contains("--bogus")
                .contains("--help");
    }

    @Test
    void workersOutOfRangeSaysWhichValuesAreValid() {
        Run r = run("--workers", "0", dir());

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString().contains("--workers 0").contains("1 to 64");
    }

    @Test
    void aNonNumericLimitIsAUsageError() {
        Run r = run("--limit", "lots", dir());

        assertUsageError(r);
        assertThat(r.errLines()).singleElement().asString().contains("--limit").contains("lots");
    }

    @Test
    void debugAddsTheStackTraceToTheOneLineMessage() {
        Run r = run("--debug", tmp.resolve("nowhere").toString());

        assertThat(r.exitCode()).isEqualTo(HashDemo.EXIT_USAGE);
        assertThat(r.err()).contains("DemoFailure").contains("\tat ").contains("hash-demo: ");
    }

    private static void assertUsageError(Run r) {
        assertThat(r.exitCode()).isEqualTo(HashDemo.EXIT_USAGE);
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
    }

    @Test
    void helpAndVersionExitZero() {
        Run help = run("--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("--workers").contains("--status-ms").contains("--limit").contains("--quiet")
                .contains("PATH");

        Run version = run("--version");
        assertThat(version.exitCode()).isZero();
        assertThat(version.out()).startsWith("hash-demo ");
    }

    // ------------------------------------------------------------------------------------
    // The live line itself
    // ------------------------------------------------------------------------------------

    @Test
    void onATerminalTheStatusLineIsRedrawnInPlaceAndEventsScrollAboveIt() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        LiveLine live = new LiveLine(new PrintStream(bytes, true, StandardCharsets.UTF_8), true);

        live.status("status one");
        live.status("two");
        live.event("an event");
        live.finish();

        assertThat(bytes.toString(StandardCharsets.UTF_8)).isEqualTo(
                "\rstatus one" + "\rtwo       "           // shorter text: spaces cover the rest
                        + "\r   \r" + "an event" + System.lineSeparator() + "two" // wipe, event, redraw
                        + System.lineSeparator());
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
