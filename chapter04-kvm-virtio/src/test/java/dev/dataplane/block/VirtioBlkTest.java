package dev.dataplane.block;

import static dev.dataplane.block.VirtioBlk.SECTOR_SIZE;
import static dev.dataplane.block.VirtioBlk.VIRTIO_BLK_S_IOERR;
import static dev.dataplane.block.VirtioBlk.VIRTIO_BLK_S_OK;
import static dev.dataplane.block.VirtioBlk.VIRTIO_BLK_S_UNSUPP;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.virtio.TestDriver;
import dev.dataplane.virtio.TestDriver.Buf;
import dev.dataplane.virtio.TestDriver.Req;
import dev.dataplane.virtio.VirtQueue;
import dev.dataplane.virtio.VirtioPciLegacy;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-blk's requests, through the legacy transport, with the device in the main loop and the
 * kick through the notify register (the synchronous path). 64 sectors of image; byte i of the
 * image is {@code i / 512 + i}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VirtioBlkTest {
    private static final long ALL = -1L;

    @TempDir
    Path dir;
    private BlkRig rig;

    private BlkRig rig(BlkRig.Builder b) {
        rig = b.build();
        rig.driver.init(ALL);
        return rig;
    }

    private BlkRig rig() {
        return rig(BlkRig.builder(dir));
    }

    @AfterEach
    void close() {
        if (rig != null) {
            rig.mem.assertNothingOutsideRamTouched("after the test");
            rig.close();
        }
    }

    private static byte[] imageSector(int sector, int count) {
        byte[] b = new byte[count * SECTOR_SIZE];
        for (int i = 0; i < b.length; i++) {
            int pos = sector * SECTOR_SIZE + i;
            b[i] = (byte) (pos / SECTOR_SIZE + pos);
        }
        return b;
    }

    private void run(int expectedUsed) {
        rig.driver.kick();
        rig.awaitUsed(expectedUsed);
    }

    @Test
    void readCopiesTheImageIntoGuestMemory() {
        rig();
        Req r = rig.driver.read(3, 2 * SECTOR_SIZE);
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(r.data()).isEqualTo(imageSector(3, 2));
        assertThat(rig.driver.ring().usedId(0)).isEqualTo(r.head);
        assertThat(rig.driver.ring().usedLen(0)).as("data and status byte written").isEqualTo(2 * SECTOR_SIZE + 1);
        assertThat(rig.intx.raises.get()).isPositive();
    }

    @Test
    void writeReachesTheImageFile() {
        rig();
        byte[] data = new byte[SECTOR_SIZE];
        Arrays.fill(data, (byte) 0x5A);
        Req r = rig.driver.write(10, data);
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(rig.driver.ring().usedLen(0)).isEqualTo(1);
        byte[] img = rig.imageBytes();
        assertThat(Arrays.copyOfRange(img, 10 * SECTOR_SIZE, 11 * SECTOR_SIZE)).isEqualTo(data);
        assertThat(Arrays.copyOfRange(img, 9 * SECTOR_SIZE, 10 * SECTOR_SIZE)).isEqualTo(imageSector(9, 1));
        assertThat(rig.blk.statistics().bytesWritten()).isEqualTo(SECTOR_SIZE);
    }

    @Test
    void flushCompletesOk() {
        rig();
        Req r = rig.driver.flush();
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    @Tag("ch04-get-id")
    void getIdAnswersTheSerialPaddedToTwentyBytes() {
        rig();
        Req r = rig.driver.getId(20);
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
        byte[] expected = Arrays.copyOf("dataplane-disk".getBytes(StandardCharsets.US_ASCII), 20);
        assertThat(r.data()).isEqualTo(expected);
        assertThat(rig.driver.ring().usedLen(0)).isEqualTo(21);
    }

    @Test
    @Tag("ch04-get-id")
    void getIdIntoAShorterBufferIsCutShort() {
        rig();
        Req r = rig.driver.getId(4);
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(new String(r.data(), StandardCharsets.US_ASCII)).isEqualTo("data");
    }

    @Test
    void anUnknownRequestTypeIsAnsweredUnsupported() {
        rig();
        Req r = rig.driver.request(0x1234, 0, 0, false, null);
        Req discard = rig.driver.request(11, 0, 0, false, null); // DISCARD: not offered
        run(2);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(discard.status()).isEqualTo(VIRTIO_BLK_S_UNSUPP);
        assertThat(rig.needsReset()).isFalse();
    }

    @Test
    void aDeviceModelThatThrowsGivesTheChainUpAndAsksForAResetInsteadOfWedgingTheReset() {
        rig(BlkRig.builder(dir).wrapBackend(b -> new ForwardingBackend(b) {
            @Override
            public void readv(long offset, ByteBuffer[] buffers, Completion done) {
                throw new IllegalStateException("a bug in the backend");
            }
        }));
        rig.driver.read(1, 512);
        run(1);
        assertThat(rig.needsReset()).isTrue();
        assertThat(rig.pci.lastError()).startsWith(VirtioBlk.INTERNAL_ERROR).contains("a bug in the backend");
        assertThat(rig.blk.queue(0).inFlight()).as("nothing left for a reset to wait for").isZero();
        rig.driver.init(ALL); // the reset completes, and the device works again (flush is not broken)
        Req r = rig.driver.flush();
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void theConfigSpaceDescribesTheDisk() {
        rig();
        long base = VirtioPciLegacy.REG_CONFIG;
        assertThat(rig.pci.registers().read(base, 4)).isEqualTo(64);         // capacity, low half
        assertThat(rig.pci.registers().read(base + 4, 4)).isZero();          // capacity, high half
        assertThat(rig.pci.registers().read(base + 12, 4)).isEqualTo(254);   // seg_max
        assertThat(rig.pci.registers().read(base + 20, 4)).isEqualTo(512);   // blk_size
        assertThat(rig.pci.registers().read(base + 24, 4)).as("past the config").isEqualTo(0xFFFFFFFFL);
        long f = rig.driver.hostFeatures();
        assertThat(f & (1L << VirtioBlk.VIRTIO_BLK_F_FLUSH)).isNotZero();
        assertThat(f & (1L << VirtioBlk.VIRTIO_BLK_F_BLK_SIZE)).isNotZero();
        assertThat(f & (1L << VirtioBlk.VIRTIO_BLK_F_SEG_MAX)).isNotZero();
        assertThat(f & (1L << VirtioBlk.VIRTIO_BLK_F_RO)).isZero();
    }

    // ---- read-only ----

    @Test
    void aReadOnlyDeviceOffersRoAndRefusesWritesButReads() {
        rig(BlkRig.builder(dir).options(VirtioBlk.Options.defaults().withReadOnly(true)));
        assertThat(rig.driver.hostFeatures() & (1L << VirtioBlk.VIRTIO_BLK_F_RO)).isNotZero();
        byte[] before = rig.imageBytes();
        Req w = rig.driver.write(0, new byte[SECTOR_SIZE]);
        Req r = rig.driver.read(0, SECTOR_SIZE);
        Req f = rig.driver.flush();
        run(3);
        assertThat(w.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(f.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(rig.imageBytes()).isEqualTo(before);
    }

    @Test
    void aReadOnlyImageMakesAReadOnlyDevice() {
        rig(BlkRig.builder(dir).readOnlyImage());
        assertThat(rig.blk.isReadOnly()).isTrue();
        Req w = rig.driver.write(1, new byte[SECTOR_SIZE]);
        run(1);
        assertThat(w.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    // ---- out of range, badly sized ----

    @Test
    void theLastSectorCanBeReadButNotTheOneAfterIt() {
        rig();
        Req last = rig.driver.read(63, SECTOR_SIZE);
        Req after = rig.driver.read(64, SECTOR_SIZE);
        Req across = rig.driver.read(63, 2 * SECTOR_SIZE);
        Req writeAfter = rig.driver.write(64, new byte[SECTOR_SIZE]);
        run(4);
        assertThat(last.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(after.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(across.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(writeAfter.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(rig.imageBytes()).hasSize(64 * SECTOR_SIZE);
    }

    @Test
    void sectorNumbersThatOverflowAreOutOfRange() {
        rig();
        Req huge = rig.driver.read(-1L, SECTOR_SIZE);              // 2^64 - 1
        Req wrap = rig.driver.read(Long.MAX_VALUE / 256, SECTOR_SIZE); // sector * 512 would overflow
        Req big = rig.driver.write(Long.MIN_VALUE, new byte[SECTOR_SIZE]);
        run(3);
        assertThat(huge.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(wrap.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(big.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    @Test
    void dataThatIsNotWholeSectorsIsAnIoError() {
        rig();
        Req r = rig.driver.read(0, 100);
        Req w = rig.driver.write(0, new byte[SECTOR_SIZE + 1]);
        run(2);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(w.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(rig.needsReset()).isFalse();
    }

    // ---- malformed requests the device can still answer ----

    @Test
    void aHeaderShorterThanSixteenBytesIsAnIoError() {
        rig();
        TestDriver d = rig.driver;
        long hdr = d.alloc(8);
        long st = d.alloc(1);
        Req r = d.custom(0, 0, new Buf(hdr, 8, false), new Buf(st, 1, true));
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(rig.needsReset()).isFalse();
    }

    @Test
    void aHeaderInADeviceWritableBufferIsAnIoError() {
        rig();
        TestDriver d = rig.driver;
        long hdr = d.alloc(16);
        long st = d.alloc(1);
        Req r = d.custom(0, 0, new Buf(hdr, 16, true), new Buf(st, 1, true));
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    @Test
    void aHeaderSplitOverSeveralBuffersIsGathered() {
        rig();
        TestDriver d = rig.driver;
        long a = d.alloc(16);
        d.header(a, VirtioBlk.VIRTIO_BLK_T_IN, 5);
        long b = d.alloc(16);
        d.mem.write(b, readBytes(d, a + 4, 12), 0, 12);
        long data = d.alloc(SECTOR_SIZE);
        long st = d.alloc(1);
        d.mem.writeByte(st, (byte) 0xFF);
        int head = d.chain(new Buf(a, 4, false), new Buf(b, 12, false), new Buf(data, SECTOR_SIZE, true),
                new Buf(st, 1, true));
        d.ring().makeAvailable(head);
        run(1);
        assertThat(d.mem.readByte(st)).isEqualTo((byte) VIRTIO_BLK_S_OK);
        assertThat(readBytes(d, data, SECTOR_SIZE)).isEqualTo(imageSector(5, 1));
    }

    @Test
    void aReadScatteredOverMoreBuffersThanTheDeviceFirstMakesRoomForLandsInOrder() {
        rig();
        TestDriver d = rig.driver;
        int pieces = 20; // the device starts with room for 16 views and grows
        long hdr = d.alloc(16);
        d.header(hdr, VirtioBlk.VIRTIO_BLK_T_IN, 2);
        List<Buf> bufs = new ArrayList<>();
        bufs.add(new Buf(hdr, 16, false));
        long[] data = new long[pieces];
        for (int i = 0; i < pieces; i++) {
            data[i] = d.alloc(SECTOR_SIZE);
            bufs.add(new Buf(data[i], SECTOR_SIZE, true));
        }
        long st = d.alloc(1);
        d.mem.writeByte(st, (byte) 0xFF);
        bufs.add(new Buf(st, 1, true));
        d.ring().makeAvailable(d.chain(bufs.toArray(new Buf[0])));
        run(1);
        assertThat(d.mem.readByte(st)).isEqualTo((byte) VIRTIO_BLK_S_OK);
        for (int i = 0; i < pieces; i++) {
            assertThat(readBytes(d, data[i], SECTOR_SIZE)).as("buffer %d", i).isEqualTo(imageSector(2 + i, 1));
        }
    }

    @Test
    void dataAndStatusMayShareABuffer() {
        rig();
        TestDriver d = rig.driver;
        long hdr = d.alloc(16);
        long buf = d.alloc(SECTOR_SIZE + 1);
        d.mem.writeByte(buf + SECTOR_SIZE, (byte) 0xFF);
        d.custom(VirtioBlk.VIRTIO_BLK_T_IN, 7, new Buf(hdr, 16, false), new Buf(buf, SECTOR_SIZE + 1, true));
        // custom() put the header into the first buffer already
        run(1);
        assertThat(d.mem.readByte(buf + SECTOR_SIZE)).isEqualTo((byte) VIRTIO_BLK_S_OK);
        assertThat(readBytes(d, buf, SECTOR_SIZE)).isEqualTo(imageSector(7, 1));
    }

    @Test
    void headerAndDataMayShareABufferForAWrite() {
        rig();
        TestDriver d = rig.driver;
        long buf = d.alloc(16 + SECTOR_SIZE);
        byte[] data = new byte[SECTOR_SIZE];
        Arrays.fill(data, (byte) 0x33);
        d.mem.write(buf + 16, data, 0, SECTOR_SIZE);
        long st = d.alloc(1);
        Req r = d.custom(VirtioBlk.VIRTIO_BLK_T_OUT, 2, new Buf(buf, 16 + SECTOR_SIZE, false), new Buf(st, 1, true));
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(Arrays.copyOfRange(rig.imageBytes(), 2 * SECTOR_SIZE, 3 * SECTOR_SIZE)).isEqualTo(data);
    }

    // ---- malformed requests the device cannot answer: NEEDS_RESET ----

    @Test
    void aRequestWithoutAStatusByteSetsNeedsReset() {
        rig();
        TestDriver d = rig.driver;
        long hdr = d.alloc(16);
        long data = d.alloc(SECTOR_SIZE);
        d.custom(VirtioBlk.VIRTIO_BLK_T_OUT, 0, new Buf(hdr, 16, false), new Buf(data, SECTOR_SIZE, false));
        d.kick();
        rig.waitWhile(() -> !rig.needsReset());
        assertThat(rig.pci.lastError()).contains("no device-writable byte");
        assertThat(rig.pci.peekIsr() & VirtioPciLegacy.ISR_CONFIG).isNotZero();
        assertThat(rig.blk.queue(0).inFlight()).isZero();
        assertThat(d.usedIdx()).isZero();
    }

    @Test
    void aZeroLengthStatusBufferSetsNeedsReset() {
        rig();
        TestDriver d = rig.driver;
        long hdr = d.alloc(16);
        long st = d.alloc(1);
        d.custom(VirtioBlk.VIRTIO_BLK_T_FLUSH, 0, new Buf(hdr, 16, false), new Buf(st, 0, true));
        d.kick();
        rig.waitWhile(() -> !rig.needsReset());
        assertThat(rig.pci.lastError()).contains("zero-length");
    }

    @Test
    void aMalformedChainSetsNeedsResetAndNothingMoreIsServedUntilReset() {
        rig();
        TestDriver d = rig.driver;
        d.ring().desc(0, 0x20000, 16, VirtQueue.VRING_DESC_F_NEXT, 0); // loop
        d.ring().makeAvailable(0);
        d.kick();
        rig.waitWhile(() -> !rig.needsReset());
        assertThat(rig.pci.lastError()).contains("loops");
        Req later = d.flush();
        d.kick();
        assertThat(later.status()).as("a broken device serves nothing").isEqualTo(0xFF);
        // After a reset the device works again.
        d.init(ALL);
        assertThat(rig.needsReset()).isFalse();
        Req r = d.read(0, SECTOR_SIZE);
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void anAvailableIndexRunawaySetsNeedsReset() {
        rig();
        rig.driver.ring().setAvailIdx(1000);
        rig.driver.kick();
        rig.waitWhile(() -> !rig.needsReset());
        assertThat(rig.pci.lastError()).contains("ahead");
    }

    @Test
    void aDataBufferOutsideRamSetsNeedsReset() {
        rig();
        TestDriver d = rig.driver;
        long hdr = d.alloc(16);
        long st = d.alloc(1);
        d.custom(VirtioBlk.VIRTIO_BLK_T_IN, 0, new Buf(hdr, 16, false), new Buf(d.mem.size() - 256, SECTOR_SIZE, true),
                new Buf(st, 1, true));
        d.kick();
        rig.waitWhile(() -> !rig.needsReset());
        assertThat(rig.pci.lastError()).contains("outside guest RAM");
    }

    // ---- several requests in flight ----

    @Test
    void sixteenRequestsAreInFlightAtOnceAndAllComplete() {
        CountingBackend[] counting = new CountingBackend[1];
        rig(BlkRig.builder(dir).wrapBackend(b -> counting[0] = new CountingBackend(b)));
        List<Req> reqs = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            if (i % 2 == 0) {
                reqs.add(rig.driver.read(i, SECTOR_SIZE));
            } else {
                byte[] data = new byte[SECTOR_SIZE];
                Arrays.fill(data, (byte) i);
                reqs.add(rig.driver.write(32 + i, data));
            }
        }
        run(16);
        // The kick submitted all sixteen before the main loop could complete any of them.
        assertThat(counting[0].maxOutstanding).isEqualTo(16);
        for (int i = 0; i < 16; i++) {
            assertThat(reqs.get(i).status()).as("request %d", i).isEqualTo(VIRTIO_BLK_S_OK);
        }
        assertThat(reqs.get(4).data()).isEqualTo(imageSector(4, 1));
        byte[] img = rig.imageBytes();
        assertThat(img[(32 + 5) * SECTOR_SIZE]).isEqualTo((byte) 5);
        assertThat(rig.blk.statistics().requests()).isEqualTo(16);
    }

    @Test
    void afterEmptyingTheQueueTheDeviceAsksForKicksAgain() {
        rig(BlkRig.builder(dir).options(VirtioBlk.Options.defaults().withRingFeatures(false, false)));
        rig.driver.read(0, SECTOR_SIZE);
        run(1);
        assertThat(rig.driver.ring().usedFlags()).as("VRING_USED_F_NO_NOTIFY cleared").isZero();
        Req second = rig.driver.read(1, SECTOR_SIZE);
        run(2);
        assertThat(second.status()).isEqualTo(VIRTIO_BLK_S_OK);
    }

    @Test
    void withEventIdxTheDeviceAsksForTheKickOfTheNextEntry() {
        rig();
        rig.driver.read(0, SECTOR_SIZE);
        rig.driver.read(1, SECTOR_SIZE);
        run(2);
        assertThat(rig.driver.ring().availEvent()).isEqualTo(2);
    }

    @Test
    void noInterruptIsRaisedWhenTheDriverSuppressesThem() {
        rig(BlkRig.builder(dir).options(VirtioBlk.Options.defaults().withRingFeatures(false, false)));
        rig.driver.ring().setAvailFlags(VirtQueue.VRING_AVAIL_F_NO_INTERRUPT);
        Req r = rig.driver.read(0, SECTOR_SIZE);
        run(1);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_OK);
        assertThat(rig.intx.raises.get()).isZero();
        assertThat(rig.pci.peekIsr()).isZero();
        rig.driver.ring().setAvailFlags(0);
        rig.driver.read(1, SECTOR_SIZE);
        run(2);
        assertThat(rig.intx.raises.get()).isEqualTo(1);
    }

    @Test
    void aBackendErrorIsAnIoError() {
        rig(BlkRig.builder(dir).wrapBackend(FailingBackend::new));
        Req r = rig.driver.read(0, SECTOR_SIZE);
        Req w = rig.driver.write(0, new byte[SECTOR_SIZE]);
        Req f = rig.driver.flush();
        run(3);
        assertThat(r.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(w.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
        assertThat(f.status()).isEqualTo(VIRTIO_BLK_S_IOERR);
    }

    private static byte[] readBytes(TestDriver d, long addr, int n) {
        byte[] b = new byte[n];
        d.mem.read(addr, b, 0, n);
        return b;
    }

    /** Counts requests submitted and not completed. */
    static final class CountingBackend extends ForwardingBackend {
        int outstanding;
        int maxOutstanding;

        CountingBackend(BlockBackend b) {
            super(b);
        }

        @Override
        protected Completion wrap(Completion done) {
            outstanding++;
            maxOutstanding = Math.max(maxOutstanding, outstanding);
            return ret -> {
                outstanding--;
                done.complete(ret);
            };
        }
    }

    /** Every request fails with -EIO, after a real round trip through the delegate. */
    static final class FailingBackend extends ForwardingBackend {
        FailingBackend(BlockBackend b) {
            super(b);
        }

        @Override
        public void readv(long offset, ByteBuffer[] buffers, Completion done) {
            delegate.flush(ret -> done.complete(-5));
        }

        @Override
        public void writev(long offset, ByteBuffer[] buffers, Completion done) {
            delegate.flush(ret -> done.complete(-5));
        }

        @Override
        public void flush(Completion done) {
            delegate.flush(ret -> done.complete(-5));
        }
    }
}
