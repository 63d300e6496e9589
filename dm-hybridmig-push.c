// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-hybridmig: the source's pusher.
 *
 * While the VM runs, one thread per connected source sends dirty chunks to
 * the destination. It scans the dirty bitmap in chunk order and claims runs
 * of adjacent pushable chunks (dirty, not in flight, not hot), reads each
 * run with one bio into the pages of a slot and sends it on the bulk lane:
 * a DATA frame per stretch of chunks with data, a ZERO run (no payload) per
 * stretch of all-zero chunks. A slot is free again once the destination
 * has acknowledged every chunk in it.
 *
 * Three rules keep every write (DESIGN.md §3, invariants 2 and 3):
 *  - a chunk's dirty bit is cleared before its data is read, and every
 *    write marks its chunks at submission and again at completion, so a
 *    write racing with the push of its chunk leaves that chunk dirty;
 *  - a chunk in flight is not pushed again until it is acknowledged, so
 *    the destination never holds two writes of one chunk at once;
 *  - when the link goes down, every unacknowledged chunk is dirty again.
 */
#include "dm-hybridmig.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/ioprio.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>

#define DM_MSG_PREFIX "hybridmig"

#define HM_PUSH_SLOTS		8	/* runs in flight: up to 8 MiB */
#define HM_PUSH_POLL		(HZ / 10UL)	/* look for new dirty chunks */
#define HM_DECAY_INTERVAL	(5 * HZ)	/* halve the write counters */
#define HM_STALL_PASSES		3	/* passes without a new low: stalled */
#define HM_PACE_CREDIT_NS	(100 * NSEC_PER_MSEC)	/* idle time banked */
#define HM_NEAR_MISSES		8	/* recent read misses remembered */
#define HM_NEAR_MISS_RUNS	4	/* runs prefetched after each */
#define HM_PULL_BACKOFF		(HZ / 100 + 1)	/* bulk waits after a pull */
#define HM_MAX_PULL_REQS	1024	/* queued pull requests */
#define HM_IO_RETRY_DELAY	HZ	/* after a device error, before trying again */
#define HM_HANDOVER_TIMEOUT	(30 * HZ)
#define HM_ABORT_TIMEOUT	(5 * HZ)
#define HM_PUSH_NICE		10

/* A chunk the destination asked for, in a session of the link. */
struct hm_pull_req {
	struct list_head list;
	unsigned long chunk;
	u64 generation;
};

enum hm_slot_state {
	HM_SLOT_FREE,
	HM_SLOT_READING,	/* the run's read is in flight */
	HM_SLOT_READ,		/* read done: to send */
	HM_SLOT_SENT,		/* sent (or being sent): waiting for ACKs */
};

struct hm_push_slot {
	enum hm_slot_state state;	/* under hm_pusher.lock */
	u64 session;			/* of the link it was claimed in */
	u64 generation;			/* its frames go in that one only */
	unsigned long first;
	unsigned int nr;
	unsigned int nr_acked;
	blk_status_t read_status;
	DECLARE_BITMAP(acked, HM_MAX_RUN_CHUNKS);
	DECLARE_BITMAP(zero, HM_MAX_RUN_CHUNKS);
	struct hm_pusher *p;
	struct hm_buf buf;
};

struct hm_pusher {
	struct hm_dev *hd;
	struct task_struct *thread;
	wait_queue_head_t wait;
	bool kicked;

	spinlock_t lock;		/* slot states; taken from bio completion */
	u64 session;			/* bumped when the link goes up or down */
	u64 generation;			/* the link's, while it is up; or 0 */
	u64 setup_session;		/* the session whose SETUP was accepted */
	unsigned int chunks_per_slot;

	/* Owned by the pusher thread. */
	u64 seen_session;
	unsigned long cursor;		/* next chunk to look at */
	unsigned long pass_deferred;	/* hot chunks skipped this pass */
	bool nothing_pushable;		/* the last full scan found nothing */
	long best_dirty;		/* lowest dirty count at a pass end */
	unsigned int stalled_passes;
	unsigned long next_decay;
	unsigned int pace_kib;
	u64 pace_next_ns;
	unsigned long retry_at;		/* no new runs before (jiffies) */
	u64 map_session;		/* the session the handover map went in */
	unsigned long hot_cursor;	/* post-copy: hot chunks first */
	bool hot_done;

	/* Pulls: served one by one, ahead of any bulk data. */
	struct workqueue_struct *pull_wq;
	struct delayed_work pull_work;	/* delayed only to retry a failed read */
	struct list_head pull_reqs;	/* under lock */
	unsigned int nr_pull_reqs;
	unsigned long last_pull;	/* jiffies */
	unsigned long near_miss[HM_NEAR_MISSES];
	unsigned int next_near_miss;
	struct hm_buf pull_buf;
	bool abort_sent;
	bool abort_acked;
	struct delayed_work handover_work;	/* auto_handover */

	struct hm_push_slot slots[HM_PUSH_SLOTS];
};

void hm_pusher_kick(struct hm_dev *hd)
{
	struct hm_pusher *p = hd->pusher;

	if (!p)
		return;
	WRITE_ONCE(p->kicked, true);
	wake_up(&p->wait);
}

static bool hm_push_session_ready(struct hm_pusher *p)
{
	return READ_ONCE(p->setup_session) == READ_ONCE(p->session);
}

/* ---- Which chunks to push ---- */

static bool hm_chunk_in_flight(struct hm_pusher *p, unsigned long chunk)
{
	struct hm_push_slot *slot;
	unsigned int i;

	for (i = 0; i < HM_PUSH_SLOTS; i++) {
		slot = &p->slots[i];
		if (READ_ONCE(slot->state) != HM_SLOT_FREE &&
		    chunk >= slot->first && chunk - slot->first < slot->nr)
			return true;
	}
	return false;
}

/*
 * Hot chunks wait for post-copy in the hybrid policy (0: never defer);
 * once the source is fenced nothing is deferred any more.
 */
static unsigned int hm_push_defer_level(struct hm_pusher *p)
{
	if (READ_ONCE(p->hd->policy) != HM_POLICY_HYBRID ||
	    READ_ONCE(p->hd->phase) != HM_PHASE_TRACKING)
		return 0;
	return READ_ONCE(p->hd->hot_threshold);
}

/*
 * @chunk is dirty: may it go now? With @hot_only, only a hot chunk may;
 * otherwise a chunk at @defer_level or above is deferred (and counted).
 */
