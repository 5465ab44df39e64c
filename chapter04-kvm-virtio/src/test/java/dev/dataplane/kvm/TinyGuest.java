package dev.dataplane.kvm;

import dev.dataplane.pc.IoBus;
import dev.dataplane.pc.IoDevice;
import dev.dataplane.testsupport.KvmCondition;
import dev.dataplane.testsupport.MainLoopThread;
import dev.dataplane.testsupport.Timeouts;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Test fixture: a one-vCPU VM with a few pages of RAM, a hand-assembled program at {@link #CODE},
 * a main loop (for the BQL) in its own thread, the two buses, and an exit port at {@link #EXIT_PORT}
 * whose written value ends the run. {@link #close()} releases everything, also after a failure.
 */
final class TinyGuest implements AutoCloseable {
    /** Where the program is loaded and where the vCPU starts (real mode: CS = 0, IP = 0x1000). */
    static final long CODE = 0x1000;
    /** Guest RAM: 64 KiB, so addresses from 0x10000 on are MMIO. */
    static final long RAM = 0x10000;
    /** Port whose written byte becomes the exit code (as QEMU's isa-debug-exit, without the shift). */
    static final int EXIT_PORT = 0xF4;

    final Kvm kvm;
    final KvmVm vm;
    final MmapGuestMemory ram;
    final KvmVcpu vcpu;
    final IoBus pio = IoBus.pio();
    final IoBus mmio = IoBus.mmio();
    final RunControl control = new RunControl();
    private MainLoopThread main;
    private VcpuThread thread;

    private TinyGuest(boolean irqchip, boolean protectedMode, int[] code) {
        kvm = Kvm.open(KvmCondition.requireUsableKvm());
        KvmVm v = null;
        try {
            v = kvm.createVm();
            ram = v.createMemory(RAM);
            if (irqchip) {
                v.createIrqchip();
            }
            vcpu = v.createVcpu(0);
            byte[] bytes = new byte[code.length];
            for (int i = 0; i < code.length; i++) {
                bytes[i] = (byte) code[i];
            }
            ram.write(CODE, bytes, 0, bytes.length);
            SpecialRegisters s = vcpu.specialRegisters();
            if (protectedMode) {
                s.flatProtectedMode();
            } else {
                s.realMode(0, 0);
            }
            vcpu.setSpecialRegisters(s);
            vcpu.setRegisters(new Registers().rip(CODE).rflags(Registers.RFLAGS_RESERVED).set(Registers.Reg.RSP, 0x8000));
            pio.map(EXIT_PORT, 1, new IoDevice() {
                @Override
                public long read(long offset, int size) {
                    return IoBus.allOnes(size);
                }

                @Override
                public void write(long offset, int size, long value) {
                    control.requestExit((int) value);
                }
            });
        } catch (RuntimeException | Error e) {
            if (v != null) {
                v.close();
            }
            kvm.close();
            throw e;
        }
        vm = v;
    }

    /** A real-mode guest: 16-bit code, CS = DS = SS = 0. */
    static TinyGuest realMode(int... code) {
        return new TinyGuest(false, false, code);
    }

    /** A real-mode guest with the in-kernel irqchip. */
    static TinyGuest realModeWithIrqchip(int... code) {
        return new TinyGuest(true, false, code);
    }

    /** A 32-bit flat protected-mode guest. */
    static TinyGuest protectedMode(int... code) {
        return new TinyGuest(false, true, code);
    }

    /** Starts the main loop and the vCPU thread. */
    VcpuThread start() {
        main = new MainLoopThread();
        thread = VcpuThread.start(vcpu, main.loop().bql(), pio, mmio, control);
        return thread;
    }

    MainLoopThread main() {
        return main;
    }

    /** Waits (at most {@link Timeouts#HANDSHAKE}) for the run to end. */
    MachineOutcome awaitOutcome() throws InterruptedException {
        return control.awaitOutcome(Timeouts.HANDSHAKE)
                .orElseThrow(() -> new AssertionError("the guest did not end within " + Timeouts.HANDSHAKE));
    }

    @Override
    public void close() {
        control.requestStop("test over");
        try {
            vm.close();
        } finally {
            try {
                if (main != null) {
                    main.close();
                }
            } finally {
                kvm.close();
            }
        }
    }

    /** An access a {@link Recorder} saw. */
    record Access(boolean write, long offset, int size, long value, boolean bqlHeld, String thread) {
    }

    /** A device that records every access, and whether the BQL was held; reads answer {@code readValue}. */
    final class Recorder implements IoDevice {
        final List<Access> accesses = new CopyOnWriteArrayList<>();
        private final long readValue;

        Recorder(long readValue) {
            this.readValue = readValue;
        }

        @Override
        public long read(long offset, int size) {
            accesses.add(new Access(false, offset, size, readValue, main.loop().bql().isHeld(),
                    Thread.currentThread().getName()));
            return readValue;
        }

        @Override
        public void write(long offset, int size, long value) {
            accesses.add(new Access(true, offset, size, value, main.loop().bql().isHeld(),
                    Thread.currentThread().getName()));
        }

        List<Long> writtenValues() {
            return accesses.stream().filter(Access::write).map(Access::value).toList();
        }
    }
}
