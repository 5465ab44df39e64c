package dev.dataplane.aio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.dataplane.aio.linux.LinuxException;
import org.junit.jupiter.api.Test;

class EventNotifierTest {

    @Test
    void aNewNotifierIsClear() {
        try (EventNotifier n = new EventNotifier()) {
            assertThat(n.fd()).isGreaterThanOrEqualTo(0);
            assertThat(n.testAndClear()).isFalse();
        }
    }

    @Test
    void setThenTestAndClearReportsOnceAndClears() {
        try (EventNotifier n = new EventNotifier()) {
            n.set();
            assertThat(n.testAndClear()).isTrue();
            assertThat(n.testAndClear()).isFalse();
        }
    }

    @Test
    void severalSetsCollapseIntoOneNotification() {
        try (EventNotifier n = new EventNotifier()) {
            n.set();
            n.set();
            n.set();
            assertThat(n.testAndClear()).isTrue();
            assertThat(n.testAndClear()).isFalse();
        }
    }

    @Test
    void setFromAnotherThreadIsSeen() throws Exception {
        try (EventNotifier n = new EventNotifier()) {
            Thread t = new Thread(n::set);
            t.start();
            t.join();
            assertThat(n.testAndClear()).isTrue();
        }
    }

    @Test
    void usingAClosedNotifierNamesTheCallAndTheErrno() {
        EventNotifier n = new EventNotifier();
        n.close();
        n.close(); // idempotent
        assertThatThrownBy(n::set)
                .isInstanceOf(LinuxException.class)
                .hasMessageContaining("eventfd_write")
                .hasMessageContaining("EBADF");
    }
}
