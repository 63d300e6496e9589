// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-hybridmig: the destination's side of the VM's I/O.
 *
 * Every chunk is missing or present (hm_tracker.dirty holds the missing
 * ones). Before handover the missing set is what never arrived; at
 * handover it becomes exactly the set the source sends (its dirty and
 * unacknowledged chunks), and from then on it only shrinks.
 *
 * A chunk is "busy" while data for it is being written from the source (a
 * push, a prefetch or a pull) or while the VM overwrites the whole of a
 * missing chunk. VM I/O to a busy chunk waits for that one write, so a
 * pull never lands on top of newer data and a reader never sees a half
 * written chunk (DESIGN.md §3, invariant 4):
 *
 *   - present, not busy:	passed through;
 *   - missing, whole-chunk write, discard or write-zeroes: passed through,
 *				the chunk busy until it completes, then present;
 *   - missing, anything else:	parked; one PULL is sent on the control lane;
 *				the reply is written, the chunk becomes present
 *				and the parked bios are routed again;
 *   - busy:			parked until the chunk is not busy.
 *
 * Writes before handover wait (HM_HANDOVER_WAIT at most, then fail):
 * the VM must never run on two hosts' data (invariant 5).
 */
#include "dm-hybridmig.h"

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/mempool.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#define DM_MSG_PREFIX "hybridmig"

#define HM_MIN_PULLS		64	/* reserved pull records */

/* A chunk the VM needs: queued to be requested, then sent. */
struct hm_pull_req {
	struct list_head list;
	unsigned long chunk;
	ktime_t sent;
};

struct hm_dest {
	struct hm_dev *hd;
	spinlock_t lock;		/* busy, lists, missing set changes */
	unsigned long *busy;
	struct bio_list parked;		/* waiting for a busy chunk */
	struct bio_list held;		/* writes waiting for handover */
	struct list_head pulls_queued;
	struct list_head pulls_sent;
	mempool_t pull_pool;
	struct workqueue_struct *wq;
	struct work_struct route_work;	/* route parked bios again */
	struct work_struct pull_work;	/* send queued PULLs */
	struct work_struct complete_work;
	struct work_struct request_work;	/* auto_handover */
	bool requested;			/* this session asked for handover */
	u64 pull_generation;		/* of the set-up session; 0: none */
	struct delayed_work expire_work;	/* fail held writes */
	unsigned long *staging;		/* the handover map being received */
	ktime_t map_start;
	bool handover_acked;		/* HANDOVER_ACK went out (or was lost) */
	unsigned long next_mapped;	/* the next map piece starts here or later */
};

static struct hm_bio *hm_dest_bio(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct hm_bio));
}

static bool hm_dest_missing(struct hm_dev *hd, unsigned long chunk)
{
	return test_bit(chunk, hd->tracker.dirty);
}

/* The phase as SETUP_ACK tells it to the source. */
u32 hm_dest_wire_phase(struct hm_dev *hd)
{
	switch (READ_ONCE(hd->phase)) {
	case HM_PHASE_POSTCOPY:
		return HM_DEST_POSTCOPY;
	case HM_PHASE_COMPLETE:
		return HM_DEST_COMPLETE;
	case HM_PHASE_ABORTED:
		return HM_DEST_ABORTED;
	default:
		return HM_DEST_WAITING;
	}
}

/* ---- Routing the VM's I/O ---- */

/* Does @bio replace all of @chunk (so that nothing needs pulling)? */
static bool hm_bio_covers_chunk(struct hm_dev *hd, struct bio *bio,
				unsigned long chunk)
{
	sector_t start = hm_chunk_sector(hd, chunk);
	sector_t end = min_t(sector_t, hm_chunk_sector(hd, chunk + 1), hd->len);

	return op_is_write(bio_op(bio)) &&
	       bio->bi_iter.bi_sector == start && bio_end_sector(bio) >= end;
}

/*
 * Decide what happens to a bio: DM_MAPIO_REMAPPED (pass it down) or
 * DM_MAPIO_SUBMITTED (parked: routed again when its chunk is ready).
 * @pull is a spare pull record, consumed if a pull is needed.
 */
static int hm_dest_route_locked(struct hm_dest *d, struct bio *bio,
				struct hm_pull_req **pull)
{
	struct hm_dev *hd = d->hd;
	struct hm_bio *db = hm_dest_bio(bio);
	unsigned long chunk = bio->bi_iter.bi_sector >> hd->chunk_shift;

