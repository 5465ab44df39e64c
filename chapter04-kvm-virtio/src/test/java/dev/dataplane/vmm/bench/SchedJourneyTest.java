package dev.dataplane.vmm.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link SchedJourney} reads the chain of wake-ups of a queue-depth-1 request out of
 * {@code perf script} lines. The lines below have the exact shape {@code perf script} printed on
 * the development machine for QEMU (thread names with spaces) and Dataplane (names cut to 15
 * characters by the kernel).
 */
class SchedJourneyTest {

    /** Two requests on QEMU: kick at 100, submit 125, done 135, sleep 147, next kick 190, ... */
    private static final List<String> QEMU = List.of(
            "       CPU 0/KVM 12790 [000] 22614.000100:       sched:sched_waking: comm=IO io0 pid=12789 prio=120 target_cpu=001",
            "          IO io0 12789 [001] 22614.000125:       sched:sched_waking: comm=worker pid=12795 prio=120 target_cpu=001",
            "          worker 12795 [001] 22614.000135:       sched:sched_waking: comm=IO io0 pid=12789 prio=120 target_cpu=001",
            // a preemption (state R) is not the queue thread going to sleep
            "          IO io0 12789 [001] 22614.000138:       sched:sched_switch: prev_comm=IO io0 prev_pid=12789 prev_prio=120 prev_state=R ==> next_comm=worker next_pid=12795 next_prio=120",
            "          IO io0 12789 [001] 22614.000141:       sched:sched_waking: comm=qemu-system-x86 pid=12786 prio=120 target_cpu=001",
            "          IO io0 12789 [001] 22614.000147:       sched:sched_switch: prev_comm=IO io0 prev_pid=12789 prev_prio=120 prev_state=S ==> next_comm=worker next_pid=12795 next_prio=120",
            "       CPU 0/KVM 12790 [000] 22614.000190:       sched:sched_waking: comm=IO io0 pid=12789 prio=120 target_cpu=001",
            "          IO io0 12789 [001] 22614.000214:       sched:sched_waking: comm=worker pid=12794 prio=120 target_cpu=001",
            "          worker 12794 [001] 22614.000226:       sched:sched_waking: comm=IO io0 pid=12789 prio=120 target_cpu=001",
            "          IO io0 12789 [001] 22614.000236:       sched:sched_switch: prev_comm=IO io0 prev_pid=12789 prev_prio=120 prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120",
            "       CPU 0/KVM 12790 [000] 22614.000282:       sched:sched_waking: comm=IO io0 pid=12789 prio=120 target_cpu=001");

    @Test
    void measuresEachStepOfEveryCompleteRequest() {
        List<double[]> r = SchedJourney.requests(QEMU, "CPU 0/KVM", "IO io0", "worker");

        assertThat(r).as("two requests ended by a next kick; the third has none").hasSize(2);
        assertThat(r.get(0)).containsExactly(new double[] {25, 10, 12, 43, 90}, within(1e-6));
        assertThat(r.get(1)).containsExactly(new double[] {24, 12, 10, 46, 92}, within(1e-6));
    }

    @Test
    void comparesThreadNamesAsTheKernelKeepsThem() {
        List<String> dataplane = List.of(
                "          vcpu-0 12780 [001] 22610.000128:       sched:sched_waking: comm=iothread0 pid=12779 prio=120 target_cpu=000",
                "       iothread0 12779 [000] 22610.000157:       sched:sched_waking: comm=iothread0/pool- pid=12783 prio=120 target_cpu=000",
                // one worker waking another is not the read coming back
                " iothread0/pool- 12783 [000] 22610.000160:       sched:sched_waking: comm=iothread0/pool- pid=12782 prio=120 target_cpu=000",
                " iothread0/pool- 12783 [000] 22610.000169:       sched:sched_waking: comm=iothread0 pid=12779 prio=120 target_cpu=000",
                "       iothread0 12779 [000] 22610.000179:       sched:sched_switch: prev_comm=iothread0 prev_pid=12779 prev_prio=120 prev_state=S ==> next_comm=iothread0/pool- next_pid=12783 next_prio=120",
                "          vcpu-0 12780 [001] 22610.000222:       sched:sched_waking: comm=iothread0 pid=12779 prio=120 target_cpu=000");

        List<double[]> r = SchedJourney.requests(dataplane, "vcpu-0", "iothread0", "iothread0/pool-worker");

        assertThat(r).hasSize(1);
        assertThat(r.get(0)).containsExactly(new double[] {29, 12, 10, 43, 94}, within(1e-6));
    }

    @Test
    void aRequestWhoseChainIsBrokenIsLeftOut() {
        // The queue thread never goes to sleep between the two kicks (it polls): nothing to measure.
        List<double[]> r = SchedJourney.requests(QEMU.stream().filter(l -> !l.contains("prev_state=S")).toList(),
                "CPU 0/KVM", "IO io0", "worker");

        assertThat(r).isEmpty();
    }
}
