package dev.dataplane.virtio;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import dev.dataplane.block.VirtioBlk;
import dev.dataplane.iothread.CodeMarkers;
import dev.dataplane.iothread.ThreadRules;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Chapter 3's thread rules over chapter 4's classes (and everything below them): the device's
 * request path (virtqueue handling, request completion, interrupt injection) is I/O code and never
 * reaches the BQL or a main-loop-only helper. The second half checks that the request path really
 * is marked, so that the first rule is not satisfied vacuously.
 */
@AnalyzeClasses(packages = "dev.dataplane",
        importOptions = {ImportOption.DoNotIncludeTests.class, ThreadRules.DoNotIncludeTestJars.class})
class VirtioThreadRulesTest {

    @ArchTest
    static final ArchRule IO_CODE_NEVER_TAKES_THE_BQL = ThreadRules.IO_CODE_NEVER_TAKES_THE_BQL;

    @ArchTest
    static final ArchRule ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL = ThreadRules.ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL;

    @ArchTest
    static final ArchRule MAIN_LOOP_ONLY_IS_GLOBAL_STATE_CODE = ThreadRules.MAIN_LOOP_ONLY_IS_GLOBAL_STATE_CODE;

    @ArchTest
    static final ArchRule ONE_THREAD_MARKER_EACH = ThreadRules.ONE_THREAD_MARKER_EACH;

    private static JavaClasses production() {
        return new ClassFileImporter().withImportOption(new ImportOption.DoNotIncludeTests())
                .importPackagesOf(VirtQueue.class, VirtioBlk.class);
    }

    @Test
    void theRequestPathIsMarkedAsIoCode() {
        JavaClasses classes = production();
        List<String> io = classes.stream()
                .flatMap(c -> c.getCodeUnits().stream())
                .filter(CodeMarkers::isIoCode)
                .map(CodeMarkers::shortName)
                .collect(Collectors.toList());
        assertThat(io).contains(
                "VirtQueue.pop()", "VirtQueue.push(Element, long)", "VirtQueue.shouldNotify()",
                "VirtQueue.setNotification(boolean)", "VirtQueue.detach(Element)",
                "VirtioBlk.handleQueue(VirtQueue)", "VirtioBlk.handleRequest(VirtQueue, Element)",
                "VirtioBlk.complete(VirtQueue, Element, long, int, long)", "VirtioBlk.fail(String)",
                "RawImage.readv(long, ByteBuffer[], Completion)", "RawImage.writev(long, ByteBuffer[], Completion)",
                "RawImage.flush(Completion)",
                "VirtioPciLegacy.raise(int)", "VirtioPciLegacy.detachNotifiers(HostNotifier[])",
                "VirtioPciLegacy.HostNotifier.read(EventNotifier)",
                "VirtioPciLegacy.Transport.notifyQueue(VirtQueue)", "VirtioPciLegacy.Transport.deviceError(String)");
    }

    @Test
    void theRegisterBlockIsGlobalStateCode() {
        List<String> gs = production().get(VirtioPciLegacy.class).getCodeUnits().stream()
                .filter(CodeMarkers::isGlobalStateCode)
                .map(JavaCodeUnit::getName)
                .collect(Collectors.toList());
        assertThat(gs).contains("registerRead", "registerWrite", "queueNotify", "setStatus", "startQueues",
                "stopQueues", "reset", "readAndClearIsr");
    }
}
