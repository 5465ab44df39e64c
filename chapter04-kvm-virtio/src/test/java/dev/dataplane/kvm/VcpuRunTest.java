package dev.dataplane.kvm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.testsupport.RequiresKvm;
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
}
