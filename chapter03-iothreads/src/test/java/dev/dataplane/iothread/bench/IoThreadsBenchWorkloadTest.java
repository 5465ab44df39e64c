package dev.dataplane.iothread.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.bench.IoThreadsRig.Placement;
import dev.dataplane.iothread.bench.IoThreadsRig.Sample;
import dev.dataplane.iothread.bench.IoThreadsRig.Workload;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The chapter-3 benchmark's workload, run once per placement with tiny sizes: every chain runs
 * all its steps, in the thread the placement names and no other, so the benchmark cannot
 * silently measure nothing (or measure the wrong thread). Nothing here is timed.
 */
class IoThreadsBenchWorkloadTest {

    private static final int CHAINS = 4;
    private static final int STEPS = 50;
    /** 1 µs under the BQL, 1 µs outside: the stand-ins compete, but briefly. */
    private static final Workload TINY = new Workload(CHAINS, STEPS, 4, 1_000, 1_000);

    private static IoThreadsRig rig;

    @BeforeAll
    static void startRig() {
        rig = new IoThreadsRig();
    }

    @AfterAll
    static void stopRig() {
        rig.close();
    }

    @ParameterizedTest
    @EnumSource(Placement.class)
    void everyChainRunsAllItsStepsInThePlacementsThreadsOnly(Placement placement) throws InterruptedException {
        Sample s = rig.measure(placement, 1, TINY);

        assertThat(s.steps()).isEqualTo((long) CHAINS * STEPS);
        assertThat(s.nanos()).isPositive();
        assertThat(s.chains()).hasSize(CHAINS);
        for (RequestChains.ChainReport c : s.chains()) {
            assertThat(c.stepsRun()).as("chain %d", c.index()).isEqualTo(STEPS);
            assertThat(c.strayThread()).as("chain %d ran in more than one thread", c.index()).isFalse();
            assertThat(c.thread()).as("chain %d", c.index()).isEqualTo(expectedThread(placement, c.index()));
        }
    }

    @Test
    void twoIoThreadsShareTheChainsBetweenThem() throws InterruptedException {
        Sample s = rig.measure(Placement.IOTHREAD_2, 0, TINY);

        List<String> threads = s.chains().stream().map(RequestChains.ChainReport::thread).distinct().sorted().toList();
        assertThat(threads).containsExactly("iothread0", "iothread1");
    }

    @Test
    void theStandInsReallyTakeTheBql() {
        Bql bql = rig.mainLoop().bql();
        long before = bql.statistics().acquisitions();
        try (VcpuStandIns vcpus = new VcpuStandIns(bql, 2, 1_000, 1_000)) {
            // The constructor returns once each stand-in has held the lock and let it go.
            assertThat(vcpus.exits()).isGreaterThanOrEqualTo(2);
            assertThat(bql.statistics().acquisitions() - before).isGreaterThanOrEqualTo(2);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void theStepDoesWorkThatDependsOnItsBuffer() {
        long[] a = new long[RequestChains.BUFFER_LONGS];
        long[] b = new long[RequestChains.BUFFER_LONGS];
        b[7] = 1;
        assertThat(RequestChains.work(a.clone(), 64)).isNotEqualTo(RequestChains.work(b, 64));
        long first = RequestChains.work(a, 64);
        assertThat(RequestChains.work(a, 64)).as("the buffer carries state from step to step").isNotEqualTo(first);
    }

    private static String expectedThread(Placement placement, int chain) {
        return switch (placement) {
            case MAIN_LOOP -> rig.mainLoopThread().getName();
            case IOTHREAD_1 -> rig.ioThread(0).name();
            case IOTHREAD_2 -> rig.ioThread(chain % 2).name();
        };
    }
}