	if (test_bit(chunk, d->busy)) {
		bio_list_add(&d->parked, bio);
		return DM_MAPIO_SUBMITTED;
	}
	if (!hm_dest_missing(hd, chunk))
		return DM_MAPIO_REMAPPED;
	if (hm_bio_covers_chunk(hd, bio, chunk)) {
		__set_bit(chunk, d->busy);
		db->overwrite = true;
		db->first_chunk = chunk;	/* bi_iter moves on */
		return DM_MAPIO_REMAPPED;
	}
	__set_bit(chunk, d->busy);
	bio_list_add(&d->parked, bio);
	(*pull)->chunk = chunk;
	list_add_tail(&(*pull)->list, &d->pulls_queued);
	*pull = NULL;
	queue_work(d->wq, &d->pull_work);
	return DM_MAPIO_SUBMITTED;
}

static int hm_dest_route(struct hm_dest *d, struct bio *bio)
{
	struct hm_pull_req *pull = mempool_alloc(&d->pull_pool, GFP_NOIO);
	int r;

	spin_lock_irq(&d->lock);
	r = hm_dest_route_locked(d, bio, &pull);
	spin_unlock_irq(&d->lock);
	if (pull)
		mempool_free(pull, &d->pull_pool);
	return r;
}

/* Route the parked bios again: a chunk became ready (or the phase changed). */
static void hm_dest_route_work(struct work_struct *work)
{
	struct hm_dest *d = container_of(work, struct hm_dest, route_work);
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&d->lock);
	bios = d->parked;
	bio_list_init(&d->parked);
	spin_unlock_irq(&d->lock);

	while ((bio = bio_list_pop(&bios)))
		if (hm_dest_route(d, bio) == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
}

static void hm_dest_kick(struct hm_dest *d)
{
	queue_work(d->wq, &d->route_work);
}

/* The map function of a destination; bios never span two chunks. */
int hm_dest_map(struct hm_dev *hd, struct bio *bio)
{
	struct hm_dest *d = hd->dest;
	struct hm_bio *db = hm_dest_bio(bio);

	db->overwrite = false;
	switch (READ_ONCE(hd->phase)) {
	case HM_PHASE_COMPLETE:
		return DM_MAPIO_REMAPPED;
	case HM_PHASE_ABORTED:
		DMERR_LIMIT("%s: I/O refused: the migration was aborted",
			    dm_device_name(hd->md));
		return DM_MAPIO_KILL;
	case HM_PHASE_WAITING:
		if (!op_is_write(bio_op(bio)))
			break;
		/* Held until handover; the phase is checked again under the lock. */
		spin_lock_irq(&d->lock);
		if (READ_ONCE(hd->phase) == HM_PHASE_WAITING) {
			db->held_since = jiffies;
			bio_list_add(&d->held, bio);
			spin_unlock_irq(&d->lock);
			mod_delayed_work(d->wq, &d->expire_work, HZ);
			if (READ_ONCE(hd->auto_handover))
				queue_work(d->wq, &d->request_work);
			return DM_MAPIO_SUBMITTED;
		}
		spin_unlock_irq(&d->lock);
		break;
	default:
		break;
	}
	return hm_dest_route(d, bio);
}

/* A whole-chunk overwrite of a missing chunk completed. */
void hm_dest_end_io(struct hm_dev *hd, struct bio *bio, blk_status_t status)
{
	struct hm_bio *db = hm_dest_bio(bio);

	if (db->overwrite)
		hm_dest_written(hd, db->first_chunk, 1, !status);
}

/*
 * auto_handover: the VM's first write here asks the source to hand over,
 * for hypervisors with no hook at switch-over. Safe by construction: the
 * source fences itself before this write (or any other) is accepted, so
 * no write is ever accepted on both hosts; had the VM still been running
 * on the source, its writes would fail from the fence on.
 */
static void hm_dest_request_work(struct work_struct *work)
{
	struct hm_dest *d = container_of(work, struct hm_dest, request_work);
	struct hm_dev *hd = d->hd;

	/* Only once the source's session is set up: it could not hand over. */
	if (READ_ONCE(hd->phase) != HM_PHASE_WAITING || READ_ONCE(d->requested) ||
	    !READ_ONCE(hd->xfer.ready))
		return;
	if (!hm_link_send(hd, HM_FRAME_HANDOVER_REQUEST, NULL, 0)) {
		WRITE_ONCE(d->requested, true);
		DMINFO("%s: first write of the VM: handover requested",
		       dm_device_name(hd->md));
	}
}

