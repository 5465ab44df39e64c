package dev.dataplane.exercises;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The student-version generator ({@code scripts/StudentVersion.java}) on small fixture
 * repositories. The script is compiled once, with the build's lint settings, and its
 * {@code run} method is called in-process: one javac run instead of one JVM per case.
 * {@link StudentVersionTest} runs it the real way, as a single-file program, on this repository.
 */
class StudentVersionScriptTest {

    private static URLClassLoader scriptLoader;
    private static Method run;

    @TempDir
    Path tmp;
    private Path repo;

    @BeforeAll
    static void compileTheScript(@TempDir Path classes) throws Exception {
        Tools.Compilation compilation = Tools.javac(
                List.of(Tools.repoRoot().resolve("scripts/StudentVersion.java")), "", classes);
        assertThat(compilation.success()).as(compilation.diagnostics()).isTrue();
        scriptLoader = new URLClassLoader(new URL[] {classes.toUri().toURL()});
        run = scriptLoader.loadClass("StudentVersion")
                .getMethod("run", String[].class, PrintStream.class, PrintStream.class);
    }

    @AfterAll
    static void closeTheLoader() throws IOException {
        scriptLoader.close();
    }

    @BeforeEach
    void emptyRepository() throws Exception {
        repo = Files.createDirectory(tmp.resolve("repo"));
        git(repo, "init", "-q");
        write("mod/pom.xml", "<project/>\n");
    }

    private record Result(int exitCode, String out, String err) {
    }

    private static Result studentVersion(String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exitCode;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            exitCode = (int) run.invoke(null, args, o, e);
        }
        return new Result(exitCode, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private Path write(String file, String content) throws IOException {
        Path path = repo.resolve(file);
        Files.createDirectories(path.getParent());
        return Files.writeString(path, content);
    }

    private static void git(Path dir, String... args) throws Exception {
        List<String> command = Stream.concat(Stream.of("git"), Stream.of(args)).toList();
        Tools.Run result = Tools.run(dir, command);
        assertThat(result.exitCode()).as("%s printed %s", command, result.output()).isZero();
    }

    private static final String COUNTER = """
            package p;

            public final class Counter {
                private int count;

                // tag::add[]
                public int add(int n) {
                    // a comment before the start marker stays outside the region
                    // tag::exercise-ch07-add[]
                    if (n < 0) {
                        throw new IllegalArgumentException("negative: " + n);
                    }
                    count += n;
                    return count;
                    // end::exercise-ch07-add[]
                }
                // end::add[]

                public void reset() throws java.io.IOException {
                    // tag::reset[] (a book tag may sit between the method's opening line and the start marker)
                    // tag::exercise-ch07-reset[]
                    try {
                        count = 0;
                    } catch (RuntimeException e) {
                        throw new java.io.IOException(e);
                    }
                    // end::exercise-ch07-reset[]

                }
                // end::reset[]
            }
            """;

    private static final String COUNTER_STUBBED = """
            package p;

            public final class Counter {
                private int count;

                // tag::add[]
                public int add(int n) {
                    // a comment before the start marker stays outside the region
                    // tag::exercise-ch07-add[]
                    // Exercise ch07-add: replace this throw with your solution (the book, chapter 7).
                    // Check it with: ./mvnw -pl mod -am test -Dgroups=ch07-add
                    throw new UnsupportedOperationException("Exercise ch07-add: see the book, chapter 7");
                    // end::exercise-ch07-add[]
                }
                // end::add[]

                public void reset() throws java.io.IOException {
                    // tag::reset[] (a book tag may sit between the method's opening line and the start marker)
                    // tag::exercise-ch07-reset[]
                    // Exercise ch07-reset: replace this throw with your solution (the book, chapter 7).
                    // Check it with: ./mvnw -pl mod -am test -Dgroups=ch07-reset
                    throw new UnsupportedOperationException("Exercise ch07-reset: see the book, chapter 7");
                    // end::exercise-ch07-reset[]

                }
                // end::reset[]
            }
            """;

    @Test
    void replacesTheInsideOfEachRegionWithAThrowAndKeepsTheMarkers() throws Exception {
        write("mod/src/main/java/p/Counter.java", COUNTER);
        git(repo, "add", "-A");
        Path out = tmp.resolve("student");

        Result result = studentVersion("--repo", repo.toString(), "--out", out.toString());

        assertThat(result.err()).isEmpty();
        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).isEqualTo("""
                stubbed ch07-add in mod/src/main/java/p/Counter.java
                stubbed ch07-reset in mod/src/main/java/p/Counter.java
                wrote %s: 2 files, 2 exercises stubbed
                """.formatted(out));
        assertThat(out.resolve("mod/src/main/java/p/Counter.java")).hasContent(COUNTER_STUBBED);
        assertThat(out.resolve("mod/pom.xml")).hasSameBinaryContentAs(repo.resolve("mod/pom.xml"));
    }

