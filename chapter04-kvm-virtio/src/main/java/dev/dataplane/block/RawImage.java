package dev.dataplane.block;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.threadpool.ThreadPool;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A raw disk image file (QEMU: the {@code raw} format over {@code file-posix}): byte {@code n} of
 * the disk is byte {@code n} of the file.
 *
 * <p>Every request is a blocking positional read, write or {@code fsync} run on the context's
 * chapter-2 {@link ThreadPool}; the pool completes it back in the context. The buffers are guest
 * memory, so {@link FileChannel#read(ByteBuffer, long)} copies from the page cache straight into
 * the guest: the zero-copy path.
 */
public final class RawImage implements BlockBackend {

    private final FileChannel channel;
    private final boolean readOnly;
    private final long length;
    private final AioContext ctx;

    private RawImage(FileChannel channel, boolean readOnly, long length, AioContext ctx) {
        this.channel = channel;
        this.readOnly = readOnly;
        this.length = length;
        this.ctx = ctx;
    }

    /**
     * Opens {@code path}, read-only or read-write; requests are issued and complete in {@code ctx}.
     * The size is taken once: the disk does not grow while the guest runs.
     */
    public static RawImage open(Path path, boolean readOnly, AioContext ctx) throws IOException {
        Objects.requireNonNull(ctx, "ctx");
        FileChannel ch = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            return new RawImage(ch, readOnly, ch.size(), ctx);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public AioContext context() {
        return ctx;
    }

    // tag::raw-readv[]
    @Override
    @IoCode
    public void readv(long offset, ByteBuffer[] buffers, Completion done) {
        ThreadPool.of(ctx).submit("raw-read", () -> preadv(offset, buffers), (req, ret) -> done.complete(ret));
    }

    /** On a worker: positional reads straight into the (guest-memory) buffers. */
    private int preadv(long offset, ByteBuffer[] buffers) throws IOException {
        long pos = offset;
        for (ByteBuffer b : buffers) {
            while (b.hasRemaining()) {
                int n = channel.read(b, pos);
                if (n < 0) {
                    return -Errno.EIO; // the file ended early: it shrank behind our back
                }
                pos += n;
            }
        }
        return 0;
    }
    // end::raw-readv[]

    @Override
    @IoCode
    public void writev(long offset, ByteBuffer[] buffers, Completion done) {
        if (readOnly) {
            ThreadPool.of(ctx).submit("raw-write", () -> -Errno.EACCES, (req, ret) -> done.complete(ret));
            return;
        }
        ThreadPool.of(ctx).submit("raw-write", () -> pwritev(offset, buffers), (req, ret) -> done.complete(ret));
    }

    private int pwritev(long offset, ByteBuffer[] buffers) throws IOException {
        long pos = offset;
        for (ByteBuffer b : buffers) {
            while (b.hasRemaining()) {
                pos += channel.write(b, pos);
            }
        }
        return 0;
    }

    @Override
    @IoCode
    public void flush(Completion done) {
        ThreadPool.of(ctx).submit("raw-flush", () -> {
            if (!readOnly) {
                channel.force(true); // data and metadata, like fsync(2)
            }
            return 0;
        }, (req, ret) -> done.complete(ret));
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "RawImage[" + length + " bytes" + (readOnly ? ", read-only" : "") + "]";
    }
}
