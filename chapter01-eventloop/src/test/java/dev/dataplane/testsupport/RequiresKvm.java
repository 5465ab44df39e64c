package dev.dataplane.testsupport;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class or method that needs {@code /dev/kvm}.
 *
 * <p>Such tests are skipped only on a machine that has no {@code /dev/kvm} at all. Where the
 * device exists they run, and if this user cannot open it they fail: a KVM test that quietly
 * skips on a machine that could run it would hide exactly the bugs it exists to find.
 * Use {@link KvmCondition#requireUsableKvm()} in a fixture to fail with a clear message.
 *
 * <p>The device path can be overridden with {@code -Ddataplane.kvm.device=/some/path}.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@ExtendWith(KvmCondition.class)
public @interface RequiresKvm {
}
