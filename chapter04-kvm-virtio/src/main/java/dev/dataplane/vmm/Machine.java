package dev.dataplane.vmm;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.EventNotifier;
import dev.dataplane.bh.BottomHalves;
import dev.dataplane.block.RawImage;
import dev.dataplane.block.VirtioBlk;
import dev.dataplane.iothread.IoThread;
import dev.dataplane.iothread.MainLoop;
import dev.dataplane.iothread.MainLoopHelpers;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.kvm.IoSpace;
import dev.dataplane.kvm.Kvm;
import dev.dataplane.kvm.KvmVcpu;
import dev.dataplane.kvm.KvmVm;
import dev.dataplane.kvm.MachineOutcome;
import dev.dataplane.kvm.MmapGuestMemory;
import dev.dataplane.kvm.Registers;
import dev.dataplane.kvm.RunControl;
import dev.dataplane.kvm.Segment;
import dev.dataplane.kvm.SpecialRegisters;
import dev.dataplane.kvm.VcpuThread;
import dev.dataplane.pc.BootCpuState;
import dev.dataplane.pc.DebugExitPort;
import dev.dataplane.pc.IoBus;
import dev.dataplane.pc.KernelImageException;
import dev.dataplane.pc.MultibootLoader;
import dev.dataplane.pc.PciFunction;
import dev.dataplane.pc.PciHostBridge;
import dev.dataplane.pc.Serial8250;
import dev.dataplane.timer.AioTimer;
import dev.dataplane.timer.ClockType;
import dev.dataplane.timer.TimerScale;
import dev.dataplane.virtio.NotifyBinder;
import dev.dataplane.virtio.VirtioPciLegacy;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The whole machine: a KVM VM with one vCPU, guest RAM, the small PC (serial port, exit port, PCI
 * host bridge) and one virtio-blk disk whose queue is served by an IOThread (or by the main loop),
 * booted from a Multiboot kernel (QEMU: the {@code pc} machine, {@code hw/i386/pc.c}, much reduced).
 *
 * <pre>{@code
 * MainLoop main = MainLoop.create();
 * try (Kvm kvm = Kvm.open(); Machine m = Machine.create(main, kvm, options)) {
 *     MachineOutcome outcome = m.run(Duration.ofMinutes(2));
 * }
 * main.close();
 * }</pre>
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Threads.</b> The main-loop thread builds the machine and runs the main loop; one vCPU
 * thread runs {@code KVM_RUN} and handles exits with the BQL held; the disk's queue is served in
 * the IOThread's {@code AioContext} (or in the main context with {@link Placement#MAIN_LOOP}),
 * its requests run on that context's thread pool, and completions raise the interrupt through an
 * irqfd from there, without the BQL.
 *
 * <p><b>The notify.</b> With {@code ioeventfd} on, the legacy queue-notify register becomes a KVM
 * ioeventfd when the driver sets DRIVER_OK (the {@link NotifyBinder} below); a kick then never
 * leaves the kernel on the vCPU side. With it off, the kick is a port write that exits to the vCPU
 * thread, which hands it to the device under the BQL.
 *
 * <p><b>Ending.</b> The guest ends the run through the exit port; an emulation failure, a
 * shutdown or the host's {@link #stop} end it too. Whatever ends it makes the main loop return
 * from {@link #run}. {@link #close()} resets the device (which stops the dataplane and waits for
 * requests in flight), stops the IOThread, closes the image and then the VM (joining the vCPU).
 */
public final class Machine implements AutoCloseable {

    /** Where the disk's queue is served. */
    public enum Placement {
        /** In an IOThread of its own: the dataplane. */
        IOTHREAD,
        /** In the main loop, under the BQL: QEMU without {@code iothread=}. */
        MAIN_LOOP
    }

