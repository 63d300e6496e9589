// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-hybridmig: the destination's receiver.
 *
 * The bulk lane's receiver thread reads each DATA frame into the pages of
 * a free slot (the control lane's, each PULL_DATA into a slot of its own
 * pool, so pulls never wait for bulk data). The chunks the destination
 * wants (hm_dest_claim()) are written to the data device (all-zero runs as
 * write-zeroes, so a thin or sparse device stays sparse) and marked
 * present, and a worker acknowledges each part of the run. The slots bound
 * the memory and the writes in flight; when none is free, the receiver
 * stops reading and TCP pushes back on the source.
 *
 * Writes of one chunk never overtake each other: a chunk is busy while one
 * is in flight (dm-hybridmig-dest.c), the source never pushes a chunk that
 * is still in flight, and a new session starts only once every write of
 * the old one has completed (hm_recv_link_down()).
 */
#include "dm-hybridmig.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#define DM_MSG_PREFIX "hybridmig"

#define HM_BULK_SLOTS		8	/* pushed and prefetched runs */
#define HM_CONTROL_SLOTS	4	/* pull replies, handover map */
#define HM_RECV_SLOTS		(HM_BULK_SLOTS + HM_CONTROL_SLOTS)
#define HM_RECV_WAIT		HZ	/* re-check for a stop this often */

/* Chunks of a run that share a fate: written, or acknowledged as is. */
struct hm_recv_seg {
	struct list_head list;		/* on the ack list */
	struct hm_recv_slot *slot;
	unsigned long first;
	unsigned int nr;
	unsigned int offset;		/* of its data in the slot's buffer */
	bool write;
	bool ack;			/* DATA is acknowledged, PULL_DATA not */
	enum hm_ack_status status;
	u64 session;			/* acknowledged in this session only */
};

struct hm_recv_slot {
	struct list_head list;		/* on its pool's free list */
	struct hm_receiver *rv;
	struct list_head *pool;
	atomic_t pending;		/* segments not done yet */
	struct hm_recv_seg segs[HM_MAX_RUN_CHUNKS];
	struct hm_buf buf;
};

struct hm_receiver {
	struct hm_dev *hd;
	spinlock_t lock;		/* taken from bio completion */
	struct list_head free[HM_NR_LANES];
	struct list_head acks;		/* segments to acknowledge */
	unsigned int nr_writing;
	u64 session;			/* bumped when the lanes close */
	bool set_up;			/* this session's SETUP was accepted */
	wait_queue_head_t wait;
	struct workqueue_struct *ack_wq;
	struct work_struct ack_work;
	struct hm_recv_slot *slots[HM_RECV_SLOTS];
};

/* ---- Slots ---- */

static struct hm_recv_slot *hm_recv_take_slot(struct hm_receiver *rv, u8 lane)
{
	struct list_head *pool = &rv->free[lane];
	struct hm_recv_slot *slot = NULL;

	while (!slot && !kthread_should_stop()) {
		wait_event_interruptible_timeout(rv->wait,
						 !list_empty_careful(pool) ||
						 kthread_should_stop(),
						 HM_RECV_WAIT);
		spin_lock_irq(&rv->lock);
		slot = list_first_entry_or_null(pool, struct hm_recv_slot, list);
		if (slot)
			list_del_init(&slot->list);
		spin_unlock_irq(&rv->lock);
	}
	return slot;
}

static void hm_recv_release_slot(struct hm_recv_slot *slot)
{
	struct hm_receiver *rv = slot->rv;
	unsigned long flags;

	spin_lock_irqsave(&rv->lock, flags);
	list_add(&slot->list, slot->pool);
	spin_unlock_irqrestore(&rv->lock, flags);
	wake_up(&rv->wait);
}

/* A buffer for the data of a frame on @lane; NULL if we must stop. */
struct hm_buf *hm_recv_get_buf(struct hm_dev *hd, u8 lane)
{
	struct hm_recv_slot *slot = hm_recv_take_slot(hd->receiver, lane);

