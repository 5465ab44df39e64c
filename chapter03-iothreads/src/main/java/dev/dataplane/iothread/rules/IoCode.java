package dev.dataplane.iothread.rules;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * I/O code: the request path, which may run in an IOThread (or in the main loop, when a device is
 * placed there) and therefore never takes the BQL and never uses a {@link MainLoopOnly} helper
 * (QEMU: {@code IO_CODE()}). It works on the {@code AioContext} it is given, not on an implicit
 * main context. At run time such code may start with {@link dev.dataplane.iothread.CodeRules#ioCode()}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR})
public @interface IoCode {
}
