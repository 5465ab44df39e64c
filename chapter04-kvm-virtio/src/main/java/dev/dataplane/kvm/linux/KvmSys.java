package dev.dataplane.kvm.linux;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.aio.linux.LinuxException;

/**
 * The system calls chapter 4 adds to chapter 1's: {@code open} of the KVM device, {@code ioctl},
 * {@code mmap}/{@code munmap}/{@code madvise}, and the few signal calls a vCPU kick needs.
 *
 * <p>Implementation notes.
 *
 * <p>Direct mapping ({@link Native#register}), as in chapter 1's {@code LibC}: a trivial call
 * costs about 70 ns more than the call itself, against some 215 ns through an interface mapping.
 * {@code KVM_RUN} is issued once per vCPU exit, so only primitives and preallocated native memory
 * cross the boundary; nothing here allocates per call on that path.
 *
 * <p>{@code ioctl} is variadic in C ({@code int ioctl(int, unsigned long, ...)}). Binding it with a
 * fixed third parameter is safe on x86-64: integer and pointer arguments travel in the same
 * registers either way. Three overloads cover KVM's three argument kinds: none or an integer
 * ({@code long}), a structure in native memory ({@link Pointer}), and a small structure packed in
 * a {@code long[]} that JNA copies in and back (cheaper than allocating native memory).
 *
 * <p>Failures become chapter 1's {@link LinuxException}, whose message names the call, so a KVM
 * failure reads {@code KVM_CREATE_VM: EACCES (Permission denied)}. {@code EINTR} from
 * {@code KVM_RUN} is not a failure: it is how a kicked vCPU comes back (see {@link VcpuSignals}).
 */
public final class KvmSys {

    // <fcntl.h>
    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;
    // <sys/mman.h>
    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MADV_DONTFORK = 10;
    public static final int MADV_MERGEABLE = 12;
    public static final int MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1L;

    static {
        Native.register(KvmSys.class, Platform.C_LIBRARY_NAME);
    }

    private KvmSys() {
    }

    // ---- raw natives ----

    static native int open(String path, int flags);

    static native int ioctl(int fd, long request, long arg);

    static native int ioctl(int fd, long request, Pointer arg);

    static native int ioctl(int fd, long request, long[] arg);

    static native long mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    static native int munmap(Pointer addr, long length);

    static native int madvise(Pointer addr, long length, int advice);

    static native int close(int fd);

    // ---- wrappers ----

    /**
     * Opens {@code path} read-write and close-on-exec; {@code what} names it in the error message,
     * e.g. {@code open KVM device /dev/kvm: ENOENT (No such file or directory)}.
     */
    public static int open(String path, String what) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            throw new LinuxException("open " + what + " " + path, Native.getLastError());
        }
        return fd;
    }

    /** An ioctl whose argument is an integer (or absent: pass 0); returns the non-negative result. */
    public static int ioctl(int fd, long request, long arg, String name) {
        int r = ioctl(fd, request, arg);
        if (r < 0) {
            throw new LinuxException(name, Native.getLastError());
        }
        return r;
    }

    /** An ioctl whose argument is a structure in {@code block}. */
    public static int ioctl(int fd, long request, NativeBlock block, String name) {
        int r = ioctl(fd, request, block.pointer());
        if (r < 0) {
            throw new LinuxException(name, Native.getLastError());
        }
        return r;
    }

    /** An ioctl whose argument is a small structure packed little-endian into {@code words}. */
    public static int ioctl(int fd, long request, long[] words, String name) {
        int r = ioctl(fd, request, words);
        if (r < 0) {
            throw new LinuxException(name, Native.getLastError());
        }
        return r;
    }

    /**
     * {@code KVM_RUN} on the hot path: returns 0, or {@code -errno} instead of throwing, because
     * {@code EINTR} (a kick) and {@code EAGAIN} are part of normal operation.
     */
    public static int kvmRun(int vcpuFd) {
        int r = ioctl(vcpuFd, KvmAbi.KVM_RUN, 0L);
        return r < 0 ? -Native.getLastError() : r;
    }

    /** Closes {@code fd}, naming {@code what} in the error. */
    public static void close(int fd, String what) {
        if (close(fd) < 0) {
            throw new LinuxException("close(" + what + ", fd=" + fd + ")", Native.getLastError());
        }
    }

    /** mmap(2); returns the address. */
    static long mmap(long length, int prot, int flags, int fd, long offset, String what) {
        long addr = mmap(Pointer.NULL, length, prot, flags, fd, offset);
        if (addr == MAP_FAILED) {
            throw new LinuxException("mmap(" + what + ", " + length + " bytes)", Native.getLastError());
        }
        return addr;
    }

    static void munmap(long addr, long length, String what) {
        if (munmap(new Pointer(addr), length) < 0) {
            throw new LinuxException("munmap(" + what + ")", Native.getLastError());
        }
    }

    static void madvise(long addr, long length, int advice, String what) {
        if (madvise(new Pointer(addr), length, advice) < 0) {
            throw new LinuxException("madvise(" + what + ", advice " + advice + ")", Native.getLastError());
        }
    }

    /** Whether a failed call's errno means "this kernel does not do that". */
    public static boolean isUnsupported(LinuxException e) {
        return e.errno() == Errno.EINVAL || e.errno() == Errno.ENOTTY || e.errno() == Errno.ENOSYS;
    }

    /** Native memory for one structure argument, zeroed; kept by the caller for reuse. */
    static Memory zeroed(int bytes) {
        Memory m = new Memory(bytes);
        m.clear();
        return m;
    }
}
