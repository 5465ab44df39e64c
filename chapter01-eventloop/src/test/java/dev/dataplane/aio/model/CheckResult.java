package dev.dataplane.aio.model;

import java.util.Optional;

/**
 * What {@link ModelChecker#check} found.
 *
 * @param model          the model's name
 * @param states         distinct states visited (all reachable states if no violation was found)
 * @param transitions    atomic steps examined
 * @param endStates      visited states in which no actor could move (and that were acceptable)
 * @param counterexample the first (shortest) violation found, if any
 */
record CheckResult(String model, long states, long transitions, long endStates,
                   Optional<Counterexample> counterexample) {

    boolean holds() {
        return counterexample.isEmpty();
    }

    String summary() {
        return String.format("%s: %s after %,d states, %,d transitions, %,d end states", model,
                holds() ? "no violation" : "VIOLATION", states, transitions, endStates);
    }
}
