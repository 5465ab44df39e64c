package dev.dataplane.iothread.rules;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Code that may run either as {@link IoCode} or as {@link GlobalStateCode}: it obeys the stricter
 * rules of I/O code (no BQL, no main-loop helper), because it cannot know which caller it has
 * (QEMU: {@code IO_OR_GS_CODE()}).
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR})
public @interface IoOrGsCode {
}
