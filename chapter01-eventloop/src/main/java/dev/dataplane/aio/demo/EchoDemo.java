package dev.dataplane.aio.demo;

import static dev.dataplane.aio.demo.DemoCli.awaitQuietly;
import static dev.dataplane.aio.demo.DemoCli.checkRange;
import static dev.dataplane.aio.demo.DemoCli.removeShutdownHook;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.EventNotifier;
import dev.dataplane.aio.demo.DemoCli.DemoFailure;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.aio.linux.Sockets;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Chapter 1's workshop demo: a TCP echo server on 127.0.0.1 served entirely by one
 * {@link AioContext} in one thread, with non-blocking fds and level-triggered handlers, plus
 * client threads that send lines and check every echo.
 *
 * <pre>
 * scripts/dataplane                           # 3 clients, 4 lines each, then exit
 * scripts/dataplane --clients 70              # watch the switch to epoll
 * scripts/dataplane --serve --port 7000       # then: nc 127.0.0.1 7000
 * </pre>
 *
 * <p>Exit status: 0 if every echo matched, 1 if something failed at run time, 2 for bad
 * options. Errors are one line on stderr; {@code --debug} adds the stack trace.
 */
@Command(name = EchoDemo.NAME, mixinStandardHelpOptions = true, sortOptions = false,
        version = "echo-demo 0.1.0-SNAPSHOT (Dataplane chapter 1)",
        description = {"A line-echo server on 127.0.0.1 served entirely by one AioContext: one thread, "
                + "non-blocking fds, level-triggered handlers. Client threads send lines and check every echo."})
public final class EchoDemo implements Callable<Integer> {

    static final String NAME = "echo-demo";
    static final int EXIT_FAILURE = DemoCli.EXIT_FAILURE;
    static final int EXIT_USAGE = DemoCli.EXIT_USAGE;
    static final int MAX_CLIENTS = 1000;
    static final int MAX_LINES = 100_000;

    @Option(names = "--port", paramLabel = "N", defaultValue = "0",
            description = "TCP port on 127.0.0.1 (default: 0 = any free port).")
    private int port;

    @Option(names = "--clients", paramLabel = "N",
            description = "Client threads to run (default: 3; none with --serve).")
    private Integer clients;

    @Option(names = "--lines", paramLabel = "N", defaultValue = "4",
            description = "Lines each client sends (default: ${DEFAULT-VALUE}).")
    private int lines;

    @Option(names = "--serve", description = "Keep serving until Ctrl-C (try it with nc).")
    private boolean serve;

    @Option(names = "--poll-max-ns", paramLabel = "N", defaultValue = "0",
            description = "Adaptive polling window in ns (default: 0 = off). Sockets have no "
                    + "userspace poll function, so here the loop never busy-polls (see poll-mode hits).")
    private long pollMaxNs;

    @Option(names = "--fd-monitor", paramLabel = "KIND", defaultValue = "auto",
            description = "auto, poll or epoll (default: auto = poll, epoll from "
                    + AioContext.EPOLL_ENABLE_THRESHOLD + " fds).")
    private AioContext.FdMonitorKind fdMonitor;

    @Option(names = "--quiet", description = "Only the summary, no line per loop event.")
    private boolean quiet;

    @Option(names = "--debug", description = "Print stack traces on errors.")
    private boolean debug;

    @Spec
    private CommandSpec spec;

    private final PrintStream out;

    private EchoDemo(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the demo with {@code args}; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        EchoDemo demo = new EchoDemo(out);
        // A LinuxException's message names the call and the errno: the class name adds nothing.
        DemoCli cli = new DemoCli(NAME, e -> e instanceof LinuxException ? e.getMessage() : e.toString());
        return cli.run(demo, () -> demo.debug, args, out, err);
    }

    @Override
    public Integer call() throws InterruptedException {
        checkRange(spec, "--port", port, 0, 0xffff, " (0 = any free port)");
        checkRange(spec, "--lines", lines, 0, MAX_LINES);
        int clientCount = clients != null ? clients : serve ? 0 : 3;
        checkRange(spec, "--clients", clientCount, 0, MAX_CLIENTS);
        if (pollMaxNs < 0) {
            throw new ParameterException(spec.commandLine(),
                    "--poll-max-ns must be 0 or more, not " + pollMaxNs);
        }

        int listenFd = openListener(port);
        try (AioContext ctx = AioContext.builder().name(NAME).fdMonitor(fdMonitor).build()) {
            ctx.setPollParams(pollMaxNs, 0, 0);
            return serve(ctx, listenFd, clientCount);
        } finally {
            LibC.closeFd(listenFd);
        }
    }