static bool hm_chunk_pushable(struct hm_pusher *p, unsigned long chunk,
			      unsigned int defer_level, bool hot_only)
{
	unsigned int level;

	if (hm_chunk_in_flight(p, chunk))
		return false;
	if (!defer_level && !hot_only)
		return true;
	level = hm_write_level(&p->hd->tracker, chunk);
	if (hot_only)
		return level >= READ_ONCE(p->hd->hot_threshold);
	if (level >= defer_level) {
		p->pass_deferred++;
		return false;
	}
	return true;
}

/* The bandwidth limit in KiB/s, 0 for none. */
static unsigned int hm_push_limit(struct hm_pusher *p)
{
	/*
	 * A handover waits for every push in flight to be acknowledged:
	 * those go at link speed, the VM is paused meanwhile.
	 */
	if (READ_ONCE(p->hd->phase) == HM_PHASE_HANDOVER)
		return 0;
	return READ_ONCE(p->hd->bandwidth);
}

/*
 * Under a bandwidth limit a run carries at most HM_PACE_CREDIT_NS worth
 * of it (a chunk at least), so that the limit holds over short windows.
 */
static unsigned int hm_push_max_run(struct hm_pusher *p)
{
	unsigned int kib = hm_push_limit(p);
	u64 chunks;

	if (!kib)
		return p->chunks_per_slot;
	chunks = div_u64((u64)kib * 1024, NSEC_PER_SEC / HM_PACE_CREDIT_NS) >>
		 (p->hd->chunk_shift + SECTOR_SHIFT);
	return clamp_t(u64, chunks, 1, p->chunks_per_slot);
}

/* The first run of pushable chunks in [@from, @to). */
static bool hm_push_scan(struct hm_pusher *p, unsigned long from,
			 unsigned long to, bool hot_only, unsigned long *first,
			 unsigned int *nr)
{
	struct hm_tracker *t = &p->hd->tracker;
	unsigned int defer_level = hm_push_defer_level(p);
	unsigned int max_run = hm_push_max_run(p);
	unsigned long chunk = from, scanned = 0;
	unsigned int n;

	for (;; chunk++) {
		chunk = find_next_bit(t->dirty, to, chunk);
		if (chunk >= to)
			return false;
		if (hm_chunk_pushable(p, chunk, defer_level, hot_only))
			break;
		if (!(++scanned % 4096))
			cond_resched();
	}
	for (n = 1; n < max_run && chunk + n < to; n++)
		if (!test_bit(chunk + n, t->dirty) ||
		    !hm_chunk_pushable(p, chunk + n, defer_level, hot_only))
			break;
	*first = chunk;
	*nr = n;
	return true;
}

/* A pass over the whole bitmap ended: how far has the dirty set come? */
static void hm_push_pass_end(struct hm_pusher *p)
{
	long dirty = atomic_long_read(&p->hd->tracker.nr_dirty);

	WRITE_ONCE(p->hd->xfer.deferred, p->pass_deferred);
	p->pass_deferred = 0;
	if (dirty < p->best_dirty) {
		p->best_dirty = dirty;
		p->stalled_passes = 0;
	} else if (p->stalled_passes < HM_STALL_PASSES) {
		p->stalled_passes++;
	}
}

/*
 * The next run in chunk order from the cursor on, wrapping around once.
 * Returns false if a whole pass found nothing.
 */
static bool hm_push_find_run(struct hm_pusher *p, unsigned long *first,
			     unsigned int *nr)
{
	unsigned long nr_chunks = p->hd->tracker.nr_chunks;
	unsigned long start = p->cursor;
	bool found;

	found = hm_push_scan(p, start, nr_chunks, false, first, nr);
	if (!found) {
		hm_push_pass_end(p);
		found = start && hm_push_scan(p, 0, start, false, first, nr);
	}
	if (found)
		p->cursor = *first + *nr < nr_chunks ? *first + *nr : 0;
	return found;
}

/* Chunks just after a read miss: the VM is likely to read them next. */
static bool hm_push_find_near_miss(struct hm_pusher *p, unsigned long *first,
				   unsigned int *nr)
{
	unsigned long nr_chunks = p->hd->tracker.nr_chunks;
	unsigned long window = p->chunks_per_slot * HM_NEAR_MISS_RUNS;
	unsigned long miss, from;
	unsigned int i;

	for (i = 0; i < HM_NEAR_MISSES; i++) {
		miss = READ_ONCE(p->near_miss[i]);
		if (miss == ULONG_MAX)
			continue;
		from = miss + 1;
		if (from < nr_chunks &&
		    hm_push_scan(p, from, min(from + window, nr_chunks), false,
				 first, nr))
			return true;
		WRITE_ONCE(p->near_miss[i], ULONG_MAX);	/* window done */
	}
	return false;
}

/*
 * After handover the missing chunks go in priority order: the ones the VM
 * wrote often (likely to be touched soon), those after recent read misses,
 * then the rest in chunk order.
 */
static bool hm_push_find_prefetch(struct hm_pusher *p, unsigned long *first,
				  unsigned int *nr)
{
	unsigned long nr_chunks = p->hd->tracker.nr_chunks;

	if (!p->hot_done && READ_ONCE(p->hd->hot_threshold)) {
		if (hm_push_scan(p, p->hot_cursor, nr_chunks, true, first, nr)) {
			p->hot_cursor = *first + *nr;
			return true;
		}
		p->hot_done = true;	/* fenced: no chunk gets hotter */
	}
	return hm_push_find_near_miss(p, first, nr) ||
	       hm_push_find_run(p, first, nr);
}

/* ---- Reading a run ---- */

/*
 * A device error on either end (our read, or the destination's write):
 * the chunks stay dirty and are tried again, but not in a tight loop
 * against a device that keeps failing.
 */
static void hm_push_io_failed(struct hm_pusher *p)
{
	WRITE_ONCE(p->retry_at, jiffies + HM_IO_RETRY_DELAY);
}

static bool hm_push_retry_wait(struct hm_pusher *p)
{
	return time_before(jiffies, READ_ONCE(p->retry_at));
}

static void hm_push_read_done(struct bio *bio)
{
	struct hm_push_slot *slot = bio->bi_private;
	struct hm_pusher *p = slot->p;
	unsigned long flags;

	slot->read_status = bio->bi_status;
	bio_put(bio);
	if (slot->read_status) {
		hm_dev_io_error(p->hd);
		hm_push_io_failed(p);
	}
	spin_lock_irqsave(&p->lock, flags);
	slot->state = HM_SLOT_READ;
	spin_unlock_irqrestore(&p->lock, flags);
	hm_pusher_kick(p->hd);
}