/* Fail a held write: our decision, not a device error (see hm_end_io). */
static void hm_dest_refuse(struct bio *bio)
{
	hm_dest_bio(bio)->refused = true;
	bio->bi_status = BLK_STS_IOERR;
	bio_endio(bio);
}

/* Fail the writes held too long for a handover that did not come. */
static void hm_dest_expire_work(struct work_struct *work)
{
	struct hm_dest *d = container_of(to_delayed_work(work), struct hm_dest,
					 expire_work);
	struct bio_list expired, keep;
	struct bio *bio;

	bio_list_init(&expired);
	bio_list_init(&keep);
	spin_lock_irq(&d->lock);
	while ((bio = bio_list_pop(&d->held))) {
		if (time_after(jiffies, hm_dest_bio(bio)->held_since +
			       HM_HANDOVER_WAIT))
			bio_list_add(&expired, bio);
		else
			bio_list_add(&keep, bio);
	}
	d->held = keep;
	if (!bio_list_empty(&keep))
		mod_delayed_work(d->wq, &d->expire_work, HZ);
	spin_unlock_irq(&d->lock);

	if (!bio_list_empty(&expired))
		DMERR_LIMIT("%s: writes failed: no handover within %u s",
			    dm_device_name(d->hd->md), HM_HANDOVER_WAIT / HZ);
	while ((bio = bio_list_pop(&expired)))
		hm_dest_refuse(bio);
}

/* ---- Data from the source ---- */

/*
 * May a pushed or prefetched chunk be written? Before handover newer data
 * replaces older (but not under a pull: push it again later); after it,
 * only missing chunks are filled (a present one holds the VM's newer data
 * or the final one already). Claimed chunks are busy until written.
 */
enum hm_ack_status hm_dest_claim(struct hm_dev *hd, unsigned long chunk,
				 bool *write)
{
	struct hm_dest *d = hd->dest;
	bool before = READ_ONCE(hd->phase) == HM_PHASE_WAITING;
	enum hm_ack_status status = HM_ACK_OK;

	*write = false;
	spin_lock_irq(&d->lock);
	if (test_bit(chunk, d->busy)) {
		status = before ? HM_ACK_RETRY : HM_ACK_OK;
	} else if (before || hm_dest_missing(hd, chunk)) {
		__set_bit(chunk, d->busy);
		*write = true;
	}
	spin_unlock_irq(&d->lock);
	return status;
}

static void hm_dest_check_complete(struct hm_dev *hd)
{
	/* COMPLETE must not overtake HANDOVER_ACK on the control lane. */
	if (READ_ONCE(hd->dest->handover_acked) &&
	    READ_ONCE(hd->phase) == HM_PHASE_POSTCOPY &&
	    !atomic_long_read(&hd->tracker.nr_dirty))
		queue_work(hd->dest->wq, &hd->dest->complete_work);
}

/* Chunks of a claim, pull or overwrite are written (@ok) or not. */
void hm_dest_written(struct hm_dev *hd, unsigned long first, unsigned int nr,
		     bool ok)
{
	struct hm_dest *d = hd->dest;
	struct hm_tracker *t = &hd->tracker;
	unsigned long chunk, flags;

	spin_lock_irqsave(&d->lock, flags);
	for (chunk = first; chunk < first + nr; chunk++) {
		if (ok && test_and_clear_bit(chunk, t->dirty))
			atomic_long_dec(&t->nr_dirty);
		__clear_bit(chunk, d->busy);
	}
	spin_unlock_irqrestore(&d->lock, flags);
	if (ok)
		hm_md_touch(hd, first, nr);
	hm_dest_kick(d);
	hm_dest_check_complete(hd);
}

/* ---- Pulls ---- */

/*
 * Send the queued PULLs, in the session that was set up only. A new
 * session's control lane is up before its SETUP arrives: a PULL sent then
 * would be asked again by hm_dest_link_up() and answered twice, or
 * answered before the SETUP.
 */
