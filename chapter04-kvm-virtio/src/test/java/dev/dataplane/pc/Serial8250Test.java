package dev.dataplane.pc;

import static dev.dataplane.pc.Serial8250.IER_DLM;
import static dev.dataplane.pc.Serial8250.IIR_FCR;
import static dev.dataplane.pc.Serial8250.LCR;
import static dev.dataplane.pc.Serial8250.LSR;
import static dev.dataplane.pc.Serial8250.MCR;
import static dev.dataplane.pc.Serial8250.MSR;
import static dev.dataplane.pc.Serial8250.RBR_THR_DLL;
import static dev.dataplane.pc.Serial8250.SCR;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class Serial8250Test {

    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final SerialCapture capture = new SerialCapture();
    private final Serial8250 uart = new Serial8250(console, capture);

    private void print(String s) {
        for (byte b : s.getBytes(StandardCharsets.ISO_8859_1)) {
            uart.write(RBR_THR_DLL, 1, b & 0xff);
        }
    }

    private int reg(int offset) {
        return (int) uart.read(offset, 1);
    }

    @Test
    void bytesWrittenToThrAppearOnTheConsoleAtOnce() {
        print("hi");
        assertThat(console.toString(StandardCharsets.ISO_8859_1)).isEqualTo("hi");
        assertThat(uart.pendingLine()).isEqualTo("hi");
        assertThat(capture.lines()).isEmpty();
    }

    @Test
    void eachLineReachesTheListenerStampedWhenItsNewlineWasWritten() {
        print("@QD1 begi");
        long before = System.nanoTime();
        print("n\r\n");
        long after = System.nanoTime();
        print("second\n");

        List<SerialCapture.Line> lines = capture.lines();
        assertThat(lines).extracting(SerialCapture.Line::text).containsExactly("@QD1 begin", "second");
        assertThat(lines.get(0).nanoTime()).isBetween(before, after);
        assertThat(lines.get(1).nanoTime()).isGreaterThanOrEqualTo(after);
        assertThat(console.toString(StandardCharsets.ISO_8859_1)).isEqualTo("@QD1 begin\r\nsecond\n");
        assertThat(capture.text()).isEqualTo("@QD1 begin\nsecond\n");
    }

    @Test
    void lineStampIsTakenBeforeTheConsoleIsWritten() {
        long[] consoleSawNewlineAt = new long[1];
        OutputStream slowTerminal = new OutputStream() {
            @Override
            public void write(int b) {
                if (b == '\n') {
                    consoleSawNewlineAt[0] = System.nanoTime();
                }
            }
        };
        SerialCapture lines = new SerialCapture();
        Serial8250 u = new Serial8250(slowTerminal, lines);
        u.write(0, 1, '\n');
        assertThat(lines.lines().get(0).nanoTime()).isLessThanOrEqualTo(consoleSawNewlineAt[0]);
    }

    @Test
    void lineStatusAlwaysShowsAnEmptyTransmitterAndDataReadyOnlyWithInput() {
        assertThat(reg(LSR)).isEqualTo(0x60);
        print("x");
        assertThat(reg(LSR)).isEqualTo(0x60);
        uart.pushInput(new byte[] {'k'});
        assertThat(reg(LSR)).isEqualTo(0x61);
    }

    @Test
    void inputPushedByTheHostIsReadFromRbrInOrderThenReadsZero() {
        assertThat(uart.pushInput("ab".getBytes(StandardCharsets.US_ASCII))).isEqualTo(2);
        assertThat(reg(RBR_THR_DLL)).isEqualTo('a');
        assertThat(reg(RBR_THR_DLL)).isEqualTo('b');
        assertThat(reg(LSR) & 1).isZero();
        assertThat(reg(RBR_THR_DLL)).isZero();
    }

    @Test
    void inputBeyondTheReceiveQueueIsDroppedAndCounted() {
        byte[] lots = new byte[Serial8250.RX_CAPACITY + 10];
        assertThat(uart.pushInput(lots)).isEqualTo(Serial8250.RX_CAPACITY);
        assertThat(uart.pushInput(new byte[] {1})).isZero();
        uart.write(IIR_FCR, 1, 0x03); // FIFO enable + clear receive FIFO
        assertThat(reg(LSR) & 1).isZero();
    }

    @Test
    void dlabTurnsOffsetsZeroAndOneIntoTheDivisorLatch() {
        uart.write(IER_DLM, 1, 0x05);
        uart.write(LCR, 1, 0x83);              // DLAB | 8N1
        uart.write(RBR_THR_DLL, 1, 0x01);      // 115200 baud: divisor 1
        uart.write(IER_DLM, 1, 0x00);
        assertThat(uart.divisor()).isEqualTo(1);
        assertThat(reg(RBR_THR_DLL)).isEqualTo(1);
        assertThat(reg(IER_DLM)).isZero();
        assertThat(console.size()).as("a DLL write is not a transmitted byte").isZero();

        uart.write(LCR, 1, 0x03);
        assertThat(reg(LCR)).isEqualTo(0x03);
        assertThat(reg(IER_DLM)).as("IER kept while DLAB was set").isEqualTo(0x05);
    }

    @Test
    void scratchModemControlAndIerKeepTheirImplementedBits() {
        uart.write(SCR, 1, 0xa5);
        uart.write(MCR, 1, 0xff);
        uart.write(IER_DLM, 1, 0xff);
        assertThat(reg(SCR)).isEqualTo(0xa5);
        assertThat(reg(MCR)).isEqualTo(0x1f);
        assertThat(reg(IER_DLM)).isEqualTo(0x0f);
    }

    @Test
    void iirReportsNoInterruptUntilInterruptsAreEnabled() {
        assertThat(reg(IIR_FCR)).isEqualTo(0x01);
        uart.pushInput(new byte[] {'z'});
        assertThat(reg(IIR_FCR)).isEqualTo(0x01);
        uart.write(IER_DLM, 1, 0x01);
        assertThat(reg(IIR_FCR)).as("received data available").isEqualTo(0x04);
    }

    @Test
    void enablingTheThrInterruptIsReportedOnceInIirAndAgainAfterEachByte() {
        uart.write(IER_DLM, 1, 0x02);
        assertThat(reg(IIR_FCR)).isEqualTo(0x02);
        assertThat(reg(IIR_FCR)).as("reading IIR acknowledged it").isEqualTo(0x01);
        print("a");
        assertThat(reg(IIR_FCR)).isEqualTo(0x02);
    }

    @Test
    void iirShowsTheFifoBitsWhileFcrEnablesTheFifos() {
        uart.write(IIR_FCR, 1, 0x01);
        assertThat(reg(IIR_FCR)).isEqualTo(0xc1);
        uart.write(IIR_FCR, 1, 0x00);
        assertThat(reg(IIR_FCR)).isEqualTo(0x01);
    }

    @Test
    void modemStatusShowsACarrierAndLoopbackSendsOutputBackToTheReceiver() {
        assertThat(reg(MSR)).isEqualTo(0xb0);
        uart.write(MCR, 1, 0x10 | 0x03);       // loopback, DTR, RTS
        assertThat(reg(MSR)).isEqualTo(0x30);  // DSR, CTS
        print("L");
        assertThat(console.size()).isZero();
        assertThat(reg(LSR) & 1).isEqualTo(1);
        assertThat(reg(RBR_THR_DLL)).isEqualTo('L');
    }

    @Test
    void registersLsrAndMsrIgnoreWrites() {
        uart.write(LSR, 1, 0);
        uart.write(MSR, 1, 0);
        assertThat(reg(LSR)).isEqualTo(0x60);
        assertThat(reg(MSR)).isEqualTo(0xb0);
    }

    @Test
    void wideAccessesAreSplitIntoByteAccessesAndBytesPastTheBlockReadAllOnes() {
        uart.write(SCR, 1, 0x42);
        assertThat(uart.read(LSR, 2)).isEqualTo(0xb060);             // LSR, MSR
        assertThat(uart.read(SCR, 4)).isEqualTo(0xffffff42L);        // SCR, then nothing
        uart.write(RBR_THR_DLL, 2, 'o' | 'k' << 8);                  // THR 'o', IER 'k' & 0xf
        assertThat(console.toString(StandardCharsets.ISO_8859_1)).isEqualTo("o");
        assertThat(reg(IER_DLM)).isEqualTo('k' & 0xf);
        assertThat(uart.read(8, 1)).isEqualTo(0xff);
        assertThat(uart.read(-1, 1)).isEqualTo(0xff);
    }

    @Test
    void aLineLongerThanTheLimitIsDeliveredInPieces() {
        print("x".repeat(Serial8250.MAX_LINE + 3) + "\n");
        assertThat(capture.lines()).extracting(l -> l.text().length()).containsExactly(Serial8250.MAX_LINE, 3);
    }

    @Test
    void aFailingConsoleStopsConsoleOutputButNotTheLines() {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("terminal gone");
            }
        };
        SerialCapture lines = new SerialCapture();
        Serial8250 u = new Serial8250(broken, lines);
        for (byte b : "still here\n".getBytes(StandardCharsets.US_ASCII)) {
            u.write(0, 1, b);
        }
        assertThat(u.consoleError()).hasMessage("terminal gone");
        assertThat(lines.lines()).extracting(SerialCapture.Line::text).containsExactly("still here");
    }

    @Test
    void captureKeepsOnlyTheNewestLines() {
        SerialCapture small = new SerialCapture(2);
        small.line("a", 1);
        small.line("b", 2);
        small.line("c", 3);
        assertThat(small.lines()).extracting(SerialCapture.Line::text).containsExactly("b", "c");
        assertThat(small.total()).isEqualTo(3);
    }

    @Test
    void anotherThreadCanWaitForAMarkerLine() throws Exception {
        Thread vcpu = new Thread(() -> print("booting\n@done 0\n"), "fake-vcpu");
        vcpu.start();
        Optional<SerialCapture.Line> done = capture.await(l -> l.startsWith("@done"), Duration.ofSeconds(20));
        vcpu.join(TimeUnit.SECONDS.toMillis(20));
        assertThat(done).map(SerialCapture.Line::text).contains("@done 0");
        assertThat(capture.await(l -> l.equals("never"), Duration.ofMillis(1))).isEmpty();
    }

    @Test
    void bytesAboveAsciiArriveUnchangedAsLatin1() {
        List<String> got = new ArrayList<>();
        Serial8250 u = new Serial8250(OutputStream.nullOutputStream(), (line, t) -> got.add(line));
        u.write(0, 1, 0xe9);
        u.write(0, 1, 0xff);
        u.write(0, 1, '\n');
        assertThat(got).containsExactly("\u00e9\u00ff");
    }
}