/* Read the run of @slot, at a low priority: the VM's own I/O comes first. */
static void hm_push_read(struct hm_pusher *p, struct hm_push_slot *slot)
{
	struct hm_dev *hd = p->hd;
	struct bio *bio;

	bio = hm_buf_bio(hd, &slot->buf, 0, hm_run_bytes(hd, slot->first, slot->nr),
			 REQ_OP_READ, hm_chunk_sector(hd, slot->first));
	bio->bi_ioprio = IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7);
	bio->bi_private = slot;
	bio->bi_end_io = hm_push_read_done;
	submit_bio(bio);
}

/* Claim runs into the free slots and start reading them. */
static void hm_push_fill(struct hm_pusher *p)
{
	struct hm_tracker *t = &p->hd->tracker;
	struct hm_push_slot *slot;
	unsigned long first, chunk;
	unsigned int i, nr;

	if (hm_push_retry_wait(p))
		return;
	for (i = 0; i < HM_PUSH_SLOTS; i++) {
		slot = &p->slots[i];
		if (READ_ONCE(slot->state) != HM_SLOT_FREE)
			continue;
		if (READ_ONCE(p->hd->phase) == HM_PHASE_POSTCOPY ?
		    !hm_push_find_prefetch(p, &first, &nr) :
		    !hm_push_find_run(p, &first, &nr)) {
			p->nothing_pushable = true;
			return;
		}
		p->nothing_pushable = false;

		/* Cleared before the read: a racing write marks it again. */
		for (chunk = first; chunk < first + nr; chunk++)
			if (test_and_clear_bit(chunk, t->dirty))
				atomic_long_dec(&t->nr_dirty);

		spin_lock_irq(&p->lock);
		slot->session = p->session;
		slot->generation = p->generation;
		slot->first = first;
		slot->nr = nr;
		slot->nr_acked = 0;
		bitmap_zero(slot->acked, HM_MAX_RUN_CHUNKS);
		slot->state = HM_SLOT_READING;
		spin_unlock_irq(&p->lock);
		atomic_long_add(nr, &p->hd->xfer.inflight);
		hm_push_read(p, slot);
	}
}

/* ---- Giving chunks back ---- */

/*
 * Every chunk of @slot that the destination has not acknowledged is dirty
 * again; the slot is free. Called under p->lock.
 */
static void hm_push_requeue(struct hm_pusher *p, struct hm_push_slot *slot)
{
	unsigned int i;

	for (i = 0; i < slot->nr; i++)
		if (!test_bit(i, slot->acked))
			hm_mark_dirty(&p->hd->tracker, slot->first + i,
				      slot->first + i);
	atomic_long_sub(slot->nr - slot->nr_acked, &p->hd->xfer.inflight);
	slot->state = HM_SLOT_FREE;
}

/* Requeue the slots of a session that has ended, once their reads are done. */
static void hm_push_requeue_stale(struct hm_pusher *p, bool all)
{
	struct hm_push_slot *slot;
	unsigned int i;

	spin_lock_irq(&p->lock);
	for (i = 0; i < HM_PUSH_SLOTS; i++) {
		slot = &p->slots[i];
		if (slot->state == HM_SLOT_FREE || slot->state == HM_SLOT_READING)
			continue;
		if (all || slot->session != p->session)
			hm_push_requeue(p, slot);
	}
	spin_unlock_irq(&p->lock);
}

/* ---- Sending ---- */

static void hm_push_find_zero_chunks(struct hm_pusher *p,
				     struct hm_push_slot *slot)
{
	struct hm_dev *hd = p->hd;
	unsigned int i, offset = 0, len;

	bitmap_zero(slot->zero, HM_MAX_RUN_CHUNKS);
	for (i = 0; i < slot->nr; i++, offset += len) {
		len = hm_run_bytes(hd, slot->first + i, 1);
		if (hm_buf_is_zero(&slot->buf, offset, len))
			__set_bit(i, slot->zero);
	}
}

/*
 * Apply the current limit to the wait still owed: the bytes owed at the
 * old limit are owed at the new one, so that changing the limit (a reload,
 * a message) never lets a burst through.
 */
static void hm_push_pace_update(struct hm_pusher *p, u64 now)
{
	unsigned int kib = hm_push_limit(p);

	if (kib == p->pace_kib)
		return;
	if (kib && p->pace_kib && p->pace_next_ns > now)
		p->pace_next_ns = now + mul_u64_u32_div(p->pace_next_ns - now,
							p->pace_kib, kib);
	else
		p->pace_next_ns = now;
	p->pace_kib = kib;
}

/*
 * Honour the bandwidth limit: wait until @bytes may go. Up to
 * HM_PACE_CREDIT_NS of idle time is banked, so the average over any window
 * of seconds stays at the limit.
 */
static void hm_push_pace(struct hm_pusher *p, unsigned int bytes)
{
	u64 now = ktime_get_ns();
	unsigned long wait;

	hm_push_pace_update(p, now);
	if (p->pace_next_ns + HM_PACE_CREDIT_NS < now)
		p->pace_next_ns = now;
	while (p->pace_kib && now < p->pace_next_ns && !kthread_should_stop()) {
		wait = nsecs_to_jiffies(p->pace_next_ns - now) + 1;
		schedule_timeout_interruptible(min(wait, HM_PUSH_POLL));
		now = ktime_get_ns();
		hm_push_pace_update(p, now);
	}
	if (p->pace_kib)
		p->pace_next_ns += div_u64((u64)bytes * NSEC_PER_SEC,
					   p->pace_kib * 1024ULL);
}

/* Send chunks @i..@i+@nr-1 of @slot as one frame. */
static int hm_push_send_run(struct hm_pusher *p, struct hm_push_slot *slot,
			    unsigned int i, unsigned int nr, unsigned int offset)
{
	struct hm_dev *hd = p->hd;
	bool zero = test_bit(i, slot->zero);
	unsigned int len = hm_run_bytes(hd, slot->first + i, nr);
	struct hm_data run = {
		.first_chunk = cpu_to_be64(slot->first + i),
		.nr_chunks = cpu_to_be32(nr),
		.flags = cpu_to_be32(zero ? HM_DATA_ZERO : 0),
	};
	int r;

	/* The VM on the destination waits for pulls: they go first. */
	while (READ_ONCE(p->hd->phase) == HM_PHASE_POSTCOPY &&
	       time_before(jiffies, READ_ONCE(p->last_pull) + HM_PULL_BACKOFF) &&
	       !kthread_should_stop())
		schedule_timeout_interruptible(1);
	hm_push_pace(p, sizeof(struct hm_hdr) + sizeof(run) + HM_TAG_LEN +
			(zero ? 0 : len));
	r = hm_link_send_buf(hd, slot->generation, HM_FRAME_DATA, &run,
			     sizeof(run), &slot->buf, offset, zero ? 0 : len);
	if (r)
		return r;

	atomic64_add(nr, &hd->xfer.sent_chunks);
	if (zero)
		atomic64_add(nr, &hd->xfer.zero_chunks);
	else
		atomic64_add(len, &hd->xfer.data_bytes);
	return 0;
}

