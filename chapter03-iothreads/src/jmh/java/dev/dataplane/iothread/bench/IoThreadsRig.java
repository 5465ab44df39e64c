package dev.dataplane.iothread.bench;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.IoThread;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.testsupport.MainLoopThread;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The machine the benchmark runs on: a main loop in a thread of its own (QEMU's main thread,
 * holding the BQL except while it sleeps) and two IOThreads, created once and shared by every
 * measurement. One {@link #measure} runs one fixed batch of {@link RequestChains} in one
 * {@link Placement}, with a given number of {@link VcpuStandIns} competing for the BQL, and
 * returns what it took.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>The harness thread is nobody.</b> It is neither the main loop nor a vCPU: it schedules the
 * first step of each chain (any thread may schedule a bottom half) and parks on a latch until the
 * last one has run. So it takes no CPU and no lock while the clock runs, and the main loop behaves
 * as it would in a real machine: busy with the chains in the main-loop placement, asleep (and
 * without the BQL) in the IOThread placements.
 *
 * <p><b>What is counted.</b> Between the two snapshots around a batch: the BQL's counters (every
 * holder: the main loop and the stand-ins), the stand-ins' exits, and the CPU time of each group
 * of threads from {@link ThreadMXBean}. The stand-ins start before the first snapshot (each has
 * held the lock once) and stop after the second.
 */
final class IoThreadsRig implements AutoCloseable {

    /** Where the chains run. */
    enum Placement {
        MAIN_LOOP("main loop + BQL", 0),
        IOTHREAD_1("1 IOThread", 1),
        IOTHREAD_2("2 IOThreads", 2);

        final String label;
        final int ioThreads;

        Placement(String label, int ioThreads) {
            this.label = label;
            this.ioThreads = ioThreads;
        }
    }

    /** The shape of one batch and of the stand-ins' duty cycle. */
    record Workload(int chains, int steps, int workRounds, long criticalNs, long outsideNs) {
    }

    /** What one batch took. CPU times are -1 where the JVM cannot measure them. */
    record Sample(Placement placement, int vcpus, long steps, long nanos, long checksum,
                  Bql.Statistics bql, long vcpuExits, long vcpuWaitNs, long loopCpuNs, long ioCpuNs, long vcpuCpuNs,
                  List<RequestChains.ChainReport> chains) {

        double stepsPerSecond() {
            return steps * 1e9 / nanos;
        }
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final MainLoopThread main;
    private final IoThread[] ioThreads;

    IoThreadsRig() {
        if (THREADS.isThreadCpuTimeSupported() && !THREADS.isThreadCpuTimeEnabled()) {
            THREADS.setThreadCpuTimeEnabled(true);
        }
        main = new MainLoopThread();
        ioThreads = main.call(() -> new IoThread[] {IoThread.start("iothread0"), IoThread.start("iothread1")});
    }

    MainLoop mainLoop() {
        return main.loop();
    }

    Thread mainLoopThread() {
        return main.thread();
    }

    IoThread ioThread(int i) {
        return ioThreads[i];
    }

    /** Runs one batch: {@code w.chains()} chains of {@code w.steps()} steps in {@code placement}. */
    Sample measure(Placement placement, int vcpus, Workload w) throws InterruptedException {
        AioContext[] contexts = contexts(placement);
        Bql bql = main.loop().bql();
        RequestChains chains = new RequestChains(contexts, w.chains(), w.steps(), w.workRounds());
        try (VcpuStandIns standIns = new VcpuStandIns(bql, vcpus, w.criticalNs(), w.outsideNs())) {
            Bql.Statistics bql0 = bql.statistics();
            long exits0 = standIns.exits();
            long wait0 = standIns.waitNs();
            long loop0 = cpu(main.thread());
            long io0 = cpu(ioThreads[0].thread(), ioThreads[1].thread());
            long vcpu0 = cpu(standIns.threads().toArray(new Thread[0]));
            long t0 = System.nanoTime();

            chains.start();
            if (!chains.await(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException("the chains in " + placement.label + " did not finish within 5 minutes");
            }

            long t1 = System.nanoTime();
            long loop1 = cpu(main.thread());
            long io1 = cpu(ioThreads[0].thread(), ioThreads[1].thread());
            long vcpu1 = cpu(standIns.threads().toArray(new Thread[0]));
            long exits1 = standIns.exits();
            long wait1 = standIns.waitNs();
            Bql.Statistics bql1 = bql.statistics();

            long steps = chains.stepsRun();
            if (steps != chains.stepsExpected()) {
                throw new IllegalStateException("ran " + steps + " steps, expected " + chains.stepsExpected());
            }
            return new Sample(placement, vcpus, steps, t1 - t0, chains.checksum(),
                    new Bql.Statistics(bql1.acquisitions() - bql0.acquisitions(), bql1.contended() - bql0.contended(),
                            bql1.waitedNs() - bql0.waitedNs(), bql1.heldNs() - bql0.heldNs()),
                    exits1 - exits0, wait1 - wait0, diff(loop1, loop0), diff(io1, io0), diff(vcpu1, vcpu0), chains.reports());
        } finally {
            chains.delete();
        }
    }

    private AioContext[] contexts(Placement placement) {
        return switch (placement) {
            case MAIN_LOOP -> new AioContext[] {main.loop().context()};
            case IOTHREAD_1 -> new AioContext[] {ioThreads[0].context()};
            case IOTHREAD_2 -> new AioContext[] {ioThreads[0].context(), ioThreads[1].context()};
        };
    }

    private static long cpu(Thread... threads) {
        if (!THREADS.isThreadCpuTimeSupported()) {
            return -1;
        }
        long sum = 0;
        for (Thread t : threads) {
            sum += Math.max(0, THREADS.getThreadCpuTime(t.getId()));
        }
        return sum;
    }

    private static long diff(long after, long before) {
        return after < 0 || before < 0 ? -1 : after - before;
    }

    /** Stops the IOThreads (from the main loop, as they must be) and then the main loop. */
    @Override
    public void close() {
        try {
            main.run(() -> {
                for (IoThread io : ioThreads) {
                    io.stop();
                }
            });
        } finally {
            main.close();
        }
    }
}
