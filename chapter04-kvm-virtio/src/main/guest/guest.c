/*
 * guest.c - Dataplane's teaching guest: a small virtio-blk driver that runs
 * with no operating system under it.
 *
 * What it does, in order:
 *   1. says hello on the serial port (an 8250 UART at 0x3F8);
 *   2. finds the virtio block device on PCI bus 0 (configuration mechanism #1,
 *      ports 0xCF8/0xCFC) and switches on its I/O BAR and bus mastering;
 *   3. drives the legacy virtio-pci interface: reset, ACKNOWLEDGE, DRIVER,
 *      feature negotiation, one split virtqueue, DRIVER_OK;
 *   4. writes a pattern, reads it back and compares, checks that requests
 *      outside the disk and of an unknown type are refused, flushes, and
 *      reads the device's ID;
 *   5. runs timed loops whose begin and end the host sees on the serial
 *      port: one that does no I/O at all (the guest's own cost), then 4 KiB
 *      random reads at queue depth 1 and at queue depth 16, and on request
 *      reads during which the guest has work of its own to do;
 *   6. ends the run with a status through an isa-debug-exit port.
 *
 * Build: see build.sh (gcc -m32, freestanding, no SSE; ld -m elf_i386).
 * Run:   on Dataplane (chapter 4's machine), or under QEMU:
 *          qemu-system-x86_64 -accel kvm -cpu qemu64 -m 64 -display none \
 *            -serial stdio -no-reboot -kernel dataplane-guest.elf \
 *            -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
 *            -drive file=disk.img,if=none,id=d0,format=raw \
 *            -device virtio-blk-pci,disable-modern=on,drive=d0
 *
 * Command line (Multiboot; QEMU's -append): words of the form key=value,
 *   qd1=N    requests in the queue-depth-1 run     (default 1000)
 *   qd16=N   requests in the queue-depth-16 run    (default 4000)
 *   loop=N   iterations of the no-I/O loop         (default 1000)
 *   busy=N   reads at queue depth 1 with guest work between each kick and
 *            the first look for its completion, timed as BUSY, and as
 *            many rounds of the no-I/O loop with the same work, timed as
 *            BUSYLOOP (default 0: neither)
 *   work=K   rounds of that work per request (default 16; one round is a
 *            few instructions)
 *   warm=N   reads at queue depth 1 before the timed runs, timed as WARM
 *            (default 0: none); a VMM that compiles its own code while
 *            running (a JVM) does it there, so QD1 and QD16 see it warm
 *   warm16=N reads at queue depth 16 right after WARM, timed as WARM16
 *            (default 0: none): the paths only a deep queue takes (several
 *            requests per kick, several completions at once) warm up too
 *   qd16k=N  reads at queue depth 16 with a kick after every request,
 *            timed as QD16K (default 0: none): several threads submitting
 *            independently, each notifying the device, seed 002's case
 *   intr=0   ask the device not to interrupt (VRING_AVAIL_F_NO_INTERRUPT);
 *            by default the guest leaves interrupts requested, as a driver
 *            that sleeps would, and simply never enables them on the CPU.
 *
 * Serial protocol (lines end in "\r\n"; lines the host may time start with
 * '@' and are short, because every character costs two VM exits):
 *   @WARM begin n=N / @WARM end      the warm-up reads (only with warm=N)
 *   @WARM16 ...                      the same, 16 in flight (warm16=N)
 *   @LOOP begin n=N / @LOOP end      the no-I/O loop
 *   @QD1 begin n=N  / @QD1 end       N 4 KiB reads, one at a time
 *   @QD16 begin n=N / @QD16 end      N 4 KiB reads, 16 in flight
 *   @QD16K ...                       the same, a kick per request (qd16k=N)
 *   @BUSYLOOP ..., @BUSY ...         the same, one at a time, with guest work
 *                                    (only with busy=N)
 * A run's time is from the end of its begin line to the start of its end
 * line. The last line is "dataplane-guest: PASS" or "dataplane-guest: FAIL
 * (reason)".
 *
 * Exit protocol: the guest writes one byte, its status, to port 0xF4 (see
 * EXIT_* below; 0 = everything passed). QEMU's isa-debug-exit turns value v
 * into the process exit status 2v+1, so success under QEMU is exit status 1.
 *
 * Why the code looks the way it does: on the project's machines KVM emulates
 * every guest instruction (about half a microsecond each) and every port
 * access is a VM exit (several microseconds). So the request path is short,
 * descriptor chains are built once per slot, the queue size is a power of
 * two (masks, not divisions), there are no interrupts (KVM's emulator lacks
 * `iret` in protected mode; we poll the used ring instead), and no SSE, MMX
 * or x87 instructions are generated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"
#include "x86.h"

/* ------------------------------------------------------------------------ */
/* How the run ends                                                          */
/* ------------------------------------------------------------------------ */

