package dev.dataplane.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.pc.IoBus;
import dev.dataplane.pc.IoDevice;
import dev.dataplane.testsupport.RequiresKvm;
import dev.dataplane.testsupport.Timeouts;
import org.junit.jupiter.api.Test;

/** A vCPU thread runs hand-assembled guests; each exit kind reaches the right place. */
@RequiresKvm
class VcpuRunTest {

    @Test
    void portWritesReachTheDeviceWithTheBqlHeldAndTheExitPortEndsTheRun() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(
                0xBA, 0xF8, 0x03,   // mov dx, 0x3f8
                0xB0, 'H',          // mov al, 'H'
                0xEE,               // out dx, al
                0xB0, 'i',          // mov al, 'i'
                0xEE,               // out dx, al
                0xB0, '!',          // mov al, '!'
                0xEE,               // out dx, al
                0xB0, 42,           // mov al, 42
                0xE6, 0xF4,         // out 0xf4, al   (the exit port)
                0xF4)) {            // hlt            (never reached)
            TinyGuest.Recorder serial = g.new Recorder(0);
            g.pio.map(0x3F8, 8, serial);
            VcpuThread t = g.start();

            MachineOutcome outcome = g.awaitOutcome();

            assertThat(outcome.kind()).isEqualTo(MachineOutcome.Kind.EXITED);
            assertThat(outcome.exitCode()).isEqualTo(42);
            assertThat(serial.writtenValues()).containsExactly((long) 'H', (long) 'i', (long) '!');
            assertThat(serial.accesses).allSatisfy(a -> {
                assertThat(a.offset()).isZero();
                assertThat(a.size()).isEqualTo(1);
                assertThat(a.bqlHeld()).as("BQL held in the handler").isTrue();
                assertThat(a.thread()).isEqualTo(t.thread().getName());
            });
            assertThat(t.pioExits()).isEqualTo(4);
        }
    }

    @Test
    void mmioWritesAndReadsReachTheDeviceOwningTheAddress() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(
                0xB8, 0x00, 0x20,               // mov ax, 0x2000
                0x8E, 0xD8,                     // mov ds, ax        (DS base 0x20000: beyond the 64 KiB of RAM)
                0xC6, 0x06, 0x10, 0x00, 0x5A,   // mov byte [0x0010], 0x5a   -> MMIO write at 0x20010
                0xA1, 0x20, 0x00,               // mov ax, [0x0020]          -> MMIO read of 2 bytes at 0x20020
                0xBA, 0xF8, 0x03,               // mov dx, 0x3f8
                0xEE,                           // out dx, al        (low byte of what the read returned)
                0x88, 0xE0,                     // mov al, ah
                0xEE,                           // out dx, al        (high byte)
                0xB0, 0x07,                     // mov al, 7
                0xE6, 0xF4)) {                  // out 0xf4, al
            TinyGuest.Recorder device = g.new Recorder(0x1234);
            TinyGuest.Recorder serial = g.new Recorder(0);
            g.mmio.map(0x20000, 0x1000, device);
            g.pio.map(0x3F8, 8, serial);
            VcpuThread t = g.start();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(7));

            assertThat(device.accesses).hasSize(2);
            TinyGuest.Access write = device.accesses.get(0);
            assertThat(write.write()).isTrue();
            assertThat(write.offset()).isEqualTo(0x10);
            assertThat(write.size()).isEqualTo(1);
            assertThat(write.value()).isEqualTo(0x5A);
            TinyGuest.Access read = device.accesses.get(1);
            assertThat(read.write()).isFalse();
            assertThat(read.offset()).isEqualTo(0x20);
            assertThat(read.size()).isEqualTo(2);
            assertThat(device.accesses).allSatisfy(a -> assertThat(a.bqlHeld()).isTrue());
            assertThat(serial.writtenValues()).as("the guest saw the device's answer").containsExactly(0x34L, 0x12L);
            assertThat(t.mmioExits()).isEqualTo(2);
        }
    }

    @Test
    void anUnmappedPortReadsAllOnes() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(
                0xBA, 0x34, 0x12,   // mov dx, 0x1234   (nobody there)
                0xED,               // in ax, dx
                0xBA, 0xF8, 0x03,   // mov dx, 0x3f8
                0xEE,               // out dx, al
                0x88, 0xE0,         // mov al, ah
                0xEE,               // out dx, al
                0xE6, 0xF4)) {      // out 0xf4, al
            TinyGuest.Recorder serial = g.new Recorder(0);
            g.pio.map(0x3F8, 8, serial);
            g.start();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(0xFF));
            assertThat(serial.writtenValues()).containsExactly(0xFFL, 0xFFL);
        }
    }

    @Test
    void hltWithoutAnIrqchipEndsTheRunAsHalted() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(
                0xFA,           // cli
                0xF4)) {        // hlt
            g.start();

            MachineOutcome o = g.awaitOutcome();

            assertThat(o.kind()).isEqualTo(MachineOutcome.Kind.HALTED);
            assertThat(o.detail()).contains("vCPU 0").contains("halted");
        }
    }

    @Test
    void anInstructionTheEmulatorLacksEndsTheRunWithAClearError() throws Exception {
        // An x87 load from MMIO: KVM must emulate it (no RAM behind the address) and its emulator has
        // no x87 arithmetic. On a VMX/SVM host and on this paravirtual KVM alike this is an
        // emulation failure.
        try (TinyGuest g = TinyGuest.realMode(
                0xB8, 0x00, 0x20,           // mov ax, 0x2000
                0x8E, 0xD8,                 // mov ds, ax
                0xD9, 0x06, 0x10, 0x00,     // fld dword [0x0010]   (linear 0x20010: MMIO)
                0xB0, 0x01,                 // mov al, 1
                0xE6, 0xF4)) {              // out 0xf4, al        (must not be reached)
            g.mmio.map(0x20000, 0x1000, g.new Recorder(0));
            g.start();

            MachineOutcome o = g.awaitOutcome();

            assertThat(o.kind()).isEqualTo(MachineOutcome.Kind.FAILED);
            assertThat(o.detail()).contains("vCPU 0").contains("KVM internal error").contains("emulation failure")
                    .contains("linear 0x1005");
        }
    }

    /**
     * A guest that counts in RAM forever without a single exit: once the counter moves, the vCPU
     * thread is inside {@code KVM_RUN} and only a kick can bring it out.
     */
    private static final int[] COUNT_FOREVER = {
        0xFF, 0x06, 0x00, 0x05,     // inc word [0x0500]
        0xEB, 0xFA,                 // jmp back to the inc
    };

    private static void awaitCounting(TinyGuest g, int above) {
        long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
        while ((g.ram.readShort(0x500) & 0xFFFF) <= above) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the guest did not count past " + above);
            }
            Thread.onSpinWait();
        }
    }

    @Test
    void aVcpuSpinningInTheGuestIsStoppedFromAnotherThread() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(COUNT_FOREVER)) {
            VcpuThread t = g.start();
            awaitCounting(g, 0);

            g.control.requestStop("the test stops it");

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.of(MachineOutcome.Kind.STOPPED, "the test stops it"));
            assertThat(t.join(Timeouts.HANDSHAKE)).as("the vCPU thread ended").isTrue();
            assertThat(t.kicks()).as("KVM_RUN came back because of the kick").isEqualTo(1);
            assertThat(t.pioExits() + t.mmioExits()).isZero();
        }
    }

    @Test
    void aKickWithoutAStopRequestSendsTheVcpuBackIntoTheGuest() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(COUNT_FOREVER)) {
            VcpuThread t = g.start();
            awaitCounting(g, 0);

            t.kick();
            long deadline = System.nanoTime() + Timeouts.HANDSHAKE.toNanos();
            while (t.kicks() == 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            int afterKick = g.ram.readShort(0x500) & 0xFFFF;
            awaitCounting(g, afterKick);

            assertThat(t.kicks()).isEqualTo(1);
            assertThat(g.control.isEnded()).isFalse();
        }
    }

    @Test
    void aFlatProtectedModeGuestRuns() throws Exception {
        try (TinyGuest g = TinyGuest.protectedMode(
                0xBA, 0xF8, 0x03, 0x00, 0x00,   // mov edx, 0x3f8   (32-bit operand: protected mode)
                0xB0, 'P',                      // mov al, 'P'
                0xEE,                           // out dx, al
                0xB0, 0x05,                     // mov al, 5
                0xE6, 0xF4)) {                  // out 0xf4, al
            TinyGuest.Recorder serial = g.new Recorder(0);
            g.pio.map(0x3F8, 8, serial);
            g.start();

            assertThat(g.awaitOutcome()).isEqualTo(MachineOutcome.exited(5));
            assertThat(serial.writtenValues()).containsExactly((long) 'P');
        }
    }

    @Test
    void aDeviceThatThrowsEndsTheRunAsFailedAndReleasesTheBql() throws Exception {
        try (TinyGuest g = TinyGuest.realMode(
                0xE6, 0x90,     // out 0x90, al
                0xF4)) {        // hlt
            g.pio.map(0x90, 1, new IoDevice() {
                @Override
                public long read(long offset, int size) {
                    return IoBus.allOnes(size);
                }

                @Override
                public void write(long offset, int size, long value) {
                    throw new IllegalStateException("device bug");
                }
            });
            g.start();

            MachineOutcome o = g.awaitOutcome();

            assertThat(o.kind()).isEqualTo(MachineOutcome.Kind.FAILED);
            assertThat(o.cause()).hasMessage("device bug");
            assertThat(g.main().call(() -> g.main().loop().bql().isHeld())).as("main loop holds the BQL again").isTrue();
        }
    }
}
