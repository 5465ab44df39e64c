package dev.dataplane.pc;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A 16550-compatible UART as the PC has at COM1 (I/O ports 0x3F8..0x3FF), enough for a guest that
 * polls it (QEMU: {@code hw/char/serial.c}).
 *
 * <p>Implementation notes.
 *
 * <p><b>Registers</b> (offset from the base; DLAB is bit 7 of LCR):
 * <pre>
 *  0  read: RBR (received byte)     write: THR (byte to send)        DLAB=1: DLL (divisor, low)
 *  1  IER (interrupt enable, 4 bits stored)                          DLAB=1: DLM (divisor, high)
 *  2  read: IIR (interrupt ident)   write: FCR (FIFO control)
 *  3  LCR (line control)            4  MCR (modem control, 5 bits)
 *  5  LSR (line status, read-only)  6  MSR (modem status, read-only) 7  SCR (scratch)
 * </pre>
 * Transmission is instant: a byte written to THR goes to the sinks during the write, so LSR always
 * shows THRE and TEMT and a polling guest never waits. The divisor and LCR's framing bits are
 * stored and read back but change nothing, as nothing here has a baud rate.
 *
 * <p><b>Interrupts</b> are not wired (the guest polls), but IER is kept and IIR is computed from
 * it as the chip would (received data available, then "THR empty"), so a driver that probes the
 * UART by enabling interrupts and reading IIR sees a plausible answer.
 *
 * <p><b>Access widths.</b> The chip has 8-bit registers. A wider access is split into byte
 * accesses at consecutive offsets, lowest first, as QEMU's memory core splits accesses for a
 * device that implements only 1-byte accesses; bytes beyond offset 7 read as 0xFF and drop writes.
 *
 * <p><b>Output.</b> Every transmitted byte goes to the {@code console} stream; in loopback mode
 * (MCR bit 4) it goes to the receive queue instead, as on the chip. Completed lines also go to a
 * {@link LineListener}, stamped with {@link System#nanoTime()} taken as the newline's write
 * arrives, <em>before</em> any console I/O, so the stamps time the guest and not the terminal: the
 * benchmark times the guest's marker lines with them. A line longer than {@link #MAX_LINE} bytes is
 * delivered in pieces, so a guest that never prints a newline cannot make the host buffer grow.
 * Bytes are decoded as ISO-8859-1 (one char per byte, never a decoding error); a trailing CR is
 * dropped. If the console stream fails, console output stops (reported once through
 * {@link #consoleError()}) and the line listener still runs: a closed terminal must not crash a
 * vCPU.
 *
 * <p><b>Threads.</b> Register accesses come from vCPU threads with the BQL held; {@link #pushInput}
 * may be called from any thread. All state is guarded by this object's monitor; the sinks are
 * called with it held, so they see bytes in order and must not call back into the device.
 */
public final class Serial8250 implements IoDevice {

    /** COM1's base port. */
    public static final int COM1 = 0x3f8;
    /** Ports decoded. */
    public static final int IOSIZE = 8;
    /** Longest line buffered for the {@link LineListener}; longer lines arrive in pieces. */
    public static final int MAX_LINE = 4096;
    /** Receive queue capacity; {@link #pushInput} drops what does not fit. */
    public static final int RX_CAPACITY = 4096;

    // Register offsets.
    static final int RBR_THR_DLL = 0;
    static final int IER_DLM = 1;
    static final int IIR_FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    // Bits.
    static final int LCR_DLAB = 0x80;
    static final int IER_RDI = 0x01;  // received data available
    static final int IER_THRI = 0x02; // transmitter holding register empty
    static final int IER_MASK = 0x0f;
    static final int IIR_NO_INT = 0x01;
    static final int IIR_THRI = 0x02;
    static final int IIR_RDI = 0x04;
    static final int IIR_FIFO_ENABLED = 0xc0;
    static final int FCR_ENABLE = 0x01;
    static final int FCR_CLEAR_RX = 0x02;
    static final int MCR_MASK = 0x1f;
    static final int MCR_LOOP = 0x10;
    static final int LSR_DR = 0x01;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;

    /** Receives the guest's output one line at a time. */
    @FunctionalInterface
    public interface LineListener {
        /**
         * @param line the line without its newline (and without a trailing CR)
         * @param nanoTime {@link System#nanoTime()} when the newline was written by the guest
         */
        void line(String line, long nanoTime);

        /** Ignores every line. */
        LineListener NONE = (line, nanoTime) -> { };
    }

    private final OutputStream console;
    private final LineListener lines;

    private int ier;
    private int lcr;
    private int mcr;
    private int scr;
    private int divisor = 12; // 9600 baud, what firmware usually leaves behind
    private boolean fifoEnabled;
    private boolean thrInterruptPending; // the chip's "THR empty" interrupt latch
    private IOException consoleError;

    private final byte[] rx = new byte[RX_CAPACITY]; // ring
    private int rxHead;
    private int rxCount;

    private final byte[] line = new byte[MAX_LINE];
    private int lineLength;

    /**
     * @param console where transmitted bytes go (the terminal, a capture); flushed after each line
     * @param lines   told about each complete line with its time stamp
     */
    public Serial8250(OutputStream console, LineListener lines) {
        if (console == null || lines == null) {
            throw new NullPointerException(console == null ? "console" : "lines");
        }
        this.console = console;
        this.lines = lines;
    }

    /** A UART whose output goes nowhere (tests of its registers). */
    public Serial8250() {
        this(OutputStream.nullOutputStream(), LineListener.NONE);
    }

    @Override
    public synchronized long read(long offset, int size) {
        long value = 0;
        for (int i = 0; i < byteCount(size); i++) {
            value |= (long) readByte(offset + i) << (8 * i);
        }
        return value;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        for (int i = 0; i < byteCount(size); i++) {
            writeByte(offset + i, (int) (value >>> (8 * i)) & 0xff);
        }
    }

    private static int byteCount(int size) {
        return size >= 1 && size <= 8 ? size : 0; // nonsense sizes are ignored (reads give 0)
    }

    private int readByte(long offset) {
        if (offset < 0 || offset >= IOSIZE) {
            return 0xff;
        }
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch ((int) offset) {
            case RBR_THR_DLL:
                return dlab ? divisor & 0xff : receive();
            case IER_DLM:
                return dlab ? divisor >>> 8 : ier;
            case IIR_FCR:
                return readIir();
            case LCR:
                return lcr;
            case MCR:
                return mcr;
            case LSR:
                return LSR_THRE | LSR_TEMT | (rxCount > 0 ? LSR_DR : 0);
            case MSR:
                return readMsr();
            default:
                return scr;
        }
    }

    private void writeByte(long offset, int value) {
        if (offset < 0 || offset >= IOSIZE) {
            return;
        }
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch ((int) offset) {
            case RBR_THR_DLL:
                if (dlab) {
                    divisor = (divisor & 0xff00) | value;
                } else {
                    transmit((byte) value);
                }
                break;
            case IER_DLM:
                if (dlab) {
                    divisor = (divisor & 0x00ff) | (value << 8);
                } else {
                    // Enabling the THR interrupt while THR is empty (always, here) raises it at once.
                    if ((value & IER_THRI) != 0 && (ier & IER_THRI) == 0) {
                        thrInterruptPending = true;
                    }
                    ier = value & IER_MASK;
                }
                break;
            case IIR_FCR:
                fifoEnabled = (value & FCR_ENABLE) != 0;
                if ((value & FCR_CLEAR_RX) != 0) {
                    rxCount = 0;
                }
                break;
            case LCR:
                lcr = value;
                break;
            case MCR:
                mcr = value & MCR_MASK;
                break;
            case SCR:
                scr = value;
                break;
            default:
                break; // LSR and MSR are read-only
        }
    }

    private int readIir() {
        int id;
        if ((ier & IER_RDI) != 0 && rxCount > 0) {
            id = IIR_RDI;
        } else if ((ier & IER_THRI) != 0 && thrInterruptPending) {
            id = IIR_THRI;
            thrInterruptPending = false; // reading IIR acknowledges "THR empty", as on the chip
        } else {
            id = IIR_NO_INT;
        }
        return id | (fifoEnabled ? IIR_FIFO_ENABLED : 0);
    }

    private int readMsr() {
        if ((mcr & MCR_LOOP) != 0) {
            // Loopback: the modem outputs DTR, RTS, OUT1, OUT2 come back as DSR, CTS, RI, DCD.
            return ((mcr & 0x01) != 0 ? MSR_DSR : 0) | ((mcr & 0x02) != 0 ? MSR_CTS : 0)
                    | ((mcr & 0x04) != 0 ? MSR_RI : 0) | ((mcr & 0x08) != 0 ? MSR_DCD : 0);
        }
        return MSR_DCD | MSR_DSR | MSR_CTS; // a terminal is always there
    }

    private int receive() {
        if (rxCount == 0) {
            return 0;
        }
        int b = rx[rxHead] & 0xff;
        rxHead = (rxHead + 1) % RX_CAPACITY;
        rxCount--;
        return b;
    }

    private boolean enqueueReceived(byte b) {
        if (rxCount == RX_CAPACITY) {
            return false;
        }
        rx[(rxHead + rxCount) % RX_CAPACITY] = b;
        rxCount++;
        return true;
    }

    // tag::serial-transmit[]
    private void transmit(byte b) {
        long now = System.nanoTime(); // first, so the stamp does not include the terminal's time
        thrInterruptPending = true;   // the byte left at once: THR is empty again
        if ((mcr & MCR_LOOP) != 0) {
            enqueueReceived(b);
            return;
        }
        writeConsole(b);
        if (b == '\n') {
            endLine(now);
        } else {
            line[lineLength++] = b;
            if (lineLength == MAX_LINE) {
                endLine(now);
            }
        }
    }
    // end::serial-transmit[]

    private void endLine(long now) {
        int n = lineLength;
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        String text = new String(line, 0, n, StandardCharsets.ISO_8859_1);
        lineLength = 0;
        flushConsole();
        lines.line(text, now);
    }

    private void writeConsole(byte b) {
        if (consoleError != null) {
            return;
        }
        try {
            console.write(b);
        } catch (IOException e) {
            consoleError = e;
        }
    }

    private void flushConsole() {
        if (consoleError != null) {
            return;
        }
        try {
            console.flush();
        } catch (IOException e) {
            consoleError = e;
        }
    }

    /**
     * Queues bytes for the guest to read from RBR (the keyboard side of the line). Any thread.
     *
     * @return how many bytes were queued; the rest did not fit in the receive queue
     */
    public synchronized int pushInput(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && enqueueReceived(bytes[n])) {
            n++;
        }
        return n;
    }

    /** Bytes written so far on a line the guest has not ended yet, if any. */
    public synchronized String pendingLine() {
        return new String(Arrays.copyOf(line, lineLength), StandardCharsets.ISO_8859_1);
    }

    /** The divisor latch (DLM:DLL) the guest programmed. */
    public synchronized int divisor() {
        return divisor;
    }

    /** The failure that stopped console output, or {@code null} if the console is fine. */
    public synchronized IOException consoleError() {
        return consoleError;
    }
}