// tag::exit[]
#define EXIT_PORT        0xf4   /* isa-debug-exit: one byte, the status      */
#define EXIT_PASS        0      /* every check passed                        */
#define EXIT_NO_DEVICE   1      /* no virtio-blk on PCI bus 0                */
#define EXIT_SETUP       2      /* the device could not be set up            */
#define EXIT_IO_ERROR    3      /* a request had an unexpected status        */
#define EXIT_MISMATCH    4      /* data read back differs from data written  */
#define EXIT_PROTOCOL    5      /* the device broke the virtqueue protocol   */

static __attribute__((noreturn)) void guest_exit(uint8_t status)
{
    outb(EXIT_PORT, status);
    halt_forever();             /* no exit port: stop here                   */
}
// end::exit[]

/* ------------------------------------------------------------------------ */
/* The little C library a freestanding program needs                         */
/* ------------------------------------------------------------------------ */

/* gcc may call these for struct copies even in freestanding code. */
void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *p = d;
    const uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

/* ------------------------------------------------------------------------ */
/* Serial console: an 8250 UART at 0x3F8                                     */
/* ------------------------------------------------------------------------ */

#define COM1          0x3f8
#define UART_IER      1         /* interrupt enable                          */
#define UART_LSR      5         /* line status                               */
#define UART_LSR_THRE 0x20      /* transmit holding register empty           */

/* Two exits per character: one to ask whether the UART can take it, one to
 * hand it over. The baud rate is left as it is: a virtual UART ignores it. */
static void serial_putc(char c)
{
    while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
        ;
    outb(COM1, (uint8_t)c);
}

static void put_char(char c)
{
    if (c == '\n')
        serial_putc('\r');
    serial_putc(c);
}

static void put_str(const char *s)
{
    while (*s)
        put_char(*s++);
}

static void put_uint(uint32_t v, unsigned base, int width)
{
    char buf[12];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];   /* 32-bit: no libgcc */
        v /= base;
    } while (v);
    while (n < width--)
        put_char('0');
    while (n)
        put_char(buf[--n]);
}

/* A printf with just %s, %c, %u, %x and %0Nx. */
static void print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put_char(*fmt);
            continue;
        }
        int width = 0;
        if (*++fmt == '0')
            while (*++fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt - '0');
        switch (*fmt) {
        case 's': put_str(va_arg(ap, const char *)); break;
        case 'c': put_char((char)va_arg(ap, int)); break;
        case 'u': put_uint(va_arg(ap, uint32_t), 10, width); break;
        case 'x': put_uint(va_arg(ap, uint32_t), 16, width); break;
        default:  put_char(*fmt); break;
        }
    }
    va_end(ap);
}

static __attribute__((noreturn)) void fail(uint8_t status, const char *why)
{
    print("dataplane-guest: FAIL (%s)\n", why);
    guest_exit(status);
}

/* ------------------------------------------------------------------------ */
/* The Multiboot command line                                                */
/* ------------------------------------------------------------------------ */

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002
#define MULTIBOOT_INFO_CMDLINE     (1u << 2)

struct multiboot_info {         /* only the fields we read */
    uint32_t flags;
    uint32_t mem_lower, mem_upper, boot_device;
    uint32_t cmdline;           /* physical address of a C string */
};

