/**
 * A small explicit-state model checker ("our Promela, in Java") and models of the event loop's
 * wake-up protocol: {@code notifyMe}, {@code notified}, the eventfd and the accept step.
 *
 * <h2>What is checked</h2>
 * A {@link dev.dataplane.aio.model.Model} is a handful of threads written as state machines over
 * one immutable state; each move is one atomic step (a read, a write, a fence-delimited group that
 * the real code also performs as a unit). {@link dev.dataplane.aio.model.ModelChecker} visits
 * every state reachable under every interleaving of those steps, breadth-first, and reports the
 * shortest path to a bad state:
 * <ul>
 *   <li>a <em>lost wake-up</em>: no thread can move any more, an event loop sleeps in
 *       {@code wait(-1)}, and work is still pending;</li>
 *   <li>a broken invariant, e.g. the sanity check that a loop never goes to sleep after it has
 *       read {@code notified == true}.</li>
 * </ul>
 * The scenarios are deliberately small (one or two loops, two or three notifications): most
 * concurrency bugs show up with very few threads and steps, and QEMU's own SPIN models
 * (the Promela files in {@code docs/spin}) are no bigger.
 * {@link dev.dataplane.aio.model.ProtocolVariant} lists today's protocol and four historical designs; for each broken one the tests print the
 * counterexample and prove the fixed design hang-free in the same scenario.
 *
 * <h2>What is not checked</h2>
 * <ul>
 *   <li><b>Weak memory.</b> Every step sees every earlier step (sequential consistency). On real
 *       hardware that only holds because of the fences: the poller's full fence between writing
 *       {@code notifyMe} and reading {@code notified}, and the notifier's between writing
 *       {@code notified} and reading {@code notifyMe}. Without them both sides can read stale
 *       values (QEMU {@code 5710a3e09f}, an aarch64 hang), and this checker would still say
 *       "correct". Reorderings are the fences' job, and jcstress-style tests of the real
 *       {@code AioContext} are what exercise them; this checker proves the protocol's logic.</li>
 *   <li><b>The real code.</b> The models are hand-written abstractions of {@code AioContext} and
 *       of QEMU's C; they can drift from it. The tests of the real class complement them.</li>
 *   <li><b>Liveness under fairness and larger bounds.</b> Only end states are judged; a loop that
 *       spins for ever without progress would be a cycle, not an end state. Results hold for the
 *       scenarios checked, not for any number of threads.</li>
 * </ul>
 * Everything here is deterministic: no threads, no randomness, the same trace on every run.
 */
package dev.dataplane.aio.model;
