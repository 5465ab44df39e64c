/**
 * Classes that break chapter 3's thread rules on purpose, one rule each, so that
 * {@code ThreadRulesCatchViolationsTest} can show every rule catching its violation; and one
 * class, {@link dev.dataplane.iothread.archfixtures.FollowsTheRules}, that breaks none.
 *
 * <p>They are test classes, so the production import of {@code ThreadRulesTest} never sees them,
 * and chapter 3's pom keeps every {@code archfixtures} package out of the test-jar, so later
 * chapters never see them either. They are compiled, never run. The line numbers of the calls
 * appear in the failure messages the test pins down: moving a line means updating
 * {@code thread-rule-failures.txt}.
 */
package dev.dataplane.iothread.archfixtures;