/* The value of "key=<number>" in the command line, or `dflt`. */
static uint32_t cmdline_uint(const char *cmdline, const char *key, uint32_t dflt)
{
    for (const char *p = cmdline; p && *p; p++) {
        if (p != cmdline && p[-1] != ' ')
            continue;           /* keys start words */
        const char *k = key, *q = p;
        while (*k && *q == *k)
            k++, q++;
        if (*k || *q != '=')
            continue;
        uint32_t v = 0;
        while (*++q >= '0' && *q <= '9')
            v = v * 10 + (uint32_t)(*q - '0');
        return v;
    }
    return dflt;
}

/* ------------------------------------------------------------------------ */
/* PCI: configuration mechanism #1                                           */
/* ------------------------------------------------------------------------ */

// tag::pci-scan[]
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA    0xcfc
#define PCI_ID             0x00   /* vendor (low 16 bits), device (high 16)  */
#define PCI_COMMAND        0x04
#define PCI_COMMAND_IO     0x1    /* decode the function's I/O BARs          */
#define PCI_COMMAND_MASTER 0x4    /* let the function read and write RAM     */
#define PCI_BAR0           0x10
#define PCI_BAR_IO         0x1    /* bit 0 set: an I/O-space BAR             */
#define PCI_IO_WINDOW      0xc000 /* where we put an unassigned I/O BAR      */

/* Bus 0, device `dev`, function 0, register `reg`: the address written to
 * 0xCF8 selects which 32-bit register 0xCFC then reads or writes. */
static uint32_t pci_address(unsigned dev, unsigned reg)
{
    return 0x80000000u | (dev << 11) | (reg & 0xfc);
}

static uint32_t pci_read(unsigned dev, unsigned reg)
{
    outl(PCI_CONFIG_ADDRESS, pci_address(dev, reg));
    return inl(PCI_CONFIG_DATA);
}

static void pci_write(unsigned dev, unsigned reg, uint32_t v)
{
    outl(PCI_CONFIG_ADDRESS, pci_address(dev, reg));
    outl(PCI_CONFIG_DATA, v);
}

/* The slot of the first function 0 on bus 0 with this vendor and device ID,
 * or -1. An empty slot reads as all ones. Only bus 0 and function 0 are
 * looked at: that is where both QEMU and Dataplane put the disk, and every
 * configuration access costs two VM exits. */
static int pci_find(uint16_t vendor, uint16_t device)
{
    uint32_t want = (uint32_t)device << 16 | vendor;
    for (unsigned dev = 0; dev < 32; dev++)
        if (pci_read(dev, PCI_ID) == want)
            return (int)dev;
    return -1;
}
// end::pci-scan[]

/* ------------------------------------------------------------------------ */
/* The virtio-blk device and its one virtqueue                               */
/* ------------------------------------------------------------------------ */

#define QUEUE_MAX   1024        /* the largest queue we have memory for      */
#define SLOTS       16          /* requests in flight at most                */
#define DATA_BYTES  4096        /* one data buffer per slot                  */

static uint16_t io_base;        /* BAR0: the legacy virtio-pci registers     */

/* A split virtqueue as the driver sees it. */
struct virtqueue {
    uint16_t mask;                      /* queue size - 1 (a power of two)   */
    volatile struct vring_desc *desc;
    volatile struct vring_avail *avail;
    volatile struct vring_used *used;
    uint16_t avail_idx;                 /* next free entry in the avail ring */
    uint16_t used_seen;                 /* used entries consumed so far      */
    int loopback;                       /* the no-I/O queue (see kick)       */
};

/* Request slot i always uses descriptors 3i (header), 3i+1 (data) and 3i+2
 * (status), and the memory below: nothing is allocated per request. */
struct slot {
    struct virtio_blk_req_hdr hdr;
    volatile uint8_t status;
};
static struct slot slots[SLOTS];
static uint8_t data[SLOTS][DATA_BYTES] __attribute__((aligned(4096)));

/* Ring memory: legacy virtio wants it physically contiguous and 4 KiB
 * aligned; with paging off, these addresses are physical. */
#define RING_BYTES (8 * 4096)           /* >= vring_size(QUEUE_MAX)          */
static uint8_t ring_mem[RING_BYTES] __attribute__((aligned(4096)));
static uint8_t loop_ring_mem[RING_BYTES] __attribute__((aligned(4096)));
static struct virtqueue vq, loop_vq;

