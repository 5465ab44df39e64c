/**
 * Which thread may run which code: the markers {@link dev.dataplane.iothread.rules.GlobalStateCode},
 * {@link dev.dataplane.iothread.rules.IoCode}, {@link dev.dataplane.iothread.rules.IoOrGsCode} and
 * {@link dev.dataplane.iothread.rules.MainLoopOnly}, checked statically by ArchUnit and at run time
 * by {@link dev.dataplane.iothread.CodeRules}.
 */
package dev.dataplane.iothread.rules;
