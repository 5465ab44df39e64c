/**
 * Chapter 1's workshop demo: an echo server on 127.0.0.1 run entirely by one
 * {@link dev.dataplane.aio.AioContext}, and blocking client threads that check every echo.
 * Start it with {@code scripts/dataplane}; {@link dev.dataplane.aio.demo.EchoDemo} is the
 * entry point.
 */
package dev.dataplane.aio.demo;
