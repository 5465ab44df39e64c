package dev.dataplane.iothread.bench;

import dev.dataplane.iothread.Bql;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The competing BQL users: threads standing in for vCPUs. Each one, over and over, takes the BQL,
 * spends {@code criticalNs} inside it (handling an exit: an emulated port or MMIO access, a
 * device register), lets go, and runs {@code outsideNs} of "guest code" without it. Both phases
 * busy-wait on the clock, as a vCPU's CPU is busy either way; the duty cycle is
 * {@code criticalNs / (criticalNs + outsideNs)} when nobody else wants the lock.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Start and stop without the harness holding the BQL.</b> The harness is never the main
 * loop, so it can wait for the stand-ins (first exit done, or thread ended) with a latch and a
 * join while the main loop runs in its own thread and lets go of the lock whenever it sleeps.
 *
 * <p><b>Counters.</b> {@code exits} and {@code waits} (time spent in {@code bql.lock()}, the
 * exit latency the lock adds) have a single writer each (its thread) and are read by the harness
 * while the thread runs, so they are {@link AtomicLong}s written with {@code lazySet}: the reader
 * may see a value an exit or so old, which is noise next to hundreds of thousands.
 */
final class VcpuStandIns implements AutoCloseable {

    private final List<Thread> threads = new ArrayList<>();
    private final List<AtomicLong> exits = new ArrayList<>();
    private final List<AtomicLong> waits = new ArrayList<>();
    private final CountDownLatch firstExit;
    private volatile boolean running = true;

    /** Starts {@code count} stand-ins and returns once each has taken and released the BQL once. */
    VcpuStandIns(Bql bql, int count, long criticalNs, long outsideNs) throws InterruptedException {
        this.firstExit = new CountDownLatch(count);
        for (int i = 0; i < count; i++) {
            AtomicLong n = new AtomicLong();
            AtomicLong w = new AtomicLong();
            exits.add(n);
            waits.add(w);
            Thread t = new Thread(() -> loop(bql, n, w, criticalNs, outsideNs), "vcpu-" + i);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
        if (!firstExit.await(5, TimeUnit.MINUTES)) {
            close();
            throw new IllegalStateException("a vCPU stand-in never got the BQL within 5 minutes");
        }
    }

    // tag::bench-vcpu-loop[]
    /** A vCPU: guest code without the BQL, then an exit handled with it, again and again. */
    private void loop(Bql bql, AtomicLong exitCount, AtomicLong waitNs, long criticalNs, long outsideNs) {
        long n = 0;
        long waited = 0;
        while (running) {
            long t0 = System.nanoTime();
            bql.lock();                 // the exit needs global state: device models, the bus
            waited += System.nanoTime() - t0;
            try {
                spin(criticalNs);       // e.g. emulating a register access: a few microseconds
            } finally {
                bql.unlock();
            }
            waitNs.lazySet(waited);
            exitCount.lazySet(++n);
            if (n == 1) {
                firstExit.countDown();
            }
            spin(outsideNs);            // back in the guest: busy, but no lock
        }
    }
    // end::bench-vcpu-loop[]

    /** Busy-waits for {@code ns}: the thread stays on its CPU, as guest code or an exit handler would. */
    static void spin(long ns) {
        if (ns <= 0) {
            return;
        }
        long end = System.nanoTime() + ns;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }

    /** Exits handled so far, summed over the stand-ins. Any thread; may lag by a few. */
    long exits() {
        long sum = 0;
        for (AtomicLong n : exits) {
            sum += n.get();
        }
        return sum;
    }

    /** Time spent waiting for the BQL, summed over the stand-ins. Any thread; may lag by an exit. */
    long waitNs() {
        long sum = 0;
        for (AtomicLong w : waits) {
            sum += w.get();
        }
        return sum;
    }

    List<Thread> threads() {
        return threads;
    }

    /**
     * Stops and joins the stand-ins. Interrupts are kept for later, not thrown: an
     * {@code AutoCloseable} whose close throws {@code InterruptedException} is a lint warning.
     */
    @Override
    public void close() {
        running = false;
        boolean interrupted = false;
        for (Thread t : threads) {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (t.isAlive() && System.nanoTime() - deadline < 0) {
                try {
                    t.join(TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()) + 1);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (t.isAlive()) {
                throw new IllegalStateException(t.getName() + " did not stop within 5 minutes");
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
