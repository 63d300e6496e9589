// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-hybridmig: the destination's receiver.
 *
 * The bulk lane's receiver thread reads each DATA frame into the pages of
 * a free slot; the run is written to the data device (an all-zero run as
 * write-zeroes, so a thin or sparse device stays sparse), its chunks are
 * marked present, and a worker acknowledges it. The slots bound the memory
 * and the writes in flight; when none is free, the receiver stops reading
 * and TCP pushes back on the source.
 *
 * The source never has two pushes of one chunk in flight in a session, so
 * writes of one chunk cannot overtake each other. Across sessions the same
 * holds because a new session starts only once every write of the old one
 * has completed (hm_recv_link_down()).
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

#define HM_RECV_SLOTS		8
#define HM_RECV_WAIT		HZ	/* re-check for a stop this often */

struct hm_recv_slot {
	struct list_head list;		/* free list or ack list */
	struct hm_receiver *rv;
	unsigned long first;
	unsigned int nr;
	blk_status_t status;
	struct hm_buf buf;
};

struct hm_receiver {
	struct hm_dev *hd;
	spinlock_t lock;		/* taken from bio completion */
	struct list_head free;
	struct list_head acks;		/* written, to acknowledge */
	unsigned int nr_writing;
	bool set_up;			/* this session's SETUP was accepted */
	wait_queue_head_t wait;
	struct workqueue_struct *ack_wq;
	struct work_struct ack_work;
	struct hm_recv_slot slots[HM_RECV_SLOTS];
};

/* ---- Slots ---- */

static struct hm_recv_slot *hm_recv_take_slot(struct hm_receiver *rv)
{
	struct hm_recv_slot *slot = NULL;

	while (!slot && !kthread_should_stop()) {
		wait_event_interruptible_timeout(rv->wait,
						 !list_empty_careful(&rv->free) ||
						 kthread_should_stop(),
						 HM_RECV_WAIT);
		spin_lock_irq(&rv->lock);
		slot = list_first_entry_or_null(&rv->free, struct hm_recv_slot,
						list);
		if (slot)
			list_del_init(&slot->list);
		spin_unlock_irq(&rv->lock);
	}
	return slot;
}

static void hm_recv_release_slot(struct hm_receiver *rv,
				 struct hm_recv_slot *slot)
{
	spin_lock_irq(&rv->lock);
	list_add(&slot->list, &rv->free);
	spin_unlock_irq(&rv->lock);
	wake_up(&rv->wait);
}

/* A buffer for the data of a DATA frame; NULL if the receiver must stop. */
struct hm_buf *hm_recv_get_buf(struct hm_dev *hd)
{
	struct hm_recv_slot *slot = hm_recv_take_slot(hd->receiver);

	return slot ? &slot->buf : NULL;
}

void hm_recv_put_buf(struct hm_dev *hd, struct hm_buf *buf)
{
	hm_recv_release_slot(hd->receiver,
			     container_of(buf, struct hm_recv_slot, buf));
}

/* ---- Acknowledgements ---- */

static void hm_recv_ack_work(struct work_struct *work)
{
	struct hm_receiver *rv = container_of(work, struct hm_receiver, ack_work);
	struct hm_dev *hd = rv->hd;
	struct hm_recv_slot *slot;
	struct hm_ack ack;

	for (;;) {
		spin_lock_irq(&rv->lock);
		slot = list_first_entry_or_null(&rv->acks, struct hm_recv_slot,
						list);
		if (slot)
			list_del_init(&slot->list);
		spin_unlock_irq(&rv->lock);
		if (!slot)
			break;

		ack.first_chunk = cpu_to_be64(slot->first);
		ack.nr_chunks = cpu_to_be32(slot->nr);
		ack.status = cpu_to_be32(slot->status ? 1 : 0);
		/* If the link is down, the source pushes the run again. */
		hm_link_send(hd, HM_FRAME_ACK, &ack, sizeof(ack));
		atomic_long_sub(slot->nr, &hd->xfer.inflight);
		if (!slot->status) {
			atomic64_add(slot->nr, &hd->xfer.acked_chunks);
			atomic64_add(hm_run_bytes(hd, slot->first, slot->nr),
				     &hd->xfer.acked_bytes);
		}
		hm_recv_release_slot(rv, slot);
	}
	hm_rate_update(&hd->xfer.rate, atomic64_read(&hd->xfer.acked_bytes));
}

/* ---- Writing runs ---- */

static void hm_recv_mark_present(struct hm_dev *hd, unsigned long first,
				 unsigned int nr)
{
	struct hm_tracker *t = &hd->tracker;
	unsigned long chunk;

	for (chunk = first; chunk < first + nr; chunk++)
		if (test_and_clear_bit(chunk, t->dirty))
			atomic_long_dec(&t->nr_dirty);
}

/* A run is written (or failed): mark it present and have it acknowledged. */
static void hm_recv_written(struct hm_recv_slot *slot, blk_status_t status)
{
	struct hm_receiver *rv = slot->rv;
	unsigned long flags;

	slot->status = status;
	if (status)
		DMERR_LIMIT("%s: cannot write received chunks %lu-%lu: error %d",
			    dm_device_name(rv->hd->md), slot->first,
			    slot->first + slot->nr - 1, blk_status_to_errno(status));
	else
		hm_recv_mark_present(rv->hd, slot->first, slot->nr);

	spin_lock_irqsave(&rv->lock, flags);
	list_add_tail(&slot->list, &rv->acks);
	rv->nr_writing--;
	spin_unlock_irqrestore(&rv->lock, flags);
	queue_work(rv->ack_wq, &rv->ack_work);
	wake_up(&rv->wait);
}

