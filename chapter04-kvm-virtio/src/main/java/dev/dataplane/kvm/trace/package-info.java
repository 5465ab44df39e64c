/**
 * JFR events of chapter 4's KVM layer: {@code dataplane.kvm.Exit}, one per {@code KVM_RUN} exit
 * handled in user space. Record a run with {@code -XX:StartFlightRecording=filename=run.jfr} (or
 * {@code scripts/dataplane} with {@code JAVA_TOOL_OPTIONS}) and read it with
 * {@code jfr print --events 'dataplane.kvm.*' run.jfr}.
 *
 * <p>Cost when no recording asks for them: the vCPU thread creates the event and calls
 * {@code begin()} and {@code shouldCommit()}, as chapter 1's events do; with JFR off those are
 * checks of a static flag, and the event object does not escape the method, so the JIT removes
 * the allocation. The fields, which read {@code kvm_run} again, are filled in only after
 * {@code shouldCommit()} said yes.
 */
package dev.dataplane.kvm.trace;
