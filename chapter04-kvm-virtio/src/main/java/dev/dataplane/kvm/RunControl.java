package dev.dataplane.kvm;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Whether a machine should keep running, and how it ended (QEMU: the shutdown and stop requests of
 * {@code system/runstate.c}, {@code qemu_system_shutdown_request}, {@code vm_stop}).
 *
 * <p>Any thread may end the run: a vCPU thread on an exit that ends it (the guest's exit port, a
 * triple fault, an emulation failure), the host on a stop request. The first {@link #end} wins and
 * is the {@link #outcome()}; later ones are ignored. Ending the run kicks every vCPU thread that has
 * {@linkplain #addVcpu joined}, so each leaves {@code KVM_RUN} and stops.
 *
 * <p>The device side needs just one hook: an exit-port device is given {@code control::requestExit}
 * (an {@link java.util.function.IntConsumer}) and calls it, from the vCPU thread, with the BQL held.
 */
public final class RunControl {
    private final AtomicReference<MachineOutcome> outcome = new AtomicReference<>();
    private final CountDownLatch ended = new CountDownLatch(1);
    private final List<VcpuThread> vcpus = new CopyOnWriteArrayList<>();
    private final List<Runnable> onEnd = new CopyOnWriteArrayList<>();

    /** The guest asked to end the run with {@code code} (the exit port's hook). */
    public void requestExit(int code) {
        end(MachineOutcome.exited(code));
    }

    /** The host asks the machine to stop; the outcome is {@link MachineOutcome.Kind#STOPPED} unless something ended it first. */
    public void requestStop(String why) {
        end(MachineOutcome.of(MachineOutcome.Kind.STOPPED, why));
    }

    /** Ends the run with {@code o} unless it has ended already; returns whether {@code o} is the outcome. */
    public boolean end(MachineOutcome o) {
        if (!outcome.compareAndSet(null, o)) {
            return false;
        }
        ended.countDown();
        for (VcpuThread v : vcpus) {
            v.kick();
        }
        for (Runnable r : onEnd) {
            r.run();
        }
        return true;
    }

    /**
     * Runs {@code r} once the run ends, in the thread that ends it (at once if it has ended). The
     * machine uses it to make its main loop return; {@code r} must be quick, thread-safe and
     * idempotent (racing with {@link #end} it may run twice).
     */
    public void onEnd(Runnable r) {
        onEnd.add(r);
        if (isEnded() && onEnd.remove(r)) {
            r.run();
        }
    }

    /** Whether the run has ended (vCPU threads check this before every {@code KVM_RUN}). */
    public boolean isEnded() {
        return outcome.get() != null;
    }

    public Optional<MachineOutcome> outcome() {
        return Optional.ofNullable(outcome.get());
    }

    /**
     * Waits until the run ends; returns the outcome, or empty if {@code timeout} passed first (the
     * caller then usually {@link #requestStop stops} the machine).
     */
    public Optional<MachineOutcome> awaitOutcome(Duration timeout) throws InterruptedException {
        ended.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
        return outcome();
    }

    void addVcpu(VcpuThread v) {
        vcpus.add(v);
        if (isEnded()) {
            v.kick();
        }
    }

    void removeVcpu(VcpuThread v) {
        vcpus.remove(v);
    }
}
