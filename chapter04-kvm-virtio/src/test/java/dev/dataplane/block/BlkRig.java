package dev.dataplane.block;

import dev.dataplane.aio.EventNotifier;
import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.IoThread;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.pc.PciFunction;
import dev.dataplane.virtio.FakeGuestMemory;
import dev.dataplane.virtio.NotifyBinder;
import dev.dataplane.virtio.TestDriver;
import dev.dataplane.virtio.VirtioPciLegacy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * A virtio-blk device on the legacy transport, over fake guest memory and a raw image file, with
 * the calling test thread as the main loop (holding the BQL: it plays the vCPU too). The device
 * lives in the main loop or in an IOThread; kicks go through the notify register or through a
 * {@link FakeBinder} that plays KVM's ioeventfd.
 */
public final class BlkRig implements AutoCloseable {
    public final MainLoop main;
    public final IoThread io;
    public final FakeGuestMemory mem;
    public final Path image;
    public final BlockBackend backend;
    public final VirtioBlk blk;
    public final VirtioPciLegacy pci;
    public final TestDriver driver;
    public final Intx intx;
    public final FakeBinder binder;

    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    public static final class Builder {
        private final Path dir;
        private int ram = 1 << 20;
        private int sectors = 64;
        private boolean readOnlyImage;
        private VirtioBlk.Options options = VirtioBlk.Options.defaults();
        private boolean ioThread;
        private boolean ioeventfd;
        private UnaryOperator<BlockBackend> wrap = b -> b;
        private NotifyBinder notifyBinder;

        Builder(Path dir) {
            this.dir = dir;
        }

        public Builder ram(int bytes) {
            ram = bytes;
            return this;
        }

        public Builder sectors(int n) {
            sectors = n;
            return this;
        }

        public Builder readOnlyImage() {
            readOnlyImage = true;
            return this;
        }

        public Builder options(VirtioBlk.Options o) {
            options = o;
            return this;
        }

        public Builder onIoThread() {
            ioThread = true;
            return this;
        }

        public Builder ioeventfd() {
            ioeventfd = true;
            return this;
        }

        public Builder wrapBackend(UnaryOperator<BlockBackend> w) {
            wrap = w;
            return this;
        }

        /** A real binder (KVM's ioeventfd) instead of the fake one; {@link #binder} is then null. */
        public Builder notifyBinder(NotifyBinder b) {
            notifyBinder = b;
            return this;
        }

        public BlkRig build() {
            return new BlkRig(this);
        }
    }

    private BlkRig(Builder b) {
        main = MainLoop.create();
        IoThread started = null;
        BlockBackend opened = null;
        try {
            started = b.ioThread ? IoThread.start("iothread0") : null;
            mem = new FakeGuestMemory(b.ram);
            image = b.dir.resolve("disk.img");
            byte[] content = new byte[b.sectors * VirtioBlk.SECTOR_SIZE];
            for (int i = 0; i < content.length; i++) {
                content[i] = (byte) (i / VirtioBlk.SECTOR_SIZE + i); // each sector recognisable
            }
            Files.write(image, content);
            opened = b.wrap.apply(RawImage.open(image, b.readOnlyImage,
                    started != null ? started.context() : main.context()));
            backend = opened;
            blk = new VirtioBlk(mem, backend, b.options);
            binder = b.ioeventfd && b.notifyBinder == null ? new FakeBinder() : null;
            pci = new VirtioPciLegacy(blk, main.aioWait(), b.notifyBinder != null ? b.notifyBinder
                    : binder != null ? binder : NotifyBinder.NONE);
            intx = new Intx(main.bql());
            pci.connectIntx(intx);
            driver = new TestDriver(mem, pci.registers());
            io = started;
        } catch (IOException | RuntimeException e) {
            if (started != null) {
                started.stop();
            }
            main.close();
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
    }

    /** Polls (as the main loop) until {@code cond} is false. */
    public void waitWhile(BooleanSupplier cond) {
        main.aioWait().waitWhile(blk.context(), cond);
    }

    /** Waits until the used index reaches {@code n} or the device asks for a reset. */
    public void awaitUsed(int n) {
        waitWhile(() -> driver.usedIdx() < n && (pci.status() & VirtioPciLegacy.STATUS_NEEDS_RESET) == 0);
    }

    /** The guest writes the notify register: an ioeventfd catches it if one is bound, else it exits. */
    public void guestKick() {
        if (binder != null && binder.notifier(0) != null) {
            binder.notifier(0).set();
        } else {
            driver.kick();
        }
    }

    public boolean needsReset() {
        return (pci.status() & VirtioPciLegacy.STATUS_NEEDS_RESET) != 0;
    }

    public byte[] imageBytes() {
        try {
            return Files.readAllBytes(image);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            driver.setStatus(0); // stops the queues and waits for requests in flight
            if (io != null) {
                io.stop();
            }
            backend.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            main.close();
        }
    }

    /** The INTx line: its level, how often it was raised, and by which thread with or without the BQL. */
    public static final class Intx implements PciFunction.IntxLine {
        private final Bql bql;
        public volatile boolean level;
        public final AtomicInteger raises = new AtomicInteger();
        public final AtomicReference<Thread> lastRaiser = new AtomicReference<>();
        public final AtomicBoolean raisedWithBql = new AtomicBoolean();

        Intx(Bql bql) {
            this.bql = bql;
        }

        @Override
        public void set(boolean l) {
            level = l;
            if (l) {
                raises.incrementAndGet();
                lastRaiser.set(Thread.currentThread());
                if (bql.isHeld()) {
                    raisedWithBql.set(true);
                }
            }
        }
    }

    /** Plays KVM's ioeventfd: remembers which notifier is bound to which queue's notify write. */
    public static final class FakeBinder implements NotifyBinder {
        private final EventNotifier[] bound = new EventNotifier[8];
        public final List<String> log = new ArrayList<>();
        /** Runs inside Binding.close(), before the binding is gone (a kick racing with removal). */
        public volatile Runnable onUnbind = () -> { };

        @Override
        public Binding bind(int bar, long offset, int size, long value, EventNotifier notifier) {
            int q = (int) value;
            bound[q] = notifier;
            log.add("bind bar" + bar + "+" + offset + "/" + size + "=" + value);
            return () -> {
                onUnbind.run();
                bound[q] = null;
                log.add("unbind " + value);
            };
        }

        public synchronized EventNotifier notifier(int q) {
            return bound[q];
        }
    }
}
