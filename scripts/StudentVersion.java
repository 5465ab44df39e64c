import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Builds the student version of the repository: a copy of every git-tracked file in which the
 * body of each exercise region is replaced by a stub that throws. Usage: see {@link #USAGE} and
 * {@code scripts/README.adoc}. Run it as {@code java scripts/StudentVersion.java} (JDK 17, no
 * dependencies) or through {@code scripts/student-version}.
 *
 * <p>Implementation notes.
 *
 * <p>An exercise region is a whole method body between a start marker line (a line comment
 * {@code tag::exercise-NAME[]}) and an end marker line with the same name (a line comment
 * {@code end::exercise-NAME[]}). The markers are Asciidoctor tag directives on purpose: a book
 * listing that includes code around an exercise drops both marker lines, and the book can
 * include a reference solution by its tag. Other tags, the book's own {@code tag::foo[]} and
 * {@code end::foo[]}, are not ours and are ignored, also when they enclose an exercise region;
 * only names starting with {@code exercise-} are exercise markers. The end marker repeats the
 * name so that a misplaced or copied end is caught here and not, much later, in the book.
 *
 * <p>Only a whole body can be swapped for {@code throw new UnsupportedOperationException(...)} and
 * still compile whatever the method returns: a throw in the middle of a body makes the code
 * after it unreachable, and a throw inside a {@code try} can leave a {@code catch} with nothing
 * to catch, and both are compile errors. So every region is checked before anything is written:
 * <ul>
 *   <li>the start marker sits at brace depth two or more (inside a class and a method);
 *   <li>the code line before it (blank lines and line comments skipped) ends with the opening
 *       brace of that depth and looks like a method or constructor declaration (it has a
 *       parameter list or a {@code throws} clause, and is not a control statement, lambda,
 *       anonymous or nested class);
 *   <li>the braces between the markers balance;
 *   <li>after the end marker (blank lines skipped) comes the line holding only the closing brace
 *       of the method.
 * </ul>
 * Brace depth comes from a small scanner that skips string and character literals, text blocks
 * and comments, so a brace or a marker inside a string or a Javadoc does not count. Marker lines
 * must start with the marker (after the {@code //}); prose that merely mentions a marker is not
 * one. A line in the retired syntax ({@code exercise::NAME[]}) is an error rather than prose, so
 * that a region nobody migrated is not silently left in the student version with its solution.
 * Any problem, and any duplicate exercise name, stops the program with one line naming the
 * file and line, before anything is written.
 *
 * <p>The student version keeps both marker lines and puts between them two comment lines (what
 * to do, and the one Maven command that checks this exercise) and the throw. Keeping the markers
 * shows the student where to write, keeps the regions findable by {@code --list}, and makes the
 * generator idempotent: run on a student copy it produces the same copy.
 *
 * <p>The output directory is deleted and rebuilt only if it holds the {@code .student-version}
 * file this program leaves behind; any other non-empty directory is refused.
 */
public final class StudentVersion {

    static final String USAGE = String.join("\n",
            "usage: scripts/student-version [--out DIR] [--list] [--repo DIR]",
            "  Copies the repository's git-tracked files to DIR (default: <repo>/student) and replaces",
            "  the body of every exercise region in the .java files with a stub that throws.",
            "  --out DIR   where to write the student version (a directory made by this program",
            "              is replaced; any other non-empty directory is refused)",
            "  --list      list the exercises and the command that checks each; write nothing",
            "  --repo DIR  the repository (default: the git work tree around the current directory)",
            "  -h, --help  this text");

    /** Left in the output so that a later run knows it may delete the directory. */
    static final String OUTPUT_MARKER = ".student-version";

    /** Tags named {@code exercise-...} belong to this program; "exercise::" is the retired syntax. */
    private static final Pattern START_MARKER_LIKE = Pattern.compile("//\\s*(?:tag::exercise-|exercise::).*");
    private static final Pattern START_MARKER =
            Pattern.compile("//\\s*tag::exercise-(ch(\\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*)\\[\\]");
    private static final Pattern END_MARKER_LIKE = Pattern.compile("//\\s*end::exercise-.*");
    /** Any name here: one that differs from the start's, well formed or not, is reported as a mismatch. */
    private static final Pattern END_MARKER = Pattern.compile("//\\s*end::exercise-([^\\s\\[\\]]+)\\[\\]");

    /**
     * First words of lines ending in '{' that open a block which is not a method body. Not
     * "static": that starts static methods too, and a static initializer has no parameter list.
     */
    private static final Set<String> NOT_A_METHOD = Set.of(
            "if", "else", "for", "while", "do", "try", "catch", "finally", "switch", "synchronized",
            "return", "new", "case");
    private static final Pattern TYPE_DECLARATION =
            Pattern.compile("\\b(class|interface|enum|record)\\s+[A-Za-z_$]");

    private StudentVersion() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * The whole program, minus {@link System#exit}, so tests can call it in-process.
     *
     * @return 0 on success, 1 on an error in the repository or the file system, 2 on bad usage
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        Path repoOption = null;
        Path outOption = null;
        boolean list = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "-h", "--help" -> {
                    out.println(USAGE);
                    return 0;
                }
                case "--list" -> list = true;
                case "--out", "--repo" -> {
                    if (i + 1 == args.length) {
                        err.println("student-version: " + args[i] + " needs a directory");
                        err.println(USAGE);
                        return 2;
                    }
                    Path dir = Path.of(args[i + 1]).toAbsolutePath().normalize();
                    if (args[i].equals("--out")) {
                        outOption = dir;
                    } else {
                        repoOption = dir;
                    }
                    i++;
                }
                default -> {
                    err.println("student-version: unknown argument " + args[i]);
                    err.println(USAGE);
                    return 2;
                }
            }
        }
        try {
            Path repo = repoOption != null ? repoOption : gitTopLevel(Path.of("").toAbsolutePath());
            List<String> files = gitTrackedFiles(repo);
            List<Exercise> exercises = findExercises(repo, files);
            if (list) {
                printList(exercises, out);
            } else {
                Path target = outOption != null ? outOption : repo.resolve("student");
                int copied = writeStudentVersion(repo, files, exercises, target, out);
                out.println("wrote " + target + ": " + copied + " files, " + exercises.size()
                        + " exercise" + (exercises.size() == 1 ? "" : "s") + " stubbed");
            }
            return 0;
        } catch (Failure e) {
            err.println("student-version: error: " + e.getMessage());
            return 1;
        } catch (IOException | UncheckedIOException e) {
            err.println("student-version: error: " + e);
            return 1;
        }
    }

    /** A problem the user must fix; its message is the one line the program prints. */
    static final class Failure extends Exception {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message);
        }
    }

    /**
     * One exercise region: lines {@code start} and {@code end} (0-based) hold the markers.
     *
     * @param module the Maven module directory relative to the repository ("." for the root)
     */
    record Exercise(String name, int chapter, String file, String module, int start, int end, String indent) {

        String checkCommand() {
            return "./mvnw " + (module.equals(".") ? "" : "-pl " + module + " -am ") + "test -Dgroups=" + name;
        }

        /** What replaces the lines strictly between the markers. */
        List<String> stubLines() {
            return List.of(
                    indent + "// Exercise " + name + ": replace this throw with your solution (the book, chapter "
                            + chapter + ").",
                    indent + "// Check it with: " + checkCommand(),
                    indent + "throw new UnsupportedOperationException(\"Exercise " + name
                            + ": see the book, chapter " + chapter + "\");");
        }
    }

    // ---------------------------------------------------------------------------------- git

    static Path gitTopLevel(Path dir) throws Failure, IOException {
        String top = new String(git(dir, "rev-parse", "--show-toplevel"), StandardCharsets.UTF_8).strip();
        return Path.of(top);
    }

    /** The tracked files that exist in the work tree (a tracked file deleted locally is skipped). */
    static List<String> gitTrackedFiles(Path repo) throws Failure, IOException {
        String all = new String(git(repo, "ls-files", "-z"), StandardCharsets.UTF_8);
        List<String> files = new ArrayList<>();
        for (String file : all.split("\0")) {
            if (file.isEmpty()) {
                continue;
            }
            Path path = repo.resolve(file);
            if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(path)) {
                files.add(file);
            }
        }
        return files;
    }

    private static byte[] git(Path dir, String... args) throws Failure, IOException {
        List<String> command = new ArrayList<>(List.of("git", "-C", dir.toString()));
        command.addAll(List.of(args));
        Process git;
        try {
            git = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            throw new Failure("cannot run git (" + e.getMessage() + "): the student version is built from git ls-files");
        }
        byte[] output = git.getInputStream().readAllBytes();
        try {
            if (!git.waitFor(1, TimeUnit.MINUTES)) {
                git.destroyForcibly();
                throw new Failure("git " + String.join(" ", args) + " did not finish within a minute");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure("interrupted while waiting for git");
        }
        if (git.exitValue() != 0) {
            throw new Failure("git " + String.join(" ", args) + " failed in " + dir + " (is it a git checkout?)");
        }
        return output;
    }

    // ---------------------------------------------------------------------------- markers

    static List<Exercise> findExercises(Path repo, List<String> files) throws Failure, IOException {
        List<Exercise> exercises = new ArrayList<>();
        Map<String, Exercise> byName = new HashMap<>();
        Set<String> tracked = new HashSet<>(files);
        for (String file : files) {
            if (!file.endsWith(".java") || Files.isSymbolicLink(repo.resolve(file))) {
                continue;
            }
            for (Exercise exercise : findExercises(file, moduleOf(file, tracked), readLines(repo.resolve(file)))) {
                Exercise earlier = byName.putIfAbsent(exercise.name(), exercise);
                if (earlier != null) {
                    throw new Failure(exercise.file() + ":" + (exercise.start() + 1) + ": exercise "
                            + exercise.name() + " is defined twice (also at " + earlier.file() + ":"
                            + (earlier.start() + 1) + "); exercise names must be unique");
                }
                exercises.add(exercise);
            }
        }
        return exercises;
    }

    /** The nearest directory above {@code file} with a tracked pom.xml, or "." for the root. */
    static String moduleOf(String file, Set<String> files) {
        String dir = file;
        while (dir.contains("/")) {
            dir = dir.substring(0, dir.lastIndexOf('/'));
            if (files.contains(dir + "/pom.xml")) {
                return dir;
            }
        }
        return ".";
    }

    static List<String> readLines(Path file) throws IOException {
        // split on \n only, keeping any \r: joining with \n then gives back the file byte for byte
        return List.of(Files.readString(file, StandardCharsets.UTF_8).split("\n", -1));
    }

    static List<Exercise> findExercises(String file, String module, List<String> lines) throws Failure {
        int n = lines.size();
        int[] depth = new int[n];
        boolean[] code = new boolean[n];
        BraceScanner scanner = new BraceScanner();
        List<Exercise> found = new ArrayList<>();
        int openAt = -1;
        Matcher open = null;
        for (int i = 0; i < n; i++) {
            depth[i] = scanner.depth;
            code[i] = scanner.atCode();
            String line = lines.get(i).strip();
            if (code[i] && START_MARKER_LIKE.matcher(line).matches()) {
                Matcher start = START_MARKER.matcher(line);
                if (!start.matches()) {
                    throw new Failure(file + ":" + (i + 1) + ": malformed exercise marker '" + line
                            + "': expected '" + startMarker("chNN-name-in-kebab-case") + "'");
                }
                if (openAt >= 0) {
                    throw new Failure(file + ":" + (i + 1) + ": exercise " + start.group(1)
                            + " starts inside exercise " + open.group(1) + " (line " + (openAt + 1)
                            + "), which has no '" + endMarker(open.group(1)) + "' before it");
                }
                openAt = i;
                open = start;
            } else if (code[i] && END_MARKER_LIKE.matcher(line).matches()) {
                Matcher end = END_MARKER.matcher(line);
                if (!end.matches()) {
                    throw new Failure(file + ":" + (i + 1) + ": malformed end marker '" + line
                            + "': expected '" + endMarker("NAME") + "', NAME as in its start marker");
                }
                if (openAt < 0) {
                    throw new Failure(file + ":" + (i + 1) + ": '" + endMarker(end.group(1)) + "' without a '"
                            + startMarker(end.group(1)) + "' before it");
                }
                String name = open.group(1);
                if (!end.group(1).equals(name)) {
                    throw new Failure(file + ":" + (i + 1) + ": exercise " + name + " (line " + (openAt + 1)
                            + ") ends with '" + endMarker(end.group(1)) + "'; expected '" + endMarker(name) + "'");
                }
                String indent = lines.get(openAt).substring(0, lines.get(openAt).indexOf("//"));
                found.add(new Exercise(name, Integer.parseInt(open.group(2)), file, module, openAt, i, indent));
                openAt = -1;
            }
            scanner.scan(lines.get(i));
        }
        if (openAt >= 0) {
            throw new Failure(file + ":" + (openAt + 1) + ": exercise " + open.group(1)
                    + " has no '" + endMarker(open.group(1)) + "' after it");
        }
        for (Exercise exercise : found) {
            checkWholeMethodBody(exercise, lines, depth, code);
        }
        return found;
    }

    static String startMarker(String name) {
        return "// tag::exercise-" + name + "[]";
    }

    static String endMarker(String name) {
        return "// end::exercise-" + name + "[]";
    }

    private static void checkWholeMethodBody(Exercise ex, List<String> lines, int[] depth, boolean[] code)
            throws Failure {
        String where = ex.file() + ":" + (ex.start() + 1) + ": exercise " + ex.name();
        String rule = "; an exercise region must be a whole method body, since only that can be"
                + " replaced by a throw and still compile";
        int inner = depth[ex.start()];
        if (inner < 2) {
            throw new Failure(where + " is not inside a method body (brace depth " + inner + ")" + rule);
        }
        int before = ex.start() - 1;
        while (before >= 0 && (lines.get(before).isBlank()
                || code[before] && lines.get(before).strip().startsWith("//"))) {
            before--;
        }
        String opener = before >= 0 ? lines.get(before).strip() : "";
        if (before < 0 || !code[before] || !opener.endsWith("{") || depth[before] + 1 != inner
                || !looksLikeMethodDeclaration(opener)) {
            throw new Failure(where + " must start right after the line that opens its method,"
                    + " 'name(...) {', but follows '" + opener + "'" + rule);
        }
        if (depth[ex.end()] != inner) {
            throw new Failure(where + ": the braces between its markers do not balance"
                    + " (depth " + inner + " at the start, " + depth[ex.end()] + " at '" + endMarker(ex.name()) + "')");
        }
        int after = ex.end() + 1;
        while (after < lines.size() && lines.get(after).isBlank()) {
            after++;
        }
        if (after == lines.size() || !lines.get(after).strip().equals("}") || depth[after] != inner) {
            throw new Failure(ex.file() + ":" + (ex.end() + 1) + ": exercise " + ex.name()
                    + ": the line after '" + endMarker(ex.name()) + "' (blank lines aside) must be the '}' that"
                    + " closes the method" + rule);
        }
    }

    static boolean looksLikeMethodDeclaration(String line) {
        String firstWord = line.split("[^A-Za-z0-9_$]", 2)[0];
        return !line.startsWith("}")
                && !NOT_A_METHOD.contains(firstWord)
                && !line.contains("->")
                && !line.contains("new ")
                && !TYPE_DECLARATION.matcher(line).find()
                && (line.contains(")") || firstWord.equals("throws"));
    }

    /**
     * Brace depth across lines, ignoring braces in comments, string and character literals and
     * text blocks. Good enough for well-formed Java; it does not need to understand more.
     */
    static final class BraceScanner {
        private enum State { CODE, BLOCK_COMMENT, TEXT_BLOCK }

        private State state = State.CODE;
        int depth;

        /** True if the next line starts as code (not inside a block comment or text block). */
        boolean atCode() {
            return state == State.CODE;
        }

        void scan(String line) {
            int i = 0;
            while (i < line.length()) {
                char c = line.charAt(i);
                switch (state) {
                    case BLOCK_COMMENT -> {
                        if (line.startsWith("*/", i)) {
                            state = State.CODE;
                            i += 2;
                        } else {
                            i++;
                        }
                    }
                    case TEXT_BLOCK -> {
                        if (c == '\\') {
                            i += 2;
                        } else if (line.startsWith("\"\"\"", i)) {
                            state = State.CODE;
                            i += 3;
                        } else {
                            i++;
                        }
                    }
                    case CODE -> {
                        if (line.startsWith("//", i)) {
                            return;
                        } else if (line.startsWith("/*", i)) {
                            state = State.BLOCK_COMMENT;
                            i += 2;
                        } else if (line.startsWith("\"\"\"", i)) {
                            state = State.TEXT_BLOCK;
                            i += 3;
                        } else if (c == '"' || c == '\'') {
                            i = endOfLiteral(line, i + 1, c);
                        } else {
                            if (c == '{') {
                                depth++;
                            } else if (c == '}') {
                                depth--;
                            }
                            i++;
                        }
                    }
                }
            }
        }

        private static int endOfLiteral(String line, int from, char quote) {
            int i = from;
            while (i < line.length()) {
                char c = line.charAt(i);
                if (c == '\\') {
                    i += 2;
                } else if (c == quote) {
                    return i + 1;
                } else {
                    i++;
                }
            }
            return i;
        }
    }

    // ----------------------------------------------------------------------------- output

    private static void printList(List<Exercise> exercises, PrintStream out) {
        int nameWidth = exercises.stream().mapToInt(e -> e.name().length()).max().orElse(0);
        int whereWidth = exercises.stream().mapToInt(e -> location(e).length()).max().orElse(0);
        for (Exercise e : exercises) {
            out.println(pad(e.name(), nameWidth) + "  " + pad(location(e), whereWidth) + "  " + e.checkCommand());
        }
        out.println(exercises.size() + " exercise" + (exercises.size() == 1 ? "" : "s"));
    }

    private static String location(Exercise e) {
        return e.file() + ":" + (e.start() + 1);
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(width - s.length());
    }

    private static int writeStudentVersion(Path repo, List<String> files, List<Exercise> exercises, Path target,
            PrintStream out) throws Failure, IOException {
        prepareOutput(repo, target);
        Map<String, List<Exercise>> byFile = new LinkedHashMap<>();
        for (Exercise e : exercises) {
            byFile.computeIfAbsent(e.file(), f -> new ArrayList<>()).add(e);
        }
        for (String file : files) {
            Path from = repo.resolve(file);
            Path to = target.resolve(file);
            Files.createDirectories(to.getParent());
            // COPY_ATTRIBUTES keeps the executable bit of mvnw and the scripts
            Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
            List<Exercise> inFile = byFile.get(file);
            if (inFile != null) {
                Files.writeString(to, String.join("\n", stub(readLines(from), inFile)), StandardCharsets.UTF_8);
                for (Exercise e : inFile) {
                    out.println("stubbed " + e.name() + " in " + e.file());
                }
            }
        }
        Files.writeString(target.resolve(OUTPUT_MARKER),
                "Written by scripts/student-version from " + repo + ".\n"
                        + "Running it again replaces this whole directory.\n",
                StandardCharsets.UTF_8);
        return files.size();
    }

    /** The file's lines with every region's inside replaced by the stub (markers kept). */
    static List<String> stub(List<String> lines, List<Exercise> exercises) {
        List<String> result = new ArrayList<>();
        int next = 0;
        for (Exercise e : exercises) {
            result.addAll(lines.subList(next, e.start() + 1));
            String eol = lines.get(e.start()).endsWith("\r") ? "\r" : "";
            for (String stubLine : e.stubLines()) {
                result.add(stubLine + eol);
            }
            next = e.end();
        }
        result.addAll(lines.subList(next, lines.size()));
        return result;
    }

    private static void prepareOutput(Path repo, Path target) throws Failure, IOException {
        if (repo.startsWith(target)) {
            throw new Failure("refusing to write to " + target + ": the repository is inside it");
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new Failure("refusing to write to " + target + ": it exists and is not a directory");
            }
            boolean empty;
            try (Stream<Path> entries = Files.list(target)) {
                empty = entries.findAny().isEmpty();
            }
            if (!empty && !Files.isRegularFile(target.resolve(OUTPUT_MARKER), LinkOption.NOFOLLOW_LINKS)) {
                throw new Failure("refusing to overwrite " + target + ": it is not empty and has no "
                        + OUTPUT_MARKER + " file, so it was not written by this program");
            }
            deleteRecursively(target);
        }
        Files.createDirectories(target);
    }

    private static void deleteRecursively(Path dir) throws IOException {
        // walkFileTree does not follow symbolic links: a link is deleted, never what it points to
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