    /** Everything a run needs. */
    public record Options(Path kernel, String cmdline, Path disk, boolean readOnly, boolean ioeventfd,
                          Placement placement, long memoryBytes, OutputStream console,
                          Serial8250.LineListener lines, long pollMaxNs) {
        public Options {
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(disk, "disk");
            Objects.requireNonNull(placement, "placement");
            Objects.requireNonNull(console, "console");
            cmdline = cmdline == null ? "" : cmdline;
            lines = lines == null ? Serial8250.LineListener.NONE : lines;
            if (pollMaxNs < 0) {
                pollMaxNs = defaultPollMaxNs();
            }
        }

        /** The IOThread's busy-polling window chosen for this host ({@link #defaultPollMaxNs()}). */
        public Options(Path kernel, String cmdline, Path disk, boolean readOnly, boolean ioeventfd,
                       Placement placement, long memoryBytes, OutputStream console, Serial8250.LineListener lines) {
            this(kernel, cmdline, disk, readOnly, ioeventfd, placement, memoryBytes, console, lines, -1);
        }
    }

    /** PCI slot of the disk (QEMU's {@code pc} machine puts the first added device at 00:03.0 too). */
    public static final int DISK_SLOT = 3;
    /** QEMU's default {@code poll-max-ns} for an IOThread. */
    public static final long IOTHREAD_POLL_MAX_NS = 32_768;

    // tag::machine-poll-default[]
    /**
     * The IOThread's {@code poll-max-ns} unless the caller chooses: QEMU's 32 µs when the host
     * has CPUs to spare, 0 (no busy polling) on a host of two CPUs or fewer. There, the vCPU
     * thread takes one CPU all the time (the guest polls its used ring), and an IOThread that
     * busy-polls for a completion takes the other from its own pool worker, whose wake-up then
     * waits for the poll window to run out. Measured with the bench-ch04 profile on a 2-CPU
     * host, as Dataplane / QEMU wall time per request, paired over nine rounds: QD1 0.99 without
     * polling and 1.12 with QEMU's window (QD16 0.96 and 0.98); the first measurement, before
     * the JIT flags of {@code jvm.flags}, was 145 against 224 µs at QD1.
     */
    public static long defaultPollMaxNs() {
        return Runtime.getRuntime().availableProcessors() > 2 ? IOTHREAD_POLL_MAX_NS : 0;
    }
    // end::machine-poll-default[]

    /** The default guest RAM: plenty for the teaching guest. */
    public static final long DEFAULT_MEMORY = 64L << 20;

    private final MainLoop main;
    private final Options options;
    private final KvmVm vm;
    private final MmapGuestMemory ram;
    private final IoBus pio = IoBus.pio();
    private final IoBus mmio = IoBus.mmio();
    private final RunControl control = new RunControl();
    private final Serial8250 serial;
    private final PciHostBridge bridge;
    private final VirtioPciLegacy disk;
    private final VirtioBlk blk;
    private final RawImage image;
    private final IoThread ioThread;
    private final List<AutoCloseable> irqResources = new ArrayList<>();
    private final KvmVcpu vcpu;
    private VcpuThread vcpuThread;
    private boolean closed;

    private Machine(MainLoop main, Kvm kvm, Options o) throws IOException, KernelImageException {
        this.main = main;
        this.options = o;
        this.vm = kvm.createVm();
        boolean built = false;
        try {
            vm.createIrqchip();
            vm.createPit2();
            this.ram = vm.createMemory(o.memoryBytes());
            BootCpuState boot = MultibootLoader.load(o.kernel(), ram, o.cmdline()).cpu();

            // tag::machine-devices[]
            serial = new Serial8250(o.console(), o.lines());
            pio.map(Serial8250.COM1, Serial8250.IOSIZE, serial);
            pio.map(DebugExitPort.DEFAULT_IOBASE, DebugExitPort.IOSIZE, new DebugExitPort(control::requestExit));

            // Busy-poll up to pollMaxNs before sleeping, adapting the window (QEMU: poll-max-ns,
            // poll-grow and poll-shrink 0: double, and drop to zero).
            ioThread = o.placement() == Placement.IOTHREAD
                    ? IoThread.builder("iothread0").pollParams(o.pollMaxNs(), 0, 0).start() : null;
            AioContext deviceContext = ioThread != null ? ioThread.context() : main.context();
            image = RawImage.open(o.disk(), o.readOnly(), deviceContext);
            blk = new VirtioBlk(ram, image, VirtioBlk.Options.defaults().withReadOnly(o.readOnly()));
            disk = new VirtioPciLegacy(blk, main.aioWait(), o.ioeventfd() ? this::bindNotify : NotifyBinder.NONE);

            bridge = new PciHostBridge(IoBus.mapper(pio, mmio), this::intxLine);
            pio.map(PciHostBridge.CONFIG_ADDRESS_PORT, PciHostBridge.IOSIZE, bridge);
            bridge.attach(DISK_SLOT, disk);
            bridge.assignResources(); // what firmware would do: BAR0 gets its I/O ports
            // end::machine-devices[]

            vcpu = vm.createVcpu(0);
            loadBootState(vcpu, boot);
            // Whatever ends the run (often the vCPU thread, at the exit port) wakes the main loop.
            control.onEnd(() -> BottomHalves.of(main.context()).scheduleOneshot("machine-ended", () -> { }));
            built = true;
        } finally {
            if (!built) {
                closeQuietly();
            }
        }
    }

