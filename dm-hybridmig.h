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
#include <linux/blk_types.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "hybridmig-proto.h"

/*
 * Chunk size limits, in 512-byte sectors: 4 KiB .. 1 MiB. A chunk is the
 * unit of transfer and travels in one frame (HM_MAX_DATA_PIECE).
 */
#define HM_MIN_CHUNK_SECTORS	8U
#define HM_MAX_CHUNK_SECTORS	(HM_MAX_DATA_PIECE >> SECTOR_SHIFT)

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
#define HM_DEFAULT_HOT_THRESHOLD 4U	/* 0: never defer hot chunks */

/* The largest push bandwidth limit, in KiB/s (1 TiB/s). */
#define HM_MAX_BANDWIDTH	BIT(30)

/* precopy is ready once at most this many chunks are dirty (default). */
#define HM_DEFAULT_READY_CHUNKS	128U

/* The most chunks in one run (of the smallest chunks). */
#define HM_MAX_RUN_CHUNKS	(HM_MAX_DATA_PIECE / (HM_MIN_CHUNK_SECTORS << SECTOR_SHIFT))

/* One run of chunk data: the pages of at most HM_MAX_DATA_PIECE bytes. */
#define HM_BUF_PAGES		(HM_MAX_DATA_PIECE >> PAGE_SHIFT)

/* The most PINGs one "ping" message sends per lane. */
#define HM_MAX_PINGS		1000000U

enum hm_role {
	HM_ROLE_SOURCE,
	HM_ROLE_DEST,
};

enum hm_policy {
	HM_POLICY_HYBRID,	/* push cold chunks, defer hot ones to post-copy */
	HM_POLICY_PRECOPY,	/* push everything until the dirty set is small */
	HM_POLICY_POSTCOPY,	/* no push: everything moves after handover */
};

enum hm_phase {
	HM_PHASE_TRACKING,	/* source: the VM runs here; pushing */
	HM_PHASE_HANDOVER,	/* source: fenced, telling the dest what it lacks */
	HM_PHASE_WAITING,	/* destination: before handover */
	HM_PHASE_POSTCOPY,	/* both: the VM runs on the destination */
	HM_PHASE_COMPLETE,	/* both: the destination holds every chunk */
	HM_PHASE_ABORTED,	/* destination: the source called it off */
};

/* Writes to a destination before handover wait this long, then fail. */
#define HM_HANDOVER_WAIT	(30 * HZ)

struct block_device;
struct dm_target;
struct hm_link;
struct hm_pusher;
struct hm_receiver;
struct hm_dest;
struct hm_md;

/* Pages holding the data of one DATA frame. */
struct hm_buf {
	unsigned int len;		/* bytes of data */
	struct page *pages[HM_BUF_PAGES];
};

/* A rate over about the last second, from a running total. */
struct hm_rate {
	spinlock_t lock;		/* one updater at a time */
	u64 last_total;
	unsigned long last_jiffies;
	unsigned long per_sec;		/* READ_ONCE */
};

/*
 * What has crossed the link, for status. Cumulative over the device's
 * life, across reconnects.
 */
struct hm_xfer_stats {
	atomic64_t sent_chunks;		/* dest: received */
	atomic64_t zero_chunks;		/* of those, sent as all-zero runs */
	atomic64_t acked_chunks;	/* dest: written and acknowledged */
	atomic64_t data_bytes;		/* chunk data in DATA frames */
	atomic64_t acked_bytes;		/* chunk bytes acknowledged */
	atomic_long_t inflight;		/* chunks sent and not yet acked */
	unsigned long deferred;		/* hot dirty chunks skipped, last pass */
	bool ready;			/* converged: see hm_push_update_ready() */
	struct hm_rate rate;		/* of acked_bytes */
	struct hm_rate dirty_rate;	/* of hm_tracker.nr_dirtied */
	atomic64_t pulls;		/* source: served; dest: completed */
	atomic64_t pull_ns;		/* dest: their total latency */
	/* source: fence to HANDOVER_ACK; dest: first map frame to switch */
	u64 handover_us;
};

