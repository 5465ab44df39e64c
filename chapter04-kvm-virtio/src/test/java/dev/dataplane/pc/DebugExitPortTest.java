package dev.dataplane.pc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DebugExitPortTest {

    @Test
    void statusIsTheProcessExitCodeQemuEndsWith() {
        assertThat(DebugExitPort.exitStatus(0)).isEqualTo(1);
        assertThat(DebugExitPort.exitStatus(1)).isEqualTo(3);
        assertThat(DebugExitPort.exitStatus(0x10)).isEqualTo(33);
        assertThat(DebugExitPort.exitStatus(0x7f)).isEqualTo(255);
        assertThat(DebugExitPort.exitStatus(0x80)).as("only 8 bits survive exit()").isEqualTo(1);
        assertThat(DebugExitPort.exitStatus(0xffff_ffffL)).isEqualTo(255);
    }

    @Test
    void theFirstWriteCallsTheHookOnceWithItsStatus() {
        List<Integer> exits = new ArrayList<>();
        DebugExitPort port = new DebugExitPort(exits::add);
        assertThat(port.exitStatus()).isEmpty();

        port.write(0, 1, 0x10);
        port.write(0, 1, 0x00);

        assertThat(exits).containsExactly(33);
        assertThat(port.exitStatus()).hasValue(33);
    }

    @Test
    void anyWidthAndOffsetInTheBlockEndsTheRun() {
        List<Integer> exits = new ArrayList<>();
        new DebugExitPort(exits::add).write(2, 2, 0x0002);
        new DebugExitPort(exits::add).write(0, 4, 0x0000_0003);
        assertThat(exits).containsExactly(5, 7);
    }

    @Test
    void readsReturnZeroAndDoNotEndTheRun() {
        List<Integer> exits = new ArrayList<>();
        DebugExitPort port = new DebugExitPort(exits::add);
        assertThat(port.read(0, 4)).isZero();
        assertThat(exits).isEmpty();
    }
}
