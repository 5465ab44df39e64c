package dev.dataplane.exercises;

/** Chapter 1's exercises survive the student-version generator (see {@link StudentVersionContract}). */
class StudentVersionTest extends StudentVersionContract {
    StudentVersionTest() {
        super("chapter01-eventloop", 1);
    }
}