/* Send a slot whose read is done: stretches of data and of zero chunks. */
static int hm_push_send_slot(struct hm_pusher *p, struct hm_push_slot *slot)
{
	unsigned int i, j, offset = 0;
	bool zero;
	int r;

	hm_push_find_zero_chunks(p, slot);
	for (i = 0; i < slot->nr; i = j) {
		zero = test_bit(i, slot->zero);
		for (j = i + 1; j < slot->nr && test_bit(j, slot->zero) == zero; j++)
			;
		r = hm_push_send_run(p, slot, i, j - i, offset);
		if (r)
			return r;
		offset += hm_run_bytes(p->hd, slot->first + i, j - i);
	}
	return 0;
}

/*
 * Send every slot whose read has completed; if pushing is not wanted any
 * more (postcopy, or the link is down), give their chunks back instead.
 */
static void hm_push_send_read_slots(struct hm_pusher *p, bool wanted)
{
	struct hm_push_slot *slot;
	unsigned int i;
	bool stale;

	for (i = 0; i < HM_PUSH_SLOTS; i++) {
		slot = &p->slots[i];
		spin_lock_irq(&p->lock);
		if (slot->state != HM_SLOT_READ) {
			spin_unlock_irq(&p->lock);
			continue;
		}
		/* Data only once this session's SETUP is accepted. */
		stale = !wanted || slot->session != p->session ||
			p->setup_session != p->session || slot->read_status;
		if (stale)
			hm_push_requeue(p, slot);
		else
			slot->state = HM_SLOT_SENT;	/* ACKs may beat send() */
		spin_unlock_irq(&p->lock);

		if (stale) {
			if (slot->read_status)
				DMERR_LIMIT("%s: cannot read chunks %lu-%lu to push them: error %d",
					    dm_device_name(p->hd->md), slot->first,
					    slot->first + slot->nr - 1,
					    blk_status_to_errno(slot->read_status));
			continue;
		}
		if (hm_push_send_slot(p, slot)) {
			/* The link is going down; what went out is dropped. */
			spin_lock_irq(&p->lock);
			if (slot->state == HM_SLOT_SENT)
				hm_push_requeue(p, slot);
			spin_unlock_irq(&p->lock);
		}
	}
}

/* ---- Acknowledgements ---- */

static struct hm_push_slot *hm_push_find_slot(struct hm_pusher *p, u64 first,
					      u32 nr)
{
	struct hm_push_slot *slot;
	unsigned int i;

	for (i = 0; i < HM_PUSH_SLOTS; i++) {
		slot = &p->slots[i];
		if (slot->state == HM_SLOT_SENT && slot->session == p->session &&
		    first >= slot->first && first - slot->first < slot->nr &&
		    nr <= slot->nr - (first - slot->first))
			return slot;
	}
	return NULL;
}

/*
 * The destination wrote chunks @first..@first+@nr-1 (or failed to: they
 * are dirty again). Each chunk of a slot is acknowledged exactly once.
 */
int hm_push_recv_ack(struct hm_dev *hd, const struct hm_ack *ack)
{
	struct hm_pusher *p = hd->pusher;
	u64 first = be64_to_cpu(ack->first_chunk);
	u32 nr = be32_to_cpu(ack->nr_chunks);
	u32 status = be32_to_cpu(ack->status);
	bool again = status != HM_ACK_OK;
	struct hm_push_slot *slot;
	unsigned int i, base;
	bool done;

	if (status > HM_ACK_RETRY)
		return -EPROTO;
	spin_lock_irq(&p->lock);
	slot = nr ? hm_push_find_slot(p, first, nr) : NULL;
	base = slot ? first - slot->first : 0;
	if (!slot || find_next_bit(slot->acked, base + nr, base) < base + nr) {
		spin_unlock_irq(&p->lock);
		DMERR_LIMIT("%s: ACK of chunks %llu+%u that are not in flight",
			    dm_device_name(hd->md), first, nr);

		return -EPROTO;		/* nothing of ours, or twice */
	}
	for (i = base; i < base + nr; i++) {
		__set_bit(i, slot->acked);
		if (again)
			hm_mark_dirty(&hd->tracker, slot->first + i,
				      slot->first + i);
	}
	slot->nr_acked += nr;
	done = slot->nr_acked == slot->nr;
	if (done)
		slot->state = HM_SLOT_FREE;
	spin_unlock_irq(&p->lock);

	atomic_long_sub(nr, &hd->xfer.inflight);
	if (status == HM_ACK_FAILED) {
		DMERR_LIMIT("%s: destination failed to write chunks %llu-%llu: pushing again",
			    dm_device_name(hd->md), first, first + nr - 1);
		hm_push_io_failed(p);
	} else if (status == HM_ACK_OK) {
		hm_md_acked(hd, first, nr);
		atomic64_add(nr, &hd->xfer.acked_chunks);
		atomic64_add(hm_run_bytes(hd, first, nr), &hd->xfer.acked_bytes);
	}
	if (done)
		hm_pusher_kick(hd);
	return 0;
}

/* ---- Phases ---- */

/* The handover is acknowledged: the VM runs on the destination. */
static void hm_push_handed_over(struct hm_dev *hd)
{
	if (READ_ONCE(hd->phase) != HM_PHASE_HANDOVER)
		return;
	hd->xfer.handover_us = ktime_us_delta(ktime_get(), hd->fence_time);
	DMINFO("%s: handed over in %llu us: %ld chunks left to send",
	       dm_device_name(hd->md), hd->xfer.handover_us,
	       atomic_long_read(&hd->tracker.nr_dirty));
	/* Already fenced on disk: this only spares a restart the question. */
	hm_md_set_phase(hd, HM_PHASE_POSTCOPY);
	hm_dev_set_phase(hd, HM_PHASE_POSTCOPY);
}

static void hm_push_completed(struct hm_dev *hd)
{
	DMINFO("%s: migration complete: the destination holds every chunk",
	       dm_device_name(hd->md));
	hm_md_set_phase(hd, HM_PHASE_COMPLETE);
	hm_dev_set_phase(hd, HM_PHASE_COMPLETE);
}

/*
 * What the destination says of itself in SETUP_ACK must fit our phase: it
 * tells us of a HANDOVER_ACK or COMPLETE that the last session lost.
 */