	return slot ? &slot->buf : NULL;
}

void hm_recv_put_buf(struct hm_dev *hd, struct hm_buf *buf)
{
	hm_recv_release_slot(container_of(buf, struct hm_recv_slot, buf));
}

static void hm_recv_slot_put(struct hm_recv_slot *slot)
{
	if (atomic_dec_and_test(&slot->pending))
		hm_recv_release_slot(slot);
}

/* ---- Acknowledgements ---- */

/*
 * An ACK says the chunks are durable here: the source forgets them. So a
 * batch of ACKs waits for one commit (a flush of the data device, and the
 * chunks recorded present in the metadata); if it fails, they are FAILED
 * and the source sends them again.
 */
static void hm_recv_ack_work(struct work_struct *work)
{
	struct hm_receiver *rv = container_of(work, struct hm_receiver, ack_work);
	struct hm_dev *hd = rv->hd;
	struct hm_recv_seg *seg, *tmp;
	struct hm_ack ack;
	LIST_HEAD(batch);
	bool durable;

	spin_lock_irq(&rv->lock);
	list_splice_init(&rv->acks, &batch);
	spin_unlock_irq(&rv->lock);
	if (list_empty(&batch))
		return;
	durable = !hm_md_commit(hd);

	list_for_each_entry_safe(seg, tmp, &batch, list) {
		list_del_init(&seg->list);
		if (!durable && seg->status == HM_ACK_OK)
			seg->status = HM_ACK_FAILED;
		ack.first_chunk = cpu_to_be64(seg->first);
		ack.nr_chunks = cpu_to_be32(seg->nr);
		ack.status = cpu_to_be32(seg->status);
		/*
		 * Never into a later session: that source has given these
		 * chunks back already. If the link is down, it pushes them
		 * again.
		 */
		if (seg->session == READ_ONCE(rv->session))
			hm_link_send(hd, HM_FRAME_ACK, &ack, sizeof(ack));
		if (seg->status == HM_ACK_OK) {
			atomic64_add(seg->nr, &hd->xfer.acked_chunks);
			atomic64_add(hm_run_bytes(hd, seg->first, seg->nr),
				     &hd->xfer.acked_bytes);
		}
		hm_recv_slot_put(seg->slot);
	}
	hm_rate_update(&hd->xfer.rate, atomic64_read(&hd->xfer.acked_bytes));
}

static void hm_recv_seg_done(struct hm_recv_seg *seg)
{
	struct hm_receiver *rv = seg->slot->rv;
	unsigned long flags;

	if (!seg->ack) {
		hm_recv_slot_put(seg->slot);
		return;
	}
	spin_lock_irqsave(&rv->lock, flags);
	list_add_tail(&seg->list, &rv->acks);
	spin_unlock_irqrestore(&rv->lock, flags);
	queue_work(rv->ack_wq, &rv->ack_work);
}

/* ---- Writing ---- */

/* A segment is written (or failed): its chunks are present (or not). */
static void hm_recv_written(struct hm_recv_seg *seg, blk_status_t status)
{
	struct hm_receiver *rv = seg->slot->rv;
	struct hm_dev *hd = rv->hd;
	unsigned long flags;

	if (status) {
		DMERR_LIMIT("%s: cannot write received chunks %lu-%lu: error %d",
			    dm_device_name(hd->md), seg->first,
			    seg->first + seg->nr - 1, blk_status_to_errno(status));
		hm_dev_io_error(hd);
		seg->status = HM_ACK_FAILED;
	}
	hm_dest_written(hd, seg->first, seg->nr, !status);
	atomic_long_sub(seg->nr, &hd->xfer.inflight);

	/* Queued before the write stops counting: a drain flushes it. */
	hm_recv_seg_done(seg);
	spin_lock_irqsave(&rv->lock, flags);
	rv->nr_writing--;
	spin_unlock_irqrestore(&rv->lock, flags);
	wake_up(&rv->wait);
}

