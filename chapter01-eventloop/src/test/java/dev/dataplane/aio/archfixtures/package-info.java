/**
 * Classes that break the chapter 1 architecture rules on purpose, so that
 * {@code ArchitectureRulesCatchViolationsTest} can show each rule catching its violation.
 *
 * <p>They are test classes, so the production import of {@code ArchitectureTest} never sees
 * them, and chapter01's pom keeps every {@code archfixtures} package out of the test-jar, so the
 * architecture tests of later chapters never see them either.
 */
package dev.dataplane.aio.archfixtures;
