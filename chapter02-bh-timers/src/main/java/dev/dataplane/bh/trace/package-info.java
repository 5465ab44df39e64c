/** JFR events of the bottom-half layer ({@code dataplane.bh.*}), next to chapter 1's {@code dataplane.aio.*}. */
package dev.dataplane.bh.trace;
