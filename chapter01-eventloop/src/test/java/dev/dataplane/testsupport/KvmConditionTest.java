package dev.dataplane.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

class KvmConditionTest {

    @TempDir
    Path dir;

    // The condition ignores its ExtensionContext (the answer depends on the machine only), so null is fine.
    private static ConditionEvaluationResult evaluate(Path device) {
        return new KvmCondition(device).evaluateExecutionCondition(null);
    }

    @Test
    void absentDeviceDisablesTheTestAndSaysWhy() {
        Path absent = dir.resolve("kvm");

        ConditionEvaluationResult result = evaluate(absent);

        assertThat(result.isDisabled()).isTrue();
        assertThat(result.getReason()).hasValue(
                absent + " is absent on this machine: KVM tests are skipped; they run wherever " + absent + " exists");
    }

    @Test
    void existingDeviceEnablesTheTest() throws IOException {
        Path device = Files.createFile(dir.resolve("kvm"));

        ConditionEvaluationResult result = evaluate(device);

        assertThat(result.isDisabled()).isFalse();
        assertThat(result.getReason()).hasValue(device + " exists and opens read-write: KVM tests run");
    }

    @Test
    void existingDeviceThatCannotBeOpenedStillEnablesTheTestSoItFailsLoudly() throws IOException {
        // A directory exists but never opens read-write, even for root: it stands in for a
        // /dev/kvm this user may not open.
        Path unusable = Files.createDirectory(dir.resolve("kvm"));

        ConditionEvaluationResult result = evaluate(unusable);

        assertThat(result.isDisabled()).isFalse();
        assertThat(result.getReason()).hasValueSatisfying(reason -> assertThat(reason)
                .startsWith(unusable + " exists, so KVM tests run, and they will fail here: ")
                .contains("cannot open it read-write"));
    }

    @Test
    void requireUsableKvmReturnsADeviceThatOpensReadWrite() throws IOException {
        Path device = Files.createFile(dir.resolve("kvm"));

        assertThat(KvmCondition.requireUsable(device)).isEqualTo(device);
    }

    @Test
    void requireUsableKvmFailsWithAFixWhenTheDeviceCannotBeOpened() throws IOException {
        Path unusable = Files.createDirectory(dir.resolve("kvm"));

        assertThatThrownBy(() -> KvmCondition.requireUsable(unusable))
                .isInstanceOf(AssertionError.class)
                .hasMessageStartingWith(unusable + " exists but this user cannot open it read-write")
                .hasMessageContaining("give the user access");
    }

    @Test
    void requireUsableKvmFailsWhenTheDeviceIsAbsent() {
        Path absent = dir.resolve("kvm");

        assertThatThrownBy(() -> KvmCondition.requireUsable(absent))
                .isInstanceOf(AssertionError.class)
                .hasMessage(absent + " is absent: this test needs KVM (mark it @RequiresKvm)");
    }

    @Test
    void devicePathComesFromTheSystemPropertyWithDevKvmAsDefault() {
        String saved = System.getProperty(KvmCondition.DEVICE_PROPERTY);
        try {
            System.clearProperty(KvmCondition.DEVICE_PROPERTY);
            assertThat(KvmCondition.configuredDevice()).isEqualTo(Path.of("/dev/kvm"));

            System.setProperty(KvmCondition.DEVICE_PROPERTY, dir.resolve("elsewhere").toString());
            assertThat(KvmCondition.configuredDevice()).isEqualTo(dir.resolve("elsewhere"));
            assertThat(new KvmCondition().evaluateExecutionCondition(null).isDisabled()).isTrue();
        } finally {
            if (saved == null) {
                System.clearProperty(KvmCondition.DEVICE_PROPERTY);
            } else {
                System.setProperty(KvmCondition.DEVICE_PROPERTY, saved);
            }
        }
    }

    @Test
    void requiresKvmAppliesTheConditionToClassesAndMethodsAndIsInherited() {
        // JUnit finds the condition through this meta-annotation; without it @RequiresKvm would do nothing.
        assertThat(RequiresKvm.class.getAnnotation(ExtendWith.class).value()).containsExactly(KvmCondition.class);
        assertThat(RequiresKvm.class.getAnnotation(Target.class).value())
                .containsExactlyInAnyOrder(ElementType.TYPE, ElementType.METHOD);
        assertThat(RequiresKvm.class.getAnnotation(Retention.class).value()).isEqualTo(RetentionPolicy.RUNTIME);
        assertThat(RequiresKvm.class.isAnnotationPresent(Inherited.class)).isTrue();
    }
}
