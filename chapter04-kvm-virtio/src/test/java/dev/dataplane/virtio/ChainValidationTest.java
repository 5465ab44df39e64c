package dev.dataplane.virtio;

import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_INDIRECT;
import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_NEXT;
import static dev.dataplane.virtio.VirtQueue.VRING_DESC_F_WRITE;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Exercise ch04-validate-chain: {@code VirtQueue.readChain} walks a chain and refuses every kind
 * of malformed one. These tests ask only for the behaviour (the chain is refused, the queue
 * stops with an explanation, nothing is in flight, no access outside RAM was even tried), not
 * for the wording of the explanation, which is the student's own. {@link VirtQueueTest} checks
 * the reference's messages.
 */
@Tag("ch04-validate-chain")
class ChainValidationTest {
    private static final int RAM = 64 * 1024;
    private static final int SIZE = 8;
    private static final long DATA = 0x8000;
    private static final long TABLE = 0x9000;

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
    void nothingOutsideRamWasTouchedOrEvenTried() {
        mem.assertNothingOutsideRamTouched("validate before touching memory");
    }

    /** A malformed chain, offered by the driver; {@code indirect}: the feature is negotiated. */
    record Case(String name, boolean indirect, Consumer<GuestRing> offer) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> malformedChains() {
        return Stream.of(
                new Case("head index out of range", false, r -> r.makeAvailable(SIZE)),
                new Case("next index out of range", false, r -> {
                    r.desc(0, DATA, 16, VRING_DESC_F_NEXT, 0xFFFF);
                    r.makeAvailable(0);
                }),
                new Case("a descriptor that points to itself", false, r -> {
                    r.desc(4, DATA, 16, VRING_DESC_F_NEXT, 4);
                    r.makeAvailable(4);
                }),
                new Case("a loop through three descriptors", false, r -> {
                    r.desc(0, DATA, 16, VRING_DESC_F_NEXT, 1);
                    r.desc(1, DATA, 16, VRING_DESC_F_NEXT, 2);
                    r.desc(2, DATA, 16, VRING_DESC_F_NEXT, 0);
                    r.makeAvailable(0);
                }),
                new Case("a buffer just past the end of RAM", false, r -> {
                    r.desc(0, RAM, 1, VRING_DESC_F_WRITE, 0);
                    r.makeAvailable(0);
                }),
                new Case("a buffer across the end of RAM", false, r -> {
                    r.desc(0, RAM - 16, 17, VRING_DESC_F_WRITE, 0);
                    r.makeAvailable(0);
                }),
                new Case("address + length overflows", false, r -> {
                    r.desc(0, -16L, 0xFFFFFFFFL, VRING_DESC_F_WRITE, 0);
                    r.makeAvailable(0);
                }),
                new Case("a zero-length buffer", false, r -> {
                    r.desc(0, DATA, 16, VRING_DESC_F_NEXT, 1);
                    r.desc(1, DATA + 16, 0, VRING_DESC_F_WRITE, 0);
                    r.makeAvailable(0);
                }),
                new Case("device-readable after device-writable", false, r -> {
                    r.desc(0, DATA, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
                    r.desc(1, DATA + 16, 16, 0, 0);
                    r.makeAvailable(0);
                }),
                new Case("indirect without the feature", false, r -> {
                    r.descAt(TABLE, 0, DATA, 16, 0, 0);
                    r.desc(0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("an indirect table inside an indirect table", true, r -> {
                    r.descAt(TABLE, 0, TABLE + 64, 16, VRING_DESC_F_INDIRECT, 0);
                    r.desc(0, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("an indirect descriptor with NEXT", true, r -> {
                    r.descAt(TABLE, 0, DATA, 16, 0, 0);
                    r.desc(0, TABLE, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
                    r.desc(1, DATA, 1, VRING_DESC_F_WRITE, 0);
                    r.makeAvailable(0);
                }),
                new Case("an indirect descriptor after a direct one", true, r -> {
                    r.descAt(TABLE, 0, DATA, 16, 0, 0);
                    r.desc(0, DATA, 16, VRING_DESC_F_NEXT, 1);
                    r.desc(1, TABLE, 16, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("an indirect table of 24 bytes", true, r -> {
                    r.desc(0, TABLE, 24, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("an empty indirect table", true, r -> {
                    r.desc(0, TABLE, 0, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("an indirect table longer than the queue", true, r -> {
                    r.desc(0, TABLE, 16L * (SIZE + 1), VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("an indirect table across the end of RAM", true, r -> {
                    r.desc(0, RAM - 16, 32, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("a loop inside an indirect table", true, r -> {
                    r.descAt(TABLE, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
                    r.descAt(TABLE, 1, DATA, 16, VRING_DESC_F_NEXT, 0);
                    r.desc(0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }),
                new Case("next beyond the indirect table", true, r -> {
                    r.descAt(TABLE, 0, DATA, 16, VRING_DESC_F_NEXT, 2);
                    r.desc(0, TABLE, 32, VRING_DESC_F_INDIRECT, 0);
                    r.makeAvailable(0);
                }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedChains")
    void aMalformedChainIsRefusedAndStopsTheQueue(Case c) {
        vq.setFeatures(c.indirect(), false);
        c.offer().accept(ring);

        assertThat(vq.pop()).isNull();
        assertThat(vq.error()).as("why the queue stopped").isNotBlank();
        assertThat(vq.inFlight()).isZero();
        // A stopped queue stays stopped: the next pop does not look at the ring again.
        ring.desc(7, DATA, 16, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(7);
        assertThat(vq.pop()).isNull();
    }

    @Test
    void aWellFormedChainComesBackReadableBuffersFirst() {
        ring.desc(3, DATA, 16, VRING_DESC_F_NEXT, 5);
        ring.desc(5, DATA + 16, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
        ring.desc(1, DATA + 600, 1, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(3);

        VirtQueue.Element e = vq.pop();
        assertThat(vq.error()).isNull();
        assertThat(e).isNotNull();
        assertThat(e.head()).isEqualTo(3);
        assertThat(e.count()).isEqualTo(3);
        assertThat(e.outCount()).isEqualTo(1);
        assertThat(e.address(0)).isEqualTo(DATA);
        assertThat(e.address(1)).isEqualTo(DATA + 16);
        assertThat(e.length(1)).isEqualTo(512);
        assertThat(e.address(2)).isEqualTo(DATA + 600);
        assertThat(e.outBytes()).isEqualTo(16);
        assertThat(e.inBytes()).isEqualTo(513);
        assertThat(vq.inFlight()).isEqualTo(1);
    }

    @Test
    void aChainUsingEveryDescriptorOnceIsAccepted() {
        for (int i = 0; i < SIZE - 1; i++) {
            ring.desc(i, DATA + 16L * i, 16, VRING_DESC_F_NEXT, i + 1);
        }
        ring.desc(SIZE - 1, DATA + 16L * (SIZE - 1), 16, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);

        VirtQueue.Element e = vq.pop();
        assertThat(vq.error()).isNull();
        assertThat(e).isNotNull();
        assertThat(e.count()).isEqualTo(SIZE);
    }

    @Test
    void aBufferEndingExactlyAtTheEndOfRamIsAccepted() {
        ring.desc(0, RAM - 16, 16, VRING_DESC_F_WRITE, 0);
        ring.makeAvailable(0);
        assertThat(vq.pop()).isNotNull();
        assertThat(vq.error()).isNull();
    }

    @Test
    void anIndirectTableIsWalkedLikeADirectChain() {
        vq.setFeatures(true, false);
        ring.descAt(TABLE, 0, DATA, 16, VRING_DESC_F_NEXT, 1);
        ring.descAt(TABLE, 1, DATA + 16, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
        ring.descAt(TABLE, 2, DATA + 600, 1, VRING_DESC_F_WRITE, 0);
        ring.desc(6, TABLE, 48, VRING_DESC_F_INDIRECT, 0);
        ring.makeAvailable(6);

        VirtQueue.Element e = vq.pop();
        assertThat(vq.error()).isNull();
        assertThat(e).isNotNull();
        assertThat(e.head()).isEqualTo(6);
        assertThat(e.count()).isEqualTo(3);
        assertThat(e.outCount()).isEqualTo(1);
        assertThat(e.inBytes()).isEqualTo(513);
    }
}