    /**
     * Builds the machine (nothing runs yet). Main loop, with the BQL. Bad input (a missing or
     * corrupt kernel, a missing disk image) throws with a one-line message.
     */
    @GlobalStateCode
    public static Machine create(MainLoop main, Kvm kvm, Options options) throws IOException, KernelImageException {
        return new Machine(main, kvm, options);
    }

    /** The state the Multiboot loader asks for: flat 32-bit protected mode, paging off. */
    private static void loadBootState(KvmVcpu vcpu, BootCpuState boot) {
        SpecialRegisters s = vcpu.specialRegisters()
                .segment(SpecialRegisters.Seg.CS, segment(boot.cs()))
                .segment(SpecialRegisters.Seg.DS, segment(boot.ds()))
                .segment(SpecialRegisters.Seg.ES, segment(boot.es()))
                .segment(SpecialRegisters.Seg.FS, segment(boot.fs()))
                .segment(SpecialRegisters.Seg.GS, segment(boot.gs()))
                .segment(SpecialRegisters.Seg.SS, segment(boot.ss()))
                .gdt(new SpecialRegisters.DescriptorTable(boot.gdtBase(), boot.gdtLimit()))
                .cr0(boot.cr0());
        vcpu.setSpecialRegisters(s);
        Registers r = vcpu.registers()
                .rip(boot.eip())
                .rflags(boot.eflags())
                .set(Registers.Reg.RSP, boot.esp())
                .set(Registers.Reg.RAX, boot.eax())
                .set(Registers.Reg.RBX, boot.ebx());
        vcpu.setRegisters(r);
    }

    private static Segment segment(BootCpuState.Segment b) {
        return new Segment(b.base(), (int) b.limit(), b.selector(), b.type(), b.present(), b.dpl(), b.db(),
                b.s(), b.l(), b.g(), b.avl(), false);
    }

    // tag::machine-notify-binder[]
    /**
     * The dataplane's ioeventfd: a 2-byte write of the queue index to the notify register, at the
     * port where BAR0 is now, signals {@code n} inside KVM instead of exiting to the vCPU thread.
     */
    @GlobalStateCode
    private NotifyBinder.Binding bindNotify(int bar, long offset, int size, long value, EventNotifier n) {
        // tag::exercise-ch04-ioeventfd[]
        for (PciHostBridge.MappedBar b : bridge.mappedBars()) {
            if (b.slot() == DISK_SLOT && b.index() == bar && b.io()) {
                KvmVm.Registration r = vm.ioeventfdMatching(n, IoSpace.PIO, b.base() + offset, size, value);
                return r::close;
            }
        }
        return null; // BAR not mapped (the guest turned I/O decoding off): kicks go through the vCPU
        // end::exercise-ch04-ioeventfd[]
    }
    // end::machine-notify-binder[]