static int hm_push_check_dest_phase(struct hm_dev *hd, u32 dest_phase)
{
	enum hm_phase phase = READ_ONCE(hd->phase);

	switch (dest_phase) {
	case HM_DEST_WAITING:
		if (phase == HM_PHASE_TRACKING || phase == HM_PHASE_HANDOVER)
			return 0;
		break;
	case HM_DEST_POSTCOPY:
	case HM_DEST_COMPLETE:
		if (phase == HM_PHASE_TRACKING)
			break;
		hm_push_handed_over(hd);
		if (dest_phase == HM_DEST_COMPLETE &&
		    READ_ONCE(hd->phase) == HM_PHASE_POSTCOPY)
			hm_push_completed(hd);
		return 0;
	case HM_DEST_ABORTED:
		DMERR("%s: the destination was aborted: create it anew",
		      dm_device_name(hd->md));
		hm_link_set_error(hd, "peer_aborted");
		return -ECANCELED;
	}
	DMERR("%s: the destination's phase (%u) does not fit ours (%u)",
	      dm_device_name(hd->md), dest_phase, phase);
	hm_link_set_error(hd, "peer_phase_mismatch");
	return -ECANCELED;
}

int hm_push_recv_handover_ack(struct hm_dev *hd,
			      const struct hm_handover_ack *ack)
{
	if (ack->status || ack->reserved ||
	    READ_ONCE(hd->phase) != HM_PHASE_HANDOVER)
		return -EPROTO;
	hm_push_handed_over(hd);
	return 0;
}

/* COMPLETE may repeat what SETUP_ACK said already. */
int hm_push_recv_complete(struct hm_dev *hd)
{
	switch (READ_ONCE(hd->phase)) {
	case HM_PHASE_POSTCOPY:
		hm_push_completed(hd);
		return 0;
	case HM_PHASE_COMPLETE:
		return 0;
	default:
		return -EPROTO;	/* before its HANDOVER_ACK */
	}
}

/* Every lane is up: tell the destination what we are (in SETUP). */
void hm_push_link_up(struct hm_dev *hd, u64 generation)
{
	struct hm_pusher *p = hd->pusher;
	struct hm_setup setup = {
		.target_sectors = cpu_to_be64(hd->len),
		.chunk_sectors = cpu_to_be32(hd->chunk_sectors),
	};

	memcpy(setup.migration_id, hd->migration_id, HM_MIGRATION_ID_LEN);

	spin_lock_irq(&p->lock);
	p->session++;
	p->generation = generation;
	spin_unlock_irq(&p->lock);
	hm_link_send_buf(hd, generation, HM_FRAME_SETUP, &setup, sizeof(setup),
			 NULL, 0, 0);
}

int hm_push_recv_setup_ack(struct hm_dev *hd, const struct hm_setup_ack *ack)
{
	struct hm_pusher *p = hd->pusher;
	u32 status = be32_to_cpu(ack->status);
	int r;

	if (status == HM_SETUP_GEOMETRY) {
		DMERR_LIMIT("%s: the destination's length or chunk size differs from ours",
			    dm_device_name(hd->md));
		hm_link_set_error(hd, "peer_geometry_mismatch");
		return -ECANCELED;
	}
	if (status == HM_SETUP_MIGRATION) {
		DMERR_LIMIT("%s: the destination belongs to another migration",
			    dm_device_name(hd->md));
		hm_link_set_error(hd, "peer_migration_mismatch");
		return -ECANCELED;
	}
	if (status != HM_SETUP_OK)
		return -EPROTO;
	r = hm_push_check_dest_phase(hd, be32_to_cpu(ack->phase));
	if (r)
		return r;

	spin_lock_irq(&p->lock);
	if (p->setup_session == p->session) {
		spin_unlock_irq(&p->lock);
		return -EPROTO;
	}
	p->setup_session = p->session;
	spin_unlock_irq(&p->lock);
	hm_pusher_kick(hd);
	return 0;
}

/*
 * The lanes are closed: what is unacknowledged is dirty again (in the
 * thread). Returns whether the destination had accepted the session.
 */
bool hm_push_link_down(struct hm_dev *hd)
{
	struct hm_pusher *p = hd->pusher;
	struct hm_pull_req *req, *tmp;
	LIST_HEAD(stale);
	bool was_set_up;

	spin_lock_irq(&p->lock);
	was_set_up = p->setup_session == p->session;
	p->session++;
	p->generation = 0;
	/* The destination asks again in the next session. */
	list_splice_init(&p->pull_reqs, &stale);
	p->nr_pull_reqs = 0;
	spin_unlock_irq(&p->lock);
	list_for_each_entry_safe(req, tmp, &stale, list)
		kfree(req);
	hm_pusher_kick(hd);
	return was_set_up;
}

/* ---- Progress ---- */

static bool hm_push_converged(struct hm_pusher *p)
{
	struct hm_dev *hd = p->hd;
	long dirty = atomic_long_read(&hd->tracker.nr_dirty);
	long inflight = atomic_long_read(&hd->xfer.inflight);
	bool stalled = p->stalled_passes >= HM_STALL_PASSES;

	if (!hm_push_session_ready(p) ||
	    READ_ONCE(hd->phase) != HM_PHASE_TRACKING)
		return false;
	switch (READ_ONCE(hd->policy)) {
	case HM_POLICY_POSTCOPY:
		return true;
	case HM_POLICY_PRECOPY:
		return dirty + inflight <= READ_ONCE(hd->ready_chunks) || stalled;
	case HM_POLICY_HYBRID:
		return (p->nothing_pushable && !inflight) || stalled;
	}
	return false;
}

/* "ready" in status; a dm event when it becomes true. */
static void hm_push_update_ready(struct hm_pusher *p)
{
	struct hm_dev *hd = p->hd;
	bool ready = hm_push_converged(p);

	if (ready == READ_ONCE(hd->xfer.ready))
		return;
	WRITE_ONCE(hd->xfer.ready, ready);
	if (ready) {
		DMINFO("%s: ready for handover: %ld chunks dirty, %lu of them hot",
		       dm_device_name(hd->md),
		       atomic_long_read(&hd->tracker.nr_dirty),
		       READ_ONCE(hd->xfer.deferred));
		hm_dev_event(hd);
	}
}

/* A new session, or new settings: judge convergence afresh. */
static void hm_push_reset_progress(struct hm_pusher *p)
{
	p->best_dirty = LONG_MAX;
	p->stalled_passes = 0;
	p->nothing_pushable = false;
}