static void hm_recv_write_done(struct bio *bio)
{
	struct hm_recv_seg *seg = bio->bi_private;
	blk_status_t status = bio->bi_status;

	bio_put(bio);
	hm_recv_written(seg, status);
}

/* All-zero chunks become write-zeroes (holes, where the device can). */
static struct bio *hm_recv_zero_bio(struct hm_dev *hd, unsigned long first,
				    unsigned int len)
{
	struct bio *bio = NULL;

	if (__blkdev_issue_zeroout(hd->data_bdev, hm_chunk_sector(hd, first),
				   len >> SECTOR_SHIFT, GFP_NOIO, &bio, 0))
		return NULL;
	return bio;
}

static void hm_recv_write(struct hm_receiver *rv, struct hm_recv_seg *seg,
			  bool zero)
{
	struct hm_dev *hd = rv->hd;
	unsigned int len = hm_run_bytes(hd, seg->first, seg->nr);
	struct bio *bio;

	spin_lock_irq(&rv->lock);
	rv->nr_writing++;
	spin_unlock_irq(&rv->lock);
	atomic_long_add(seg->nr, &hd->xfer.inflight);

	bio = zero ? hm_recv_zero_bio(hd, seg->first, len) :
		     hm_buf_bio(hd, &seg->slot->buf, seg->offset, len,
				REQ_OP_WRITE, hm_chunk_sector(hd, seg->first));
	if (!bio) {
		hm_recv_written(seg, BLK_STS_IOERR);
		return;
	}
	bio->bi_private = seg;
	bio->bi_end_io = hm_recv_write_done;
	submit_bio(bio);
}

/*
 * Cut a run into segments of chunks that share a fate (see hm_dest_claim)
 * and start them: writes are submitted, the rest acknowledged at once.
 */
static void hm_recv_run(struct hm_receiver *rv, struct hm_recv_slot *slot,
			unsigned long first, unsigned int nr, bool zero, bool pull)
{
	struct hm_dev *hd = rv->hd;
	struct hm_recv_seg *seg = NULL;
	enum hm_ack_status status = HM_ACK_OK;
	unsigned int i, nr_segs = 0, offset = 0;
	bool write = true;

	for (i = 0; i < nr; i++) {
		/* A pull's chunk has been busy since the VM asked for it. */
		if (!pull)
			status = hm_dest_claim(hd, first + i, &write);
		if (!seg || seg->write != write || seg->status != status) {
			seg = &slot->segs[nr_segs++];
			*seg = (struct hm_recv_seg){
				.slot = slot, .first = first + i, .offset = offset,
				.write = write, .ack = !pull, .status = status,
				.session = READ_ONCE(rv->session),
			};
		}
		seg->nr++;
		if (!zero)
			offset += hm_run_bytes(hd, first + i, 1);
	}

	atomic_set(&slot->pending, nr_segs);
	for (i = 0; i < nr_segs; i++) {
		if (slot->segs[i].write)
			hm_recv_write(rv, &slot->segs[i], zero);
		else
			hm_recv_seg_done(&slot->segs[i]);
	}
}

/*
 * A run of chunks from the source, pushed (DATA) or pulled (PULL_DATA,
 * one chunk): check it against our geometry and write it. @buf holds its
 * data (NULL for an all-zero run) and is ours.
 */
int hm_recv_data(struct hm_dev *hd, const struct hm_data *run,
		 struct hm_buf *buf, bool pull)
{
	struct hm_receiver *rv = hd->receiver;
	u64 first = be64_to_cpu(run->first_chunk);
	u32 nr = be32_to_cpu(run->nr_chunks);
	u32 flags = be32_to_cpu(run->flags);
	bool zero = flags & HM_DATA_ZERO;
	struct hm_recv_slot *slot;
	unsigned int len;

