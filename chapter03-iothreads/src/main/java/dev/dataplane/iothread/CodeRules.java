package dev.dataplane.iothread;

import dev.dataplane.aio.AioContext;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.iothread.rules.IoCode;
import dev.dataplane.iothread.rules.IoOrGsCode;

/**
 * The run-time half of the markers {@link GlobalStateCode}, {@link IoCode} and {@link IoOrGsCode}
 * (QEMU: the macros {@code GLOBAL_STATE_CODE()}, {@code IO_CODE()}, {@code IO_OR_GS_CODE()} in
 * {@code include/qemu/main-loop.h}). Each is a thread-local read or two, cheap enough to leave on.
 * The static half is the ArchUnit rules in chapter 3's tests.
 */
public final class CodeRules {

    private CodeRules() {
    }

    // tag::code-rules[]
    /**
     * Whether the calling thread is "the main loop": it holds a BQL and runs no event loop other
     * than that main loop's (QEMU: {@code qemu_in_main_thread}).
     */
    @IoOrGsCode
    public static boolean inMainLoop() {
        Bql bql = Bql.heldByCurrentThread();
        if (bql == null) {
            return false;
        }
        AioContext own = CurrentContext.own();
        return own == null || own == bql.mainContext();
    }

    /** Throws unless the calling thread is the main loop; the first line of global-state code. */
    @IoOrGsCode
    public static void globalStateCode() {
        if (!inMainLoop()) {
            throw new IllegalStateException("global-state code called from thread '" + Thread.currentThread().getName()
                    + "' without the BQL; it may run only in the main loop or with the BQL held"
                    + (CurrentContext.own() != null ? " (this thread runs the event loop '"
                            + CurrentContext.own().name() + "')" : ""));
        }
    }

    /**
     * Throws unless the calling thread runs an event loop (an IOThread, the main loop, or a BQL
     * holder): I/O code completes its work in a context, so a thread-pool worker or a stray thread
     * must hand it over with a bottom half instead of calling it.
     */
    @IoOrGsCode
    public static void ioCode() {
        if (CurrentContext.get() == null) {
            throw new IllegalStateException("I/O code called from thread '" + Thread.currentThread().getName()
                    + "', which runs no event loop; schedule it into the right AioContext with a bottom half");
        }
    }

    /** The same check as {@link #ioCode()}: code of either kind needs an event loop. */
    @IoOrGsCode
    public static void ioOrGsCode() {
        ioCode();
    }
    // end::code-rules[]
}
