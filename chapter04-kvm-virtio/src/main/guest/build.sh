#!/bin/sh
# build.sh - builds the teaching guest: dataplane-guest.elf, a 32-bit Multiboot ELF.
#
#   sh build.sh OUTPUT_DIR        (Maven runs it in chapter04's compile phase)
#
# Why these flags: KVM on the project's machines emulates every guest
# instruction, and its emulator knows plain integer code only. So: no SSE, MMX
# or x87 (-mgeneral-regs-only and friends), no CET instructions
# (-fcf-protection=none), no calls into libgcc (the guest avoids 64-bit
# division, and -m32 needs no multilib to compile and link this way), and no
# loops silently turned into calls to memset/memcpy (guest.c has its own).
set -eu

src=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTPUT_DIR}
CC=${CC:-gcc}
LD=${LD:-ld}

for tool in "$CC" "$LD"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build.sh: '$tool' not found: the chapter 4 guest needs a C compiler and a linker;" \
             "install gcc and binutils (Debian/Ubuntu: apt-get install gcc binutils)" >&2
        exit 1
    fi
done

CFLAGS="-m32 -march=i686 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector
        -mgeneral-regs-only -mno-sse -mno-mmx -mno-80387 -fcf-protection=none
        -fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables
        -O2 -std=gnu11 -Wall -Wextra -Werror"

mkdir -p "$out"
# shellcheck disable=SC2086 # CFLAGS is a list of words
$CC $CFLAGS -c "$src/boot.S" -o "$out/boot.o"
# shellcheck disable=SC2086
$CC $CFLAGS -c "$src/guest.c" -o "$out/guest.o"
$LD -m elf_i386 -nostdlib -z noexecstack -T "$src/guest.ld" -o "$out/dataplane-guest.elf" \
    "$out/boot.o" "$out/guest.o"
: # quiet on success: the Maven build and the main job print enough