/* Per-bio data of either role. */
struct hm_bio {
	/* source: the chunks a write touches, to mark again at completion */
	unsigned long first_chunk;
	unsigned long last_chunk;
	bool tracked;
	/* destination: see dm-hybridmig-dest.c */
	bool overwrite;			/* a whole missing chunk: busy */
	unsigned long held_since;	/* jiffies: a write held for handover */
	bool md_deferred;		/* FUA: completes after a metadata commit */
	bool refused;			/* failed by us, not by a device */
};

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
	atomic64_t nr_dirtied;		/* clean -> dirty transitions */
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
	struct block_device *data_bdev;	/* held open by every table */

	enum hm_role role;
	enum hm_phase phase;		/* READ_ONCE; changed under phase_lock */
	spinlock_t phase_lock;
	wait_queue_head_t wait;		/* phase changes, writes drained */
	bool fenced;			/* source: writes fail from now on */
	atomic_t writes_in_flight;	/* source: to drain when fencing */
	ktime_t fence_time;
	sector_t chunk_sectors;
	unsigned int chunk_shift;
	unsigned int hot_threshold;	/* READ_ONCE/WRITE_ONCE */
	enum hm_policy policy;		/* READ_ONCE/WRITE_ONCE */
	unsigned int bandwidth;		/* KiB/s, 0: unlimited; READ_ONCE */
	unsigned int ready_chunks;	/* READ_ONCE/WRITE_ONCE */
	bool auto_handover;		/* dest: the first write asks for it */
	u8 migration_id[HM_MIGRATION_ID_LEN];	/* under msg_lock */
	bool has_migration_id;		/* dest: none until a source's SETUP */
	atomic_t io_errors;		/* data and metadata device errors */
	struct work_struct error_work;	/* the event of the first one */
	dev_t meta_devt;		/* 0: no metadata device */
	struct hm_md *meta;		/* persistent state, or NULL */

	struct mutex msg_lock;		/* serialises messages: link start/stop */
	struct mutex link_lock;		/* publishes link to status */
	struct hm_link *link;		/* connection to the peer, or NULL */
	struct hm_pusher *pusher;	/* source, while a link is open */
	struct hm_receiver *receiver;	/* destination, likewise */
	struct hm_dest *dest;		/* destination: VM I/O and pulls */
	struct hm_xfer_stats xfer;
	struct mutex event_lock;	/* guards live_ti */
	struct dm_target *live_ti;	/* target of the live table */
	struct hm_tracker tracker;
};

static inline sector_t hm_chunk_sector(struct hm_dev *hd, unsigned long chunk)
{
	return (sector_t)chunk << hd->chunk_shift;
}

/* Bytes of the run @first..@first+@nr-1: the last chunk may be short. */
static inline unsigned int hm_run_bytes(struct hm_dev *hd, unsigned long first,
					unsigned int nr)
{
	sector_t start = hm_chunk_sector(hd, first);
	sector_t end = min_t(sector_t, hm_chunk_sector(hd, first + nr), hd->len);

	return (end - start) << SECTOR_SHIFT;
}

/* dm-hybridmig-target.c */
void hm_dev_event(struct hm_dev *hd);
void hm_dev_io_error(struct hm_dev *hd);
void hm_dev_set_phase(struct hm_dev *hd, enum hm_phase phase);
void hm_mark_dirty(struct hm_tracker *t, unsigned long first,
		   unsigned long last);
void hm_mark_all_dirty(struct hm_tracker *t);
unsigned int hm_write_level(struct hm_tracker *t, unsigned long chunk);
void hm_tracker_decay(struct hm_tracker *t);
void hm_rate_update(struct hm_rate *rate, u64 total);

/* dm-hybridmig-net.c */
int hm_link_start(struct hm_dev *hd, const char *dev_name, bool server,
		  const char *addr, const char *key_desc);
void hm_link_stop(struct hm_dev *hd);
long hm_link_ping(struct hm_dev *hd, unsigned int count);
void hm_link_emit_status(struct hm_dev *hd, char *result, unsigned int maxlen,
			 unsigned int *size);
int hm_link_send(struct hm_dev *hd, u8 type, const void *payload, u32 len);
u64 hm_link_generation(struct hm_dev *hd);
int hm_link_send_buf(struct hm_dev *hd, u64 generation, u8 type,
		     const void *head, u32 head_len, struct hm_buf *buf,
		     unsigned int offset, unsigned int len);
void hm_link_set_error(struct hm_dev *hd, const char *error);
int hm_buf_alloc_pages(struct hm_buf *buf);
void hm_buf_free_pages(struct hm_buf *buf);
struct bio *hm_buf_bio(struct hm_dev *hd, struct hm_buf *buf,
		       unsigned int offset, unsigned int len, blk_opf_t opf,
		       sector_t sector);