static uint32_t vio_read32(unsigned reg)             { return inl(io_base + reg); }
static void vio_write32(unsigned reg, uint32_t v)    { outl(io_base + reg, v); }
static void vio_write16(unsigned reg, uint16_t v)    { outw(io_base + reg, v); }
static void vio_write8(unsigned reg, uint8_t v)      { outb(io_base + reg, v); }
static uint8_t vio_read8(unsigned reg)               { return inb(io_base + reg); }

// tag::virtqueue-setup[]
/* Lays out a queue of `num` entries in `mem` and prebuilds one descriptor
 * chain per slot: header (device reads) -> data -> status (device writes). */
static void vq_init(struct virtqueue *q, uint8_t *mem, uint16_t num)
{
    /* `mem` is in the BSS, zeroed at start-up: flags and indexes start at 0. */
    q->mask = num - 1;
    q->desc = (volatile struct vring_desc *)mem;
    q->avail = (volatile struct vring_avail *)(mem + 16 * num);
    q->used = (volatile struct vring_used *)(mem + vring_used_offset(num));
    for (unsigned i = 0; i < SLOTS; i++) {
        volatile struct vring_desc *d = &q->desc[3 * i];
        d[0].addr = (uint32_t)&slots[i].hdr;
        d[0].len = sizeof(struct virtio_blk_req_hdr);
        d[1].addr = (uint32_t)data[i];
        d[2].addr = (uint32_t)&slots[i].status;
        d[2].len = 1;
        d[2].flags = VRING_DESC_F_WRITE;
    }
}

/* Resets the device and brings it up with queue 0 driven by `vq`.
 * Returns the features both sides agreed on. */
