package dev.dataplane.virtio;

import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_INDIRECT;
import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_NEXT;
import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The split virtqueue alone, over fake guest memory: layout, chain validation, push, suppression. */
class VirtQueueTest {
    private static final int RAM = 64 * 1024;
    private static final int SIZE = 8;
    private static final long DATA = 0x8000;

    private FakeGuestMemory mem;
    private GuestRing ring;
    private VirtQueue vq;

    @BeforeEach
    void setUp() {
        mem = new FakeGuestMemory(RAM);
        ring = new GuestRing(mem, 1, SIZE);
        vq = new VirtQueue(mem, 0, SIZE);
        assertThat(vq.setLegacyPfn(1)).isTrue();
    }

    @AfterEach
    void memoryAroundRamIsUntouchedAndNothingWasRefused() {
        mem.assertNothingOutsideRamTouched("the queue validates before it touches memory");
    }

    private void assertBroken(String fragment) {
        assertThat(vq.pop()).isNull();
        assertThat(vq.error()).contains(fragment);
        assertThat(vq.inFlight()).isZero();
    }

    // ---- layout ----

    @Test
    void legacyLayoutPutsTheUsedRingOnTheNext4KiBoundary() {
        assertThat(vq.descAddress()).isEqualTo(0x1000);
        assertThat(vq.availAddress()).isEqualTo(0x1000 + 16 * SIZE);
        assertThat(vq.usedAddress()).isEqualTo(0x2000);
        assertThat(vq.legacyPfn()).isEqualTo(1);
        VirtQueue big = new VirtQueue(mem, 0, 256);
        assertThat(big.setLegacyPfn(1)).isTrue();
        assertThat(big.usedAddress()).isEqualTo(0x1000 + 4096 + 4096); // 4 KiB of descriptors + 518 bytes of avail
    }

    @Test
    void ringsOutsideRamAreRefusedAndAKickThenFindsTheQueueBroken() {
        assertThat(vq.setLegacyPfn(RAM / 4096)).isFalse();
        assertThat(vq.isReady()).isFalse();
        assertBroken("outside guest RAM");
        assertThat(vq.setLegacyPfn(0xFFFFFFFFL)).isFalse();
        assertThat(vq.setAddresses(Long.MAX_VALUE - 4, 0, 0)).isFalse();
    }

    @Test
    void pfnZeroDisablesTheQueueQuietly() {
        assertThat(vq.setLegacyPfn(0)).isTrue();
        assertThat(vq.isReady()).isFalse();
        assertThat(vq.pop()).isNull();
        assertThat(vq.error()).isNull();
    }

    @Test
    void queueSizeMustBeAPowerOfTwo() {
        assertThatThrownBy(() -> new VirtQueue(mem, 0, 6)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new VirtQueue(mem, 0, 65536)).isInstanceOf(IllegalArgumentException.class);
    }

    // ---- well-formed chains ----

    @Test
    void anEmptyQueuePopsNothing() {
        assertThat(vq.pop()).isNull();
        assertThat(vq.error()).isNull();
        assertThat(vq.isEmpty()).isTrue();
    }

