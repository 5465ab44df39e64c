package dev.dataplane.vmm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The guest's marker lines: their syntax, and the runs they time on the host's clock. */
class MarkersTest {

    @Test
    void aBeginLineNamesTheRunAndItsIterations() {
        assertThat(Markers.Begin.parse("@QD16 begin n=4000")).contains(new Markers.Begin("QD16", 4000));
        assertThat(Markers.Begin.parse("@BUSYLOOP begin n=7")).contains(new Markers.Begin("BUSYLOOP", 7));
        assertThat(Markers.Begin.parse("@QD1 begin")).as("no count").isEmpty();
        assertThat(Markers.Begin.parse("@QD1 begin n=4000 ")).as("trailing text").isEmpty();
        assertThat(Markers.Begin.parse("QD1 begin n=4000")).as("no @").isEmpty();
        assertThat(Markers.Begin.parse("@QD1 end")).isEmpty();
        assertThat(Markers.Begin.parse("@QD1 begin n=" + "9".repeat(18))).as("the longest count")
                .contains(new Markers.Begin("QD1", 999_999_999_999_999_999L));
        assertThat(Markers.Begin.parse("@QD1 begin n=" + "9".repeat(40))).as("a guest's overlong count: no marker,"
                + " and no NumberFormatException on the vCPU thread").isEmpty();
    }

    @Test
    void anEndLineNamesOnlyTheRun() {
        assertThat(Markers.endOf("@QD1 end")).contains("QD1");
        assertThat(Markers.endOf("@QD1 ended")).isEmpty();
        assertThat(Markers.endOf("@QD1 begin n=3")).isEmpty();
        assertThat(Markers.endOf("dataplane-guest: PASS")).isEmpty();
    }

    @Test
    void aRunLastsFromItsBeginLineToItsEndLineAndEveryLineIsPassedOn() {
        List<String> passedOn = new ArrayList<>();
        Markers markers = new Markers((line, nanos) -> passedOn.add(line));

        markers.line("@LOOP begin n=10", 1_000);
        markers.line("@QD1 begin n=4", 5_000);
        markers.line("noise", 6_000);
        markers.line("@QD1 end", 9_000);
        markers.line("@LOOP end", 21_000);
        markers.line("@QD16 end", 30_000); // never begun: not a run

        assertThat(markers.runs()).containsOnlyKeys("QD1", "LOOP");
        assertThat(markers.runs().get("QD1")).isEqualTo(new Markers.Run("QD1", 4, 4_000));
        assertThat(markers.runs().get("QD1").microsPerIteration()).isEqualTo(1.0);
        assertThat(markers.runs().get("LOOP")).isEqualTo(new Markers.Run("LOOP", 10, 20_000));
        assertThat(passedOn).hasSize(6);
    }
}
