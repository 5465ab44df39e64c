package dev.dataplane.iothread;

import com.tngtech.archunit.core.domain.JavaCall;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * An ArchUnit condition on a method or constructor: nothing it calls, directly or through other
 * code of the project, is forbidden. A violation names the forbidden member and the path of calls
 * that leads there, e.g. {@code VirtQueue.process() -> Foo.bar() -> Bql.lock() in (Foo.java:12)}.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>The walk.</b> Breadth-first over {@code getCallsFromSelf()} (method and constructor
 * calls), resolved to the member the JVM would run for the static type, with a visited set, so
 * every reachable member is looked at once and the reported path is a shortest one. Calls are
 * taken in source order, so the path reported is the same on every run. Only classes under
 * {@code scope} that were imported are followed; the JDK and libraries are not ours to check.
 * The walk stops at the first forbidden member it meets, so each offending method is reported
 * once, with one shortest path (a {@code lock()} and its {@code unlock()} would otherwise be two
 * reports of one mistake); fix it, and the next one, if any, shows up.
 *
 * <p><b>What a static walk cannot see.</b> A call through an interface or an abstract method (a
 * {@code Runnable} passed in, an {@code IoHandler}, chapter 1's {@code HomeThreadRule}) resolves
 * to the declaration, which has no body; which implementation runs is decided at run time, so the
 * walk stops there. Reflection and method references (which are not calls) are not followed
 * either. That is why the run-time checks ({@code CodeRules}, {@code Bql.assertHeld()}) stay: the
 * static rule catches what a reader could see in the source, the run-time check the rest.
 */
final class NeverReaches extends ArchCondition<JavaCodeUnit> {

    private final String scope;
    private final Predicate<JavaCodeUnit> forbidden;
    private final Function<JavaCodeUnit, String> why;

    /**
     * @param description what the rule says, as ArchUnit prints it after "should"
     * @param scope       the package prefix whose code is followed, e.g. {@code "dev.dataplane."}
     * @param forbidden   the members that must not be reached
     * @param why         for a forbidden member, why it is forbidden (for the message)
     */
    NeverReaches(String description, String scope, Predicate<JavaCodeUnit> forbidden,
                 Function<JavaCodeUnit, String> why) {
        super(description);
        this.scope = Objects.requireNonNull(scope);
        this.forbidden = Objects.requireNonNull(forbidden);
        this.why = Objects.requireNonNull(why);
    }

    /** Source order: line, then the target's name, so that equal lines are ordered too. */
    private static final Comparator<JavaCall<?>> SOURCE_ORDER = Comparator
            .<JavaCall<?>>comparingInt(JavaCall::getLineNumber)
            .thenComparing(call -> call.getTarget().getFullName());

    // tag::never-reaches[]
    @Override
    public void check(JavaCodeUnit start, ConditionEvents events) {
        // For every member reached, the call that first reached it: the path back to start.
        Map<JavaCodeUnit, JavaCall<?>> reachedBy = new HashMap<>();
        Set<JavaCodeUnit> visited = new HashSet<>();
        Deque<JavaCodeUnit> queue = new ArrayDeque<>();
        visited.add(start);
        queue.add(start);
        while (!queue.isEmpty()) {
            JavaCodeUnit unit = queue.poll();
            List<JavaCall<?>> calls = new ArrayList<>(unit.getCallsFromSelf());
            calls.sort(SOURCE_ORDER);
            for (JavaCall<?> call : calls) {
                // An interface or abstract method resolves to its bodiless declaration: the walk
                // ends there (see the class comment).
                JavaCodeUnit target = call.getTarget().resolveMember().orElse(null);
                if (target == null) {
                    continue; // not imported (a library) or not resolvable: nothing to follow
                }
                if (forbidden.test(target)) {
                    events.add(SimpleConditionEvent.violated(start, message(start, target, call, reachedBy)));
                    return; // one violation per start: fix it, and the next one shows up
                }
                if (inScope(target.getOwner()) && visited.add(target)) {
                    reachedBy.put(target, call);
                    queue.add(target);
                }
            }
        }
    }
    // end::never-reaches[]

    private boolean inScope(JavaClass type) {
        return type.getName().startsWith(scope);
    }

    private String message(JavaCodeUnit start, JavaCodeUnit target, JavaCall<?> last,
                           Map<JavaCodeUnit, JavaCall<?>> reachedBy) {
        List<String> path = new ArrayList<>();
        path.add(CodeMarkers.shortName(target));
        for (JavaCodeUnit u = last.getOrigin(); u != null; ) {
            path.add(CodeMarkers.shortName(u));
            JavaCall<?> call = reachedBy.get(u);
            u = call == null ? null : call.getOrigin();
        }
        Collections.reverse(path);
        return start.getDescription() + " reaches <" + target.getFullName() + ">, which " + why.apply(target)
                + ": " + String.join(" -> ", path) + " in " + last.getSourceCodeLocation();
    }
}
