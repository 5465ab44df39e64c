package dev.dataplane.block;

import dev.dataplane.aio.AioContext;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A backend that passes everything to a delegate; test backends extend it and intercept. Most
 * only need to see a read's or a write's completion: they override {@link #wrap}.
 */
public class ForwardingBackend implements BlockBackend {
    protected final BlockBackend delegate;

    public ForwardingBackend(BlockBackend delegate) {
        this.delegate = delegate;
    }

    @Override
    public long length() {
        return delegate.length();
    }

    @Override
    public boolean isReadOnly() {
        return delegate.isReadOnly();
    }

    @Override
    public AioContext context() {
        return delegate.context();
    }

    /**
     * What a read's or a write's completion goes through on its way to the device, called when the
     * request is submitted (in the submitter's thread); this one passes it on as it is.
     */
    protected Completion wrap(Completion done) {
        return done;
    }

    @Override
    public void readv(long offset, ByteBuffer[] buffers, Completion done) {
        delegate.readv(offset, buffers, wrap(done));
    }

    @Override
    public void writev(long offset, ByteBuffer[] buffers, Completion done) {
        delegate.writev(offset, buffers, wrap(done));
    }

    @Override
    public void flush(Completion done) {
        delegate.flush(done);
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
