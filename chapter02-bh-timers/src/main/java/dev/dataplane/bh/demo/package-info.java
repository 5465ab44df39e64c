/**
 * Chapter 2's workshop demo: one {@link dev.dataplane.aio.AioContext} hashes files with its
 * thread pool, whose completions come back as bottom halves; periodic timers print a status line
 * and a tick; another thread hands the files over in oneshot bottom halves. Start it with
 * {@code scripts/dataplane}; {@link dev.dataplane.bh.demo.HashDemo} is the entry point.
 */
package dev.dataplane.bh.demo;
