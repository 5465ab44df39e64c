/**
 * JFR events of the thread pool ({@code dataplane.threadpool.*}), next to {@code dataplane.aio.*}
 * and {@code dataplane.bh.*}: a submission, and a completion with how long the request queued,
 * how long its work ran and how long its callback took (the event's duration).
 */
package dev.dataplane.threadpool.trace;