static void hm_dest_pull_work(struct work_struct *work)
{
	struct hm_dest *d = container_of(work, struct hm_dest, pull_work);
	struct hm_pull_req *pull;
	struct hm_pull msg;
	u64 generation;

	for (;;) {
		spin_lock_irq(&d->lock);
		generation = d->pull_generation;
		pull = list_first_entry_or_null(&d->pulls_queued,
						struct hm_pull_req, list);
		if (pull && generation)
			list_move_tail(&pull->list, &d->pulls_sent);
		spin_unlock_irq(&d->lock);
		if (!pull || !generation)
			return;

		pull->sent = ktime_get();
		msg.chunk = cpu_to_be64(pull->chunk);
		if (hm_link_send_buf(d->hd, generation, HM_FRAME_PULL, &msg,
				     sizeof(msg), NULL, 0, 0)) {
			/* No link: ask again when it is back (hm_dest_link_up). */
			spin_lock_irq(&d->lock);
			list_move(&pull->list, &d->pulls_queued);
			spin_unlock_irq(&d->lock);
			return;
		}
	}
}

/* A PULL_DATA arrived: was @chunk asked for? Then its data is written. */
int hm_dest_pull_reply(struct hm_dev *hd, unsigned long chunk)
{
	struct hm_dest *d = hd->dest;
	struct hm_pull_req *pull, *found = NULL;

	spin_lock_irq(&d->lock);
	list_for_each_entry(pull, &d->pulls_sent, list) {
		if (pull->chunk == chunk) {
			found = pull;
			list_del(&pull->list);
			break;
		}
	}
	spin_unlock_irq(&d->lock);
	if (!found)
		return -EPROTO;		/* nobody asked for it */
	atomic64_inc(&hd->xfer.pulls);
	atomic64_add(ktime_to_ns(ktime_sub(ktime_get(), found->sent)),
		     &hd->xfer.pull_ns);
	mempool_free(found, &d->pull_pool);
	return 0;
}

/* A session is set up: ask again for what the last one did not answer. */
void hm_dest_link_up(struct hm_dev *hd)
{
	struct hm_dest *d = hd->dest;

	spin_lock_irq(&d->lock);
	list_splice_init(&d->pulls_sent, &d->pulls_queued);
	d->pull_generation = hm_link_generation(hd);
	WRITE_ONCE(d->requested, false);
	if (READ_ONCE(hd->auto_handover) && !bio_list_empty(&d->held))
		queue_work(d->wq, &d->request_work);
	spin_unlock_irq(&d->lock);
	queue_work(d->wq, &d->pull_work);
	hm_dest_check_complete(hd);	/* restarted with nothing missing */
}

/* The lanes are closed: a half-received handover map is void. */
void hm_dest_link_down(struct hm_dev *hd)
{
	struct hm_dest *d = hd->dest;

	spin_lock_irq(&d->lock);
	d->pull_generation = 0;
	spin_unlock_irq(&d->lock);
	kvfree(d->staging);
	d->staging = NULL;
	d->next_mapped = 0;
}

/* ---- Handover ---- */

/*
 * Set bit @first + i of @bitmap for every bit i of @bytes (LSB first); the
 * bits from @first on are still clear. A word at a time where @first is on
 * a word (our sources send it so; a 1 TiB disk has 2 MiB of bitmap), else
 * a bit at a time. @bytes is ours, 8-byte aligned, and is converted in place.
 */
static void hm_bytes_to_bitmap(unsigned long *bitmap, unsigned long first,
			       u8 *bytes, unsigned int nbits)
{
	unsigned int i = first % BITS_PER_LONG ? 0 : round_down(nbits, 64);
	u64 *words = (u64 *)bytes;
	unsigned int w;

	if (i) {
		for (w = 0; w < i / 64; w++)
			le64_to_cpus(&words[w]);
		bitmap_from_arr64(bitmap + BIT_WORD(first), words, i);
	}
	for (; i < nbits; i++) {
		if (!(i % 8) && !bytes[i / 8]) {
			i += 7;
			continue;
		}
		if (bytes[i / 8] & BIT(i % 8))
			__set_bit(first + i, bitmap);
	}
}

/* The bitmap the handover map is received into, from its first piece. */
static unsigned long *hm_dest_staging(struct hm_dest *d)
{
	if (!d->staging) {
		d->staging = kvcalloc(BITS_TO_LONGS(d->hd->tracker.nr_chunks),
				      sizeof(unsigned long), GFP_NOIO);
		d->map_start = ktime_get();
	}
	return d->staging;
}

