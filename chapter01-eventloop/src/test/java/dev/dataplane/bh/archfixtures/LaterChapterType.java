package dev.dataplane.bh.archfixtures;

/**
 * Stands in for a chapter 2 class (package {@code dev.dataplane.bh}) that chapter 1 cannot see:
 * the target of {@code ReachesIntoALaterChapter}. Kept out of the test-jar like every
 * {@code archfixtures} package.
 */
public enum LaterChapterType {
    NAME
}
