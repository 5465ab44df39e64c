package dev.dataplane.bh.demo;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One file's SHA-256, computed by {@link #hash()} with plain blocking reads: the work a demo
 * hands to a thread-pool worker so that its loop thread never reads a file. Chapter 2's hash demo
 * and chapter 3's hasher jobs both use it.
 *
 * <p>Not thread-safe by itself: the worker that calls {@link #hash()} writes the results, and a
 * completion callback reads them afterwards. The thread pool makes that hand-over safe: the worker
 * stores the request's DONE state with release semantics and the completion pass loads it with
 * acquire semantics before calling back.
 */
public final class HashJob {

    /** The digest algorithm, as the summaries name it. */
    public static final String ALGORITHM = "SHA-256";

    private final Path path;
    private String worker;
    private long bytes;
    private byte[] digest;

    /** A job for {@code path}; nothing is read until {@link #hash()}. */
    public HashJob(Path path) {
        this.path = path;
    }

    // tag::demo-hash-job[]
    /** The job itself, on a pool worker: plain blocking reads, which the loop thread never does. */
    public int hash() throws IOException {
        worker = Thread.currentThread().getName();
        MessageDigest sha = newDigest();
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = Files.newInputStream(path)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
                bytes += n;
            }
        }
        digest = sha.digest();
        return 0;
    }
    // end::demo-hash-job[]

    /** The file to hash. */
    public Path path() {
        return path;
    }

    /** The name of the thread that ran {@link #hash()}; null before it started. */
    public String worker() {
        return worker;
    }

    /** How many bytes {@link #hash()} has read. */
    public long bytes() {
        return bytes;
    }

    /** The digest in lower-case hex, as {@code sha256sum} prints it; null until {@link #hash()} returned. */
    public String hex() {
        return digest == null ? null : HexFormat.of().formatHex(digest);
    }

    /** A fresh {@value #ALGORITHM} digest. */
    public static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance(ALGORITHM);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(ALGORITHM + " is missing, but every Java platform must have it", e);
        }
    }

    /** A file error in a few words: what the user would need to know, not the exception's class. */
    public static String describe(Throwable e) {
        if (e instanceof NoSuchFileException) {
            return "no such file (did it vanish?)";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