static void hm_recv_write_done(struct bio *bio)
{
	struct hm_recv_slot *slot = bio->bi_private;
	blk_status_t status = bio->bi_status;

	bio_put(bio);
	hm_recv_written(slot, status);
}

static struct bio *hm_recv_data_bio(struct hm_dev *hd, struct hm_recv_slot *slot,
				    unsigned int len)
{
	unsigned int i, bytes;
	struct bio *bio;

	bio = bio_alloc(hd->data_bdev, DIV_ROUND_UP(len, PAGE_SIZE),
			REQ_OP_WRITE, GFP_NOIO);
	for (i = 0; len; i++, len -= bytes) {
		bytes = min_t(unsigned int, len, PAGE_SIZE);
		__bio_add_page(bio, slot->buf.pages[i], bytes, 0);
	}
	bio->bi_iter.bi_sector = hm_chunk_sector(hd, slot->first);
	return bio;
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

static void hm_recv_write(struct hm_receiver *rv, struct hm_recv_slot *slot,
			  bool zero, unsigned int len)
{
	struct hm_dev *hd = rv->hd;
	struct bio *bio;

	spin_lock_irq(&rv->lock);
	rv->nr_writing++;
	spin_unlock_irq(&rv->lock);

	bio = zero ? hm_recv_zero_bio(hd, slot->first, len) :
		     hm_recv_data_bio(hd, slot, len);
	if (!bio) {
		hm_recv_written(slot, BLK_STS_IOERR);
		return;
	}
	bio->bi_private = slot;
	bio->bi_end_io = hm_recv_write_done;
	submit_bio(bio);
}

/*
 * A run of chunks from the source: check it against our geometry and
 * write it. @buf holds its data (NULL for an all-zero run) and is ours.
 */
int hm_recv_data(struct hm_dev *hd, const struct hm_data *run,
		 struct hm_buf *buf)
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
	    nr > HM_MAX_DATA_PIECE / (hd->chunk_sectors << SECTOR_SHIFT))
		goto bad;
	len = hm_run_bytes(hd, first, nr);
	if (zero ? !!buf : !buf || buf->len != len)
		goto bad;

	slot = buf ? container_of(buf, struct hm_recv_slot, buf) :
		     hm_recv_take_slot(rv);
	if (!slot)
		return -EINTR;
	slot->first = first;
	slot->nr = nr;
	slot->status = BLK_STS_OK;
	atomic64_add(nr, &hd->xfer.sent_chunks);
	if (zero)
		atomic64_add(nr, &hd->xfer.zero_chunks);
	else
		atomic64_add(len, &hd->xfer.data_bytes);
	atomic_long_add(nr, &hd->xfer.inflight);
	hm_recv_write(rv, slot, zero, len);
	return 0;

bad:
	if (buf)
		hm_recv_put_buf(hd, buf);
	return -EPROTO;
}

/* ---- Session ---- */

/* The source's geometry must be ours; answer SETUP_ACK either way. */
int hm_recv_setup(struct hm_dev *hd, const struct hm_setup *setup)
{
	struct hm_receiver *rv = hd->receiver;
	bool same = be64_to_cpu(setup->target_sectors) == hd->len &&
		    be32_to_cpu(setup->chunk_sectors) == hd->chunk_sectors;
	struct hm_setup_ack ack = {
		.status = cpu_to_be32(same ? HM_SETUP_OK : HM_SETUP_GEOMETRY),
	};
	int r;

	if (setup->flags || READ_ONCE(rv->set_up))
		return -EPROTO;
	r = hm_link_send(hd, HM_FRAME_SETUP_ACK, &ack, sizeof(ack));
	if (!same) {
		DMERR("%s: source has %llu sectors in %u-sector chunks, we %llu in %llu",
		      dm_device_name(hd->md), be64_to_cpu(setup->target_sectors),
		      be32_to_cpu(setup->chunk_sectors),
		      (unsigned long long)hd->len,
		      (unsigned long long)hd->chunk_sectors);
		hm_link_set_error(hd, "geometry_mismatch");
		return -ECANCELED;
	}
	if (r)
		return r;
	WRITE_ONCE(rv->set_up, true);
	WRITE_ONCE(hd->xfer.ready, true);
	hm_dev_event(hd);
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
	wait_event(rv->wait, !READ_ONCE(rv->nr_writing));
	flush_workqueue(rv->ack_wq);
}

/* ---- Life cycle ---- */

static void hm_receiver_free(struct hm_receiver *rv)
{
	unsigned int i;

	if (rv->ack_wq)
		destroy_workqueue(rv->ack_wq);
	for (i = 0; i < HM_RECV_SLOTS; i++)
		hm_buf_free_pages(&rv->slots[i].buf);
	kfree(rv);
}

int hm_receiver_create(struct hm_dev *hd)
{
	struct hm_receiver *rv;
	unsigned int i;

	rv = kzalloc(sizeof(*rv), GFP_KERNEL);
	if (!rv)
		return -ENOMEM;
	rv->hd = hd;
	spin_lock_init(&rv->lock);
	INIT_LIST_HEAD(&rv->free);
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
		rv->slots[i].rv = rv;
		if (hm_buf_alloc_pages(&rv->slots[i].buf)) {
			hm_receiver_free(rv);
			return -ENOMEM;
		}
		list_add(&rv->slots[i].list, &rv->free);
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
