package dev.dataplane.aio.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.dataplane.aio.AioContext;
import dev.dataplane.aio.linux.Errno;
import dev.dataplane.aio.linux.LibC;
import dev.dataplane.aio.linux.LinuxException;
import dev.dataplane.aio.linux.Sockets;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The echo demo end to end: its clients, its summary, its exit status and its error messages. */
class EchoDemoTest {

    /** Bounds a broken demo; a healthy run takes well under a second. */
    private static final Duration RUN_LIMIT = Duration.ofSeconds(60);

    /** What one run printed, and how it ended. */
    record Run(int exitCode, String out, String err) {
        String[] errLines() {
            return err.isEmpty() ? new String[0] : err.split("\\R");
        }
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = assertTimeoutPreemptively(RUN_LIMIT, () -> EchoDemo.run(args,
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void threeClientsWithFiveLinesEachGetEveryLineBackAndTheRunSucceeds() {
        Run r = run("--clients", "3", "--lines", "5", "--quiet");

        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).contains("15 of 15 lines echoed and verified")
                .contains("3 connections")
                .doesNotContain("[loop]"); // --quiet
    }

    @Test
    void liveOutputShowsOneLinePerLoopEvent() {
        Run r = run("--clients", "2", "--lines", "3");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out().lines().filter(l -> l.startsWith("[loop] accept"))).hasSize(2);
        assertThat(r.out().lines().filter(l -> l.startsWith("[loop] read"))).hasSizeGreaterThanOrEqualTo(6);
        assertThat(r.out().lines().filter(l -> l.startsWith("[loop] write"))).hasSizeGreaterThanOrEqualTo(6);
        assertThat(r.out().lines().filter(l -> l.startsWith("[loop] close") && l.contains("peer hung up")))
                .hasSize(2);
    }

    @Test
    void fortyClientsStayBelowTheEpollThresholdAndUsePpoll() {
        // 40 connections + the listener + the context's notifier + the demo's wake-up notifier = 43 fds.
        Run r = run("--clients", "40", "--lines", "2", "--quiet");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("80 of 80 lines echoed and verified").containsPattern("fd monitor +poll");
    }

    @Test
    void seventyConcurrentClientsMoveTheContextFromPpollToEpoll() {
        // 70 connections held at once + 3 more fds = 73 >= AioContext.EPOLL_ENABLE_THRESHOLD.
        assertThat(70 + 3).isGreaterThanOrEqualTo(AioContext.EPOLL_ENABLE_THRESHOLD);
        Run r = run("--clients", "70", "--lines", "2");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("140 of 140 lines echoed and verified")
                .contains("fd monitor poll -> epoll")
                .containsPattern("fd monitor +epoll");
    }

    @Test
    void fdMonitorPollKeepsPpollEvenWithManyClients() {
        Run r = run("--fd-monitor", "poll", "--clients", "70", "--lines", "1", "--quiet");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("70 of 70 lines echoed and verified").containsPattern("fd monitor +poll");
    }

    @Test
    void fdMonitorEpollUsesEpollFromTheStart() {
        Run r = run("--fd-monitor", "EPOLL", "--quiet");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("fd monitor epoll").containsPattern("fd monitor +epoll");
    }

    @Test
    void adaptivePollingOptionIsAcceptedAndTheEchoesStillMatch() {
        Run r = run("--poll-max-ns", "50000", "--quiet");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("12 of 12 lines echoed and verified");
    }

    @Test
    void runsCloseEveryFileDescriptorTheyOpen() throws IOException {
        run("--quiet", "--clients", "2"); // warm-up: class loading opens jar files and keeps them
        long before = openFds();

        for (int i = 0; i < 3; i++) {
            assertThat(run("--quiet", "--clients", "5").exitCode()).isZero();
        }
        try (ServerSocket squatter = new ServerSocket()) {
            squatter.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            assertThat(run("--port", String.valueOf(squatter.getLocalPort())).exitCode()).isEqualTo(EchoDemo.EXIT_FAILURE);
        }

        assertThat(openFds()).as("open fds after four runs").isLessThanOrEqualTo(before);
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void unknownOptionIsAUsageErrorOnOneLineWithoutAStackTrace() {
        Run r = run("--bogus");

        assertThat(r.exitCode()).isEqualTo(EchoDemo.EXIT_USAGE);
        assertThat(r.errLines()).singleElement().asString()
                .startsWith("echo-demo: ").contains("--bogus").contains("--help");
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void portOutOfRangeIsAUsageErrorThatSaysWhichPortsAreValid() {
        Run r = run("--port", "70000");

        assertThat(r.exitCode()).isEqualTo(EchoDemo.EXIT_USAGE);
        assertThat(r.errLines()).singleElement().asString().contains("70000").contains("0 to 65535");
    }

    @Test
    void portInUseIsARuntimeFailureOnOneLineNamingThePortAndTheWayOut() throws IOException {
        try (ServerSocket squatter = new ServerSocket()) {
            squatter.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int port = squatter.getLocalPort();

            Run r = run("--port", String.valueOf(port));

            assertThat(r.exitCode()).isEqualTo(EchoDemo.EXIT_FAILURE);
            assertThat(r.errLines()).singleElement().asString()
                    .isEqualTo("echo-demo: port " + port + " is already in use; pick another with --port or use --port 0");
            assertThat(r.err()).doesNotContain("Exception");
        }
    }

    @Test
    void portInUseWithDebugAlsoPrintsTheStackTrace() throws IOException {
        try (ServerSocket squatter = new ServerSocket()) {
            squatter.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));

            Run r = run("--debug", "--port", String.valueOf(squatter.getLocalPort()));

            assertThat(r.exitCode()).isEqualTo(EchoDemo.EXIT_FAILURE);
            assertThat(r.err()).contains("LinuxException").contains("EADDRINUSE").contains("\tat ");
        }
    }

