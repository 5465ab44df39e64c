/**
 * Every JNA declaration of chapter 1: the Linux system calls the event loop is made of.
 *
 * <p>Keeping native access in one package makes it easy to find and to audit, and an ArchUnit
 * rule keeps it that way: no class outside this package may reference {@code com.sun.jna}.
 * Callers see plain Java types ({@code int} fds, byte arrays, {@link
 * dev.dataplane.aio.linux.PollFds}) and {@link dev.dataplane.aio.linux.LinuxException}.
 */
package dev.dataplane.aio.linux;
