package dev.dataplane.aio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The socket bindings: a loopback listener, accept4, and how failures are reported. */
class SocketsTest {
    private final List<Integer> fds = new ArrayList<>();

    @AfterEach
    void closeFds() {
        for (int fd : fds) {
            LibC.closeFd(fd);
        }
    }

    private int track(int fd) {
        fds.add(fd);
        return fd;
    }

    @Test
    void listenerOnPortZeroLearnsItsPortFromGetsockname() throws IOException {
        int listenFd = track(Sockets.listenLoopback(0, 8));
        int port = Sockets.localPort(listenFd);
        assertThat(port).isBetween(1, 65535);
        // The kernel really listens there: a plain Java client can connect.
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
            assertThat(client.isConnected()).isTrue();
        }
    }

    @Test
    void bindingAPortSomebodyListensOnFailsWithEaddrinuseNamingTheCall() {
        int first = track(Sockets.listenLoopback(0, 8));
        int port = Sockets.localPort(first);

        assertThatThrownBy(() -> track(Sockets.listenLoopback(port, 8)))
                .isInstanceOfSatisfying(LinuxException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EADDRINUSE);
                    assertThat(e.call()).startsWith("bind(").contains("127.0.0.1:" + port);
                    assertThat(e.getMessage()).contains("EADDRINUSE");
                });
    }

    @Test
    void acceptOnAListenerWithNobodyWaitingReturnsMinusOneInsteadOfThrowing() {
        int listenFd = track(Sockets.listenLoopback(0, 8));
        assertThat(Sockets.accept(listenFd)).isEqualTo(-1);
    }

    @Test
    void acceptedConnectionIsNonBlockingAndCarriesBytesBothWays() {
        // A blocking fd would hang in the first read below: bound it.
        assertTimeoutPreemptively(Duration.ofSeconds(30), this::exchangeBytesWithAJavaClient);
    }

    private void exchangeBytesWithAJavaClient() throws IOException {
        int listenFd = track(Sockets.listenLoopback(0, 8));
        int port = Sockets.localPort(listenFd);
        try (Socket client = new Socket(InetAddress.getLoopbackAddress(), port)) {
            // connect() returned, so the handshake is done and the connection waits in the backlog.
            int fd = track(Sockets.accept(listenFd));
            assertThat(fd).isNotNegative();

            // Non-blocking (SOCK_NONBLOCK in accept4): no data yet means -1, not a hang.
            byte[] buf = new byte[16];
            assertThat(LibC.read(fd, buf, buf.length)).isEqualTo(-1);

            byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
            assertThat(LibC.write(fd, hello, hello.length)).isEqualTo(hello.length);
            InputStream in = client.getInputStream();
            assertThat(in.readNBytes(hello.length)).isEqualTo(hello);

            OutputStream out = client.getOutputStream();
            out.write('!');
            out.flush();
            client.shutdownOutput();
            awaitReadable(fd);
            assertThat(LibC.read(fd, buf, buf.length)).isEqualTo(1);
            assertThat(buf[0]).isEqualTo((byte) '!');
            awaitReadable(fd);
            assertThat(LibC.read(fd, buf, buf.length)).as("end of file after shutdownOutput").isZero();
        }
    }

    /** Waits in ppoll until {@code fd} is readable (or at end of file); fails after 10 s. */
    private static void awaitReadable(int fd) {
        PollFds pfd = new PollFds(1);
        pfd.set(0, fd, LibC.POLLIN);
        assertThat(LibC.ppoll(pfd, 1, 10_000_000_000L)).as("fd %d readable within 10 s", fd).isEqualTo(1);
    }

    @Test
    void bindRejectsAPortOutOfRangeBeforeCallingTheKernel() {
        int fd = track(Sockets.tcpSocket());
        assertThatThrownBy(() -> Sockets.bindLoopback(fd, 65536))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("65536");
    }
}
