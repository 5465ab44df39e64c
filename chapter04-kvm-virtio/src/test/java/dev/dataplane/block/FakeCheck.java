package dev.dataplane.block;

import static org.assertj.core.api.Assertions.assertThat;

/** The checks every device test ends with: nothing written around RAM, nothing refused. */
final class FakeCheck {
    private FakeCheck() {
    }

    static void memoryUntouchedAroundRam(BlkRig rig) {
        assertThat(rig.mem.canaryIntact()).as("canary around guest RAM").isTrue();
        assertThat(rig.mem.refusedAccesses()).as("out-of-range accesses attempted by the device").isZero();
    }
}
