package dev.dataplane.iothread.bench;

import dev.dataplane.aio.AioContext;
import dev.dataplane.bh.BottomHalf;
import dev.dataplane.bh.BottomHalves;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's unit of work: {@code K} independent request chains, each {@code N} bottom-half
 * steps long. A step does a small fixed piece of CPU work on its chain's own buffer (standing in
 * for parsing a descriptor, checking a header, copying a sector) and then schedules the chain's
 * next step, as a device's request state machine does between I/O events.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>One reusable bottom half per chain</b>, created in the chain's context and scheduled
 * again by its own callback: the device pattern. A bottom half scheduled during a pass runs in
 * the next pass, so every {@code poll} of a context runs one step of each of its chains: a loop
 * with {@code K} chains does {@code K} steps per iteration, whatever the thread.
 *
 * <p><b>Threads.</b> A chain's fields are written only by its context's home thread (the main-loop
 * thread, or an IOThread). The harness reads them after {@link #await}: each chain counts the
 * latch down after its last write, so the latch's happens-before covers them.
 *
 * <p><b>Nothing is optimised away.</b> Each step folds its result into the chain's checksum,
 * which {@link #checksum()} returns and the harness prints; a buffer word feeds the next step.
 */
final class RequestChains {

    /** Longs per chain buffer: 512 bytes, a sector's worth. A power of two. */
    static final int BUFFER_LONGS = 64;

    private final List<Chain> chains = new ArrayList<>();
    private final CountDownLatch done;
    private final int steps;

    /**
     * Chains {@code i} runs in {@code contexts[i % contexts.length]}.
     *
     * @param chains     K, the number of independent chains
     * @param steps      N, the steps per chain
     * @param workRounds rounds of the mixing function per step (the step's CPU cost)
     */
    RequestChains(AioContext[] contexts, int chains, int steps, int workRounds) {
        if (chains < 1 || steps < 1 || workRounds < 1) {
            throw new IllegalArgumentException("chains, steps and work rounds must be positive");
        }
        this.steps = steps;
        this.done = new CountDownLatch(chains);
        for (int i = 0; i < chains; i++) {
            this.chains.add(new Chain(contexts[i % contexts.length], i, steps, workRounds, done));
        }
    }

    /** Schedules the first step of every chain. Any thread. */
    void start() {
        for (Chain c : chains) {
            c.bh.schedule();
        }
    }

    /** Waits until every chain has run its last step; false on timeout. */
    boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        return done.await(timeout, unit);
    }

    /**
     * Frees the bottom halves. Their contexts free them in their next pass; until then they
     * never run again, so a finished measurement leaves nothing behind that could run into the
     * next one.
     */
    void delete() {
        for (Chain c : chains) {
            c.bh.delete();
        }
    }

    /** Steps run, summed over the chains (after {@link #await}). */
    long stepsRun() {
        long sum = 0;
        for (Chain c : chains) {
            sum += c.stepsRun;
        }
        return sum;
    }

    long stepsExpected() {
        return (long) steps * chains.size();
    }

    /** The combined result of every step (after {@link #await}); keeps the work alive. */
    long checksum() {
        long h = 0;
        for (Chain c : chains) {
            h = h * 31 + c.checksum;
        }
        return h;
    }

    /** What each chain did, for the unit test (after {@link #await}). */
    List<ChainReport> reports() {
        List<ChainReport> r = new ArrayList<>();
        for (Chain c : chains) {
            r.add(new ChainReport(c.index, c.ctx.name(), c.stepsRun,
                    c.firstThread == null ? null : c.firstThread.getName(), c.strayThread));
        }
        return r;
    }

    /** One chain after the run: how many steps, in which thread, and whether any step ran elsewhere. */
    record ChainReport(int index, String context, long stepsRun, String thread, boolean strayThread) {
    }

    /** The step's CPU work: a multiply-xorshift mix over the buffer, some hundreds of ns. */
    static long work(long[] buf, int rounds) {
        long h = buf[0];
        for (int i = 0; i < rounds; i++) {
            int j = i & (BUFFER_LONGS - 1);
            h = (h ^ buf[j] ^ i) * 0x9E3779B97F4A7C15L + 1; // no fixed point at zero
            h ^= h >>> 29;
            buf[j] = h;
        }
        return h;
    }

    private static final class Chain {
        final AioContext ctx;
        final int index;
        final BottomHalf bh;
        final long[] buf = new long[BUFFER_LONGS];
        final int workRounds;
        final CountDownLatch done;
        int remaining;
        long stepsRun;
        long checksum;
        Thread firstThread;
        boolean strayThread;

        Chain(AioContext ctx, int index, int steps, int workRounds, CountDownLatch done) {
            this.ctx = ctx;
            this.index = index;
            this.remaining = steps;
            this.workRounds = workRounds;
            this.done = done;
            for (int i = 0; i < BUFFER_LONGS; i++) {
                buf[i] = 0x5DEECE66DL * (index + 1) + i;
            }
            this.bh = BottomHalves.of(ctx).newBh("bench-chain-" + index, this::step);
        }

        // tag::bench-chain-step[]
        /** One step of a request: a little CPU work, then hand the next step to the same loop. */
        private void step() {
            checksum += work(buf, workRounds); // parse, check, copy: a few hundred ns
            stepsRun++;
            noteThread();
            if (--remaining > 0) {
                bh.schedule();                 // the next step runs in this context's next pass
            } else {
                done.countDown();              // after the last write: publishes the fields
            }
        }
        // end::bench-chain-step[]

        /** For the unit test: the thread that ran the first step, and whether any other did. */
        private void noteThread() {
            Thread t = Thread.currentThread();
            if (firstThread == null) {
                firstThread = t;
            } else if (t != firstThread) {
                strayThread = true;
            }
        }
    }
}
