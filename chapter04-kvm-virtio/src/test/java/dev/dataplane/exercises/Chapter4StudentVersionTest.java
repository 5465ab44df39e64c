package dev.dataplane.exercises;

/** Chapter 4's exercises survive the student-version generator (see {@link StudentVersionContract}). */
class Chapter4StudentVersionTest extends StudentVersionContract {
    Chapter4StudentVersionTest() {
        super("chapter04-kvm-virtio", 4);
    }
}
