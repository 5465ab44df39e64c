package dev.dataplane.exercises;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The student version of this repository, made the way a teacher makes it
 * ({@code java scripts/StudentVersion.java}), still builds: every exercise region of one
 * chapter's main sources is stubbed, nothing else changes, and the stubbed sources compile. Each
 * chapter's module runs it for itself through a subclass (chapter 1: {@code StudentVersionTest}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class StudentVersionContract {

    private final String module;
    private final String mainSources;
    private final String prefix;

    /** For the chapter in {@code module} (a directory of the repository), numbered {@code chapter}. */
    protected StudentVersionContract(String module, int chapter) {
        this.module = module;
        this.mainSources = module + "/src/main/java";
        this.prefix = String.format("ch%02d-", chapter);
    }

    /**
     * Deliberately simpler than the generator's own parser, so the two can disagree. Book tags
     * ({@code tag::notify[]}) do not match: only tags named {@code exercise-...} are exercises.
     */
    private static final Pattern START = Pattern.compile("^\\s*//\\s*tag::exercise-(\\S+?)\\[\\]\\s*$");

    /** The end marker of exercise {@code name}: it repeats the start marker's name. */
    private static Pattern endMarkerOf(String name) {
        return Pattern.compile("^\\s*//\\s*end::exercise-" + Pattern.quote(name) + "\\[\\]\\s*$");
    }

    private Path root;
    private Path student;
    private String generatorOutput;

    @BeforeAll
    void generateTheStudentVersion(@TempDir Path tmp) throws Exception {
        root = Tools.repoRoot();
        assumeFalse(Files.exists(root.resolve(".student-version")),
                "this is a student copy: its exercises are already stubbed, there is nothing to generate");
        student = tmp.resolve("student");
        String java = ProcessHandle.current().info().command()
                .orElseThrow(() -> new AssertionError("cannot tell which java binary runs the tests"));

        Tools.Run run = Tools.run(root,
                List.of(java, root.resolve("scripts/StudentVersion.java").toString(), "--out", student.toString()));

        assertThat(run.exitCode()).as("the generator failed:%n%s", run.output()).isZero();
        generatorOutput = run.output();
    }

    /** An exercise region as this test finds it: lines {@code start} and {@code end} hold the markers. */
    private record Region(String name, String file, int start, int end) {
    }

    private List<Path> mainSources(Path tree) throws IOException {
        try (Stream<Path> files = Files.walk(tree.resolve(mainSources))) {
            return files.filter(f -> f.toString().endsWith(".java")).sorted().toList();
        }
    }

    private static List<Region> regions(Path tree, Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        List<Region> regions = new ArrayList<>();
        String rel = tree.relativize(file).toString();
        for (int i = 0; i < lines.size(); i++) {
            Matcher start = START.matcher(lines.get(i));
            if (start.matches()) {
                Pattern endMarker = endMarkerOf(start.group(1));
                int end = i + 1;
                while (end < lines.size() && !endMarker.matcher(lines.get(end)).matches()) {
                    end++;
                }
                assertThat(end).as("%s:%d: exercise %s has no end marker with its name", rel, i + 1, start.group(1))
                        .isLessThan(lines.size());
                regions.add(new Region(start.group(1), rel, i, end));
            }
        }
        return regions;
    }

    private List<Region> chapterRegions() throws IOException {
        List<Region> all = new ArrayList<>();
        for (Path file : mainSources(root)) {
            all.addAll(regions(root, file));
        }
        return all;
    }

    @Test
    void generatorStubsEveryExerciseRegionOfTheChaptersMainSources() throws IOException {
        List<String> expected = chapterRegions().stream()
                .map(r -> "stubbed " + r.name() + " in " + r.file())
                .toList();

        List<String> reported = generatorOutput.lines()
                .filter(line -> line.startsWith("stubbed ") && line.contains(" in " + mainSources + "/"))
                .toList();

        assertThat(reported)
                .as("regions the generator stubbed vs. regions in the work tree (a file git does not track"
                        + " is not in the student version: git add it)")
                .containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void eachRegionBecomesAThrowingStubAndNothingElseChanges() throws IOException {
        for (Path original : mainSources(root)) {
            String rel = root.relativize(original).toString();
            Path copy = student.resolve(rel);
            List<Region> regions = regions(root, original);
            if (regions.isEmpty()) {
                assertThat(copy).as(rel).hasSameBinaryContentAs(original);
                continue;
            }
            List<String> reference = Files.readAllLines(original);
            List<String> stubbed = Files.readAllLines(copy);
            List<Region> stubbedRegions = regions(student, copy);
            assertThat(stubbedRegions).extracting(Region::name).as(rel)
                    .containsExactlyElementsOf(regions.stream().map(Region::name).toList());
            for (Region region : stubbedRegions) {
                List<String> inside = stubbed.subList(region.start() + 1, region.end());
                String indent = stubbed.get(region.start()).substring(0, stubbed.get(region.start()).indexOf("//"));
                int chapter = Integer.parseInt(region.name().substring(2, 4));
                assertThat(inside).as("%s: inside exercise %s", rel, region.name()).hasSize(3).last()
                        .isEqualTo(indent + "throw new UnsupportedOperationException(\"Exercise " + region.name()
                                + ": see the book, chapter " + chapter + "\");");
                assertThat(inside.subList(0, 2)).allMatch(line -> line.startsWith(indent + "// "));
            }
            assertThat(outsideRegions(stubbed, stubbedRegions)).as("%s outside the exercise regions", rel)
                    .containsExactlyElementsOf(outsideRegions(reference, regions));
        }
    }

    private static List<String> outsideRegions(List<String> lines, List<Region> regions) {
        List<String> outside = new ArrayList<>();
        int next = 0;
        for (Region region : regions) {
            outside.addAll(lines.subList(next, region.start() + 1));
            next = region.end();
        }
        outside.addAll(lines.subList(next, lines.size()));
        return outside;
    }

    @Test
    void stubbedMainSourcesCompile(@TempDir Path classes) throws IOException {
        List<Path> sources = mainSources(student);
        assertThat(sources).as("%s in the student version", mainSources).isNotEmpty();

        // Against the test class path: the stubbed sources win over the reference classes on it,
        // because javac compiles the types it is given from source.
        Tools.Compilation compilation = Tools.javac(sources, System.getProperty("java.class.path"), classes);

        assertThat(compilation.success())
                .as("the student version of %s does not compile (files git does not track are"
                        + " missing from it):%n%s", module, compilation.diagnostics())
                .isTrue();
        assertThat(compilation.diagnostics()).isEmpty();
    }

    @Test
    void everyExerciseHasTestsTaggedWithItsName() throws IOException {
        Pattern tag = Pattern.compile("@Tag\\(\\s*\"([^\"]+)\"\\s*\\)");
        Set<String> tags = new TreeSet<>();
        try (Stream<Path> files = Files.walk(root.resolve(module + "/src/test/java"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                tag.matcher(Files.readString(file)).results().forEach(m -> tags.add(m.group(1)));
            }
        }

        // Without tagged tests, the command that checks an exercise runs no test and reports success.
        List<String> untested = chapterRegions().stream().map(Region::name).filter(n -> !tags.contains(n)).toList();
        assertThat(untested)
                .as("exercises of %s without a test tagged @Tag(\"<exercise name>\") in"
                        + " %s/src/test/java (tags found: %s)", module, module, tags)
                .isEmpty();
    }

    @Test
    void theChapterHasAtLeastThreeExercises() throws IOException {
        List<String> names = chapterRegions().stream().map(Region::name).collect(Collectors.toList());

        assertThat(names)
                .as("every chapter promises its readers at least three exercises (regions named %s...) in %s",
                        prefix, mainSources)
                .filteredOn(name -> name.startsWith(prefix))
                .hasSizeGreaterThanOrEqualTo(3);
    }
}