    @Test
    void noPermissionToBindExplainsWhatToDo() {
        // Tests may run as root, where binding port 80 succeeds: check the message itself.
        String message = EchoDemo.bindFailureMessage(80, new LinuxException("bind(fd=5, 127.0.0.1:80)", Errno.EACCES));

        assertThat(message).contains("no permission to bind port 80").contains("--port 0");
    }

    @Test
    void helpAndVersionExitZero() {
        Run help = run("--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("--clients").contains("--fd-monitor").contains("--serve");

        Run version = run("--version");
        assertThat(version.exitCode()).isZero();
        assertThat(version.out()).startsWith("echo-demo ");
    }

    /**
     * A client that sends without reading fills the server's socket: the server must keep the
     * rest, register a write handler, and still echo every byte in order. The client half-closes
     * when it is done, so the server also has to finish echoing after end of file.
     */
    @Test
    void serverWaitsForPolloutWhenThePeerIsSlowAndStillEchoesEveryByte() {
        assertTimeoutPreemptively(RUN_LIMIT, () -> {
            CountDownLatch outputBlocked = new CountDownLatch(1);
            AtomicLong sent = new AtomicLong();
            AtomicLong received = new AtomicLong();
            AtomicReference<Throwable> clientFailure = new AtomicReference<>();

            try (AioContext ctx = AioContext.builder().name("slow-peer").build()) {
                int listenFd = Sockets.listenLoopback(0, 8);
                try {
                    EchoServer server = new EchoServer(ctx, listenFd, 1, null);
                    server.onOutputBlocked = outputBlocked::countDown;
                    server.start();

                    Socket socket = new Socket();
                    socket.setReceiveBufferSize(8 * 1024); // fill up quickly
                    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                            Sockets.localPort(listenFd)));
                    Thread writer = new Thread(() -> {
                        try {
                            writeUntil(socket.getOutputStream(), outputBlocked, sent);
                            socket.shutdownOutput();
                        } catch (IOException e) {
                            clientFailure.compareAndSet(null, e);
                        }
                    }, "slow-peer-writer");
                    // The reader starts only once the server had to wait: until then nobody reads.
                    Thread reader = new Thread(() -> {
                        try {
                            if (outputBlocked.await(30, TimeUnit.SECONDS)) {
                                readAndCheck(socket.getInputStream(), received);
                            }
                            socket.close();
                        } catch (IOException | InterruptedException | AssertionError e) {
                            clientFailure.compareAndSet(null, e);
                        }
                    }, "slow-peer-reader");
                    writer.start();
                    reader.start();

                    while (server.accepted() == 0 || server.openConnections() > 0) {
                        ctx.poll(true);
                    }
                    writer.join();
                    reader.join();

                    assertThat(clientFailure.get()).isNull();
                    assertThat(outputBlocked.getCount()).as("the server had to wait for POLLOUT").isZero();
                    assertThat(server.writeHandlerAdds()).isPositive();
                    assertThat(received.get()).isEqualTo(sent.get()).isPositive();
                    assertThat(server.bytesEchoed()).isEqualTo(sent.get());
                } finally {
                    LibC.closeFd(listenFd);
                }
            }
        });
    }

    /** Byte {@code i} of the stream; 251 is prime, so no buffer size lines up with the pattern. */
    private static byte patternAt(long i) {
        return (byte) (i % 251);
    }

    private static void writeUntil(OutputStream out, CountDownLatch stop, AtomicLong sent) throws IOException {
        byte[] chunk = new byte[16 * 1024];
        long pos = 0;
        while (stop.getCount() > 0) {
            for (int k = 0; k < chunk.length; k++) {
                chunk[k] = patternAt(pos + k);
            }
            out.write(chunk);
            pos += chunk.length;
            sent.set(pos);
        }
    }

    private static void readAndCheck(InputStream in, AtomicLong received) throws IOException {
        byte[] buf = new byte[16 * 1024];
        long pos = 0;
        for (int n; (n = in.read(buf)) > 0; ) {
            for (int k = 0; k < n; k++) {
                if (buf[k] != patternAt(pos + k)) {
                    throw new AssertionError("echo differs at byte " + (pos + k));
                }
            }
            pos += n;
            received.set(pos);
        }
    }
}