static void hm_push_tick(struct hm_pusher *p)
{
	struct hm_dev *hd = p->hd;

	hm_rate_update(&hd->xfer.rate, atomic64_read(&hd->xfer.acked_bytes));
	hm_rate_update(&hd->xfer.dirty_rate,
		       atomic64_read(&hd->tracker.nr_dirtied));
	if (READ_ONCE(hd->phase) == HM_PHASE_TRACKING &&
	    time_after(jiffies, p->next_decay)) {
		hm_tracker_decay(&hd->tracker);
		p->next_decay = jiffies + HM_DECAY_INTERVAL;
	}
}

/*
 * Push while the VM runs here (unless post-copy only), prefetch once it
 * runs on the destination; while handing over only precopy pushes: the
 * rest of its dirty set must cross before the switch.
 */
static bool hm_push_wanted(struct hm_pusher *p)
{
	enum hm_policy policy = READ_ONCE(p->hd->policy);

	if (!hm_push_session_ready(p))
		return false;
	switch (READ_ONCE(p->hd->phase)) {
	case HM_PHASE_TRACKING:
		return policy != HM_POLICY_POSTCOPY;
	case HM_PHASE_HANDOVER:
		return policy == HM_POLICY_PRECOPY;
	case HM_PHASE_POSTCOPY:
		return true;
	default:
		return false;
	}
}

/* ---- Handover ---- */

/*
 * Write bits @first..@first+@nbits-1 of @bitmap as bytes, LSB first, a page
 * at a time and a word at a time: a 1 TiB disk has 2 MiB of bitmap, and a
 * loop per bit made handover take seconds. @first is on a page's worth of
 * bits, so every page starts on a word.
 */
static void hm_bitmap_to_buf(const unsigned long *bitmap, unsigned long first,
			     unsigned int nbits, struct hm_buf *buf)
{
	const unsigned int per_page = PAGE_SIZE * BITS_PER_BYTE;
	unsigned int i, n, w;
	u64 *words;

	for (i = 0; i < nbits; i += n) {
		n = min(nbits - i, per_page);
		words = page_address(buf->pages[i / per_page]);
		bitmap_to_arr64(words, bitmap + BIT_WORD(first + i), n);
		for (w = 0; w < DIV_ROUND_UP(n, 64); w++)
			cpu_to_le64s(&words[w]);
	}
}

/*
 * The next piece of the map at or after chunk @from: the pages of bits
 * (32768 chunks with 4 KiB pages) that hold a missing chunk, as many
 * adjacent ones as a frame takes. Pages without one are left out, so a
 * large disk with few chunks missing hands over with a few small frames,
 * and one with many missing with few large ones. Returns its end, or 0.
 */
static unsigned long hm_map_piece(const unsigned long *dirty,
				  unsigned long nr_chunks, unsigned long from,
				  unsigned long *first)
{
	const unsigned long per_page = PAGE_SIZE * BITS_PER_BYTE;
	const unsigned long per_frame = HM_MAX_DATA_PIECE * BITS_PER_BYTE;
	unsigned long next = find_next_bit(dirty, nr_chunks, from);
	unsigned long end, page_end;

	if (next >= nr_chunks)
		return 0;
	*first = round_down(next, per_page);
	end = *first;
	while (end < nr_chunks && end - *first < per_frame) {
		page_end = min(end + per_page, nr_chunks);
		if (find_next_bit(dirty, page_end, end) >= page_end)
			break;
		end = page_end;
	}
	return end;
}

/*
 * Tell the destination which chunks it lacks (the dirty ones: nothing is
 * in flight any more), then switch it over.
 */
static int hm_push_send_map(struct hm_pusher *p)
{
	struct hm_tracker *t = &p->hd->tracker;
	struct hm_buf *buf = &p->slots[0].buf;	/* every slot is free */
	struct hm_handover_map map = { };
	struct hm_handover ho;
	unsigned long first, end;
	unsigned int nr;
	int r;

	BUILD_BUG_ON(HM_MAX_DATA_PIECE % PAGE_SIZE);
	end = 0;
	while ((end = hm_map_piece(t->dirty, t->nr_chunks, end, &first))) {
		nr = end - first;
		hm_bitmap_to_buf(t->dirty, first, nr, buf);
		map.first_chunk = cpu_to_be64(first);
		map.nr_chunks = cpu_to_be32(nr);
		r = hm_link_send_buf(p->hd, p->generation, HM_FRAME_HANDOVER_MAP,
				     &map, sizeof(map), buf, 0,
				     DIV_ROUND_UP(nr, 8));
		if (r)
			return r;
	}
	ho.nr_missing = cpu_to_be64(bitmap_weight(t->dirty, t->nr_chunks));
	return hm_link_send_buf(p->hd, p->generation, HM_FRAME_HANDOVER, &ho,
				sizeof(ho), NULL, 0, 0);
}

/* Handing over: once nothing is in flight, send the map (once a session). */
static void hm_push_handover_step(struct hm_pusher *p)
{
	struct hm_dev *hd = p->hd;

	if (READ_ONCE(hd->phase) != HM_PHASE_HANDOVER ||
	    !hm_push_session_ready(p) || p->map_session == p->seen_session ||
	    atomic_long_read(&hd->xfer.inflight) ||
	    (READ_ONCE(hd->policy) == HM_POLICY_PRECOPY &&
	     atomic_long_read(&hd->tracker.nr_dirty)))
		return;
	/* A restart must find us fenced before the destination can write. */
	if (hm_md_fence(hd))
		return;
	if (!hm_push_send_map(p))
		p->map_session = p->seen_session;
}

static bool hm_push_handed(struct hm_dev *hd)
{
	return READ_ONCE(hd->phase) != HM_PHASE_HANDOVER;
}

/*
 * handover: the hypervisor has paused the VM here. Fence (later writes
 * fail), wait for the writes in flight and for pulls read before the
 * fence, then let the pusher send the map; wait for the destination to
 * take over. Called under hd->msg_lock.
 */