    @Test
    void popReturnsTheChainReadableBuffersFirst() {
        ring.desc(3, DATA, 16, VRING_DESC_F_NEXT, 5);
        ring.desc(5, DATA + 100, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
        ring.desc(0, DATA + 700, 1, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(3);
        VirtQueue.Element e = vq.pop();
        assertThat(e).isNotNull();
        assertThat(e.head()).isEqualTo(3);
        assertThat(e.count()).isEqualTo(3);
        assertThat(e.outCount()).isEqualTo(1);
        assertThat(e.outBytes()).isEqualTo(16);
        assertThat(e.inBytes()).isEqualTo(513);
        assertThat(e.address(1)).isEqualTo(DATA + 100);
        assertThat(e.isWritable(0)).isFalse();
        assertThat(e.isWritable(2)).isTrue();
        assertThat(vq.inFlight()).isEqualTo(1);
        assertThat(vq.pop()).isNull();
    }

    @Test
    void aChainAsLongAsTheQueueIsAccepted() {
        for (int i = 0; i < SIZE; i++) {
            ring.desc(i, DATA + 16 * i, 16, i < SIZE - 1 ? VRING_DESC_F_NEXT : VRING_DESC_F_WRITE, i + 1);
        }
        ring.makeAvailable(0);
        VirtQueue.Element e = vq.pop();
        assertThat(e).isNotNull();
        assertThat(e.count()).isEqualTo(SIZE);
    }

    @Test
    void pushWritesTheUsedElementThenTheIndex() {
        ring.desc(2, DATA, 8, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(2);
        VirtQueue.Element e = vq.pop();
        vq.push(e, 8);
        assertThat(ring.usedIdx()).isEqualTo(1);
        assertThat(ring.usedId(0)).isEqualTo(2);
        assertThat(ring.usedLen(0)).isEqualTo(8);
        assertThat(vq.inFlight()).isZero();
        assertThatThrownBy(() -> vq.push(e, 8)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void pushRefusesAWrittenLengthLargerThanTheWritableBuffers() {
        ring.desc(2, DATA, 8, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(2);
        VirtQueue.Element e = vq.pop();
        assertThatThrownBy(() -> vq.push(e, 9)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void indicesWrapAt65536() {
        // Both sides count to 65535 and wrap to 0; the device must not mistake the wrap for a runaway.
        for (int n = 0; n < 70000; n++) {
            ring.desc(0, DATA, 4, VRING_DESC_F_WRITE, 0);
            ring.makeAvailable(0);
            VirtQueue.Element e = vq.pop();
            assertThat(e).isNotNull();
            vq.push(e, 4);
            if (n > 65530 && n < 65540) {
                assertThat(ring.usedIdx()).isEqualTo((n + 1) & 0xffff);
            }
        }
        assertThat(vq.error()).isNull();
    }

    @Test
    void detachKeepsTheInFlightCountRight() {
        ring.desc(0, DATA, 4, 0, 0);
        ring.makeAvailable(0);
        VirtQueue.Element e = vq.pop();
        assertThat(vq.inFlight()).isEqualTo(1);
        vq.detach(e);
        assertThat(vq.inFlight()).isZero();
        assertThat(ring.usedIdx()).isZero();
    }

    @Test
    void anElementFromBeforeAResetIsNotPushed() {
        ring.desc(0, DATA, 4, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        VirtQueue.Element e = vq.pop();
        vq.reset();
        vq.setLegacyPfn(1);
        vq.push(e, 4);
        assertThat(ring.usedIdx()).isZero();
        assertThat(vq.inFlight()).isZero();
    }

    // ---- malformed chains: the queue stops and says why ----

    @Test
    void aHeadIndexOutOfRangeBreaksTheQueue() {
        ring.makeAvailable(SIZE);
        assertBroken("head index 8 is out of range");
    }

    @Test
    void aNextIndexOutOfRangeBreaksTheQueue() {
        ring.desc(0, DATA, 16, VRING_DESC_F_NEXT, 0xFFFF);
        ring.makeAvailable(0);
        assertBroken("next index 65535 is out of range");
    }

    @Test
    void aSelfLoopBreaksTheQueue() {
        ring.desc(4, DATA, 16, VRING_DESC_F_NEXT, 4);
        ring.makeAvailable(4);
        assertBroken("loops");
    }

    @Test
    void aLongerLoopBreaksTheQueue() {
        ring.desc(0, DATA, 16, VRING_DESC_F_NEXT, 1);
        ring.desc(1, DATA, 16, VRING_DESC_F_NEXT, 2);
        ring.desc(2, DATA, 16, VRING_DESC_F_NEXT, 0);
        ring.makeAvailable(0);
        assertBroken("loops");
    }

    @Test
    void aBufferOutsideRamBreaksTheQueue() {
        ring.desc(0, RAM, 1, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        assertBroken("outside guest RAM");
    }

    @Test
    void aBufferThatCrossesTheEndOfRamBreaksTheQueue() {
        ring.desc(0, RAM - 16, 17, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        assertBroken("outside guest RAM");
    }

    @Test
    void anAddressPlusLengthThatOverflowsBreaksTheQueue() {
        ring.desc(0, -16L, 0xFFFFFFFFL, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        assertBroken("outside guest RAM");
    }

    @Test
    void aHugeLengthBreaksTheQueue() {
        ring.desc(0, DATA, 0xFFFFFFFFL, 0, 0);
        ring.makeAvailable(0);
        assertBroken("outside guest RAM");
    }

    @Test
    void aZeroLengthBufferBreaksTheQueue() {
        ring.desc(0, DATA, 16, VRING_DESC_F_NEXT, 1);
        ring.desc(1, DATA + 16, 0, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        assertBroken("zero-length");
    }

    @Test
    void aReadableBufferAfterAWritableOneBreaksTheQueue() {
        ring.desc(0, DATA, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
        ring.desc(1, DATA + 16, 16, 0, 0);
        ring.makeAvailable(0);
        assertBroken("device-readable buffer after a device-writable one");
    }

    @Test
    void anAvailableIndexMoreThanAQueueAheadBreaksTheQueue() {
        ring.setAvailIdx(SIZE + 1);
        assertBroken("entries ahead");
    }

    @Test
    void anAvailableIndexExactlyAQueueAheadIsFine() {
        for (int i = 0; i < SIZE; i++) {
            ring.desc(i, DATA, 4, VRING_DESC_F_WRITE, 0);
            ring.availEntry(i, i);
        }
        ring.setAvailIdx(SIZE);
        for (int i = 0; i < SIZE; i++) {
            assertThat(vq.pop()).isNotNull();
        }
        assertThat(vq.pop()).isNull();
        assertThat(vq.error()).isNull();
        assertThat(vq.inFlight()).isEqualTo(SIZE);
    }

    @Test
    void aBrokenQueueStaysBrokenUntilReset() {
        ring.makeAvailable(SIZE);
        assertThat(vq.pop()).isNull();
        ring.desc(0, DATA, 4, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        assertThat(vq.pop()).isNull();
        assertThat(vq.isEmpty()).isTrue();
        vq.reset();
        assertThat(vq.error()).isNull();
    }

    // ---- indirect descriptors ----

    private static final long TABLE = 0x9000;

    private void indirectOn() {
        vq.setFeatures(true, false);
    }

    @Test
    void anIndirectTableIsWalkedLikeADirectChain() {
        indirectOn();
        ring.descAt(TABLE, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
        ring.descAt(TABLE, 1, DATA + 16, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
        ring.descAt(TABLE, 2, DATA + 600, 1, VRING_DESC_F_WRITE, 0);
        ring.desc(6, TABLE, 48, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(6);
        VirtQueue.Element e = vq.pop();
        assertThat(e).isNotNull();
        assertThat(e.head()).isEqualTo(6);
        assertThat(e.count()).isEqualTo(3);
        assertThat(e.inBytes()).isEqualTo(513);
    }

    @Test
    void anIndirectDescriptorWithoutTheFeatureBreaksTheQueue() {
        ring.descAt(TABLE, 0, DATA, 16, 0, 0);
        ring.desc(0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("not negotiated");
    }

    @Test
    void aNestedIndirectTableBreaksTheQueue() {
        indirectOn();
        ring.descAt(TABLE, 0, TABLE + 64, 16, VRING_DESC_F_INDIRECT, 0);
        ring.desc(0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("inside an indirect table");
    }

    @Test
    void anIndirectDescriptorWithNextBreaksTheQueue() {
        indirectOn();
        ring.descAt(TABLE, 0, DATA, 16, 0, 0);
        ring.desc(0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
        ring.desc(1, DATA, 1, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        assertBroken("only one of its chain");
    }

    @Test
    void anIndirectDescriptorAfterADirectOneBreaksTheQueue() {
        indirectOn();
        ring.descAt(TABLE, 0, DATA, 16, 0, 0);
        ring.desc(0, DATA, 16, VRING_DESC_F_NEXT, 1);
        ring.desc(1, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("only one of its chain");
    }

    @Test
    void anIndirectTableOfOddLengthBreaksTheQueue() {
        indirectOn();
        ring.desc(0, TABLE, 24, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("indirect table of 24 bytes");
    }

    @Test
    void anIndirectTableLargerThanTheQueueBreaksTheQueue() {
        indirectOn();
        ring.desc(0, TABLE, 16L * (SIZE + 1), VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("must be 1..8 descriptors");
    }

    @Test
    void anIndirectTableOutsideRamBreaksTheQueue() {
        indirectOn();
        ring.desc(0, RAM - 16, 32, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("outside guest RAM");
    }

    @Test
    void aLoopInsideAnIndirectTableBreaksTheQueue() {
        indirectOn();
        ring.descAt(TABLE, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
        ring.descAt(TABLE, 1, DATA, 16, VRING_DESC_F_NEXT, 0);
        ring.desc(0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("loops");
    }

    @Test
    void aNextIndexBeyondTheIndirectTableBreaksTheQueue() {
        indirectOn();
        ring.descAt(TABLE, 0, DATA, 16, VRING_DESC_F_NEXT, 2);
        ring.desc(0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(0);
        assertBroken("next index 2 is out of range (table of 2)");
    }

    // ---- notification suppression ----

    private VirtQueue.Element popOne() {
        ring.desc(0, DATA, 4, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        return vq.pop();
    }

    @Test
    void theDriverGetsAnInterruptUnlessItSetNoInterrupt() {
        vq.push(popOne(), 0);
        assertThat(vq.shouldNotify()).isTrue();
        ring.setAvailFlags(VirtQueue.VRING_AVAIL_F_NO_INTERRUPT);
        vq.push(popOne(), 0);
        assertThat(vq.shouldNotify()).isFalse();
    }

    @Test
    void withEventIdxTheDriverIsInterruptedOnlyWhenUsedPassesUsedEvent() {
        vq.setFeatures(false, true);
        ring.setUsedEvent(1);               // "interrupt me when entry 1 (the second) is used"
        vq.push(popOne(), 0);               // used 0 -> 1: not past 1 yet ... but the first call always signals
        assertThat(vq.shouldNotify()).isTrue();
        vq.push(popOne(), 0);               // used 1 -> 2: passes event 1
        assertThat(vq.shouldNotify()).isTrue();
        vq.push(popOne(), 0);               // used 2 -> 3: event still 1, already passed
        assertThat(vq.shouldNotify()).isFalse();
        ring.setUsedEvent(3);
        vq.push(popOne(), 0);               // used 3 -> 4: passes event 3
        assertThat(vq.shouldNotify()).isTrue();
    }

    @Test
    void needEventUsesSixteenBitArithmetic() {
        assertThat(VirtQueue.needEvent(0xFFFF, 0, 0xFFFF)).isTrue();
        assertThat(VirtQueue.needEvent(5, 5, 4)).isFalse();
        assertThat(VirtQueue.needEvent(4, 5, 4)).isTrue();
    }

    @Test
    void theDeviceSuppressesKicksWithTheUsedFlagOrTheAvailEvent() {
        vq.setNotification(false);
        assertThat(ring.usedFlags()).isEqualTo(VirtQueue.VRING_USED_F_NO_NOTIFY);
        vq.setNotification(true);
        assertThat(ring.usedFlags()).isZero();
        vq.setFeatures(false, true);
        popOne();
        popOne();
        vq.setNotification(true);
        assertThat(ring.availEvent()).isEqualTo(2);
    }
}
