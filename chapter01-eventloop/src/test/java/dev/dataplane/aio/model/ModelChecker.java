package dev.dataplane.aio.model;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An explicit-state model checker: it visits every state a {@link Model} can reach, under every
 * interleaving of its actors' atomic steps, and reports the shortest path to a bad state.
 *
 * <p>Implementation notes. The search is breadth-first over a {@link HashMap} of visited states,
 * each mapped to the edge that first reached it; following those edges backwards from a bad state
 * gives a shortest counterexample, which makes the printed traces as short as the bug allows.
 * Two kinds of bad state are recognised: one that breaks {@link Model#invariantViolation} (checked
 * in every state), and one in which no actor can move and {@link Model#stuckViolation} says that
 * this is not an acceptable end (a lost wake-up is exactly that: the loop sleeps, nobody is left
 * to wake it, and work is pending).
 *
 * <p>Everything is deterministic: no threads, no randomness, actors are tried in their fixed
 * order, and the queue is FIFO. Running the same model twice prints the same trace.
 *
 * <p>What it does not do: it explores sequentially consistent interleavings only (each step sees
 * every earlier step), so it checks the protocol's logic, not the fences that make a real CPU
 * behave that way. It checks safety and deadlock, not liveness under fairness (a loop that spins
 * for ever without making progress is a cycle, not an end state, and is not reported).
 */
final class ModelChecker {

    /** Keeps a mistaken model from eating the machine; the real models stay far below it. */
    static final int DEFAULT_STATE_LIMIT = 2_000_000;

    private ModelChecker() {
    }

    static <S> CheckResult check(Model<S> model) {
        return check(model, DEFAULT_STATE_LIMIT);
    }

    static <S> CheckResult check(Model<S> model, int stateLimit) {
        Map<S, Edge<S>> reachedBy = new HashMap<>();
        ArrayDeque<S> frontier = new ArrayDeque<>();
        S initial = model.initialState();
        reachedBy.put(initial, Edge.root());
        frontier.add(initial);
        long transitions = 0;
        long endStates = 0;

        while (!frontier.isEmpty()) {
            S state = frontier.poll();

            Optional<String> broken = model.invariantViolation(state);
            if (broken.isPresent()) {
                return found(model, reachedBy, state, broken.get(), transitions, endStates);
            }

            boolean anyoneMoved = false;
            for (Model.Actor<S> actor : model.actors()) {
                for (Model.Move<S> move : actor.moves(state)) {
                    anyoneMoved = true;
                    transitions++;
                    if (!reachedBy.containsKey(move.next())) {
                        reachedBy.put(move.next(), new Edge<>(state, actor.name(), move.action()));
                        frontier.add(move.next());
                        if (reachedBy.size() > stateLimit) {
                            throw new IllegalStateException(model.name() + ": more than "
                                    + stateLimit + " states; bound the model more tightly");
                        }
                    }
                }
            }

            if (!anyoneMoved) {
                Optional<String> stuck = model.stuckViolation(state);
                if (stuck.isPresent()) {
                    return found(model, reachedBy, state, stuck.get(), transitions, endStates);
                }
                endStates++;
            }
        }
        return new CheckResult(model.name(), reachedBy.size(), transitions, endStates,
                Optional.empty());
    }

    // tag::model-counterexample[]
    /**
     * Builds the counterexample for {@code bad}: walk the "first reached by" edges back to the
     * initial state, then reverse. Breadth-first search guarantees that no shorter path exists.
     */
    private static <S> CheckResult found(Model<S> model, Map<S, Edge<S>> reachedBy, S bad,
                                         String violation, long transitions, long endStates) {
        List<TraceStep> steps = new ArrayList<>();
        for (Edge<S> e = reachedBy.get(bad); !e.isRoot(); e = reachedBy.get(e.from())) {
            steps.add(new TraceStep(e.actor(), e.action()));
        }
        Collections.reverse(steps);
        Counterexample cex = new Counterexample(model.name(), violation, steps, model.describe(bad));
        return new CheckResult(model.name(), reachedBy.size(), transitions, endStates,
                Optional.of(cex));
    }
    // end::model-counterexample[]

    /**
     * Runs one given interleaving instead of all of them: at each step the named actor takes
     * its move. Useful to replay a schedule described in a commit message and see where it ends.
     *
     * @param schedule actor names, one per atomic step
     * @return the counterexample if the schedule ends in a state that breaks a property (no actor
     *         can move and {@link Model#stuckViolation} objects, or an invariant fails); empty if
     *         it ends anywhere else
     * @throws IllegalArgumentException if a named actor cannot move when its turn comes
     */
    static <S> Optional<Counterexample> replay(Model<S> model, List<String> schedule) {
        S state = model.initialState();
        List<TraceStep> steps = new ArrayList<>();
        for (String name : schedule) {
            Model.Actor<S> actor = model.actors().stream()
                    .filter(a -> a.name().equals(name))
                    .findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no actor " + name));
            List<Model.Move<S>> moves = actor.moves(state);
            if (moves.size() != 1) {
                throw new IllegalArgumentException("step " + (steps.size() + 1) + ": " + name
                        + " has " + moves.size() + " moves in " + model.describe(state));
            }
            steps.add(new TraceStep(name, moves.get(0).action()));
            state = moves.get(0).next();
            Optional<String> broken = model.invariantViolation(state);
            if (broken.isPresent()) {
                return Optional.of(new Counterexample(model.name() + ", replayed", broken.get(),
                        steps, model.describe(state)));
            }
        }
        S end = state;
        boolean anyoneCanMove = model.actors().stream().anyMatch(a -> !a.moves(end).isEmpty());
        if (anyoneCanMove) {
            return Optional.empty();
        }
        return model.stuckViolation(end)
                .map(v -> new Counterexample(model.name() + ", replayed", v, steps,
                        model.describe(end)));
    }

    /** How a state was first reached: from which state, by which actor, doing what. */
    private record Edge<S>(S from, String actor, String action) {
        static <S> Edge<S> root() {
            return new Edge<>(null, null, null);
        }

        boolean isRoot() {
            return actor == null;
        }
    }
}