int hm_push_handover(struct hm_dev *hd)
{
	struct hm_pusher *p = hd->pusher;
	long left;

	if (READ_ONCE(hd->phase) != HM_PHASE_TRACKING) {
		DMERR("%s: handover: already handed over", dm_device_name(hd->md));
		return -EINVAL;
	}
	if (!p || !hm_push_session_ready(p)) {
		DMERR("%s: handover: not connected to a destination",
		      dm_device_name(hd->md));
		return -ENOTCONN;
	}
	if (hm_md_failed(hd)) {
		DMERR("%s: handover: the metadata device failed",
		      dm_device_name(hd->md));
		return -EIO;
	}

	hd->fence_time = ktime_get();
	WRITE_ONCE(hd->fenced, true);
	smp_mb();	/* pairs with hm_write_begin() */
	wait_event(hd->wait, !atomic_read(&hd->writes_in_flight));
	/* A pull read before the fence could be stale: its reply goes first. */
	flush_workqueue(p->pull_wq);
	DMINFO("%s: fenced for handover: %ld chunks dirty, %ld in flight",
	       dm_device_name(hd->md), atomic_long_read(&hd->tracker.nr_dirty),
	       atomic_long_read(&hd->xfer.inflight));
	hm_dev_set_phase(hd, HM_PHASE_HANDOVER);
	hm_pusher_kick(hd);

	left = wait_event_interruptible_timeout(hd->wait, hm_push_handed(hd),
						HM_HANDOVER_TIMEOUT);
	if (left > 0)
		return 0;
	DMERR("%s: handover in progress for %u s: see status",
	      dm_device_name(hd->md), HM_HANDOVER_TIMEOUT / HZ);
	return left ? left : -ETIMEDOUT;
}

/*
 * The destination's VM wrote (auto_handover): hand over as if the operator
 * had asked. Not in the receiver thread, which must see the HANDOVER_ACK,
 * and only with the message lock (a message may be stopping the link).
 */
static void hm_push_handover_work(struct work_struct *work)
{
	struct hm_pusher *p = container_of(to_delayed_work(work),
					   struct hm_pusher, handover_work);
	struct hm_dev *hd = p->hd;

	if (!mutex_trylock(&hd->msg_lock)) {
		queue_delayed_work(system_long_wq, &p->handover_work, HZ / 100);
		return;
	}
	if (READ_ONCE(hd->phase) == HM_PHASE_TRACKING) {
		DMINFO("%s: the destination asks for handover (auto_handover)",
		       dm_device_name(hd->md));
		hm_push_handover(hd);
	}
	mutex_unlock(&hd->msg_lock);
}

int hm_push_recv_handover_request(struct hm_dev *hd)
{
	struct hm_pusher *p = hd->pusher;

	queue_delayed_work(system_long_wq, &p->handover_work, 0);
	return 0;
}

/* ---- Abort ---- */

int hm_push_recv_abort_ack(struct hm_dev *hd)
{
	struct hm_pusher *p = hd->pusher;

	if (!READ_ONCE(p->abort_sent) || READ_ONCE(p->abort_acked))
		return -EPROTO;		/* we did not ask */
	WRITE_ONCE(p->abort_acked, true);
	wake_up_all(&hd->wait);
	return 0;
}

/*
 * abort, before handover: tell the destination (it refuses all I/O from
 * then on), close the link and forget what it holds: every chunk is dirty
 * again for the next migration. The VM never noticed. Called under
 * hd->msg_lock.
 */
int hm_push_abort(struct hm_dev *hd)
{
	struct hm_pusher *p = hd->pusher;
	bool told = false;

	if (READ_ONCE(hd->phase) != HM_PHASE_TRACKING) {
		DMERR("%s: abort: the VM has been handed over; finish the migration instead",
		      dm_device_name(hd->md));
		return -EPERM;
	}
	if (p && hm_push_session_ready(p)) {
		WRITE_ONCE(p->abort_sent, true);
		told = !hm_link_send(hd, HM_FRAME_ABORT, NULL, 0) &&
		       wait_event_timeout(hd->wait, READ_ONCE(p->abort_acked),
					  HM_ABORT_TIMEOUT);
	}
	if (told)
		DMINFO("%s: migration aborted", dm_device_name(hd->md));
	else
		DMWARN("%s: migration aborted; the destination was not told: remove it",
		       dm_device_name(hd->md));
	hm_link_stop(hd);
	hm_mark_all_dirty(&hd->tracker);
	hm_dev_event(hd);
	return 0;
}

/* Add the chunks claimed and not yet acknowledged to @bitmap. */
void hm_push_mark_inflight(struct hm_dev *hd, unsigned long *bitmap)
{
	struct hm_pusher *p = hd->pusher;
	struct hm_push_slot *slot;
	unsigned int i, s;

	if (!p)
		return;
	spin_lock_irq(&p->lock);
	for (s = 0; s < HM_PUSH_SLOTS; s++) {
		slot = &p->slots[s];
		if (slot->state == HM_SLOT_FREE)
			continue;
		for (i = 0; i < slot->nr; i++)
			if (!test_bit(i, slot->acked))
				__set_bit(slot->first + i, bitmap);
	}
	spin_unlock_irq(&p->lock);
}

/* ---- Pulls ---- */

/* Remember a read miss: the chunks after it are prefetched next. */
static void hm_push_note_miss(struct hm_pusher *p, unsigned long chunk)
{
	WRITE_ONCE(p->near_miss[p->next_near_miss], chunk);
	p->next_near_miss = (p->next_near_miss + 1) % HM_NEAR_MISSES;
}

/*
 * Read one chunk and send it as PULL_DATA on the control lane. Returns the
 * read's error: the destination's VM waits for the chunk, so it is tried
 * again.
 */
static int hm_push_serve_pull(struct hm_pusher *p, unsigned long chunk,
			      u64 generation)
{
	struct hm_dev *hd = p->hd;
	unsigned int len = hm_run_bytes(hd, chunk, 1);
	struct hm_data run = {
		.first_chunk = cpu_to_be64(chunk),
		.nr_chunks = cpu_to_be32(1),
	};
	struct bio *bio;
	bool zero;
	int r;

	bio = hm_buf_bio(hd, &p->pull_buf, 0, len, REQ_OP_READ | REQ_SYNC,
			 hm_chunk_sector(hd, chunk));
	r = submit_bio_wait(bio);
	bio_put(bio);
	if (r) {
		DMERR_LIMIT("%s: cannot read chunk %lu for a pull: error %d",
			    dm_device_name(hd->md), chunk, r);
		hm_dev_io_error(hd);
		return r;
	}
	zero = hm_buf_is_zero(&p->pull_buf, 0, len);
	run.flags = cpu_to_be32(zero ? HM_DATA_ZERO : 0);
	WRITE_ONCE(p->last_pull, jiffies);
	if (!hm_link_send_buf(hd, generation, HM_FRAME_PULL_DATA, &run,
			      sizeof(run), &p->pull_buf, 0, zero ? 0 : len))
		atomic64_inc(&hd->xfer.pulls);
	hm_push_note_miss(p, chunk);
	return 0;
}

