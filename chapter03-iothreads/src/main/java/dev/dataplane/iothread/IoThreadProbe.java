package dev.dataplane.iothread;

/** Test seam: a hook at the racy moment of the IOThread loop, between the flag check and the poll. */
interface IoThreadProbe {
    /** Called in the IOThread after it has seen {@code running == true} and before {@code poll(true)}. */
    void beforePoll(IoThread thread);
}
