package dev.dataplane.iothread;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.properties.CanBeAnnotated;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.iothread.rules.IoOrGsCode;
import dev.dataplane.iothread.rules.MainLoopOnly;
import java.lang.annotation.Annotation;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What the markers of {@code dev.dataplane.iothread.rules} say about a piece of code, as the
 * ArchUnit rules of {@link ThreadRules} read them.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>The nearest marker wins.</b> A method or constructor carries the marker written on it; if
 * it has none, the one of its class; if the class has none, the one of the code that declares the
 * class (an anonymous or local class inside a marked method), then of the enclosing class, and so
 * on outwards. So a whole class can be marked {@code @IoCode} and one method in it
 * {@code @GlobalStateCode}. Java does not inherit annotations this way; the rules do, because that
 * is how a reader understands a marker on a class.
 *
 * <p><b>Lambdas.</b> ArchUnit attributes the body of a lambda to the method that writes it (the
 * compiler's synthetic {@code lambda$...} methods are not imported), so a lambda has the marker of
 * its enclosing method. That is conservative: an I/O method that hands the main loop a lambda
 * which takes the BQL is reported, although the lambda runs elsewhere. Hand such work over as a
 * method reference to a {@code @GlobalStateCode} method instead; references are not calls.
 *
 * <p><b>Stubs.</b> A class that was referenced but not imported has no annotations, so it counts
 * as unmarked. The production import covers every {@code dev.dataplane} class on the class path.
 */
public final class CodeMarkers {

    /** The three markers that say which thread may run code; {@link MainLoopOnly} is separate. */
    static final List<Class<? extends Annotation>> THREAD_MARKERS =
            List.of(GlobalStateCode.class, IoCode.class, IoOrGsCode.class);

    private CodeMarkers() {
    }

    // tag::nearest-marker[]
    /** The thread marker nearest to {@code unit} (see the class comment), if any. */
    public static Optional<Class<? extends Annotation>> effectiveMarker(JavaCodeUnit unit) {
        Optional<Class<? extends Annotation>> own = ownMarker(unit);
        return own.isPresent() ? own : effectiveMarker(unit.getOwner());
    }

    private static Optional<Class<? extends Annotation>> effectiveMarker(JavaClass type) {
        Optional<Class<? extends Annotation>> own = ownMarker(type);
        if (own.isPresent()) {
            return own;
        }
        Optional<JavaCodeUnit> declaringCode = type.getEnclosingCodeUnit();
        if (declaringCode.isPresent()) {
            return effectiveMarker(declaringCode.get());
        }
        return type.getEnclosingClass().flatMap(CodeMarkers::effectiveMarker);
    }
    // end::nearest-marker[]

    /** The first thread marker written on {@code element} itself; two of them is rule d's business. */
    private static Optional<Class<? extends Annotation>> ownMarker(CanBeAnnotated element) {
        return THREAD_MARKERS.stream().filter(element::isAnnotatedWith).findFirst();
    }

    /** Whether {@code unit} is I/O code: its nearest marker is {@link IoCode} or {@link IoOrGsCode}. */
    public static boolean isIoCode(JavaCodeUnit unit) {
        Optional<Class<? extends Annotation>> marker = effectiveMarker(unit);
        return marker.isPresent() && (marker.get() == IoCode.class || marker.get() == IoOrGsCode.class);
    }

    /** Whether {@code unit} is global-state code: its nearest marker is {@link GlobalStateCode}. */
    public static boolean isGlobalStateCode(JavaCodeUnit unit) {
        return effectiveMarker(unit).filter(m -> m == GlobalStateCode.class).isPresent();
    }

    /** Whether {@code unit} is a main-loop-only helper: {@link MainLoopOnly} on it or on a class around it. */
    public static boolean isMainLoopOnly(JavaCodeUnit unit) {
        if (unit.isAnnotatedWith(MainLoopOnly.class)) {
            return true;
        }
        for (Optional<JavaClass> c = Optional.of(unit.getOwner()); c.isPresent(); c = c.get().getEnclosingClass()) {
            if (c.get().isAnnotatedWith(MainLoopOnly.class)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The methods of {@link Bql} that take the lock. {@code ThreadRulesCatchViolationsTest} checks
     * that they are, with {@code unlock}, exactly its {@link GlobalStateCode} methods, so a new
     * way to take the lock cannot slip past rule b.
     */
    public static final Set<String> BQL_TAKERS = Set.of("lock", "withLock", "callWithLock");

    /**
     * Whether {@code unit} takes or releases the BQL: a {@link GlobalStateCode} member of
     * {@link Bql} ({@code lock}, {@code unlock}, {@code withLock}, {@code callWithLock}).
     * {@code isHeld} and {@code assertHeld} are {@link IoOrGsCode}: any code may ask.
     */
    public static boolean takesOrReleasesTheBql(JavaCodeUnit unit) {
        return unit.getOwner().isEquivalentTo(Bql.class) && unit.isAnnotatedWith(GlobalStateCode.class);
    }

    /** {@link #isIoCode} as an ArchUnit predicate. */
    public static DescribedPredicate<JavaCodeUnit> ioCode() {
        return DescribedPredicate.describe("are I/O code (@IoCode or @IoOrGsCode on them or on their class)",
                CodeMarkers::isIoCode);
    }

    /** {@link #isMainLoopOnly} as an ArchUnit predicate. */
    public static DescribedPredicate<JavaCodeUnit> mainLoopOnly() {
        return DescribedPredicate.describe("are main-loop-only helpers (@MainLoopOnly on them or on their class)",
                CodeMarkers::isMainLoopOnly);
    }

    /**
     * A short name for messages: the class name without its package (nested classes joined with
     * dots) and the simple names of the parameter types, e.g. {@code Bql.withLock(Runnable)}.
     */
    public static String shortName(JavaCodeUnit unit) {
        JavaClass owner = unit.getOwner();
        String pkg = owner.getPackageName();
        String type = (pkg.isEmpty() ? owner.getName() : owner.getName().substring(pkg.length() + 1)).replace('$', '.');
        StringBuilder s = new StringBuilder(type).append('.').append(unit.getName()).append('(');
        List<JavaClass> params = unit.getRawParameterTypes();
        for (int i = 0; i < params.size(); i++) {
            s.append(i == 0 ? "" : ", ").append(params.get(i).getSimpleName());
        }
        return s.append(')').toString();
    }
}
