/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dm-hybridmig: live migration of a VM's local block storage.
 *
 * Shared definitions of the hybridmig device-mapper target.
 */
#ifndef DM_HYBRIDMIG_H
#define DM_HYBRIDMIG_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/types.h>

#include "hybridmig-proto.h"

/* Chunk size limits, in 512-byte sectors: 4 KiB .. 1 GiB. */
#define HM_MIN_CHUNK_SECTORS	8U
#define HM_MAX_CHUNK_SECTORS	BIT(21)

/*
 * Bitmaps are indexed by unsigned long and test_bit() takes an int-sized
 * index on some architectures; 2^31 chunks of 64 KiB cover 128 TiB.
 */
#define HM_MAX_CHUNKS		BIT(31)

/*
 * Per-chunk write counters ("hotness") saturate at HM_HOT_MAX. They are
 * HM_HOT_BITS wide and packed into 32-bit words, so the tracking state
 * costs 1 (dirty bit) + HM_HOT_BITS bits per chunk.
 */
#define HM_HOT_BITS		4U
#define HM_HOT_MAX		((1U << HM_HOT_BITS) - 1)
#define HM_HOT_PER_WORD		(32U / HM_HOT_BITS)
#define HM_DEFAULT_HOT_THRESHOLD 4U

/* The most PINGs one "ping" message sends per lane. */
#define HM_MAX_PINGS		1000000U

enum hm_role {
	HM_ROLE_SOURCE,
	HM_ROLE_DEST,
};

enum hm_phase {
	HM_PHASE_TRACKING,	/* source: recording writes */
	HM_PHASE_WAITING,	/* destination: holds no data yet */
};

struct hm_link;
struct dm_target;

/*
 * Dirty bitmap and write counters of one device.
 *
 * All updates are lock-free so that they can run from the bio submission
 * and completion paths in any context. The counters beside the bitmaps are
 * kept exact by only counting the transitions of test_and_set_bit() and of
 * the cmpxchg on the write counters.
 */
struct hm_tracker {
	unsigned long nr_chunks;
	unsigned long *dirty;		/* one bit per chunk */
	u32 *writes;			/* HM_HOT_BITS per chunk */
	atomic_long_t nr_dirty;
	atomic64_t nr_write_bios;
	atomic_long_t nr_at_level[HM_HOT_MAX + 1];
};

/*
 * The migration state of one device. It outlives a single table: a reload
 * of the same device constructs a new target that takes a reference on the
 * live table's state, so tracking is not lost across reloads.
 */
struct hm_dev {
	struct list_head list;		/* in hm_devs, under hm_devs_lock */
	refcount_t ref;
	struct mapped_device *md;	/* identity of the owning dm device */
	sector_t begin;			/* and of the target within its table */
	sector_t len;
	dev_t data_devt;

	enum hm_role role;
	enum hm_phase phase;
	sector_t chunk_sectors;
	unsigned int chunk_shift;
	unsigned int hot_threshold;	/* READ_ONCE/WRITE_ONCE */

	struct mutex msg_lock;		/* serialises messages: link start/stop */
	struct mutex link_lock;		/* publishes link to status */
	struct hm_link *link;		/* connection to the peer, or NULL */
	struct mutex event_lock;	/* guards live_ti */
	struct dm_target *live_ti;	/* target of the live table */
	struct hm_tracker tracker;
};

/* dm-hybridmig-target.c */
void hm_dev_event(struct hm_dev *hd);

/* dm-hybridmig-net.c */
int hm_link_start(struct hm_dev *hd, const char *dev_name, bool server,
		  const char *addr, const char *key_desc);
void hm_link_stop(struct hm_dev *hd);
long hm_link_ping(struct hm_dev *hd, unsigned int count);
void hm_link_emit_status(struct hm_dev *hd, char *result, unsigned int maxlen,
			 unsigned int *size);

#endif /* DM_HYBRIDMIG_H */
