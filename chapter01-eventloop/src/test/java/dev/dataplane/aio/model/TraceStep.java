package dev.dataplane.aio.model;

/**
 * One step of a counterexample: which actor moved and what it did.
 *
 * @param actor  the actor's name, e.g. {@code "poller"} or {@code "notifier1"}
 * @param action what the atomic step did, e.g. {@code "notifyMe += 2 -> 2"}
 */
record TraceStep(String actor, String action) {
    @Override
    public String toString() {
        return actor + ": " + action;
    }
}
