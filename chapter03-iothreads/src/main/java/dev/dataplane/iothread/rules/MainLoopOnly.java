package dev.dataplane.iothread.rules;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A "legacy" helper that works on the main loop's context without being told so (QEMU's
 * {@code qemu_bh_new}, {@code qemu_set_fd_handler}, {@code timer_new_ms}, ...). Usable only in
 * the main loop or with the BQL held; I/O code must use the {@code AioContext} it was given.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
public @interface MainLoopOnly {
}
