package dev.dataplane.timer.bench;

/**
 * The benchmark's model of QEMU's active-timer list ({@code util/qemu-timer.c}): a singly linked
 * list sorted by expiry, a new timer going after every timer with an equal or earlier expiry.
 * Arming first unlinks the timer by walking the list until it finds it, or to the end if it is
 * not armed, which is what QEMU's {@code timer_mod_ns} does; then it walks again to the
 * insertion point. Popping the head is O(1).
 *
 * <p>Only what {@link TimerScaleBenchmark} needs: no lock, no notify, one thread.
 */
final class SortedLinkedTimerList {

    /** A timer of this list (QEMU: {@code QEMUTimer}, whose {@code next} links the list). */
    static final class Timer {
        final Runnable callback;
        long expireNs = -1;
        Timer next;

        Timer(Runnable callback) {
            this.callback = callback;
        }
    }

    private Timer head;

    void mod(Timer t, long expireNs) {
        unlink(t);
        long expire = Math.max(0, expireNs);
        Timer prev = null;
        Timer cur = head;
        while (cur != null && cur.expireNs <= expire) { // past every timer due at or before us
            prev = cur;
            cur = cur.next;
        }
        t.expireNs = expire;
        t.next = cur;
        if (prev == null) {
            head = t;
        } else {
            prev.next = t;
        }
    }

    private void unlink(Timer t) {
        t.expireNs = -1;
        Timer prev = null;
        for (Timer cur = head; cur != null; prev = cur, cur = cur.next) {
            if (cur == t) {
                if (prev == null) {
                    head = cur.next;
                } else {
                    prev.next = cur.next;
                }
                cur.next = null;
                return;
            }
        }
    }

    /** One pass: the clock reading {@code now}, then every timer due by then, in order. */
    boolean runTimers(long now) {
        boolean progress = false;
        Timer t;
        while ((t = head) != null && t.expireNs <= now) {
            head = t.next;
            t.next = null;
            t.expireNs = -1;
            t.callback.run();
            progress = true;
        }
        return progress;
    }

    boolean hasTimers() {
        return head != null;
    }
}
