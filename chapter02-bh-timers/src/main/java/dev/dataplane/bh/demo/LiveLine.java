package dev.dataplane.bh.demo;

import java.io.PrintStream;

/**
 * The demo's live output: a status line that a terminal redraws in place, and event lines that
 * scroll above it. On a terminal a status update is a carriage return and the new text, with no
 * newline, so the line changes where it stands; anywhere else (a pipe, a file, a test) each
 * update is a plain line of its own, so the output reads the same in a log.
 *
 * <p>Written by one thread only, the loop thread: that is why it needs no lock.
 */
final class LiveLine {

    private final PrintStream out;
    private final boolean redraw;
    /** The status text on screen now, in redraw mode; empty if none. */
    private String shown = "";

    LiveLine(PrintStream out, boolean redraw) {
        this.out = out;
        this.redraw = redraw;
    }

    /** Replaces the status line (terminal), or prints it as one more line (anywhere else). */
    void status(String line) {
        if (!redraw) {
            out.println(line);
            return;
        }
        // Spaces cover the end of a longer previous status; no terminal escape codes needed.
        out.print("\r" + line + " ".repeat(Math.max(0, shown.length() - line.length())));
        out.flush();
        shown = line;
    }

    /** Prints a line that stays; on a terminal the status line is wiped, then drawn again below it. */
    void event(String line) {
        if (redraw && !shown.isEmpty()) {
            out.print("\r" + " ".repeat(shown.length()) + "\r");
        }
        out.println(line);
        if (redraw && !shown.isEmpty()) {
            out.print(shown);
            out.flush();
        }
    }

    /** Leaves the last status line on the screen and moves below it. */
    void finish() {
        if (redraw && !shown.isEmpty()) {
            out.println();
            shown = "";
        }
    }
}
