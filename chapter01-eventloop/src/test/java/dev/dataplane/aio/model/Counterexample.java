package dev.dataplane.aio.model;

import java.util.List;

/**
 * A shortest path from the initial state to a state that violates a property, as found by
 * {@link ModelChecker}.
 *
 * @param model      the model's name
 * @param violation  which property failed, and how (e.g. "lost wake-up: ...")
 * @param steps      the atomic steps, in order, from the initial state
 * @param finalState {@link Model#describe} of the violating state
 */
record Counterexample(String model, String violation, List<TraceStep> steps, String finalState) {

    Counterexample {
        steps = List.copyOf(steps);
    }

    /** The last step taken by {@code actor}, or null if it never moved. */
    TraceStep lastStepOf(String actor) {
        for (int i = steps.size() - 1; i >= 0; i--) {
            if (steps.get(i).actor().equals(actor)) {
                return steps.get(i);
            }
        }
        return null;
    }

    /** Index of the first step whose actor and action contain the given texts, or -1. */
    int indexOf(String actor, String actionFragment) {
        for (int i = 0; i < steps.size(); i++) {
            TraceStep s = steps.get(i);
            if (s.actor().equals(actor) && s.action().contains(actionFragment)) {
                return i;
            }
        }
        return -1;
    }

    /** The trace as numbered lines, ready to print (and to quote in the book). */
    String render() {
        int width = steps.stream().mapToInt(s -> s.actor().length()).max().orElse(0);
        StringBuilder out = new StringBuilder();
        out.append("Counterexample for ").append(model).append('\n');
        for (int i = 0; i < steps.size(); i++) {
            TraceStep s = steps.get(i);
            out.append(String.format("  %3d. %-" + width + "s  %s%n", i + 1, s.actor(), s.action()));
        }
        out.append("  => ").append(violation).append('\n');
        out.append("  final state: ").append(finalState).append('\n');
        return out.toString();
    }
}