/* One piece of the map of missing chunks (the receiver thread only). */
int hm_dest_recv_map(struct hm_dev *hd, const struct hm_handover_map *map,
		     struct hm_buf *buf)
{
	struct hm_dest *d = hd->dest;
	u64 first = be64_to_cpu(map->first_chunk);
	u32 nr = be32_to_cpu(map->nr_chunks);
	unsigned long nr_chunks = hd->tracker.nr_chunks;
	unsigned int i, bytes;
	u8 *byte;

	/* Pieces come in chunk order, without overlap. */
	if (READ_ONCE(hd->phase) != HM_PHASE_WAITING || map->flags || !nr ||
	    first % 8 || first < d->next_mapped || first >= nr_chunks ||
	    nr > nr_chunks - first || !buf || buf->len != DIV_ROUND_UP(nr, 8))
		return -EPROTO;
	if (!hm_dest_staging(d))
		return -ENOMEM;
	for (i = 0; i < nr; i += bytes * 8) {
		bytes = min_t(unsigned int, DIV_ROUND_UP(nr - i, 8),
			      PAGE_SIZE - offset_in_page(i / 8));
		byte = page_address(buf->pages[(i / 8) >> PAGE_SHIFT]) +
		       offset_in_page(i / 8);
		hm_bytes_to_bitmap(d->staging, first + i, byte,
				   min_t(unsigned int, nr - i, bytes * 8));
	}
	d->next_mapped = first + nr;
	return 0;
}

/*
 * The source is fenced and the map is complete: the VM runs here now. The
 * writes of earlier data (pushes and pulls the source sent before the map)
 * finish first; then the map becomes the missing set, and held writes go.
 */
int hm_dest_recv_handover(struct hm_dev *hd, const struct hm_handover *ho)
{
	struct hm_dest *d = hd->dest;
	struct hm_tracker *t = &hd->tracker;
	struct hm_handover_ack ack = { };
	u64 nr_missing = be64_to_cpu(ho->nr_missing);
	unsigned long weight;
	int r;

	switch (READ_ONCE(hd->phase)) {
	case HM_PHASE_WAITING:
		break;
	case HM_PHASE_POSTCOPY:
	case HM_PHASE_COMPLETE:
		/* Our HANDOVER_ACK was lost: say it again. */
		return hm_link_send(hd, HM_FRAME_HANDOVER_ACK, &ack, sizeof(ack));
	default:
		return -EPROTO;		/* aborted */
	}
	if (!hm_dest_staging(d))	/* an empty map sends no piece */
		return -ENOMEM;
	weight = bitmap_weight(d->staging, t->nr_chunks);
	if (weight != nr_missing) {
		DMERR("%s: handover map of %lu chunks, the source said %llu",
		      dm_device_name(hd->md), weight, nr_missing);
		ack.status = cpu_to_be32(HM_HANDOVER_BAD_MAP);
		hm_link_send(hd, HM_FRAME_HANDOVER_ACK, &ack, sizeof(ack));
		return -EPROTO;
	}

	hm_recv_wait_writes(hd);
	/* Recorded before the VM may write here: a restart resumes post-copy. */
	if (hm_md_install_map(hd, d->staging)) {
		ack.status = cpu_to_be32(HM_HANDOVER_FAILED);
		hm_link_send(hd, HM_FRAME_HANDOVER_ACK, &ack, sizeof(ack));
		return -EIO;
	}
	spin_lock_irq(&d->lock);
	bitmap_copy(t->dirty, d->staging, t->nr_chunks);
	atomic_long_set(&t->nr_dirty, weight);
	spin_lock(&hd->phase_lock);
	WRITE_ONCE(hd->phase, HM_PHASE_POSTCOPY);
	spin_unlock(&hd->phase_lock);
	bio_list_merge(&d->parked, &d->held);
	bio_list_init(&d->held);
	spin_unlock_irq(&d->lock);

	hd->xfer.handover_us = ktime_us_delta(ktime_get(), d->map_start);
	kvfree(d->staging);
	d->staging = NULL;
	DMINFO("%s: handed over in %llu us: %lu chunks to pull or prefetch",
	       dm_device_name(hd->md), hd->xfer.handover_us, weight);
	wake_up_all(&hd->wait);
	hm_dev_event(hd);
	hm_dest_kick(d);
	/* The source hears of the switch before it hears of completion. */
	r = hm_link_send(hd, HM_FRAME_HANDOVER_ACK, &ack, sizeof(ack));
	WRITE_ONCE(d->handover_acked, true);
	hm_dest_check_complete(hd);
	return r;
}

