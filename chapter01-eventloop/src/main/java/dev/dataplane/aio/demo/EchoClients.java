package dev.dataplane.aio.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The demo's clients: plain threads with blocking {@link java.net.Socket}s. They are the
 * outside world, not part of the event loop, so blocking is fine here. Each client connects,
 * sends its lines one at a time and checks that each comes back unchanged. After its first
 * echo a client waits until every client has had one, so that the server really holds all
 * connections at the same time.
 *
 * <p>All counters are atomic: the clients update them and the loop thread reads them.
 */
final class EchoClients {

    private static final int CONNECT_TIMEOUT_MS = 5_000;
    /** A server that stops answering makes a client fail instead of hanging the demo. */
    private static final int READ_TIMEOUT_MS = 10_000;

    private final int count;
    private final int lines;
    private final int port;
    private final Runnable whenAllFinished;
    private final CountDownLatch allGreeted;
    private final AtomicInteger connected = new AtomicInteger();
    private final AtomicInteger finished = new AtomicInteger();
    private final AtomicInteger verified = new AtomicInteger();
    private final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    private final List<Thread> threads = new ArrayList<>();

    /**
     * @param whenAllFinished runs in the last client thread to finish; the demo uses it to wake
     *                        the event loop, which otherwise has no reason to look at the counters
     */
    EchoClients(int count, int lines, int port, Runnable whenAllFinished) {
        this.count = count;
        this.lines = lines;
        this.port = port;
        this.whenAllFinished = whenAllFinished;
        this.allGreeted = new CountDownLatch(count);
    }

    void start() {
        for (int i = 1; i <= count; i++) {
            int id = i;
            Thread t = new Thread(() -> runClient(id), "echo-client-" + id);
            t.setDaemon(true); // never keep the JVM alive if the demo gives up on a client
            threads.add(t);
            t.start();
        }
    }

    private void runClient(int id) {
        boolean greeted = false;
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), CONNECT_TIMEOUT_MS);
            connected.incrementAndGet();
            socket.setSoTimeout(READ_TIMEOUT_MS);
            OutputStream toServer = socket.getOutputStream();
            BufferedReader fromServer = new BufferedReader(
                    new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            for (int j = 1; j <= lines; j++) {
                String line = "client " + id + " says hello #" + j;
                toServer.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                toServer.flush();
                String echo = fromServer.readLine();
                if (!line.equals(echo)) {
                    problems.add("client " + id + " sent \"" + line + "\" but got "
                            + (echo == null ? "end of stream" : "\"" + echo + "\""));
                    return;
                }
                verified.incrementAndGet();
                if (j == 1) {
                    // An echo proves the server has accepted us. Once every client has had
                    // one, the server holds all connections at once: that is what makes
                    // "--clients 70" cross the epoll threshold.
                    greeted = true;
                    allGreeted.countDown();
                    if (!allGreeted.await(READ_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                        throw new IOException("the other clients got no echo within " + READ_TIMEOUT_MS + " ms");
                    }
                }
            }
        } catch (IOException e) {
            problems.add("client " + id + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            problems.add("client " + id + ": interrupted");
        } finally {
            if (!greeted) {
                allGreeted.countDown(); // a client that failed early must not hold up the others
            }
            if (finished.incrementAndGet() == count) {
                whenAllFinished.run();
            }
        }
    }

    /**
     * Waits up to {@link #READ_TIMEOUT_MS} in all for the client threads to end; returns whether
     * they all have. Once {@link #allFinished()} is true they are only returning.
     */
    boolean join() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(READ_TIMEOUT_MS);
        for (Thread t : threads) {
            long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (leftMs > 0) {
                t.join(leftMs);
            }
        }
        return threads.stream().noneMatch(Thread::isAlive);
    }

    boolean allFinished() {
        return finished.get() == count;
    }

    int count() {
        return count;
    }

    int connected() {
        return connected.get();
    }

    int expectedLines() {
        return count * lines;
    }

    int verifiedLines() {
        return verified.get();
    }

    /** The first thing that went wrong, or null. */
    String firstProblem() {
        return problems.peek();
    }

    int problemCount() {
        return problems.size();
    }
}
