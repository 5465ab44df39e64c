package dev.dataplane.exercises;

/** Chapter 3's exercises survive the student-version generator (see {@link StudentVersionContract}). */
class Chapter3StudentVersionTest extends StudentVersionContract {
    Chapter3StudentVersionTest() {
        super("chapter03-iothreads", 3);
    }
}