static void hm_dest_complete_work(struct work_struct *work)
{
	struct hm_dest *d = container_of(work, struct hm_dest, complete_work);
	struct hm_dev *hd = d->hd;

	if (READ_ONCE(hd->phase) == HM_PHASE_POSTCOPY) {
		/* Not complete until that survives a crash (tried again). */
		if (hm_md_set_phase(hd, HM_PHASE_COMPLETE))
			return;
		DMINFO("%s: migration complete: every chunk is here",
		       dm_device_name(hd->md));
		hm_dev_set_phase(hd, HM_PHASE_COMPLETE);
	}
	/* If the link is down, the next SETUP_ACK tells the source. */
	if (READ_ONCE(hd->phase) == HM_PHASE_COMPLETE)
		hm_link_send(hd, HM_FRAME_COMPLETE, NULL, 0);
}

/* The source aborted before handover: this copy will never be used. */
int hm_dest_recv_abort(struct hm_dev *hd)
{
	struct hm_dest *d = hd->dest;
	struct bio_list held;
	struct bio *bio;

	if (READ_ONCE(hd->phase) != HM_PHASE_WAITING)
		return -EPROTO;
	spin_lock_irq(&d->lock);
	held = d->held;
	bio_list_init(&d->held);
	spin_unlock_irq(&d->lock);
	DMWARN("%s: the source aborted the migration", dm_device_name(hd->md));
	hm_md_set_phase(hd, HM_PHASE_ABORTED);
	hm_dev_set_phase(hd, HM_PHASE_ABORTED);
	while ((bio = bio_list_pop(&held)))
		hm_dest_refuse(bio);
	hm_dest_kick(d);	/* parked reads: refused now */
	return 0;
}

/* ---- Life cycle ---- */

int hm_dest_create(struct hm_dev *hd)
{
	struct hm_dest *d;
	int r;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->hd = hd;
	/* Restarted from metadata after handover: it was acknowledged. */
	d->handover_acked = hd->phase != HM_PHASE_WAITING;
	spin_lock_init(&d->lock);
	bio_list_init(&d->parked);
	bio_list_init(&d->held);
	INIT_LIST_HEAD(&d->pulls_queued);
	INIT_LIST_HEAD(&d->pulls_sent);
	INIT_WORK(&d->route_work, hm_dest_route_work);
	INIT_WORK(&d->pull_work, hm_dest_pull_work);
	INIT_WORK(&d->complete_work, hm_dest_complete_work);
	INIT_WORK(&d->request_work, hm_dest_request_work);
	INIT_DELAYED_WORK(&d->expire_work, hm_dest_expire_work);
	r = mempool_init_kmalloc_pool(&d->pull_pool, HM_MIN_PULLS,
				      sizeof(struct hm_pull_req));
	if (r)
		goto bad;
	d->busy = kvcalloc(BITS_TO_LONGS(hd->tracker.nr_chunks),
			   sizeof(unsigned long), GFP_KERNEL);
	d->wq = alloc_workqueue("hm-dest/%s", WQ_MEM_RECLAIM | WQ_HIGHPRI, 0,
				dm_device_name(hd->md));
	if (!d->busy || !d->wq) {
		r = -ENOMEM;
		goto bad;
	}
	hd->dest = d;
	return 0;
bad:
	if (d->wq)
		destroy_workqueue(d->wq);
	kvfree(d->busy);
	mempool_exit(&d->pull_pool);
	kfree(d);
	return r;
}

/* No table is left, so no VM I/O: held and parked lists are empty. */
void hm_dest_destroy(struct hm_dev *hd)
{
	struct hm_dest *d = hd->dest;
	struct hm_pull_req *pull, *tmp;

	if (!d)
		return;
	cancel_delayed_work_sync(&d->expire_work);
	destroy_workqueue(d->wq);
	list_splice_init(&d->pulls_sent, &d->pulls_queued);
	list_for_each_entry_safe(pull, tmp, &d->pulls_queued, list)
		mempool_free(pull, &d->pull_pool);
	mempool_exit(&d->pull_pool);
	kvfree(d->staging);
	kvfree(d->busy);
	kfree(d);
	hd->dest = NULL;
}