	if (!READ_ONCE(rv->set_up) || (flags & ~HM_DATA_ZERO) || !nr ||
	    first >= hd->tracker.nr_chunks || nr > hd->tracker.nr_chunks - first ||
	    nr > HM_MAX_DATA_PIECE / (hd->chunk_sectors << SECTOR_SHIFT) ||
	    (pull && nr != 1))
		goto bad;
	len = hm_run_bytes(hd, first, nr);
	if (zero ? !!buf : !buf || buf->len != len)
		goto bad;

	slot = buf ? container_of(buf, struct hm_recv_slot, buf) :
		     hm_recv_take_slot(rv, pull ? HM_LANE_CONTROL : HM_LANE_BULK);
	if (!slot)
		return -EINTR;	/* a pull stays asked for: asked again later */
	if (pull && hm_dest_pull_reply(hd, first)) {
		hm_recv_release_slot(slot);
		return -EPROTO;
	}
	atomic64_add(nr, &hd->xfer.sent_chunks);
	if (zero)
		atomic64_add(nr, &hd->xfer.zero_chunks);
	else
		atomic64_add(len, &hd->xfer.data_bytes);
	hm_recv_run(rv, slot, first, nr, zero, pull);
	return 0;

bad:
	if (buf)
		hm_recv_put_buf(hd, buf);
	return -EPROTO;
}

/* Wait until every write of received data has completed. */
void hm_recv_wait_writes(struct hm_dev *hd)
{
	struct hm_receiver *rv = hd->receiver;

	wait_event(rv->wait, !READ_ONCE(rv->nr_writing));
}

/* ---- Session ---- */

/*
 * The first source that sets up a session makes this destination part of
 * its migration (recorded in the metadata); another one is refused. Chunks
 * of one migration must never be taken for those of another: the handover
 * map only describes its own source's chunks.
 */
static enum hm_setup_status hm_recv_check_migration(struct hm_dev *hd,
						    const struct hm_setup *setup)
{
	if (hd->has_migration_id)
		return memcmp(hd->migration_id, setup->migration_id,
			      HM_MIGRATION_ID_LEN) ? HM_SETUP_MIGRATION :
						     HM_SETUP_OK;
	memcpy(hd->migration_id, setup->migration_id, HM_MIGRATION_ID_LEN);
	WRITE_ONCE(hd->has_migration_id, true);
	return hm_md_set_migration_id(hd) ? HM_SETUP_MIGRATION : HM_SETUP_OK;
}

static enum hm_setup_status hm_recv_check_setup(struct hm_dev *hd,
						const struct hm_setup *setup)
{
	if (be64_to_cpu(setup->target_sectors) != hd->len ||
	    be32_to_cpu(setup->chunk_sectors) != hd->chunk_sectors) {
		DMERR_LIMIT("%s: source has %llu sectors in %u-sector chunks, we %llu in %llu",
			    dm_device_name(hd->md),
			    be64_to_cpu(setup->target_sectors),
			    be32_to_cpu(setup->chunk_sectors),
			    (unsigned long long)hd->len,
			    (unsigned long long)hd->chunk_sectors);
		hm_link_set_error(hd, "geometry_mismatch");
		return HM_SETUP_GEOMETRY;
	}
	if (hm_recv_check_migration(hd, setup) != HM_SETUP_OK) {
		DMERR_LIMIT("%s: refused a source of another migration (%*phN; ours is %*phN)",
			    dm_device_name(hd->md), HM_MIGRATION_ID_LEN,
			    setup->migration_id, HM_MIGRATION_ID_LEN,
			    hd->migration_id);
		hm_link_set_error(hd, "migration_mismatch");
		return HM_SETUP_MIGRATION;
	}
	return HM_SETUP_OK;
}

