package dev.dataplane.kvm;

import static dev.dataplane.kvm.linux.KvmAbi.*;

import dev.dataplane.aio.linux.Errno;
import dev.dataplane.iothread.Bql;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.kvm.linux.KvmAbi;
import dev.dataplane.kvm.linux.VcpuSignals;
import dev.dataplane.kvm.trace.VcpuExitEvent;
import dev.dataplane.pc.IoBus;
import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The thread that runs one vCPU (QEMU: {@code kvm_vcpu_thread_fn} and {@code kvm_cpu_exec} in
 * {@code accel/kvm/}): {@code KVM_RUN} in a loop, and each exit that reaches user space handled with
 * the BQL held.
 *
 * <p>Implementation notes.
 *
 * <p><b>The loop.</b> {@code KVM_RUN} runs without the BQL: while the guest runs, the main loop and
 * the IOThreads go on. When it returns, the thread takes the BQL, handles the exit (port I/O and MMIO
 * go to the {@link IoBus}es, which call the owning device; {@code hlt}, shutdown, internal errors and
 * failed entries end the machine's run through {@link RunControl}), releases the BQL and goes back
 * in. A port or MMIO read is answered by writing the value into {@code kvm_run}; the next
 * {@code KVM_RUN} hands it to the guest's instruction.
 *
 * <p><b>Stopping.</b> Before each {@code KVM_RUN} the thread checks its own stop flag and whether the
 * run has ended. Whoever sets either then {@linkplain #kick() kicks} the thread, which brings it out
 * of {@code KVM_RUN} with {@code EINTR} (the signal scheme and why it has no lost-wake-up window are
 * in {@link VcpuSignals}). The flag is volatile and the thread publishes its kernel thread id under
 * {@code tidLock} <em>before</em> its first check, so either the kicker sees the id and signals, or
 * the thread sees the flag.
 *
 * <p><b>The thread id.</b> A kick addresses the kernel thread id, which the kernel may hand to a new
 * thread once this one has ended. The thread withdraws its id under {@code tidLock} before it ends,
 * and {@link #kick()} signals only under the same lock while the id is valid: a kick can never reach
 * a stranger (for whom SIGUSR1 would be fatal). Having withdrawn it, the thread consumes any kick
 * still pending: HotSpot restores a thread's original signal mask as the thread ends, and a pending
 * SIGUSR1 would then be delivered with its default action and end the process (a test saw exactly
 * that: "User defined signal 1", exit code 138).
 *
 * <p><b>Joining with the BQL.</b> A vCPU thread may be waiting for the BQL to handle its last exit.
 * {@link #stopAndJoin()} therefore releases the BQL while it joins if the caller holds it (QEMU's
 * {@code pause_all_vcpus} waits on a condition variable that releases the BQL for the same reason).
 */
public final class VcpuThread {
    private final KvmVcpu vcpu;
    private final Bql bql;
    private final IoBus pio;
    private final IoBus mmio;
    private final RunControl control;
    private final Thread thread;

    private final Object tidLock = new Object();
    /** 0 before the thread runs, the kernel tid while it may be kicked, -1 once it has ended. */
    private int tid;
    private volatile boolean stopRequested;

    // Written by the vCPU thread only.
    private volatile long pioExits;
    private volatile long mmioExits;
    private volatile long kicks;

    private VcpuThread(KvmVcpu vcpu, Bql bql, IoBus pio, IoBus mmio, RunControl control) {
        this.vcpu = vcpu;
        this.bql = bql;
        this.pio = pio;
        this.mmio = mmio;
        this.control = control;
        this.thread = new Thread(this::runLoop, "vcpu-" + vcpu.id());
        this.thread.setDaemon(true);
    }

    /**
     * Starts a thread that runs {@code vcpu} until {@code control} says the run has ended or the
     * thread is stopped. Port I/O goes to {@code pio}, MMIO to {@code mmio}; both are handled with
     * {@code bql} held.
     */
    public static VcpuThread start(KvmVcpu vcpu, Bql bql, IoBus pio, IoBus mmio, RunControl control) {
        VcpuThread t = new VcpuThread(vcpu, bql, pio, mmio, control);
        vcpu.attach(t);
        t.thread.start();
        return t;
    }

    public KvmVcpu vcpu() {
        return vcpu;
    }

    public Thread thread() {
        return thread;
    }

    public long pioExits() {
        return pioExits;
    }

    public long mmioExits() {
        return mmioExits;
    }

    /** How many times {@code KVM_RUN} came back because of a kick. */
    public long kicks() {
        return kicks;
    }

    private void runLoop() {
        VcpuSignals.KickScratch scratch = new VcpuSignals.KickScratch();
        try {
            long runMask = VcpuSignals.blockKickInCurrentThread();
            VcpuSignals.setKvmRunMask(vcpu.fd(), runMask);
            synchronized (tidLock) {
                tid = VcpuSignals.currentTid();
            }
            control.addVcpu(this);
            while (!stopRequested && !control.isEnded()) {
                int r = vcpu.run();
                if (r == -Errno.EINTR || r == -Errno.EAGAIN) {
                    VcpuSignals.drainKicks(scratch);
                    kicks++;
                    continue;
                }
                if (r < 0) {
                    control.end(MachineOutcome.failed(vcpu + ": KVM_RUN: " + Errno.name(-r), null));
                    break;
                }
                handleExit();
            }
        } catch (RuntimeException | Error e) {
            control.end(MachineOutcome.failed(vcpu + ": the vCPU thread failed: " + e, e));
        } finally {
            synchronized (tidLock) {
                tid = -1;
            }
            // No kick can come any more; consume the ones that did. A pending SIGUSR1 must not
            // outlive the loop: HotSpot restores the thread's original signal mask when the thread
            // ends, and the signal would then be delivered with its default action, which ends the
            // process ("User defined signal 1").
            VcpuSignals.drainKicks(scratch);
            control.removeVcpu(this);
        }
    }

    // tag::vcpu-exit-switch[]
    /** Handles the exit {@code KVM_RUN} just reported, with the BQL held (QEMU: the switch in {@code kvm_cpu_exec}). */
    @GlobalStateCode
    private void handleExit() {
        int reason = vcpu.exitReason();
        bql.lock();
        VcpuExitEvent trace = new VcpuExitEvent();
        trace.begin();
        try {
            switch (reason) {
                case KVM_EXIT_IO -> handlePio();
                case KVM_EXIT_MMIO -> handleMmio();
                case KVM_EXIT_HLT -> end(MachineOutcome.Kind.HALTED, "halted (hlt with no interrupt controller to wake it)");
                case KVM_EXIT_SHUTDOWN -> end(MachineOutcome.Kind.SHUTDOWN, "shutdown (triple fault) at " + where());
                case KVM_EXIT_SYSTEM_EVENT -> end(vcpu.systemEventType() == KVM_SYSTEM_EVENT_CRASH
                        ? MachineOutcome.Kind.FAILED : MachineOutcome.Kind.SHUTDOWN,
                        "system event " + vcpu.systemEventType());
                case KVM_EXIT_INTERNAL_ERROR -> end(MachineOutcome.Kind.FAILED, describeInternalError());
                case KVM_EXIT_FAIL_ENTRY -> end(MachineOutcome.Kind.FAILED, "KVM could not enter the guest (hardware"
                        + " entry failure reason 0x" + Long.toHexString(vcpu.failEntryReason()) + ") at " + where());
                default -> end(MachineOutcome.Kind.FAILED, "unexpected exit " + KvmAbi.exitReasonName(reason)
                        + " at " + where());
            }
        } catch (RuntimeException e) {
            // A device threw: a VMM bug, since guest input must never make a device throw.
            control.end(MachineOutcome.failed(vcpu + ": " + KvmAbi.exitReasonName(reason) + " exit: " + e, e));
        } finally {
            commitExit(trace, reason);
            bql.unlock();
        }
    }
    // end::vcpu-exit-switch[]

    /** Fills in the exit's JFR event, only when a recording wants it (the fields read {@code kvm_run} again). */
    private void commitExit(VcpuExitEvent trace, int reason) {
        trace.end();
        if (!trace.shouldCommit()) {
            return;
        }
        trace.vcpu = vcpu.id();
        trace.reason = KvmAbi.exitReasonName(reason);
        trace.address = -1;
        if (reason == KVM_EXIT_IO) {
            trace.address = vcpu.ioPort();
            trace.size = vcpu.ioSize();
            trace.count = vcpu.ioCount();
            trace.write = vcpu.ioIsOut();
        } else if (reason == KVM_EXIT_MMIO) {
            trace.address = vcpu.mmioAddress();
            trace.size = vcpu.mmioLength();
            trace.count = 1;
            trace.write = vcpu.mmioIsWrite();
        }
        trace.commit();
    }

    /** Port I/O: one access per element of a {@code rep ins}/{@code outs}, to the device owning the port. */
    @GlobalStateCode
    private void handlePio() {
        pioExits++;
        int port = vcpu.ioPort();
        int size = vcpu.ioSize();
        int count = vcpu.ioCount();
        for (int i = 0; i < count; i++) {
            if (vcpu.ioIsOut()) {
                pio.write(port, size, vcpu.ioData(i));
            } else {
                vcpu.setIoData(i, pio.read(port, size));
            }
        }
    }

    /** MMIO: one access of 1-8 bytes to the device owning the address. */
    @GlobalStateCode
    private void handleMmio() {
        mmioExits++;
        long addr = vcpu.mmioAddress();
        int len = vcpu.mmioLength();
        if (vcpu.mmioIsWrite()) {
            mmio.write(addr, len, vcpu.mmioData());
        } else {
            vcpu.setMmioData(mmio.read(addr, len));
        }
    }

    private void end(MachineOutcome.Kind kind, String detail) {
        control.end(MachineOutcome.of(kind, vcpu + ": " + detail));
    }

    private String describeInternalError() {
        int sub = vcpu.internalSuberror();
        String what = switch (sub) {
            case KVM_INTERNAL_ERROR_EMULATION -> "emulation failure (an instruction KVM's emulator does not implement)";
            case KVM_INTERNAL_ERROR_SIMUL_EX -> "exception while delivering an exception";
            case KVM_INTERNAL_ERROR_DELIVERY_EV -> "failure while delivering an event";
            case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON -> "unexpected hardware exit";
            default -> "suberror " + sub;
        };
        String data = Arrays.stream(vcpu.internalData()).mapToObj(d -> "0x" + Long.toHexString(d))
                .collect(Collectors.joining(" "));
        return "KVM internal error: " + what + " at " + where() + (data.isEmpty() ? "" : "; data " + data);
    }

    /** The guest's code address for messages: CS base + RIP (linear), plus the raw values. */
    private String where() {
        try {
            long rip = vcpu.registers().rip();
            long csBase = vcpu.specialRegisters().segment(SpecialRegisters.Seg.CS).base();
            return "linear 0x" + Long.toHexString(csBase + rip) + " (cs.base 0x" + Long.toHexString(csBase) + " rip 0x"
                    + Long.toHexString(rip) + ")";
        } catch (RuntimeException e) {
            return "an unknown address (" + e.getMessage() + ")";
        }
    }

    // tag::vcpu-kick[]
    /**
     * Brings the thread out of {@code KVM_RUN} if it is inside, or makes its next {@code KVM_RUN}
     * return at once (QEMU: {@code qemu_cpu_kick}). The thread then looks at its stop flag and the
     * run's end before it goes back in. Any thread; a kick from the vCPU thread itself is not needed.
     */
    public void kick() {
        if (Thread.currentThread() == thread) {
            return; // it is handling an exit: it checks the flags before the next KVM_RUN anyway
        }
        synchronized (tidLock) {
            if (tid > 0) { // started and not ended: the id is this thread's, not a reused one
                VcpuSignals.kick(tid);
            }
        }
    }
    // end::vcpu-kick[]

    /** Asks this vCPU thread to leave its loop (the machine's run need not end); does not wait. */
    public void stop() {
        stopRequested = true;
        kick();
    }

    /** Waits at most {@code timeout} for the thread to end; returns whether it has. */
    public boolean join(Duration timeout) throws InterruptedException {
        thread.join(Math.max(1, timeout.toMillis()));
        return !thread.isAlive();
    }

    /**
     * Stops the thread and waits until it has ended, releasing the BQL meanwhile if the caller holds
     * it (see the class comment). Uninterruptible: the vCPU's fd must not be closed under a thread
     * that may still be in {@code KVM_RUN}.
     */
    @GlobalStateCode
    void stopAndJoin() {
        if (Thread.currentThread() == thread) {
            throw new IllegalStateException(thread.getName() + " cannot join itself (close the VM from another thread)");
        }
        stop();
        boolean releasedBql = bql.isHeld();
        if (releasedBql) {
            bql.unlock();
        }
        boolean interrupted = false;
        try {
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (releasedBql) {
                bql.lock();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return thread.getName();
    }
}