    @Test
    void stubbedSourcesCompileWithEveryLintWarningFatal() throws Exception {
        write("mod/src/main/java/p/Counter.java", COUNTER);
        git(repo, "add", "-A");
        Path out = tmp.resolve("student");
        assertThat(studentVersion("--repo", repo.toString(), "--out", out.toString()).exitCode()).isZero();

        Tools.Compilation compilation = Tools.javac(
                List.of(out.resolve("mod/src/main/java/p/Counter.java")), "", Files.createDirectory(tmp.resolve("classes")));

        assertThat(compilation.success()).as(compilation.diagnostics()).isTrue();
        assertThat(tmp.resolve("classes/p/Counter.class")).exists();
    }

    @Test
    void runningOnTheStudentVersionGivesTheSameStudentVersion() throws Exception {
        write("mod/src/main/java/p/Counter.java", COUNTER);
        git(repo, "add", "-A");
        Path first = tmp.resolve("first");
        assertThat(studentVersion("--repo", repo.toString(), "--out", first.toString()).exitCode()).isZero();
        git(first, "init", "-q");
        git(first, "add", "-A");
        Path second = tmp.resolve("second");

        Result result = studentVersion("--repo", first.toString(), "--out", second.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(second.resolve("mod/src/main/java/p/Counter.java")).hasContent(COUNTER_STUBBED);
    }

    @Test
    void listShowsEachExerciseWithItsPlaceAndTheCommandThatChecksIt() throws Exception {
        write("mod/src/main/java/p/Counter.java", COUNTER);
        git(repo, "add", "-A");

        Result result = studentVersion("--repo", repo.toString(), "--list");

        assertThat(result.exitCode()).isZero();
        assertThat(result.out()).isEqualTo("""
                ch07-add    mod/src/main/java/p/Counter.java:9   ./mvnw -pl mod -am test -Dgroups=ch07-add
                ch07-reset  mod/src/main/java/p/Counter.java:21  ./mvnw -pl mod -am test -Dgroups=ch07-reset
                2 exercises
                """);
        assertThat(tmp.resolve("repo/student")).doesNotExist();
    }

    @Test
    void markersAndBracesInsideLiteralsAndCommentsDoNotCount() throws Exception {
        write("mod/src/main/java/p/Quoted.java", """
                package p;

                /**
                 * Mentions the marker "// tag::exercise-ch01-in-javadoc[]" and a brace: {
                 */
                public final class Quoted {
                    static final String LINE = "// tag::exercise-ch01-in-a-string[] {";
                    static final char OPEN = '{';

                    static String text() {
                        // tag::exercise-ch01-text[]
                        /* a brace in a block comment: {
                           // end::exercise-ch01-text[] (inside a comment, so not an end marker) */
                        return \"""
                            // end::exercise-ch01-text[] (inside a text block, so not an end marker) }}
                            \""" + OPEN + LINE;
                        // end::exercise-ch01-text[]
                    }
                }
                """);
        git(repo, "add", "-A");

        Result result = studentVersion("--repo", repo.toString(), "--list");

        assertThat(result.err()).isEmpty();
        assertThat(result.out()).isEqualTo("""
                ch01-text  mod/src/main/java/p/Quoted.java:11  ./mvnw -pl mod -am test -Dgroups=ch01-text
                1 exercise
                """);
    }

    static Stream<Arguments> brokenRegions() {
        return Stream.of(
                Arguments.of("start without end", 4, """
                        package p;
                        class Bad {
                            void f() {
                                // tag::exercise-ch01-f[]
                                g();
                            }
                            void g() {
                            }
                        }
                        """, "exercise ch01-f has no '// end::exercise-ch01-f[]' after it"),
                Arguments.of("end without start", 5, """
                        package p;
                        class Bad {
                            void f() {
                                f();
                                // end::exercise-ch01-f[]
                            }
                        }
                        """, "'// end::exercise-ch01-f[]' without a '// tag::exercise-ch01-f[]' before it"),
                Arguments.of("nested regions", 5, """
                        package p;
                        class Bad {
                            void f() {
                                // tag::exercise-ch01-f[]
                                // tag::exercise-ch01-g[]
                                // end::exercise-ch01-g[]
                            }
                        }
                        """, "exercise ch01-g starts inside exercise ch01-f (line 4)"),
                Arguments.of("code after the region", 6, """
                        package p;
                        class Bad {
                            int f() {
                                // tag::exercise-ch01-f[]
                                int x = 1;
                                // end::exercise-ch01-f[]
                                return x;
                            }
                        }
                        """, "exercise ch01-f: the line after '// end::exercise-ch01-f[]' (blank lines aside) must be the"
                                + " '}' that closes the method; an exercise region must be a whole method body"),
                Arguments.of("code before the region", 5, """
                        package p;
                        class Bad {
                            int f() {
                                int x = 1;
                                // tag::exercise-ch01-f[]
                                return x;
                                // end::exercise-ch01-f[]
                            }
                        }
                        """, "exercise ch01-f must start right after the line that opens its method,"
                                + " 'name(...) {', but follows 'int x = 1;'"),
                Arguments.of("region in a class body", 3, """
                        package p;
                        class Bad {
                            // tag::exercise-ch01-f[]
                            int x;
                            // end::exercise-ch01-f[]
                        }
                        """, "exercise ch01-f is not inside a method body (brace depth 1)"),
                Arguments.of("region in an if block", 5, """
                        package p;
                        class Bad {
                            void f(boolean b) {
                                if (b) {
                                    // tag::exercise-ch01-f[]
                                    f(false);
                                    // end::exercise-ch01-f[]
                                }
                            }
                        }
                        """, "follows 'if (b) {'"),
                Arguments.of("region in a lambda", 5, """
                        package p;
                        class Bad {
                            void f() {
                                Runnable r = () -> {
                                    // tag::exercise-ch01-f[]
                                    f();
                                    // end::exercise-ch01-f[]
                                };
                                r.run();
                            }
                        }
                        """, "follows 'Runnable r = () -> {'"),
                Arguments.of("unbalanced braces inside", 4, """
                        package p;
                        class Bad {
                            void f() {
                                // tag::exercise-ch01-f[]
                                if (true) {
                                // end::exercise-ch01-f[]
                                }
                            }
                        }
                        """, "exercise ch01-f: the braces between its markers do not balance"),
                Arguments.of("name without a chapter", 4, """
                        package p;
                        class Bad {
                            void f() {
                                // tag::exercise-enable-external[]
                                // end::exercise-enable-external[]
                            }
                        }
                        """, "malformed exercise marker '// tag::exercise-enable-external[]'"),
                Arguments.of("end marker naming another exercise", 6, """
                        package p;
                        class Bad {
                            void f() {
                                // tag::exercise-ch01-f[]
                                f();
                                // end::exercise-ch01-g[]
                            }
                        }
                        """, "exercise ch01-f (line 4) ends with '// end::exercise-ch01-g[]';"
                                + " expected '// end::exercise-ch01-f[]'"),
                Arguments.of("start marker in the old syntax", 4, """
                        package p;
                        class Bad {
                            void f() {
                                // exercise::ch01-f[]
                                f();
                                // end::exercise[]
                            }
                        }
                        """, "malformed exercise marker '// exercise::ch01-f[]':"
                                + " expected '// tag::exercise-chNN-name-in-kebab-case[]'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenRegions")
    void refusesABrokenRegionWithOneLineNamingFileAndLine(String what, int line, String source, String problem)
            throws Exception {
        write("mod/src/main/java/p/Bad.java", source);
        git(repo, "add", "-A");
        Path out = tmp.resolve("student");

        Result result = studentVersion("--repo", repo.toString(), "--out", out.toString());

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.err()).hasLineCount(1)
                .startsWith("student-version: error: mod/src/main/java/p/Bad.java:" + line + ": ")
                .contains(problem);
        assertThat(out).as("nothing is written when a region is broken").doesNotExist();
    }

    @Test
    void refusesTheSameExerciseNameTwice() throws Exception {
        String region = """
                package p;
                class %s {
                    void f() {
                        // tag::exercise-ch01-twice[]
                        f();
                        // end::exercise-ch01-twice[]
                    }
                }
                """;
        write("mod/src/main/java/p/A.java", region.formatted("A"));
        write("mod/src/main/java/p/B.java", region.formatted("B"));
        git(repo, "add", "-A");

        Result result = studentVersion("--repo", repo.toString(), "--list");

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.err()).isEqualTo("student-version: error: mod/src/main/java/p/B.java:4: exercise"
                + " ch01-twice is defined twice (also at mod/src/main/java/p/A.java:4); exercise names must be unique\n");
    }

    @Test
    void copiesTrackedFilesOnlyAndKeepsTheExecutableBit() throws Exception {
        Path tool = write("tool.sh", "#!/bin/sh\n");
        tool.toFile().setExecutable(true);
        git(repo, "add", "-A");
        write("untracked.txt", "not in git\n");
        Path out = tmp.resolve("student");

        Result result = studentVersion("--repo", repo.toString(), "--out", out.toString());

        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(out.resolve("untracked.txt")).doesNotExist();
        assertThat(Files.getPosixFilePermissions(out.resolve("tool.sh"))).contains(PosixFilePermission.OWNER_EXECUTE);
        assertThat(Files.getPosixFilePermissions(out.resolve("mod/pom.xml"))).doesNotContain(PosixFilePermission.OWNER_EXECUTE);
    }

    @Test
    void replacesItsOwnEarlierOutputButNoOtherDirectory() throws Exception {
        git(repo, "add", "-A");
        Path out = tmp.resolve("student");
        assertThat(studentVersion("--repo", repo.toString(), "--out", out.toString()).exitCode()).isZero();
        Files.writeString(out.resolve("stale.txt"), "left over");
        Path foreign = Files.createDirectory(tmp.resolve("foreign"));
        Files.writeString(foreign.resolve("precious.txt"), "keep me");

        Result again = studentVersion("--repo", repo.toString(), "--out", out.toString());
        Result refused = studentVersion("--repo", repo.toString(), "--out", foreign.toString());

        assertThat(again.exitCode()).isZero();
        assertThat(out.resolve("stale.txt")).doesNotExist();
        assertThat(out.resolve("mod/pom.xml")).exists();
        assertThat(refused.exitCode()).isEqualTo(1);
        assertThat(refused.err()).isEqualTo("student-version: error: refusing to overwrite " + foreign
                + ": it is not empty and has no .student-version file, so it was not written by this program\n");
        assertThat(foreign.resolve("precious.txt")).hasContent("keep me");
    }
}