static uint32_t virtio_setup(int intr)
{
    vio_write8(VIRTIO_PCI_STATUS, 0);                      /* reset */
    vio_write8(VIRTIO_PCI_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    vio_write8(VIRTIO_PCI_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

    /* Accept only what this driver understands; legacy devices have no
     * FEATURES_OK step, so writing our subset is the whole negotiation. */
    uint32_t offered = vio_read32(VIRTIO_PCI_HOST_FEATURES);
    uint32_t wanted = 1u << VIRTIO_BLK_F_BLK_SIZE | 1u << VIRTIO_BLK_F_SEG_MAX
                    | 1u << VIRTIO_BLK_F_FLUSH | 1u << VIRTIO_BLK_F_RO;
    uint32_t features = offered & wanted;
    vio_write32(VIRTIO_PCI_GUEST_FEATURES, features);
    print("virtio: features offered %08x, accepted %08x\n", offered, features);

    vio_write16(VIRTIO_PCI_QUEUE_SEL, 0);
    uint16_t num = inw(io_base + VIRTIO_PCI_QUEUE_NUM);
    if (num == 0 || (num & (num - 1)) || num > QUEUE_MAX || num < 3 * SLOTS)
        fail(EXIT_SETUP, "unusable queue size");
    vq_init(&vq, ring_mem, num);
    if (!intr)
        vq.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
    vio_write32(VIRTIO_PCI_QUEUE_PFN, (uint32_t)ring_mem >> 12);
    print("virtio: queue 0, %u entries at %08x\n", num, (uint32_t)ring_mem);

    vio_write8(VIRTIO_PCI_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER
                                  | VIRTIO_STATUS_DRIVER_OK);
    if (vio_read8(VIRTIO_PCI_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
        fail(EXIT_SETUP, "device needs reset");

    /* The no-I/O loop gets a queue of the same size that no device sees. */
    vq_init(&loop_vq, loop_ring_mem, num);
    loop_vq.loopback = 1;
    return features;
}
// end::virtqueue-setup[]

/* Shapes slot `s`'s chain for a request of this type: header -> data ->
 * status, or header -> status when `len` is 0. The device writes the data
 * buffer of a read (IN, GET_ID) and reads that of a write (OUT). Done once
 * per slot before a timed run, so the per-request path below skips it. */
static void shape_chain(struct virtqueue *q, unsigned s, uint32_t type, uint32_t len)
{
    volatile struct vring_desc *d = &q->desc[3 * s];
    d[0].flags = VRING_DESC_F_NEXT;
    d[0].next = len ? 3 * s + 1 : 3 * s + 2;
    d[1].len = len;
    d[1].flags = type == VIRTIO_BLK_T_OUT ? VRING_DESC_F_NEXT
                                          : VRING_DESC_F_NEXT | VRING_DESC_F_WRITE;
    d[1].next = 3 * s + 2;
}

// tag::submit[]
/* Puts slot `s`'s request on the avail ring, unpublished: the device sees
 * it only after kick(). The chain is already shaped for `type`. */
static void submit(struct virtqueue *q, unsigned s, uint32_t type, uint64_t sector)
{
    slots[s].hdr.type = type;
    slots[s].hdr.sector = sector;
    slots[s].status = 0xff;             /* no device writes this value */
    q->avail->ring[q->avail_idx++ & q->mask] = 3 * s;
}

static void loopback_complete(struct virtqueue *q);

/* Publishes the submitted requests and, unless the device said it is
 * polling anyway, notifies it: one VM exit (or one ioeventfd signal). */
static void kick(struct virtqueue *q)
{
    /* The device may look at the ring as soon as idx moves, so everything
     * the request consists of must be in memory first. x86 never lets one
     * store overtake another: stopping the compiler from reordering is all
     * the write barrier the virtio spec asks for here. */
    barrier();
    q->avail->idx = q->avail_idx;
    if (q->loopback) {
        loopback_complete(q);
        return;
    }
    /* A load may overtake a store, even on x86: without a full barrier we
     * could read a stale "don't notify" flag while the device, not yet
     * seeing our idx, goes to sleep. Neither side would move again. */
    mb();
    if (!(q->used->flags & VRING_USED_F_NO_NOTIFY))
        vio_write16(VIRTIO_PCI_QUEUE_NOTIFY, 0);
}
// end::submit[]

// tag::poll-used[]
#define POLL_LIMIT (1u << 24)   /* some 20 s here: a lost request fails the run */

/* Waits for the device to put a chain on the used ring; returns its slot. */
static unsigned wait_used(struct virtqueue *q)
{
    uint32_t spins = POLL_LIMIT;
    while (q->used->idx == q->used_seen)        /* the poll loop: no exits */
        if (!--spins)
            fail(EXIT_PROTOCOL, "request never completed");
    barrier();                  /* the entry only after idx: x86 keeps loads in order */
    uint32_t head = q->used->ring[q->used_seen++ & q->mask].id;
    if (head >= 3 * SLOTS || head % 3)
        fail(EXIT_PROTOCOL, "used ring names a chain we never offered");
    return head / 3;
}
// end::poll-used[]

/* The no-I/O loop's "device": completes every published request at once, in
 * the guest, with no VM exit. What is left is the driver's own cost. */
static void loopback_complete(struct virtqueue *q)
{
    uint16_t i = q->used->idx;
    while (i != q->avail->idx) {
        uint16_t head = q->avail->ring[i & q->mask];
        slots[head / 3].status = VIRTIO_BLK_S_OK;
        q->used->ring[i++ & q->mask].id = head;
    }
    q->used->idx = i;
}

/* One request, start to finish, in slot `s`; returns its status. */
static uint8_t request(unsigned s, uint32_t type, uint64_t sector, uint32_t len)
{
    shape_chain(&vq, s, type, len);
    submit(&vq, s, type, sector);
    kick(&vq);
    unsigned done = wait_used(&vq);
    if (done != s)
        fail(EXIT_PROTOCOL, "completed a request that was not in flight");
    return slots[s].status;
}

/* ------------------------------------------------------------------------ */
/* The checks                                                                */
/* ------------------------------------------------------------------------ */

// tag::pattern[]
/* The byte the guest writes at byte `pos` of the disk (only into the sectors
 * it tests). The host's tests compute the same function over the image file:
 * byte = (7 * pos + pos / 512 + 1) mod 256. */
#define PATTERN_SECTOR 8        /* sectors 8..15: the 4 KiB at offset 4096   */

static uint8_t pattern(uint32_t pos)
{
    return (uint8_t)(7 * pos + (pos >> 9) + 1);
}

static void fill_pattern(uint8_t *buf, uint32_t sector, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = pattern(sector * SECTOR_SIZE + i);
}

static int check_pattern(const uint8_t *buf, uint32_t sector, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        if (buf[i] != pattern(sector * SECTOR_SIZE + i))
            return 0;
    return 1;
}
// end::pattern[]

static void expect(uint8_t status, uint8_t want, const char *what)
{
    if (status != want) {
        print("%s: status %u, expected %u\n", what, status, want);
        fail(EXIT_IO_ERROR, what);
    }
}

/* Writes the pattern at sector 8 (4 KiB) and into the last sector, reads both
 * back and compares. */
static void write_and_verify(uint32_t last)
{
    fill_pattern(data[0], PATTERN_SECTOR, DATA_BYTES);
    expect(request(0, VIRTIO_BLK_T_OUT, PATTERN_SECTOR, DATA_BYTES), VIRTIO_BLK_S_OK, "write");
    fill_pattern(data[0], last, SECTOR_SIZE);
    expect(request(0, VIRTIO_BLK_T_OUT, last, SECTOR_SIZE), VIRTIO_BLK_S_OK, "write last sector");

    memset(data[1], 0, DATA_BYTES);
    expect(request(1, VIRTIO_BLK_T_IN, PATTERN_SECTOR, DATA_BYTES), VIRTIO_BLK_S_OK, "read");
    if (!check_pattern(data[1], PATTERN_SECTOR, DATA_BYTES))
        fail(EXIT_MISMATCH, "data read back differs");
    memset(data[1], 0, SECTOR_SIZE);
    expect(request(1, VIRTIO_BLK_T_IN, last, SECTOR_SIZE), VIRTIO_BLK_S_OK, "read last sector");
    if (!check_pattern(data[1], last, SECTOR_SIZE))
        fail(EXIT_MISMATCH, "last sector read back differs");
    print("write/verify: ok (sectors %u-%u and %u)\n", PATTERN_SECTOR, PATTERN_SECTOR + 7, last);
}

/* A read-only disk must refuse the write and keep its old contents. */
static void write_refused(void)
{
    memset(data[1], 0, DATA_BYTES);
    expect(request(1, VIRTIO_BLK_T_IN, PATTERN_SECTOR, DATA_BYTES), VIRTIO_BLK_S_OK, "read");
    fill_pattern(data[0], PATTERN_SECTOR, DATA_BYTES);
    expect(request(0, VIRTIO_BLK_T_OUT, PATTERN_SECTOR, DATA_BYTES), VIRTIO_BLK_S_IOERR,
           "write to a read-only disk");
    memcpy(data[0], data[1], DATA_BYTES);
    expect(request(1, VIRTIO_BLK_T_IN, PATTERN_SECTOR, DATA_BYTES), VIRTIO_BLK_S_OK, "read");
    for (unsigned i = 0; i < DATA_BYTES; i++)
        if (data[0][i] != data[1][i])
            fail(EXIT_MISMATCH, "read-only disk changed");
    print("read-only: write refused, data unchanged\n");
}

/* Requests the device must refuse: past the end, straddling the end, and a
 * request type nobody defined. */
static void refusals(uint32_t capacity)
{
    expect(request(0, VIRTIO_BLK_T_IN, capacity, SECTOR_SIZE), VIRTIO_BLK_S_IOERR,
           "read past the end");
    expect(request(0, VIRTIO_BLK_T_IN, capacity - 1, DATA_BYTES), VIRTIO_BLK_S_IOERR,
           "read across the end");
    expect(request(0, 0x7f, 0, 0), VIRTIO_BLK_S_UNSUPP, "unknown request type");
    print("refusals: ok (past the end, across the end, unknown type)\n");
}

static void get_id(void)
{
    memset(data[0], 0, VIRTIO_BLK_ID_BYTES + 1);
    expect(request(0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_S_OK, "get_id");
    print("get_id: \"");
    for (unsigned i = 0; i < VIRTIO_BLK_ID_BYTES && data[0][i]; i++)
        put_char(data[0][i] >= ' ' && data[0][i] < 127 ? (char)data[0][i] : '?');
    print("\"\n");
}

/* ------------------------------------------------------------------------ */
/* The timed runs                                                            */
/* ------------------------------------------------------------------------ */

static uint32_t rng = 1;                /* a linear congruential generator   */
static uint32_t random_blocks_mask;     /* 4 KiB blocks to pick from, - 1    */

/* The first sector of a random 4 KiB block. Three instructions of
 * arithmetic: every instruction here costs the guest some 0.5 us. The low
 * bits of this generator repeat quickly, so the block comes from bits 8 up. */
static uint64_t random_sector(void)
{
    rng = rng * 1664525 + 1013904223;
    return (uint64_t)((rng >> 8) & random_blocks_mask) << 3;
}

// tag::workload[]
/* Guest work of its own, standing in for what a real guest's other threads
 * do while a read is in flight: `units` rounds of integer mixing, a few
 * instructions each, touching nothing the device sees. */
static volatile uint32_t work_sink;

static void guest_work(uint32_t units)
{
    uint32_t x = work_sink;
    for (uint32_t i = 0; i < units; i++)
        x = x * 2654435761u + i;
    work_sink = x;
}

/* How a timed run notifies the device. */
enum kicks {
    KICK_BATCHED,   /* once no more completions are waiting: a kick can carry several requests */
    KICK_EACH,      /* after every request, as several threads submitting independently would */
};

/* `n` random 4 KiB reads with up to `depth` in flight. Completed slots are
 * refilled at once and published; `kicks` says when the device is told.
 * After every kick the guest does `work` units of its own work before it
 * looks for completions. Returns the number of requests that did not
 * complete with VIRTIO_BLK_S_OK. */
static uint32_t run_reads(struct virtqueue *q, unsigned depth, uint32_t n, uint32_t work,
                          enum kicks kicks)
{
    uint32_t issued = 0, done = 0, errors = 0;
    for (unsigned s = 0; s < depth; s++)
        shape_chain(q, s, VIRTIO_BLK_T_IN, DATA_BYTES);
    for (; issued < depth && issued < n; issued++)
        submit(q, issued, VIRTIO_BLK_T_IN, random_sector());
    kick(q);
    guest_work(work);
    while (done < n) {
        unsigned s = wait_used(q);
        done++;
        errors += slots[s].status != VIRTIO_BLK_S_OK;
        if (issued < n) {
            submit(q, s, VIRTIO_BLK_T_IN, random_sector());
            issued++;
        }
        if (q->avail->idx != q->avail_idx
            && (kicks == KICK_EACH || q->used->idx == q->used_seen)) {
            kick(q);
            guest_work(work);
        }
    }
    return errors;
}

/* One timed run between two marker lines the host timestamps. */
static void timed_run(const char *name, struct virtqueue *q, unsigned depth, uint32_t n,
                      uint32_t work, enum kicks kicks)
{
    if (n == 0)
        return;
    print("@%s begin n=%u\n", name, n);
    uint32_t errors = run_reads(q, depth, n, work, kicks);
    print("@%s end\n", name);
    if (errors) {
        print("%s: %u requests failed\n", name, errors);
        fail(EXIT_IO_ERROR, "timed reads failed");
    }
}
// end::workload[]

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

void guest_main(uint32_t magic, const struct multiboot_info *mbi);

void guest_main(uint32_t magic, const struct multiboot_info *mbi)
{
    outb(COM1 + UART_IER, 0);   /* no UART interrupts: we never take any */
    const char *cmdline = "";
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC && (mbi->flags & MULTIBOOT_INFO_CMDLINE))
        cmdline = (const char *)mbi->cmdline;
    print("dataplane-guest: hello (%s, cmdline \"%s\")\n",
          magic == MULTIBOOT_BOOTLOADER_MAGIC ? "multiboot" : "no multiboot magic", cmdline);

    // tag::find-device[]
    int dev = pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BLK);
    if (dev < 0)
        fail(EXIT_NO_DEVICE, "no virtio-blk device on PCI bus 0");
    uint32_t bar0 = pci_read((unsigned)dev, PCI_BAR0);
    if (!(bar0 & PCI_BAR_IO))
        fail(EXIT_SETUP, "BAR0 is not an I/O BAR");
    if ((bar0 & ~3u) == 0) {
        /* Firmware such as qboot leaves BARs alone: place it ourselves.
         * 0xC000 is past the legacy ISA ports and aligned for any I/O BAR
         * up to 16 KiB (legacy virtio's is a few dozen bytes). */
        pci_write((unsigned)dev, PCI_BAR0, PCI_IO_WINDOW);
        bar0 = pci_read((unsigned)dev, PCI_BAR0);
    }
    io_base = (uint16_t)(bar0 & ~3u);
    uint32_t command = pci_read((unsigned)dev, PCI_COMMAND) & 0xffff;
    pci_write((unsigned)dev, PCI_COMMAND, command | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    print("pci: 00:%02x.0 virtio-blk, BAR0 io %04x\n", (uint32_t)dev, io_base);
    // end::find-device[]

    uint32_t features = virtio_setup((int)cmdline_uint(cmdline, "intr", 1));

    /* Capacity in 512-byte sectors; this guest handles disks below 2 TiB. */
    uint32_t cap_lo = vio_read32(VIRTIO_PCI_CONFIG + VIRTIO_BLK_CFG_CAPACITY);
    uint32_t cap_hi = vio_read32(VIRTIO_PCI_CONFIG + VIRTIO_BLK_CFG_CAPACITY + 4);
    uint32_t blk_size = features & 1u << VIRTIO_BLK_F_BLK_SIZE
                      ? vio_read32(VIRTIO_PCI_CONFIG + VIRTIO_BLK_CFG_BLK_SIZE) : SECTOR_SIZE;
    uint32_t seg_max = features & 1u << VIRTIO_BLK_F_SEG_MAX
                     ? vio_read32(VIRTIO_PCI_CONFIG + VIRTIO_BLK_CFG_SEG_MAX) : 0;
    print("blk: %u sectors (%u KiB), blk_size %u, seg_max %u%s\n", cap_lo, cap_lo / 2,
          blk_size, seg_max, features & 1u << VIRTIO_BLK_F_RO ? ", read-only" : "");
    if (cap_hi != 0 || cap_lo < 2 * (PATTERN_SECTOR + 8))
        fail(EXIT_SETUP, "disk must be 16 KiB to 2 TiB");

    if (features & 1u << VIRTIO_BLK_F_RO)
        write_refused();
    else
        write_and_verify(cap_lo - 1);
    refusals(cap_lo);
    if (features & 1u << VIRTIO_BLK_F_FLUSH) {
        expect(request(0, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK, "flush");
        print("flush: ok\n");
    } else {
        print("flush: not offered\n");
    }
    get_id();

    /* Random reads anywhere in the largest power-of-two number of 4 KiB
     * blocks that fits on the disk (a mask, so no division per request). */
    for (random_blocks_mask = 1; random_blocks_mask <= (cap_lo >> 3) / 2; )
        random_blocks_mask <<= 1;
    random_blocks_mask -= 1;

    // tag::markers[]
    timed_run("WARM", &vq, 1, cmdline_uint(cmdline, "warm", 0), 0, KICK_BATCHED);
    timed_run("WARM16", &vq, SLOTS, cmdline_uint(cmdline, "warm16", 0), 0, KICK_BATCHED);
    timed_run("LOOP", &loop_vq, 1, cmdline_uint(cmdline, "loop", 1000), 0, KICK_BATCHED);
    timed_run("QD1", &vq, 1, cmdline_uint(cmdline, "qd1", 1000), 0, KICK_BATCHED);
    timed_run("QD16", &vq, SLOTS, cmdline_uint(cmdline, "qd16", 4000), 0, KICK_BATCHED);
    timed_run("QD16K", &vq, SLOTS, cmdline_uint(cmdline, "qd16k", 0), 0, KICK_EACH);
    uint32_t work = cmdline_uint(cmdline, "work", 16);
    timed_run("BUSYLOOP", &loop_vq, 1, cmdline_uint(cmdline, "busy", 0), work, KICK_BATCHED);
    timed_run("BUSY", &vq, 1, cmdline_uint(cmdline, "busy", 0), work, KICK_BATCHED);
    // end::markers[]

    vio_write8(VIRTIO_PCI_STATUS, 0);   /* reset: the device lets go of our memory */
    print("dataplane-guest: PASS\n");
    guest_exit(EXIT_PASS);
}
