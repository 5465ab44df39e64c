/*
 * x86.h - the handful of x86 instructions the teaching guest needs.
 *
 * Port I/O is how this guest talks to every device: the serial port, the PCI
 * configuration space and the legacy virtio-pci registers. Each in/out is a VM
 * exit, so each one costs microseconds: the driver keeps them out of its loops.
 */
#ifndef DATAPLANE_GUEST_X86_H
#define DATAPLANE_GUEST_X86_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)  { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/*
 * A full memory barrier. x86 keeps stores in order with each other and loads
 * in order with each other, but a later load may pass an earlier store; a
 * locked instruction forbids that. `mfence` would do too on real hardware, but
 * KVM's instruction emulator (which runs every instruction of this guest on
 * the project's machines) knows `lock add` and not necessarily `mfence`.
 */
static inline void mb(void)
{
    __asm__ volatile("lock addl $0, (%%esp)" : : : "memory", "cc");
}

/* Stops the compiler from moving memory accesses across it; emits nothing. */
static inline void barrier(void)
{
    __asm__ volatile("" : : : "memory");
}

/* Stops the CPU for good: interrupts off, then halt, forever. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#endif
