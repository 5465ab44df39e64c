package dev.dataplane.exercises;

import static org.assertj.core.api.Assertions.assertThat;

import dev.dataplane.testsupport.Timeouts;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/** What the exercise-mechanism tests share: the repository root, javac, child processes. */
public final class Tools {

    private Tools() {
    }

    /** The repository root: the nearest directory at or above the working directory that holds mvnw. */
    static Path repoRoot() {
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("mvnw"))) {
                return dir;
            }
        }
        throw new AssertionError("no directory at or above " + start + " holds mvnw");
    }

    /** The result of one javac run: did it succeed, and everything it said. */
    record Compilation(boolean success, String diagnostics) {
    }

    /**
     * Compiles with the build's settings: release 17 and every lint warning fatal ({@code path}
     * aside: that one is about the test JVM's class path, which is not the build's).
     */
    static Compilation javac(List<Path> sources, String classpath, Path classesDir) throws IOException {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        assertThat(compiler).as("a JDK (not a JRE) runs the tests").isNotNull();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        StringWriter output = new StringWriter();
        try (StandardJavaFileManager files = compiler.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8)) {
            List<String> options = new ArrayList<>(List.of(
                    "--release", "17", "-Xlint:all,-processing,-path", "-Werror", "-proc:none",
                    "-encoding", "UTF-8", "-d", classesDir.toString()));
            if (!classpath.isEmpty()) {
                options.addAll(List.of("-classpath", classpath));
            }
            boolean success = compiler.getTask(output, files, diagnostics, options, null,
                    files.getJavaFileObjectsFromPaths(sources)).call();
            StringBuilder report = new StringBuilder(output.toString());
            diagnostics.getDiagnostics().forEach(d -> report.append(d).append('\n'));
            return new Compilation(success, report.toString());
        }
    }

    /** The result of a child process: exit status and what it printed (stdout and stderr merged). */
    record Run(int exitCode, String output) {
    }

    /** Runs a command to completion, failing the test if it outlives {@link Timeouts#CHILD_PROCESS}. */
    static Run run(Path dir, List<String> command) throws IOException, InterruptedException {
        // Output goes to a file, not a pipe, so that a child that never ends cannot block us in a read.
        Path log = Files.createTempFile("child-process", ".log");
        try {
            Process process = new ProcessBuilder(command).directory(dir.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!process.waitFor(Timeouts.CHILD_PROCESS.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(command + " did not finish within " + Timeouts.CHILD_PROCESS
                        + "; it printed:\n" + Files.readString(log));
            }
            return new Run(process.exitValue(), Files.readString(log));
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