bool hm_buf_is_zero(const struct hm_buf *buf, unsigned int offset,
		    unsigned int len);

/* dm-hybridmig-metadata.c: the metadata device */
int hm_md_open(struct hm_dev *hd, struct block_device *bdev, char **error);
void hm_md_close(struct hm_dev *hd);
void hm_md_new_migration_id(struct hm_dev *hd);
int hm_md_commit(struct hm_dev *hd);
int hm_md_set_phase(struct hm_dev *hd, enum hm_phase phase);
int hm_md_set_migration_id(struct hm_dev *hd);
int hm_md_fence(struct hm_dev *hd);
void hm_md_acked(struct hm_dev *hd, unsigned long first, unsigned int nr);
void hm_md_touch(struct hm_dev *hd, unsigned long first, unsigned int nr);
int hm_md_install_map(struct hm_dev *hd, const unsigned long *missing);
void hm_md_suspend(struct hm_dev *hd);
int hm_md_resume(struct hm_dev *hd);
bool hm_md_failed(struct hm_dev *hd);
bool hm_md_defer_flush(struct hm_dev *hd, struct bio *bio);
bool hm_md_defer_fua(struct hm_dev *hd, struct bio *bio);

/* dm-hybridmig-push.c: the source */
int hm_pusher_create(struct hm_dev *hd, const char *dev_name);
void hm_pusher_destroy(struct hm_dev *hd);
void hm_pusher_kick(struct hm_dev *hd);
void hm_push_link_up(struct hm_dev *hd, u64 generation);
bool hm_push_link_down(struct hm_dev *hd);
int hm_push_recv_setup_ack(struct hm_dev *hd, const struct hm_setup_ack *ack);
int hm_push_recv_ack(struct hm_dev *hd, const struct hm_ack *ack);
int hm_push_recv_pull(struct hm_dev *hd, const struct hm_pull *pull);
int hm_push_recv_handover_ack(struct hm_dev *hd,
			      const struct hm_handover_ack *ack);
int hm_push_recv_complete(struct hm_dev *hd);
int hm_push_recv_abort_ack(struct hm_dev *hd);
int hm_push_handover(struct hm_dev *hd);
int hm_push_recv_handover_request(struct hm_dev *hd);
int hm_push_abort(struct hm_dev *hd);
void hm_push_mark_inflight(struct hm_dev *hd, unsigned long *bitmap);

/* dm-hybridmig-recv.c: the destination */
int hm_receiver_create(struct hm_dev *hd);
void hm_receiver_destroy(struct hm_dev *hd);
void hm_recv_link_down(struct hm_dev *hd);
int hm_recv_setup(struct hm_dev *hd, const struct hm_setup *setup);
int hm_recv_data(struct hm_dev *hd, const struct hm_data *run,
		 struct hm_buf *buf, bool pull);
struct hm_buf *hm_recv_get_buf(struct hm_dev *hd, u8 lane);
void hm_recv_put_buf(struct hm_dev *hd, struct hm_buf *buf);
void hm_recv_wait_writes(struct hm_dev *hd);

/* dm-hybridmig-dest.c: the destination's VM I/O, pulls and handover */
int hm_dest_create(struct hm_dev *hd);
void hm_dest_destroy(struct hm_dev *hd);
int hm_dest_map(struct hm_dev *hd, struct bio *bio);
void hm_dest_end_io(struct hm_dev *hd, struct bio *bio, blk_status_t status);
enum hm_ack_status hm_dest_claim(struct hm_dev *hd, unsigned long chunk,
				 bool *write);
void hm_dest_written(struct hm_dev *hd, unsigned long first, unsigned int nr,
		     bool ok);
int hm_dest_pull_reply(struct hm_dev *hd, unsigned long chunk);
void hm_dest_link_up(struct hm_dev *hd);
void hm_dest_link_down(struct hm_dev *hd);
u32 hm_dest_wire_phase(struct hm_dev *hd);
int hm_dest_recv_map(struct hm_dev *hd, const struct hm_handover_map *map,
		     struct hm_buf *buf);
int hm_dest_recv_handover(struct hm_dev *hd, const struct hm_handover *ho);
int hm_dest_recv_abort(struct hm_dev *hd);

#endif /* DM_HYBRIDMIG_H */
