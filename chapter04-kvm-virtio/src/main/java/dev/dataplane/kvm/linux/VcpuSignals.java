package dev.dataplane.kvm.linux;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.aio.linux.LinuxException;

/**
 * The signal a vCPU thread is kicked out of {@code KVM_RUN} with (QEMU: {@code SIG_IPI}, which is
 * {@code SIGUSR1}), handled without any signal handler.
 *
 * <p>Implementation notes.
 *
 * <p>A thread inside {@code KVM_RUN} returns to user space with {@code EINTR} as soon as a signal
 * is pending for it that the signal mask in force <em>inside KVM_RUN</em> lets through. The usual
 * recipe installs a handler that does nothing, so that the signal interrupts the call and is then
 * consumed. A JVM is a poor place for a native signal handler (it would run on a Java thread at an
 * arbitrary point, and HotSpot owns several signals), so Dataplane uses the other half of KVM's
 * API, {@code KVM_SET_SIGNAL_MASK}, as QEMU did before {@code immediate_exit} existed:
 *
 * <ol>
 * <li>The vCPU thread blocks {@code SIGUSR1} for itself ({@code pthread_sigmask}), for good.
 *     Outside {@code KVM_RUN} the signal can only become <em>pending</em>; it is never delivered,
 *     so its disposition (HotSpot leaves it at the default, "terminate") never matters.</li>
 * <li>It tells KVM, with {@code KVM_SET_SIGNAL_MASK}, to run the guest with its mask minus
 *     {@code SIGUSR1}. KVM swaps that mask in on entry and the thread's own mask back before it
 *     returns, so a pending {@code SIGUSR1} ends {@code KVM_RUN} with {@code EINTR} and is still
 *     blocked (and pending) once the thread is back in Java.</li>
 * <li>The kicker sends {@code SIGUSR1} to the vCPU's kernel thread id ({@code tgkill}).</li>
 * <li>After an {@code EINTR} the vCPU thread consumes the pending signal with a zero-timeout
 *     {@code sigtimedwait}, so that the next {@code KVM_RUN} does not return at once.</li>
 * </ol>
 *
 * <p>There is no lost-wake-up window: a kick that lands after the vCPU thread last looked at its
 * "stop" flag but before it entered {@code KVM_RUN} stays pending, and KVM checks for pending
 * signals before it runs the guest. ({@code immediate_exit} closes the same window differently: the
 * kicker sets a byte in {@code kvm_run} that KVM reads on entry; but a vCPU already inside the guest
 * still needs a signal with a handler to come out.) A kick that arrives while the thread is in
 * Java is harmless: at worst one spurious {@code EINTR} later.
 *
 * <p>The kernel thread id is only valid while the thread lives; a later thread may reuse it. The
 * kicker must therefore send the signal only while it knows the vCPU thread has not finished (the
 * vCPU thread withdraws its id under a lock before it ends; see {@code VcpuThread}).
 */
public final class VcpuSignals {

    /** {@code SIGUSR1}: QEMU's {@code SIG_IPI}; HotSpot uses SIGUSR2 (suspend/resume), not this one. */
    public static final int SIG_KICK = 10;
    private static final int SIG_BLOCK = 0;
    private static final int SIG_SETMASK = 2;
    /** glibc's {@code sigset_t} is 1024 bits; the kernel's (and KVM's) is 64. */
    private static final int GLIBC_SIGSET_SIZE = 128;

    static {
        Native.register(VcpuSignals.class, Platform.C_LIBRARY_NAME);
    }

    private VcpuSignals() {
    }

    static native int pthread_sigmask(int how, Pointer set, Pointer oldset);

    static native int sigtimedwait(Pointer set, Pointer info, Pointer timeout);

    static native int tgkill(int tgid, int tid, int sig);

    static native int gettid();

    static native int getpid();

    /** The calling thread's kernel thread id (what {@code tgkill} addresses). */
    public static int currentTid() {
        return gettid();
    }

    /**
     * Blocks {@link #SIG_KICK} in the calling thread and returns the mask KVM should apply while the
     * thread is inside {@code KVM_RUN}: the thread's previous mask, minus {@link #SIG_KICK}, as a
     * kernel {@code sigset_t} (bit {@code n-1} for signal {@code n}).
     */
    public static long blockKickInCurrentThread() {
        Memory set = sigset(SIG_KICK);
        Memory old = new Memory(GLIBC_SIGSET_SIZE);
        old.clear();
        int r = pthread_sigmask(SIG_BLOCK, set, old);
        if (r != 0) {
            throw new LinuxException("pthread_sigmask(SIG_BLOCK, SIGUSR1)", r);
        }
        return old.getLong(0) & ~bit(SIG_KICK);
    }

    /** Restores the calling thread's mask from a kernel sigset (used when a vCPU thread is done). */
    public static void setCurrentThreadMask(long kernelMask) {
        Memory set = new Memory(GLIBC_SIGSET_SIZE);
        set.clear();
        set.setLong(0, kernelMask);
        int r = pthread_sigmask(SIG_SETMASK, set, Pointer.NULL);
        if (r != 0) {
            throw new LinuxException("pthread_sigmask(SIG_SETMASK)", r);
        }
    }

    /** {@code KVM_SET_SIGNAL_MASK}: the mask in force while {@code vcpuFd} is in {@code KVM_RUN}. */
    public static void setKvmRunMask(int vcpuFd, long kernelMask) {
        NativeBlock arg = new NativeBlock(KvmAbi.SIZEOF_KVM_SIGNAL_MASK + KvmAbi.KERNEL_SIGSET_SIZE);
        arg.putInt(0, KvmAbi.KERNEL_SIGSET_SIZE);
        arg.putLong(4, kernelMask);
        KvmSys.ioctl(vcpuFd, KvmAbi.KVM_SET_SIGNAL_MASK, arg, "KVM_SET_SIGNAL_MASK");
    }

    /** Sends the kick signal to thread {@code tid} of this process. */
    public static void kick(int tid) {
        if (tgkill(getpid(), tid, SIG_KICK) < 0) {
            throw new LinuxException("tgkill(tid=" + tid + ", SIGUSR1)", Native.getLastError());
        }
    }

    /**
     * Consumes every pending kick signal of the calling thread without waiting; returns whether
     * there was one. {@code scratch} is this thread's {@link KickScratch}.
     */
    public static boolean drainKicks(KickScratch scratch) {
        boolean any = false;
        while (true) {
            int r = sigtimedwait(scratch.set, Pointer.NULL, scratch.zeroTimeout);
            if (r == SIG_KICK) {
                any = true;
                continue;
            }
            int errno = Native.getLastError();
            if (r < 0 && errno == Errno.EINTR) {
                continue;
            }
            if (r < 0 && errno == Errno.EAGAIN) {
                return any;
            }
            throw new LinuxException("sigtimedwait(SIGUSR1)", errno);
        }
    }

    /** Preallocated arguments of {@link #drainKicks}, one per vCPU thread. */
    public static final class KickScratch {
        private final Memory set = sigset(SIG_KICK);
        private final Memory zeroTimeout = KvmSys.zeroed(16);
    }

    private static long bit(int sig) {
        return 1L << (sig - 1);
    }

    private static Memory sigset(int sig) {
        Memory set = new Memory(GLIBC_SIGSET_SIZE);
        set.clear();
        set.setLong(0, bit(sig));
        return set;
    }
}
