package dev.dataplane.block;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.rules.IoCode;
import java.nio.ByteBuffer;

/**
 * The storage behind a block device (QEMU: {@code BlockBackend}, {@code blk_aio_preadv} and
 * friends). Requests are asynchronous: they are issued in the backend's {@link #context()} and
 * complete there, with 0 on success or a negative errno.
 *
 * <p>The buffers are views of guest memory ({@code GuestMemory.slice}); the backend reads and
 * writes them in place, so data never passes through a host buffer.
 */
public interface BlockBackend extends AutoCloseable {

    /** Size in bytes. */
    long length();

    boolean isReadOnly();

    /** Where requests are issued and complete. */
    AioContext context();

    /** Reads {@code offset..} into the buffers, in order. */
    @IoCode
    void readv(long offset, ByteBuffer[] buffers, Completion done);

    /** Writes the buffers, in order, at {@code offset}. */
    @IoCode
    void writev(long offset, ByteBuffer[] buffers, Completion done);

    /** Makes everything written so far stable (QEMU: {@code blk_aio_flush}). */
    @IoCode
    void flush(Completion done);

    @Override
    void close() throws java.io.IOException;

    /** Called once per request, in {@link #context()}'s home thread. */
    @FunctionalInterface
    interface Completion {
        /** @param ret 0 on success, a negative errno on failure */
        void complete(int ret);
    }
}
