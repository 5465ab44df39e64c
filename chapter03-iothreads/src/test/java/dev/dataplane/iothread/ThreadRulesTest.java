package dev.dataplane.iothread;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * Chapter 3's thread rules ({@link ThreadRules}) on the production classes of every module on
 * the class path: chapters 1 and 2 arrive as jars or class directories, and all of them are
 * checked. Test classes are left out, and so are the test-jars of earlier chapters.
 */
@AnalyzeClasses(packages = "dev.dataplane",
        importOptions = {ImportOption.DoNotIncludeTests.class, ThreadRules.DoNotIncludeTestJars.class})
class ThreadRulesTest {

    @ArchTest
    static final ArchRule IO_CODE_NEVER_TAKES_THE_BQL = ThreadRules.IO_CODE_NEVER_TAKES_THE_BQL;

    @ArchTest
    static final ArchRule ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL = ThreadRules.ONLY_GLOBAL_STATE_CODE_TAKES_THE_BQL;

    @ArchTest
    static final ArchRule LOWER_CHAPTERS_KNOW_NO_BQL = ThreadRules.LOWER_CHAPTERS_KNOW_NO_BQL;

    @ArchTest
    static final ArchRule MAIN_LOOP_ONLY_IS_GLOBAL_STATE_CODE = ThreadRules.MAIN_LOOP_ONLY_IS_GLOBAL_STATE_CODE;

    @ArchTest
    static final ArchRule ONE_THREAD_MARKER_EACH = ThreadRules.ONE_THREAD_MARKER_EACH;
}
