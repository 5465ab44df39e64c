package dev.dataplane.aio.archfixtures;

import dev.dataplane.bh.archfixtures.LaterChapterType;

/** The event-loop core calling up into a later chapter's package. */
public final class ReachesIntoALaterChapter {

    private ReachesIntoALaterChapter() {
    }

    static String name() {
        return LaterChapterType.NAME.toString();
    }
}
