package dev.dataplane.timer.archfixtures;

import dev.dataplane.iothread.CodeRules;

/**
 * Breaks rule c: chapter 2 code (it sits in {@code dev.dataplane.timer}) that knows chapter 3
 * exists. Even asking whether the caller is the main loop (which holds the BQL) is a dependency
 * on chapter 3. The package is chapter 3's own fixture package (chapter 1's fixtures use
 * {@code dev.dataplane.bh.archfixtures}); like every {@code archfixtures} package it stays out of
 * the test-jar.
 */
public final class TimerThatChecksForTheMainLoop {

    private TimerThatChecksForTheMainLoop() {
    }

    static boolean mayFire() {
        return CodeRules.inMainLoop();
    }
}
