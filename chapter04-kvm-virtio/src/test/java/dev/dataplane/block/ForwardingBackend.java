package dev.dataplane.block;

import dev.dataplane.aio.AioContext;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A backend that passes everything to a delegate; test backends extend it and intercept. */
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

    @Override
    public void readv(long offset, ByteBuffer[] buffers, Completion done) {
        delegate.readv(offset, buffers, done);
    }

    @Override
    public void writev(long offset, ByteBuffer[] buffers, Completion done) {
        delegate.writev(offset, buffers, done);
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
