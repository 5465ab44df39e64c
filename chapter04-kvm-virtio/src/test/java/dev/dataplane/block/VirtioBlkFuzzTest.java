package dev.dataplane.block;

import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_INDIRECT;
import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_NEXT;
import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.virtio.GuestRing;
import dev.dataplane.virtio.VirtQueue;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Thousands of random descriptor tables and available rings, from fixed seeds, thrown at the
 * device through the legacy transport. Whatever the guest writes, the device must never throw,
 * never touch memory outside guest RAM (the canaries around it stay intact and the memory never
 * had to refuse an access), and every chain it took must end with a used element, unless the
 * device set NEEDS_RESET.
 *
 * <p>Layout: a 16-entry ring at 0x1000 (used ring at 0x2000), buffers only in
 * {@code [0x4000, RAM)} or outside RAM altogether, so that what the device writes never lands on
 * the rings and the expected used count stays knowable.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VirtioBlkFuzzTest {
    private static final int RAM = 128 * 1024;
    private static final int QSIZE = 16;
    private static final long DATA = 0x4000;
    private static final int ITERATIONS = 1000;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 42, 0x5EED_DA7AL})
    void randomRingsEndInStatusesOrNeedsResetAndNeverHurtTheHost(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int completedIterations = 0;
        int brokenIterations = 0;
        long requests;
        long servedChains = 0;
        try (BlkRig rig = BlkRig.builder(dir).ram(RAM)
                .options(VirtioBlk.Options.defaults().withQueueSize(QSIZE)).build()) {
            byte[] noise = new byte[RAM - (int) DATA];
            for (int it = 0; it < ITERATIONS; it++) {
                rig.driver.init(rnd.nextLong()); // random feature choice (indirect, event idx, ...)
                GuestRing ring = rig.driver.ring();
                rnd.nextBytes(noise);
                rig.mem.write(DATA, noise, 0, noise.length);
                boolean plausible = rnd.nextInt(10) < 5;
                if (plausible) {
                    plausibleChains(rnd, rig, ring);
                } else {
                    garbage(rnd, ring);
                }
                int k = publish(rnd, ring, plausible);
                rig.driver.kick();
                VirtQueue vq = rig.blk.queue(0);
                rig.waitWhile(() -> vq.inFlight() > 0);

                String where = "seed " + seed + ", iteration " + it;
                rig.mem.assertNothingOutsideRamTouched(where);
                if (rig.needsReset()) {
                    brokenIterations++;
                    assertThat(rig.pci.lastError()).as(where).isNotNull()
                            .as(where + ": the device model threw").doesNotContain(VirtioBlk.INTERNAL_ERROR);
                } else {
                    completedIterations++;
                    if (k > 0) {
                        servedChains += k;
                    }
                    assertThat(vq.lastAvailIndex()).as(where + ": chains taken").isEqualTo(k);
                    assertThat(ring.usedIdx()).as(where + ": chains given back").isEqualTo(k);
                    for (int n = 0; n < k; n++) {
                        assertThat(ring.usedId(n)).as(where).isBetween(0, QSIZE - 1);
                    }
                }
            }
            requests = rig.blk.statistics().requests();
        }
        // The generator must reach both outcomes, or the test proves little.
        assertThat(completedIterations).isGreaterThan(ITERATIONS / 20);
        assertThat(brokenIterations).isGreaterThan(ITERATIONS / 20);
        assertThat(requests).as("requests taken").isGreaterThan(ITERATIONS);
        assertThat(servedChains).as("chains given back without a reset").isGreaterThan(ITERATIONS / 2);
    }

    /** Number of chains made available (usually 0..QSIZE; sometimes a runaway index). */
    private static int publish(SplittableRandom rnd, GuestRing ring, boolean plausible) {
        int k = plausible ? rnd.nextInt(6) : rnd.nextInt(QSIZE + 1);
        for (int slot = 0; slot < QSIZE; slot++) {
            int head = plausible && rnd.nextInt(10) < 9 ? 3 * rnd.nextInt(5)
                    : rnd.nextInt(10) < 9 ? rnd.nextInt(QSIZE) : rnd.nextInt(65536);
            ring.availEntry(slot, head);
        }
        if (rnd.nextInt(20) == 0) {
            k = QSIZE + 1 + rnd.nextInt(65000);
        }
        ring.setAvailFlags(rnd.nextInt(4));
        ring.setUsedEvent(rnd.nextInt(65536));
        ring.setAvailIdx(k);
        return k & 0xffff;
    }

    /** Descriptors with random fields drawn from interesting values. */
    private static void garbage(SplittableRandom rnd, GuestRing ring) {
        for (int i = 0; i < QSIZE; i++) {
            int flags = rnd.nextInt(8);
            if ((flags & VRING_DESC_F_INDIRECT) != 0 && rnd.nextBoolean()) {
                flags &= ~VRING_DESC_F_INDIRECT;
            }
            ring.desc(i, address(rnd), length(rnd), flags, rnd.nextInt(10) < 8 ? rnd.nextInt(QSIZE) : rnd.nextInt(65536));
        }
    }

    /** virtio-blk-shaped chains (header, data, status), then a few fields spoiled. */
    private static void plausibleChains(SplittableRandom rnd, BlkRig rig, GuestRing ring) {
        for (int head = 0; head + 2 < QSIZE; head += 3) {
            long hdr = DATA + 16L * rnd.nextInt(256);
            int[] types = {VirtioBlk.VIRTIO_BLK_T_IN, VirtioBlk.VIRTIO_BLK_T_OUT, VirtioBlk.VIRTIO_BLK_T_FLUSH,
                    VirtioBlk.VIRTIO_BLK_T_GET_ID, rnd.nextInt()};
            int type = types[rnd.nextInt(types.length)];
            long sector = rnd.nextInt(4) == 0 ? rnd.nextLong() : rnd.nextInt(70);
            rig.driver.header(hdr, type, sector);
            long data = DATA + 0x2000 + 512L * rnd.nextInt(150);
            int len = rnd.nextInt(4) == 0 ? 1 + rnd.nextInt(1500) : 512 * (1 + rnd.nextInt(3));
            long status = DATA + 0x1000 + rnd.nextInt(0x1000);
            boolean write = type == VirtioBlk.VIRTIO_BLK_T_OUT;
            ring.desc(head, hdr, 16, VRING_DESC_F_NEXT, head + 1);
            ring.desc(head + 1, data, len, VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE), head + 2);
            ring.desc(head + 2, status, 1, VRING_DESC_F_WRITE, 0);
        }
        for (int spoil = rnd.nextInt(4) == 0 ? 1 : 0; spoil > 0; spoil--) {
            int i = rnd.nextInt(QSIZE);
            switch (rnd.nextInt(4)) {
                case 0 -> ring.desc(i, address(rnd), 16, VRING_DESC_F_NEXT, i + 1);
                case 1 -> ring.desc(i, DATA, length(rnd), VRING_DESC_F_WRITE, 0);
                case 2 -> ring.desc(i, DATA, 16, rnd.nextInt(8), rnd.nextInt(65536));
                default -> ring.desc(i, DATA + 0x3000, 16, VRING_DESC_F_NEXT, i);
            }
        }
    }

    private static long address(SplittableRandom rnd) {
        return switch (rnd.nextInt(8)) {
            case 0 -> rnd.nextLong();                                  // anywhere in 64 bits
            case 1 -> RAM - rnd.nextInt(64);                           // straddling the end of RAM
            case 2 -> RAM + rnd.nextInt(1 << 20);                      // past RAM
            case 3 -> -1L - rnd.nextInt(4096);                         // wraps around
            default -> DATA + rnd.nextInt(RAM - (int) DATA);           // inside the data area
        };
    }

    private static long length(SplittableRandom rnd) {
        return switch (rnd.nextInt(8)) {
            case 0 -> 0;
            case 1 -> 0xFFFFFFFFL;
            case 2 -> rnd.nextInt() & 0xFFFFFFFFL;
            case 3 -> 16L * (1 + rnd.nextInt(QSIZE + 2));              // an indirect table's size, or too big
            default -> 1 + rnd.nextInt(2048);
        };
    }
}
