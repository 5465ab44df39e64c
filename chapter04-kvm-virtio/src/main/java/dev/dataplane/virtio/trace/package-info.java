/**
 * JFR events of chapter 4's virtio layer, one per step of a request's journey:
 * {@code dataplane.virtio.Kick} (the device's context is told to look at a queue, and how),
 * {@code dataplane.virtio.Request} (one chain from pop to push, committed by the thread that
 * completes it) and {@code dataplane.virtio.Interrupt} (after a completion: injected, or
 * suppressed because the driver asked for no interrupt). With {@code dataplane.kvm.Exit} and
 * chapter 3's {@code dataplane.bql.Hold} they show which thread does what, and when the BQL is
 * held: {@code jfr print --events 'dataplane.virtio.*' run.jfr}.
 *
 * <p>Cost when no recording asks for them: {@code Kick} and {@code Interrupt} are created,
 * checked with {@code shouldCommit()} and committed in one method, so the JIT removes the
 * allocation when JFR is off (chapter 1's pattern). A {@code Request} lives from pop to push, so
 * it is only created when {@link dev.dataplane.virtio.trace.RequestEvent#beginIfEnabled()} finds
 * it enabled; the probe it uses for that never escapes.
 */
package dev.dataplane.virtio.trace;