    // tag::machine-intx[]
    /**
     * A level-triggered interrupt line as an irqfd with a resample fd. Raising it writes the irqfd
     * from whichever thread completes a request (the IOThread: no BQL, no vCPU exit). KVM lowers the
     * line when the guest acknowledges the interrupt and signals the resample fd; if the device still
     * has an interrupt pending then, the line goes up again.
     */
    @GlobalStateCode
    private PciFunction.IntxLine intxLine(int gsi) {
        EventNotifier irq = new EventNotifier();
        EventNotifier resample = new EventNotifier();
        KvmVm.Registration r = vm.irqfd(irq, gsi, resample);
        // The resample fd is served by the main loop, as QEMU serves its resample fds: an EOI is
        // not on the request path, and in the IOThread's context a handler that cannot be
        // busy-polled would switch busy polling off for the disk's queue as well.
        AioContext ctx = main.context();
        ctx.setEventNotifier(resample, false, n -> resampled(n, irq), null, null);
        irqResources.add(() -> {
            ctx.removeEventNotifier(resample);
            r.close();
            resample.close();
            irq.close();
        });
        return level -> {
            if (level) {
                irq.set();
            }
        };
    }

    @IoCode
    private void resampled(EventNotifier resample, EventNotifier irq) {
        if (resample.testAndClear() && disk != null && disk.peekIsr() != 0) {
            irq.set();
        }
    }
    // end::machine-intx[]

    /**
     * Starts the vCPU and runs the main loop until the run ends: the guest's exit port, an error,
     * {@link #stop}, or {@code timeout} (which stops the machine). Main-loop thread.
     */
    @GlobalStateCode
    public MachineOutcome run(Duration timeout) {
        if (vcpuThread != null) {
            throw new IllegalStateException("the machine has run already; build a new one");
        }
        AioTimer deadline = MainLoopHelpers.timerNewMs(ClockType.REALTIME,
                () -> control.requestStop("no outcome after " + timeout.toSeconds() + " s"));
        deadline.mod(main.clocks().now(ClockType.REALTIME, TimerScale.MS) + timeout.toMillis());
        vcpuThread = VcpuThread.start(vcpu, main.bql(), pio, mmio, control);
        try {
            while (!control.isEnded()) {
                main.iterate(false);
            }
        } finally {
            deadline.del();
        }
        return control.outcome().orElseThrow();
    }

    /** Ends the run from any thread. */
    public void stop(String why) {
        control.requestStop(why);
    }

    /** The disk device, for statistics. */
    public VirtioBlk disk() {
        return blk;
    }

    /** The virtio-pci function of the disk. */
    public VirtioPciLegacy diskFunction() {
        return disk;
    }

    /** The vCPU thread, once {@link #run} has started it. */
    public VcpuThread vcpuThread() {
        return vcpuThread;
    }

    /** The IOThread serving the disk, or null on the main loop. */
    public IoThread ioThread() {
        return ioThread;
    }

    public Options options() {
        return options;
    }

    /** Resets the disk, stops the IOThread and the vCPU, releases every KVM resource. Main loop. */
    @Override
    @GlobalStateCode
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        control.requestStop("machine closed");
        closeQuietly();
    }

    private void closeQuietly() {
        RuntimeException failure = null;
        if (vcpuThread != null) {
            try {
                vcpuThread.stop();
                vcpuThread.join(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (disk != null) {
            try {
                // A reset stops the dataplane: ioeventfds removed, last kicks served, requests drained.
                disk.registers().write(VirtioPciLegacy.REG_STATUS, 1, 0);
            } catch (RuntimeException e) {
                failure = failure != null ? failure : e;
            }
        }
        for (AutoCloseable c : irqResources) {
            try {
                c.close();
            } catch (Exception e) {
                failure = failure != null ? failure : new IllegalStateException(e);
            }
        }
        if (image != null) {
            try {
                image.close();
            } catch (IOException e) {
                failure = failure != null ? failure : new IllegalStateException(e);
            }
        }
        if (ioThread != null) {
            try {
                ioThread.stop();
            } catch (RuntimeException e) {
                failure = failure != null ? failure : e;
            }
        }
        vm.close();
        if (failure != null) {
            throw failure;
        }
    }
}
