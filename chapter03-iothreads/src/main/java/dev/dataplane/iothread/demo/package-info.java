/**
 * Chapter 3's workshop demo: a main loop with a small command console on standard input, and
 * IOThreads serving jobs (file hashing through each IOThread's thread pool, a ticking timer) that
 * the console lists, measures and moves from one IOThread to another. Start it with
 * {@code scripts/dataplane}; {@link dev.dataplane.iothread.demo.ConsoleDemo} is the entry point.
 */
package dev.dataplane.iothread.demo;
