package dev.dataplane.kvm;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import dev.dataplane.iothread.ThreadRules;
import dev.dataplane.iothread.rules.GlobalStateCode;
import dev.dataplane.pc.IoDevice;

/**
 * Chapter 4's architecture, checked on the production classes of every module on the class path.
 * Do not add {@code ImportOption.DoNotIncludeJars} (see chapter 1's {@code ArchitectureTest}).
 */
@AnalyzeClasses(packages = "dev.dataplane",
        importOptions = {ImportOption.DoNotIncludeTests.class, ThreadRules.DoNotIncludeTestJars.class})
class ArchitectureTest {

    // tag::arch-rules-ch04[]
    @ArchTest
    static final ArchRule JNA_ONLY_IN_THE_LINUX_BINDINGS = noClasses()
            .that().resideInAPackage("dev.dataplane..")
            .and().resideOutsideOfPackages("dev.dataplane.aio.linux..", "dev.dataplane.kvm.linux..")
            .should().dependOnClassesThat().resideInAPackage("com.sun.jna..")
            .because("every native call is declared in dev.dataplane.aio.linux (chapter 1) or"
                    + " dev.dataplane.kvm.linux (chapter 4), the places to audit them; everything else"
                    + " calls their plain Java wrappers");

    @ArchTest
    static final ArchRule VCPU_EXIT_HANDLERS_ARE_GLOBAL_STATE_CODE = methods()
            .that().areDeclaredIn(VcpuThread.class)
            .and().haveNameMatching("handle.*")
            .should().beAnnotatedWith(GlobalStateCode.class)
            .because("a vCPU handles an exit with the BQL held, as QEMU's kvm_cpu_exec does: device"
                    + " registers are machine state");

    @ArchTest
    static final ArchRule ONLY_EXIT_HANDLERS_CALL_DEVICES_FROM_THE_VCPU = noClasses()
            .that().belongToAnyOf(VcpuThread.class)
            .should().callMethodWhere(com.tngtech.archunit.base.DescribedPredicate.describe(
                    "a device or bus is called outside a @GlobalStateCode method",
                    call -> call.getTargetOwner().isAssignableTo(IoDevice.class)
                            && !call.getOrigin().isAnnotatedWith(GlobalStateCode.class)))
            .because("device code runs only with the BQL held");
    // end::arch-rules-ch04[]

    /** Chapter 3's thread rules, over chapter 4's classes too. */
    @ArchTest
    static final ArchRule ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL = ThreadRules.ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL;

    @ArchTest
    static final ArchRule IO_CODE_NEVER_TAKES_THE_BQL = ThreadRules.IO_CODE_NEVER_TAKES_THE_BQL;

    @ArchTest
    static final ArchRule ONE_THREAD_MARKER_EACH = ThreadRules.ONE_THREAD_MARKER_EACH;
}