    private int serve(AioContext ctx, int listenFd, int clientCount) throws InterruptedException {
        int boundPort = Sockets.localPort(listenFd);
        EchoServer server = new EchoServer(ctx, listenFd, serve ? 0 : clientCount, quiet ? null : out);

        // Other threads (the clients, the Ctrl-C hook) change what the loop waits for. A flag
        // alone would not wake a loop asleep in ppoll/epoll_wait; setting this notifier does.
        EventNotifier wake = new EventNotifier();
        ctx.setEventNotifier(wake, false, EventNotifier::testAndClear, null, null);
        AtomicBoolean stopRequested = new AtomicBoolean();
        CountDownLatch loopExited = new CountDownLatch(1);
        EchoClients clientThreads = new EchoClients(clientCount, lines, boundPort, wake::set);
        Thread ctrlC = serve ? new Thread(() -> {
            stopRequested.set(true);
            wake.set();
            awaitQuietly(loopExited, 5); // let the loop print its summary before the JVM halts
        }, "echo-demo-ctrl-c") : null;

        BooleanSupplier finished = serve
                ? stopRequested::get
                : () -> clientThreads.allFinished()
                        && server.accepted() >= clientThreads.connected()
                        && server.openConnections() == 0;

        out.printf("%s: echo server on 127.0.0.1:%d, one AioContext, fd monitor %s%n",
                NAME, boundPort, ctx.fdMonitorName());
        if (serve) {
            Runtime.getRuntime().addShutdownHook(ctrlC);
            out.printf("connect with: nc 127.0.0.1 %d   (Ctrl-C to stop)%n", boundPort);
        }
        if (clientCount > 0) {
            out.printf("%s: %d clients, %d lines each%n", NAME, clientCount, lines);
        }
        clientThreads.start();
        try {
            // tag::echo-loop[]
            // From here on, everything the server does happens inside poll(), in this one
            // thread: accept, read, write and close are the handlers' callbacks.
            server.start();
            while (!finished.getAsBoolean()) {
                ctx.poll(true);    // sleep until some fd is ready, then run its handler
            }
            // end::echo-loop[]
            return report(ctx, server, clientThreads);
        } finally {
            server.stop();         // close whatever is still connected, also after a failure
            ctx.removeEventNotifier(wake);
            loopExited.countDown();
            // The last client and the Ctrl-C hook call wake.set(). If one of them may still do
            // so, leave the eventfd open rather than risk writing to a reused fd number: the
            // JVM is about to exit anyway.
            boolean clientsGone = clientThreads.join();
            if (clientsGone && (ctrlC == null || removeShutdownHook(ctrlC))) {
                wake.close();
            }
        }
    }

    private int report(AioContext ctx, EchoServer server, EchoClients clientThreads) {
        AioContext.Statistics stats = ctx.statistics();
        out.printf("%n%s summary%n", NAME);
        if (clientThreads.count() > 0) {
            out.printf("  clients      %d, %d of %d lines echoed and verified%n", clientThreads.count(),
                    clientThreads.verifiedLines(), clientThreads.expectedLines());
        }
        out.printf("  server       %d connections, %d bytes echoed, write handler added %d times%n",
                server.accepted(), server.bytesEchoed(), server.writeHandlerAdds());
        out.printf("  event loop   %d poll() calls, %d waits (system calls), %d dispatches, %d poll-mode hits%n",
                stats.polls(), stats.waits(), stats.dispatches(), stats.pollModeHits());
        out.printf("  fd monitor   %s%n", ctx.fdMonitorName());
        // A Ctrl-C may stop --serve while its clients are still busy: that is no failure.
        boolean incomplete = !serve && clientThreads.verifiedLines() != clientThreads.expectedLines();
        if (clientThreads.problemCount() > 0 || incomplete) {
            throw new DemoFailure(EXIT_FAILURE, clientThreads.verifiedLines() + " of " + clientThreads.expectedLines()
                    + " lines verified; first problem: " + clientThreads.firstProblem());
        }
        return 0;
    }

    /** Binds the listener, turning the usual mistakes into advice. */
    private static int openListener(int port) {
        try {
            return Sockets.listenLoopback(port, Sockets.SOMAXCONN);
        } catch (LinuxException e) {
            throw new DemoFailure(EXIT_FAILURE, bindFailureMessage(port, e), e);
        }
    }

    static String bindFailureMessage(int port, LinuxException e) {
        return switch (e.errno()) {
            case Errno.EADDRINUSE -> "port " + port + " is already in use; pick another with --port or use --port 0";
            case Errno.EACCES, Errno.EPERM -> "no permission to bind port " + port
                    + " (ports below 1024 need privileges); pick a port of 1024 or above, or use --port 0";
            default -> "cannot listen on 127.0.0.1:" + port + ": " + e.getMessage();
        };
    }
}
