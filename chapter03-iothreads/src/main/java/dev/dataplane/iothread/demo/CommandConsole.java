package dev.dataplane.iothread.demo;

import dev.dataplane.aio.linux.Errno;
import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.aio.linux.PollFds;
import dev.dataplane.bh.BottomHalf;
import dev.dataplane.iothread.MainLoopHelpers;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoOrGsCode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The command console: lines read from a file descriptor (standard input) by an fd handler of the
 * main loop, run one at a time as commands, and live lines from the IOThreads printed in between.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>Re-entrancy.</b> The handler is registered with {@link MainLoopHelpers#setFdHandler},
 * so it runs in the main loop with the BQL held. A command such as {@code move} waits for
 * IOThreads with {@code AioWait}, and such a wait polls the main context, where this handler is
 * registered: if the user types while the command waits, the handler runs again, <em>inside</em>
 * the command. It must not run another command there (that one would see the first half-done),
 * and it must not leave the input unread either: handlers are level-triggered, so an unread
 * readable fd would call it again on every nested poll, a busy loop. So every call reads what is
 * there and queues complete lines; only the outermost call runs commands, oldest first, until
 * the queue is empty. QEMU's monitor meets the same problem by suspending its input while a
 * command runs; here, queuing keeps the handler simple.
 *
 * <p><b>Reading without blocking.</b> Standard input is usually a blocking fd, and its file
 * description is shared with the shell, so the console does not switch it to non-blocking. A
 * readiness report is acted on by exactly one {@code read(2)}, which then returns at once.
 * Before it, a zero-timeout {@code ppoll} checks that the fd is still readable: a report
 * collected by an outer poll can be stale by the time its handler runs, if a nested poll has
 * read the input meanwhile, and a blocking read would then wait for the user.
 *
 * <p><b>End of input.</b> A read of 0 bytes (Ctrl-D, the end of a pipe or a file) removes the
 * handler (an fd at end of file is readable for ever) and queues what is left of the last line;
 * once the queue is empty the console asks the main loop to quit.
 *
 * <p><b>Live lines</b> come from any thread through {@link #post}: a queue and one bottom half in
 * the main context that prints them in order. A oneshot bottom half per line would not do: the
 * bottom-half list is a stack, so two lines posted before one pass would come out reversed. While a
 * command runs, live lines wait, so that a command's output stays in one piece.
 */
final class CommandConsole {

    /** What runs the commands: returns false once a command asked to quit. */
    @FunctionalInterface
    interface Commands {
        boolean execute(String line);
    }

    private static final int READ_SIZE = 4096;

    private final int fd;
    private final PrintStream out;
    private final boolean echo;
    private final Commands commands;
    private final Runnable quit;

    // ---- main loop only ----
    private final PollFds readiness = new PollFds(1);
    private final byte[] buf = new byte[READ_SIZE];
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
    private final ArrayDeque<String> pending = new ArrayDeque<>();
    private boolean running;
    private boolean eof;
    private boolean done;
    private final BottomHalf printer;

    // ---- any thread ----
    private final ConcurrentLinkedQueue<String> liveLines = new ConcurrentLinkedQueue<>();
    private volatile boolean liveOn = true;

    /**
     * @param fd         the file descriptor to read commands from (0: standard input)
     * @param echo       print each command before its output ("&gt; threads"): for input that is
     *                   not typed on a terminal, whose lines nobody saw
     * @param quit       asks the main loop to quit; runs once, after the quit command or after
     *                   the last command of the input
     */
    @GlobalStateCode
    CommandConsole(int fd, PrintStream out, boolean echo, Commands commands, Runnable quit) {
        this.fd = fd;
        this.out = out;
        this.echo = echo;
        this.commands = commands;
        this.quit = quit;
        this.printer = MainLoopHelpers.bhNew("console-live-lines", this::printLiveLines);
    }

    /**
     * Starts reading commands. Main loop, once the machine is set up: setting up waits for the
     * IOThreads, and a command run inside such a wait would find the machine half-built.
     */
    @GlobalStateCode
    void open() {
        MainLoopHelpers.setFdHandler(fd, this::onReadable, null);
    }

    /** Stops reading commands: no command runs after this, even inside a nested wait. Main loop. */
    @GlobalStateCode
    void closeInput() {
        if (!eof) {
            MainLoopHelpers.setFdHandler(fd, null, null);
            eof = true;
        }
        done = true;
    }

    /**
     * Prints the live lines still queued and stops printing. Main loop, after {@link #closeInput()}
     * and once no job can post any more (every job detached).
     */
    @GlobalStateCode
    void finish() {
        printLiveLines();
        printer.delete();
    }

    // tag::demo-console-reentrancy[]
    /** The fd handler. Main loop, with the BQL; may be re-entered from a command's nested wait. */
    @GlobalStateCode
    private void onReadable() {
        readAvailable();                // always: an unread fd would call us again at once
        if (running) {
            return;                     // nested inside a command: the outer call runs the queue
        }
        running = true;
        try {
            while (!pending.isEmpty() && !done) {
                String line = pending.removeFirst();
                if (echo) {
                    out.println("> " + line);
                }
                if (!commands.execute(line)) {
                    done = true;        // quit: whatever else was queued is dropped
                    quit.run();
                }
            }
        } finally {
            running = false;
        }
        printLiveLines();               // what the IOThreads said while the commands ran
        if (eof && !done) {
            done = true;                // the input has ended, and its last command has run
            quit.run();
        }
    }

    /** One read(2) of what is there; complete lines go to the queue. */
    private void readAvailable() {
        if (eof || !stillReadable()) {
            return;
        }
        int n;
        try {
            n = LibC.read(fd, buf, buf.length);
        } catch (LinuxException e) {
            if (e.errno() == Errno.EINTR) {
                return;                 // level-triggered: we are called again
            }
            throw e;
        }
        if (n < 0) {
            return;                     // EAGAIN: someone made the fd non-blocking and it is empty
        }
        if (n == 0) {
            eof = true;
            MainLoopHelpers.setFdHandler(fd, null, null); // at end of file it is readable for ever
            if (partial.size() > 0) {
                queueLine();            // the last line had no newline
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                queueLine();
            } else {
                partial.write(buf[i]);
            }
        }
    }
    // end::demo-console-reentrancy[]

    private void queueLine() {
        String line = partial.toString(StandardCharsets.UTF_8).strip();
        partial.reset();
        if (!line.isEmpty() && !line.startsWith("#")) {
            pending.addLast(line);
        }
    }

    /** Whether the fd is readable right now (a zero-timeout ppoll); see "Reading without blocking". */
    private boolean stillReadable() {
        readiness.set(0, fd, LibC.POLLIN);
        return LibC.ppoll(readiness, 1, 0) > 0;
    }

    /** Queues a live line for the main loop to print. Any thread (the IOThreads' report timers). */
    @IoOrGsCode
    void post(String line) {
        if (liveOn) {
            liveLines.add(line);
            printer.schedule();
        }
    }

    /** Turns live lines on or off. */
    void setLive(boolean on) {
        liveOn = on;
        if (!on) {
            liveLines.clear();
        }
    }

    boolean live() {
        return liveOn;
    }

    /** The printer bottom half. Main loop; waits while a command runs, then onReadable calls it. */
    private void printLiveLines() {
        if (running) {
            return;
        }
        for (String line; (line = liveLines.poll()) != null; ) {
            out.println(line);
        }
    }
}
