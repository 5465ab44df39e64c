package dev.dataplane.aio.model;

import java.util.List;
import java.util.Optional;

/**
 * A closed concurrent system for {@link ModelChecker}: a fixed set of actors (threads) that step
 * over one shared, immutable state.
 *
 * <p>A state must be a value: equal states must compare equal and hash alike (records of ints,
 * booleans, enums and immutable lists), because the checker recognises states it has already
 * seen. Each {@link Move} an actor offers is one <em>atomic</em> step; the checker tries every
 * order of those steps.
 *
 * @param <S> the state type
 */
interface Model<S> {

    /** A short name for reports, e.g. {@code "CORRECT (one poller, two notifiers)"}. */
    String name();

    S initialState();

    /** The actors, in a fixed order (the order only affects which counterexample is printed). */
    List<Actor<S>> actors();

    /**
     * A safety property checked in every reachable state.
     *
     * @return what is wrong with {@code state}, or empty if nothing is
     */
    default Optional<String> invariantViolation(S state) {
        return Optional.empty();
    }

    /**
     * Judges a state in which no actor can move: every actor has either finished or is blocked
     * and nothing can unblock it any more. Some such states are fine (an event loop asleep with
     * nothing to do); others are the bug (asleep for ever while work is pending).
     *
     * @return the violated property, or empty if this is an acceptable end state
     */
    Optional<String> stuckViolation(S state);

    /** One line describing {@code state} for a printed trace. */
    default String describe(S state) {
        return String.valueOf(state);
    }

    /**
     * One thread of the model.
     *
     * @param <S> the state type
     */
    interface Actor<S> {
        String name();

        /**
         * The atomic steps this actor can take from {@code state}. Empty means it cannot move
         * now: it has finished, or it is blocked (waiting for an eventfd, a lock) until another
         * actor changes the state. Usually there is exactly one move; more would model a choice.
         */
        List<Move<S>> moves(S state);

        /** An actor from its name and its step function. */
        static <S> Actor<S> of(String name, java.util.function.Function<S, List<Move<S>>> moves) {
            return new Actor<>() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public List<Move<S>> moves(S state) {
                    return moves.apply(state);
                }
            };
        }
    }

    /**
     * One atomic step: what it did, in words for the trace, and the state it leads to.
     *
     * @param action human-readable, e.g. {@code "read notifyMe=0 -> skip eventfd write"}
     */
    record Move<S>(String action, S next) {
        static <S> List<Move<S>> one(S next, String format, Object... args) {
            return List.of(new Move<>(String.format(format, args), next));
        }
    }
}