static void hm_push_pull_work(struct work_struct *work)
{
	struct hm_pusher *p = container_of(to_delayed_work(work),
					   struct hm_pusher, pull_work);
	struct hm_pull_req *req;

	for (;;) {
		spin_lock_irq(&p->lock);
		req = list_first_entry_or_null(&p->pull_reqs,
					       struct hm_pull_req, list);
		if (req) {
			list_del(&req->list);
			p->nr_pull_reqs--;
		}
		spin_unlock_irq(&p->lock);
		if (!req)
			return;
		if (hm_push_serve_pull(p, req->chunk, req->generation)) {
			spin_lock_irq(&p->lock);
			list_add(&req->list, &p->pull_reqs);
			p->nr_pull_reqs++;
			spin_unlock_irq(&p->lock);
			queue_delayed_work(p->pull_wq, &p->pull_work,
					   HM_IO_RETRY_DELAY);
			return;
		}
		kfree(req);
	}
}

/* The destination's VM needs a chunk now (receiver thread). */
int hm_push_recv_pull(struct hm_dev *hd, const struct hm_pull *pull)
{
	struct hm_pusher *p = hd->pusher;
	u64 chunk = be64_to_cpu(pull->chunk);
	struct hm_pull_req *req;

	if (chunk >= hd->tracker.nr_chunks)
		return -EPROTO;
	req = kmalloc(sizeof(*req), GFP_NOIO);
	if (!req)
		return -ENOMEM;
	req->chunk = chunk;
	WRITE_ONCE(p->last_pull, jiffies);
	spin_lock_irq(&p->lock);
	req->generation = p->generation;
	/*
	 * Answered in this session only. Before our SETUP (no generation yet)
	 * the destination has no session to ask in.
	 */
	if (!req->generation || p->nr_pull_reqs >= HM_MAX_PULL_REQS) {
		spin_unlock_irq(&p->lock);
		kfree(req);
		return -EPROTO;	/* or more than any VM has in flight */
	}
	list_add_tail(&req->list, &p->pull_reqs);
	p->nr_pull_reqs++;
	spin_unlock_irq(&p->lock);
	mod_delayed_work(p->pull_wq, &p->pull_work, 0);
	return 0;
}

static bool hm_push_reading(struct hm_pusher *p)
{
	unsigned int i;

	for (i = 0; i < HM_PUSH_SLOTS; i++)
		if (READ_ONCE(p->slots[i].state) == HM_SLOT_READING)
			return true;
	return false;
}

static int hm_pusher_thread(void *data)
{
	struct hm_pusher *p = data;
	unsigned int noio = memalloc_noio_save();
	bool wanted;
	u64 session;

	while (!kthread_should_stop()) {
		WRITE_ONCE(p->kicked, false);
		session = READ_ONCE(p->session);
		if (session != p->seen_session) {
			p->seen_session = session;
			hm_push_reset_progress(p);
		}
		hm_push_requeue_stale(p, false);
		wanted = hm_push_wanted(p);
		hm_push_send_read_slots(p, wanted);
		if (wanted)
			hm_push_fill(p);
		hm_push_handover_step(p);
		hm_push_tick(p);
		hm_push_update_ready(p);
		wait_event_interruptible_timeout(p->wait, READ_ONCE(p->kicked) ||
						 kthread_should_stop(),
						 HM_PUSH_POLL);
	}

	/* Reads still in flight write into our pages: let them finish. */
	wait_event(p->wait, !hm_push_reading(p));
	hm_push_requeue_stale(p, true);
	WRITE_ONCE(p->hd->xfer.ready, false);
	memalloc_noio_restore(noio);
	return 0;
}

/* ---- Life cycle ---- */

static void hm_pusher_free(struct hm_pusher *p)
{
	struct hm_pull_req *req, *tmp;
	unsigned int i;

	if (p->pull_wq)
		destroy_workqueue(p->pull_wq);
	list_for_each_entry_safe(req, tmp, &p->pull_reqs, list)
		kfree(req);
	hm_buf_free_pages(&p->pull_buf);
	for (i = 0; i < HM_PUSH_SLOTS; i++)
		hm_buf_free_pages(&p->slots[i].buf);
	kfree(p);
}

/* A source opens a link: start pushing once the destination is set up. */
int hm_pusher_create(struct hm_dev *hd, const char *dev_name)
{
	unsigned int chunk_bytes = hd->chunk_sectors << SECTOR_SHIFT;
	struct task_struct *t;
	struct hm_pusher *p;
	unsigned int i;
	int r = -ENOMEM;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p->hd = hd;
	init_waitqueue_head(&p->wait);
	spin_lock_init(&p->lock);
	INIT_LIST_HEAD(&p->pull_reqs);
	INIT_DELAYED_WORK(&p->pull_work, hm_push_pull_work);
	INIT_DELAYED_WORK(&p->handover_work, hm_push_handover_work);
	p->setup_session = U64_MAX;
	p->map_session = U64_MAX;
	p->chunks_per_slot = HM_MAX_DATA_PIECE / chunk_bytes;
	p->next_decay = jiffies + HM_DECAY_INTERVAL;
	/* No pull yet: jiffies start near a wrap, 0 is not "long ago". */
	p->last_pull = jiffies - HM_PULL_BACKOFF;
	for (i = 0; i < HM_NEAR_MISSES; i++)
		p->near_miss[i] = ULONG_MAX;
	hm_push_reset_progress(p);
	for (i = 0; i < HM_PUSH_SLOTS; i++) {
		p->slots[i].p = p;
		if (hm_buf_alloc_pages(&p->slots[i].buf))
			goto bad;
	}
	if (hm_buf_alloc_pages(&p->pull_buf))
		goto bad;
	p->pull_wq = alloc_ordered_workqueue("hm-pull/%s",
					     WQ_MEM_RECLAIM | WQ_HIGHPRI,
					     dev_name);
	if (!p->pull_wq)
		goto bad;

	t = kthread_create(hm_pusher_thread, p, "hm-push/%s", dev_name);
	if (IS_ERR(t)) {
		r = PTR_ERR(t);
		goto bad;
	}
	get_task_struct(t);
	/* Background work: the VM's own I/O threads go first. */
	set_user_nice(t, HM_PUSH_NICE);
	p->thread = t;
	hd->pusher = p;
	wake_up_process(t);
	return 0;
bad:
	hm_pusher_free(p);
	return r;
}

/* After the link's lanes are closed: unacknowledged chunks are dirty again. */
void hm_pusher_destroy(struct hm_dev *hd)
{
	struct hm_pusher *p = hd->pusher;

	if (!p)
		return;
	cancel_delayed_work_sync(&p->handover_work);
	kthread_stop(p->thread);
	put_task_struct(p->thread);
	cancel_delayed_work_sync(&p->pull_work);
	hd->pusher = NULL;
	hm_pusher_free(p);
}
