package dev.dataplane.exercises;

/** Chapter 2's exercises survive the student-version generator (see {@link StudentVersionContract}). */
class Chapter2StudentVersionTest extends StudentVersionContract {
    Chapter2StudentVersionTest() {
        super("chapter02-bh-timers", 2);
    }
}
