package dev.dataplane.iothread.rules;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Global-state code: it changes state that belongs to the whole machine (the main loop, the set
 * of IOThreads, device configuration), so it runs in the main loop or in a thread holding the BQL,
 * never in an IOThread (QEMU: {@code GLOBAL_STATE_CODE()}, {@code include/qemu/main-loop.h}).
 *
 * <p>Only global-state code may take the BQL or use a {@link MainLoopOnly} helper; the ArchUnit
 * rules in chapter 3's tests check that across every module. At run time such code starts with
 * {@link dev.dataplane.iothread.CodeRules#globalStateCode()}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD, ElementType.CONSTRUCTOR})
public @interface GlobalStateCode {
}
