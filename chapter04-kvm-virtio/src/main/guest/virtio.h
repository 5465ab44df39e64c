/*
 * virtio.h - the legacy ("transitional", virtio 0.9.5) PCI interface of a
 * virtio block device, as far as the teaching guest uses it.
 *
 * Legacy virtio-pci puts all its registers in one I/O-port BAR (BAR0). The
 * split virtqueue lives in guest memory: the driver tells the device where by
 * writing a page frame number, and from then on both sides only read and
 * write that memory, except for the "notify" register the driver writes to
 * kick the device.
 */
#ifndef DATAPLANE_GUEST_VIRTIO_H
#define DATAPLANE_GUEST_VIRTIO_H

#include <stdint.h>

/* PCI identity of a legacy (transitional) virtio block device. */
#define VIRTIO_PCI_VENDOR        0x1af4
#define VIRTIO_PCI_DEVICE_BLK    0x1001

/* Registers in BAR0, as offsets from the BAR's I/O base. */
#define VIRTIO_PCI_HOST_FEATURES  0x00  /* 32 bits, read: what the device offers  */
#define VIRTIO_PCI_GUEST_FEATURES 0x04  /* 32 bits, write: what the driver accepts */
#define VIRTIO_PCI_QUEUE_PFN      0x08  /* 32 bits: ring address >> 12, 0 = none   */
#define VIRTIO_PCI_QUEUE_NUM      0x0c  /* 16 bits, read: the selected queue's size */
#define VIRTIO_PCI_QUEUE_SEL      0x0e  /* 16 bits: which queue the above refer to */
#define VIRTIO_PCI_QUEUE_NOTIFY   0x10  /* 16 bits, write a queue index: "kick"     */
#define VIRTIO_PCI_STATUS         0x12  /*  8 bits: device status, 0 = reset       */
#define VIRTIO_PCI_ISR            0x13  /*  8 bits, read clears the interrupt      */
#define VIRTIO_PCI_CONFIG         0x14  /* device-specific config (no MSI-X)       */

/* Device status bits, set by the driver one after another. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1     /* "I have seen a virtio device"           */
#define VIRTIO_STATUS_DRIVER      2     /* "and I know how to drive it"            */
#define VIRTIO_STATUS_DRIVER_OK   4     /* "the queues are set up, go"             */
#define VIRTIO_STATUS_NEEDS_RESET 64    /* set by the device: it gave up           */
#define VIRTIO_STATUS_FAILED      128   /* set by the driver: it gave up           */

/* Legacy rings are laid out on this alignment (the used ring starts on it). */
#define VIRTIO_PCI_VRING_ALIGN    4096

/* virtio-blk feature bits (the ones this guest looks at). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9

/* virtio-blk device configuration, at VIRTIO_PCI_CONFIG. */
#define VIRTIO_BLK_CFG_CAPACITY   0     /* 64 bits, in 512-byte sectors            */
#define VIRTIO_BLK_CFG_SIZE_MAX   8     /* 32 bits, if VIRTIO_BLK_F_SIZE_MAX       */
#define VIRTIO_BLK_CFG_SEG_MAX    12    /* 32 bits, if VIRTIO_BLK_F_SEG_MAX        */
#define VIRTIO_BLK_CFG_BLK_SIZE   20    /* 32 bits, if VIRTIO_BLK_F_BLK_SIZE       */

/* Request types and status values. */
#define VIRTIO_BLK_T_IN           0     /* read from the disk                      */
#define VIRTIO_BLK_T_OUT          1     /* write to the disk                       */
#define VIRTIO_BLK_T_FLUSH        4     /* make earlier writes durable             */
#define VIRTIO_BLK_T_GET_ID       8     /* read the device's 20-byte serial        */
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2
#define VIRTIO_BLK_ID_BYTES       20
#define SECTOR_SIZE               512

/* A request starts with this header (read by the device) ... */
struct virtio_blk_req_hdr {
    uint32_t type;
    uint32_t ioprio;
    uint64_t sector;
};
/* ... continues with the data buffer(s) and ends with one status byte the
 * device writes. */

/* The split virtqueue. The descriptor table says where buffers are ... */
#define VRING_DESC_F_NEXT         1     /* the chain continues at .next            */
#define VRING_DESC_F_WRITE        2     /* the device writes this buffer           */
struct vring_desc {
    uint64_t addr;                      /* guest-physical address                  */
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/* ... the available ring is where the driver offers chains (by head index) ... */
#define VRING_AVAIL_F_NO_INTERRUPT 1    /* driver: "don't interrupt me"            */
struct vring_avail {
    uint16_t flags;
    uint16_t idx;                       /* where the driver will write next        */
    uint16_t ring[];
};

/* ... and the used ring is where the device hands them back. */
#define VRING_USED_F_NO_NOTIFY    1     /* device: "don't kick me, I'm polling"    */
struct vring_used_elem {
    uint32_t id;                        /* head of the chain that completed        */
    uint32_t len;                       /* bytes the device wrote                  */
};
struct vring_used {
    uint16_t flags;
    uint16_t idx;
    struct vring_used_elem ring[];
};

/* Bytes from the start of the ring memory to the used ring, for a queue of
 * `num` entries: descriptors, then the available ring (flags, idx, num
 * entries, used_event), rounded up to the alignment. */
static inline uint32_t vring_used_offset(uint32_t num)
{
    uint32_t avail_end = 16 * num + 2 * (3 + num);
    return (avail_end + VIRTIO_PCI_VRING_ALIGN - 1) & ~(uint32_t)(VIRTIO_PCI_VRING_ALIGN - 1);
}

/* Total bytes of ring memory for a queue of `num` entries. */
static inline uint32_t vring_size(uint32_t num)
{
    return vring_used_offset(num) + 2 * 3 + 8 * num;
}

#endif