/* The source must be of our geometry and migration; answer SETUP_ACK. */
int hm_recv_setup(struct hm_dev *hd, const struct hm_setup *setup)
{
	struct hm_receiver *rv = hd->receiver;
	struct hm_setup_ack ack = {
		.phase = cpu_to_be32(hm_dest_wire_phase(hd)),
	};
	enum hm_setup_status status;
	int r;

	if (setup->flags || READ_ONCE(rv->set_up))
		return -EPROTO;
	status = hm_recv_check_setup(hd, setup);
	ack.status = cpu_to_be32(status);
	r = hm_link_send(hd, HM_FRAME_SETUP_ACK, &ack, sizeof(ack));
	if (status != HM_SETUP_OK)
		return -ECANCELED;
	if (r)
		return r;
	WRITE_ONCE(rv->set_up, true);
	WRITE_ONCE(hd->xfer.ready, true);
	hm_dev_event(hd);
	hm_dest_link_up(hd);
	return 0;
}

/*
 * The lanes are closed. Before another session may send data, every write
 * of this one completes and is acknowledged (or dropped with the link).
 */
void hm_recv_link_down(struct hm_dev *hd)
{
	struct hm_receiver *rv = hd->receiver;

	WRITE_ONCE(rv->set_up, false);
	WRITE_ONCE(hd->xfer.ready, false);
	WRITE_ONCE(rv->session, rv->session + 1);
	hm_recv_wait_writes(hd);
	flush_workqueue(rv->ack_wq);
	hm_dest_link_down(hd);
}

/* ---- Life cycle ---- */

static void hm_receiver_free(struct hm_receiver *rv)
{
	unsigned int i;

	if (rv->ack_wq)
		destroy_workqueue(rv->ack_wq);
	for (i = 0; i < HM_RECV_SLOTS && rv->slots[i]; i++) {
		hm_buf_free_pages(&rv->slots[i]->buf);
		kfree(rv->slots[i]);
	}
	kfree(rv);
}

int hm_receiver_create(struct hm_dev *hd)
{
	struct hm_recv_slot *slot;
	struct hm_receiver *rv;
	unsigned int i;

	rv = kzalloc(sizeof(*rv), GFP_KERNEL);
	if (!rv)
		return -ENOMEM;
	rv->hd = hd;
	spin_lock_init(&rv->lock);
	INIT_LIST_HEAD(&rv->free[HM_LANE_CONTROL]);
	INIT_LIST_HEAD(&rv->free[HM_LANE_BULK]);
	INIT_LIST_HEAD(&rv->acks);
	init_waitqueue_head(&rv->wait);
	INIT_WORK(&rv->ack_work, hm_recv_ack_work);
	rv->ack_wq = alloc_ordered_workqueue("hm-ack/%s", WQ_MEM_RECLAIM,
					     dm_device_name(hd->md));
	if (!rv->ack_wq) {
		hm_receiver_free(rv);
		return -ENOMEM;
	}
	for (i = 0; i < HM_RECV_SLOTS; i++) {
		slot = kzalloc(sizeof(*slot), GFP_KERNEL);
		if (!slot || hm_buf_alloc_pages(&slot->buf)) {
			if (slot)
				hm_buf_free_pages(&slot->buf);
			kfree(slot);
			hm_receiver_free(rv);
			return -ENOMEM;
		}
		slot->rv = rv;
		slot->pool = &rv->free[i < HM_BULK_SLOTS ? HM_LANE_BULK :
						      HM_LANE_CONTROL];
		list_add(&slot->list, slot->pool);
		rv->slots[i] = slot;
	}
	hd->receiver = rv;
	return 0;
}

/* After the link's lanes are closed. */
void hm_receiver_destroy(struct hm_dev *hd)
{
	struct hm_receiver *rv = hd->receiver;

	if (!rv)
		return;
	hm_recv_link_down(hd);
	hd->receiver = NULL;
	hm_receiver_free(rv);
}
