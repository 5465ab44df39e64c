/*
 * boot.S - the Multiboot header and the first instructions of the guest.
 *
 * A Multiboot loader (QEMU's -kernel, or Dataplane's own loader) finds the
 * header below in the first 8 KiB of the file, loads the ELF segments at
 * their physical addresses and jumps to _start in 32-bit protected mode with
 * flat segments, paging off and interrupts off, EAX = 0x2BADB002 and EBX =
 * the address of the Multiboot information structure. There is no stack yet.
 */

// tag::multiboot-header[]
#define MULTIBOOT_MAGIC  0x1BADB002
#define MULTIBOOT_FLAGS  0x00000000   /* an ELF file: the loader needs nothing more */

        .section .multiboot, "a"
        .align 4
        .long MULTIBOOT_MAGIC
        .long MULTIBOOT_FLAGS
        .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)   /* the three add up to 0 */
// end::multiboot-header[]

// tag::start[]
        .text
        .globl _start
_start:
        cld
        /* Clear the BSS (the loader should have, but a guest should not
         * count on it). rep stosl needs EAX, ECX and EDI: park the magic
         * in EDX and leave EBX, the information pointer, alone. */
        movl    %eax, %edx
        movl    $__bss_start, %edi
        movl    $__bss_end, %ecx
        subl    %edi, %ecx
        shrl    $2, %ecx
        xorl    %eax, %eax
        rep stosl

        movl    $stack_top, %esp     /* the stack lives in the BSS, now zeroed */
        pushl   %ebx                 /* guest_main(magic, info) */
        pushl   %edx
        call    guest_main
1:      cli                          /* guest_main does not return; if it did, stop */
        hlt
        jmp     1b
// end::start[]

        .bss
        .align 16
        .space  16384
stack_top:
