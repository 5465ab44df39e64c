package dev.dataplane.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The host's idea of the guest's protocol matches the C source, and the transcript reads it right. */
class GuestProtocolTest {

    private static final Path GUEST_C = Path.of("src", "main", "guest", "guest.c");

    @Test
    void exitStatusesAndPatternPlaceAgreeWithTheCSource() throws IOException {
        String c = Files.readString(GUEST_C);
        assertThat(define(c, "EXIT_PORT")).isEqualTo(GuestProtocol.EXIT_PORT);
        assertThat(define(c, "EXIT_PASS")).isEqualTo(GuestProtocol.EXIT_PASS);
        assertThat(define(c, "EXIT_NO_DEVICE")).isEqualTo(GuestProtocol.EXIT_NO_DEVICE);
        assertThat(define(c, "EXIT_SETUP")).isEqualTo(GuestProtocol.EXIT_SETUP);
        assertThat(define(c, "EXIT_IO_ERROR")).isEqualTo(GuestProtocol.EXIT_IO_ERROR);
        assertThat(define(c, "EXIT_MISMATCH")).isEqualTo(GuestProtocol.EXIT_MISMATCH);
        assertThat(define(c, "EXIT_PROTOCOL")).isEqualTo(GuestProtocol.EXIT_PROTOCOL);
        assertThat(define(c, "PATTERN_SECTOR") * 512L).isEqualTo(GuestProtocol.PATTERN_OFFSET);
        assertThat(define(c, "DATA_BYTES")).isEqualTo(GuestProtocol.PATTERN_LENGTH);
        assertThat(c).contains("return (uint8_t)(7 * pos + (pos >> 9) + 1);");
    }

    @Test
    void patternIsTheGuestsFormula() {
        assertThat(GuestProtocol.patternAt(0)).isEqualTo((byte) 1);
        assertThat(GuestProtocol.patternAt(4096)).isEqualTo((byte) (7 * 4096 + 8 + 1));
        assertThat(GuestProtocol.patternAt(4097)).isEqualTo((byte) (7 * 4097 + 8 + 1));
        assertThat(GuestProtocol.patternAt((16L << 20) - 1)).isEqualTo((byte) (7 * ((16 << 20) - 1) + 32767 + 1));
    }

    @Test
    void qemuExitStatusIsTwiceTheGuestsPlusOne() {
        assertThat(GuestProtocol.qemuExitStatus(GuestProtocol.EXIT_PASS)).isEqualTo(1);
        assertThat(GuestProtocol.qemuExitStatus(GuestProtocol.EXIT_NO_DEVICE)).isEqualTo(3);
    }

    @Test
    void aRunLastsFromTheEndOfItsBeginLineToTheStartOfItsEndLine() throws IOException {
        String serial = "dataplane-guest: hello\r\n@QD1 begin n=4\r\n@QD1 end\r\n@QD16 begin n=8\r\n@QD16 en";
        AtomicLong clock = new AtomicLong();
        GuestTranscript transcript = GuestTranscript.read(
                new ByteArrayInputStream(serial.getBytes(StandardCharsets.US_ASCII)), () -> clock.addAndGet(10));

        assertThat(transcript.texts())
                .containsExactly("dataplane-guest: hello", "@QD1 begin n=4", "@QD1 end", "@QD16 begin n=8", "@QD16 en");
        // Each clock reading advances 10 ns; "@QD1 begin n=4" ends at reading 4, "@QD1 end" starts at 5.
        assertThat(transcript.runs()).containsOnlyKeys("QD1");
        assertThat(transcript.run("QD1")).hasValueSatisfying(run -> {
            assertThat(run.requests()).isEqualTo(4);
            assertThat(run.nanos()).isEqualTo(10);
            assertThat(run.microsPerRequest()).isEqualTo(0.0025);
        });
        assertThat(transcript.run("QD16")).as("no end line yet").isEmpty();
    }

    private static int define(String c, String name) {
        Matcher m = Pattern.compile("#define\\s+" + name + "\\s+(0x[0-9a-fA-F]+|\\d+)").matcher(c);
        assertThat(m.find()).as("#define %s in %s", name, GUEST_C).isTrue();
        String value = m.group(1);
        return value.startsWith("0x") ? Integer.parseInt(value.substring(2), 16) : Integer.parseInt(value);
    }
}
