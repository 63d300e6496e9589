// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-hybridmig: the metadata device, so that a migration survives a crash.
 *
 * Layout (Documentation/hybridmig-metadata.rst), in 4 KiB blocks:
 *
 *   block 0, 1	two superblock slots; a commit writes the slot after the
 *		one it replaces, so a torn write leaves the other intact
 *   block 2..	the chunk bitmap, little-endian 64-bit words
 *
 * The superblock with a good checksum and the highest generation is the
 * state. Whether the bitmap means anything depends on it:
 *
 *   source, tracking	only after a clean shutdown (HM_SB_CLEAN): the dirty
 *			chunks; otherwise every chunk is dirty on restart
 *   source, later	the chunks the destination has not acknowledged
 *   dest, postcopy	the chunks the destination lacks
 *
 * A bitmap goes from meaningless to meaningful only through a superblock
 * write that follows it, and afterwards its bits only ever clear, each
 * after the data it stands for is durable (an ACK on the destination is
 * sent only after a commit). So a commit can rewrite bitmap blocks in
 * place: any mix of old and new blocks, torn or not, is a superset of the
 * truth, and a superset only costs chunks sent twice.
 */
#include "dm-hybridmig.h"

#include <linux/bio.h>
#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/crc32.h>
#include <linux/device-mapper.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#define DM_MSG_PREFIX "hybridmig"

#define HM_MD_BLOCK_SIZE	4096U
#define HM_MD_BLOCK_SECTORS	(HM_MD_BLOCK_SIZE >> SECTOR_SHIFT)
#define HM_MD_BLOCK_BITS	(HM_MD_BLOCK_SIZE * 8UL)
#define HM_MD_SB_SLOTS		2
#define HM_MD_BITMAP_SECTOR	(HM_MD_SB_SLOTS * HM_MD_BLOCK_SECTORS)
#define HM_MD_MAGIC		0x47494d48U	/* "HMIG" on disk */
#define HM_MD_VERSION		1U
#define HM_MD_CSUM_SEED		0x48796272U
#define HM_MD_COMMIT_INTERVAL	(5 * HZ)

/* Superblock flags. */
#define HM_SB_FENCED		BIT(0)	/* source: writes refused */
#define HM_SB_CLEAN		BIT(1)	/* source, tracking: the bitmap is exact */
#define HM_SB_FLAGS		(HM_SB_FENCED | HM_SB_CLEAN)

struct hm_disk_sb {
	__le32 csum;		/* CRC-32 of the rest of this structure */
	__le32 magic;
	__le32 version;
	__le32 flags;
	__le64 generation;	/* +1 per commit */
	__le64 target_sectors;
	__le32 chunk_sectors;
	__le32 role;		/* enum hm_role */
	__le32 phase;		/* enum hm_phase */
	__le32 has_migration_id;
	__le64 nr_chunks;
	__le64 bitmap_sector;
	u8 migration_id[HM_MIGRATION_ID_LEN];
} __packed;

struct hm_md {
	struct hm_dev *hd;
	struct block_device *bdev;
	struct mutex lock;		/* one commit at a time; the state below */
	u64 generation;
	enum hm_phase disk_phase;
	u32 disk_flags;
	bool failed;
	unsigned long nr_blocks;
	struct page **blocks;		/* the bitmap as last written */
	unsigned long *stale;		/* blocks the next write must write */
	unsigned long *touched;		/* blocks whose live bits cleared since */
	void *scratch;			/* one block, packed for comparison */
	struct page *sb_page;

	/* source, from the fence on: not yet acknowledged by the destination */
	unsigned long *unacked;

	struct workqueue_struct *wq;
	struct delayed_work commit_work;
	struct work_struct defer_work;
	spinlock_t defer_lock;		/* guards deferred */
	struct bio_list deferred;	/* flushes and FUA writes: after a commit */
};

/* ---- Superblock ---- */

static u32 hm_sb_csum(const struct hm_disk_sb *sb)
{
	return crc32_le(HM_MD_CSUM_SEED, (const u8 *)sb + sizeof(sb->csum),
			sizeof(*sb) - sizeof(sb->csum));
}

static bool hm_sb_valid(const struct hm_disk_sb *sb)
{
	return le32_to_cpu(sb->magic) == HM_MD_MAGIC &&
	       le32_to_cpu(sb->csum) == hm_sb_csum(sb);
}

static bool hm_md_bitmap_valid(enum hm_role role, enum hm_phase phase,
			       u32 flags)
{
	if (role == HM_ROLE_SOURCE)
		return phase != HM_PHASE_TRACKING || (flags & HM_SB_CLEAN);
	return phase == HM_PHASE_POSTCOPY;
}

static unsigned long hm_md_blocks(unsigned long nr_chunks)
{
	return DIV_ROUND_UP(nr_chunks, HM_MD_BLOCK_BITS);
}

/* ---- Block I/O ---- */

static int hm_md_rw(struct hm_md *md, struct page **pages, unsigned int nr,
		    sector_t sector, blk_opf_t opf)
{
	struct bio *bio = bio_alloc(md->bdev, nr, opf, GFP_NOIO);
	unsigned int i;
	int r;

	bio->bi_iter.bi_sector = sector;
	for (i = 0; i < nr; i++)
		__bio_add_page(bio, pages[i], HM_MD_BLOCK_SIZE, 0);
	r = submit_bio_wait(bio);
	bio_put(bio);
	return r;
}

/* Read or write bitmap blocks @first..@first+@nr-1, a bio at a time. */
static int hm_md_rw_blocks(struct hm_md *md, unsigned long first,
			   unsigned long nr, blk_opf_t opf)
{
	unsigned int n;
	int r;

	for (; nr; first += n, nr -= n) {
		n = min_t(unsigned long, nr, BIO_MAX_VECS);
		r = hm_md_rw(md, md->blocks + first, n,
			     HM_MD_BITMAP_SECTOR + first * HM_MD_BLOCK_SECTORS,
			     opf);
		if (r)
			return r;
	}
	return 0;
}

/* Write the stale bitmap blocks, in runs of adjacent ones. */
static int hm_md_write_stale(struct hm_md *md)
{
	unsigned long start, end = 0;
	int r;

	for (;;) {
		start = find_next_bit(md->stale, md->nr_blocks, end);
		if (start >= md->nr_blocks)
			return 0;
		end = find_next_zero_bit(md->stale, md->nr_blocks, start);
		r = hm_md_rw_blocks(md, start, end - start,
				    REQ_OP_WRITE | REQ_SYNC);
		if (r)
			return r;
		bitmap_clear(md->stale, start, end - start);
	}
}

/*
 * Pack @bitmap block by block, as it goes on disk, and note the blocks
 * that differ from what was written last. Only the blocks whose bits
 * cleared since (hm_md_touch) can differ, unless @full: a new bitmap.
 */
static bool hm_md_pack(struct hm_md *md, const unsigned long *bitmap,
		       bool full)
{
	unsigned long nr_chunks = md->hd->tracker.nr_chunks;
	unsigned long b, first, nbits;
	__le64 *word = md->scratch;
	bool changed = false;
	unsigned int i;

	for (b = 0; b < md->nr_blocks; b++) {
		/* Fully ordered: the bits cleared before the mark are seen. */
		if (!test_and_clear_bit(b, md->touched) && !full)
			continue;
		first = b * HM_MD_BLOCK_BITS;
		nbits = min(HM_MD_BLOCK_BITS, nr_chunks - first);
		memset(md->scratch, 0, HM_MD_BLOCK_SIZE);
		bitmap_to_arr64(md->scratch, bitmap + first / BITS_PER_LONG,
				nbits);
		for (i = 0; i < DIV_ROUND_UP(nbits, 64); i++)
			word[i] = cpu_to_le64(((u64 *)md->scratch)[i]);
		if (!full && !memcmp(md->scratch, page_address(md->blocks[b]),
				     HM_MD_BLOCK_SIZE))
			continue;
		memcpy(page_address(md->blocks[b]), md->scratch,
		       HM_MD_BLOCK_SIZE);
		__set_bit(b, md->stale);
		changed = true;
	}
	return changed;
}

static void hm_md_unpack(struct hm_md *md, unsigned long *bitmap)
{
	unsigned long nr_chunks = md->hd->tracker.nr_chunks;
	unsigned long b, first, nbits;
	__le64 *disk;
	u64 *word = md->scratch;
	unsigned int i;

	for (b = 0; b < md->nr_blocks; b++) {
		first = b * HM_MD_BLOCK_BITS;
		nbits = min(HM_MD_BLOCK_BITS, nr_chunks - first);
		disk = page_address(md->blocks[b]);
		for (i = 0; i < DIV_ROUND_UP(nbits, 64); i++)
			word[i] = le64_to_cpu(disk[i]);
		bitmap_from_arr64(bitmap + first / BITS_PER_LONG, word, nbits);
	}
}

static void hm_md_fill_sb(struct hm_md *md, struct hm_disk_sb *sb,
			  u64 generation, enum hm_phase phase, u32 flags)
{
	struct hm_dev *hd = md->hd;

	memset(page_address(md->sb_page), 0, HM_MD_BLOCK_SIZE);
	sb->magic = cpu_to_le32(HM_MD_MAGIC);
	sb->version = cpu_to_le32(HM_MD_VERSION);
	sb->flags = cpu_to_le32(flags);
	sb->generation = cpu_to_le64(generation);
	sb->target_sectors = cpu_to_le64(hd->len);
	sb->chunk_sectors = cpu_to_le32(hd->chunk_sectors);
	sb->role = cpu_to_le32(hd->role);
	sb->phase = cpu_to_le32(phase);
	sb->has_migration_id = cpu_to_le32(hd->has_migration_id);
	memcpy(sb->migration_id, hd->migration_id, HM_MIGRATION_ID_LEN);
	sb->nr_chunks = cpu_to_le64(hd->tracker.nr_chunks);
	sb->bitmap_sector = cpu_to_le64(HM_MD_BITMAP_SECTOR);
	sb->csum = cpu_to_le32(hm_sb_csum(sb));
}

/* The atomic switch: the next slot, after everything written before it. */
static int hm_md_write_sb(struct hm_md *md, enum hm_phase phase, u32 flags)
{
	u64 generation = md->generation + 1;
	int r;

	hm_md_fill_sb(md, page_address(md->sb_page), generation, phase, flags);
	r = hm_md_rw(md, &md->sb_page, 1,
		     (generation % HM_MD_SB_SLOTS) * HM_MD_BLOCK_SECTORS,
		     REQ_OP_WRITE | REQ_SYNC | REQ_PREFLUSH | REQ_FUA);
	if (r)
		return r;
	md->generation = generation;
	md->disk_phase = phase;
	md->disk_flags = flags;
	return 0;
}

static void hm_md_fail(struct hm_md *md, const char *what, int r)
{
	struct hm_dev *hd = md->hd;

	if (!md->failed)
		DMERR("%s: metadata %s failed (error %d): flushes fail from now on",
		      dm_device_name(hd->md), what, r);
	md->failed = true;
	hm_dev_io_error(hd);
}

/* How hm_md_write() writes. */
#define HM_MD_FULL	BIT(0)	/* every bitmap block, changed or not */
#define HM_MD_SYNC	BIT(1)	/* flush the data device even if nothing changed */
#define HM_MD_FORCE	BIT(2)	/* a superblock even if nothing changed */

/*
 * Write a new state: @bitmap (if any) into the bitmap blocks, then the
 * superblock with @phase and @flags. Nothing is written if nothing changed.
 * A destination's data device is flushed before its bitmap is written, so
 * that no bit says "present" before the chunk's data is durable (and with
 * HM_MD_SYNC in any case: a flush or an ACK needs it). Under md->lock.
 */
static int hm_md_write(struct hm_md *md, const unsigned long *bitmap,
		       enum hm_phase phase, u32 flags, unsigned int how)
{
	bool bits, changed;
	int r;

	lockdep_assert_held(&md->lock);
	if (md->failed)
		return -EIO;
	bits = bitmap && hm_md_pack(md, bitmap, how & HM_MD_FULL);
	changed = bits || phase != md->disk_phase || flags != md->disk_flags ||
		  (how & HM_MD_FORCE);
	if ((how & HM_MD_SYNC) || (bits && md->hd->role == HM_ROLE_DEST)) {
		/* The packed blocks are marked stale: no retry may skip this. */
		r = blkdev_issue_flush(md->hd->data_bdev);
		if (r) {
			hm_md_fail(md, "data device flush", r);
			return r;
		}
	}
	if (!changed)
		return 0;
	r = hm_md_write_stale(md);
	if (!r)
		r = hm_md_write_sb(md, phase, flags);
	if (r)
		hm_md_fail(md, "write", r);
	return r;
}

/* What this role keeps in the bitmap, if the disk state gives it a meaning. */
static const unsigned long *hm_md_live_bitmap(struct hm_md *md)
{
	struct hm_dev *hd = md->hd;

	if (!hm_md_bitmap_valid(hd->role, md->disk_phase, md->disk_flags))
		return NULL;
	if (hd->role == HM_ROLE_DEST)
		return hd->tracker.dirty;
	return md->disk_phase == HM_PHASE_TRACKING ? NULL : md->unacked;
}

/* Commit what changed, keeping the phase and flags on disk. */
static int hm_md_sync(struct hm_md *md, unsigned int how)
{
	int r;

	mutex_lock(&md->lock);
	r = hm_md_write(md, hm_md_live_bitmap(md), md->disk_phase,
			md->disk_flags, how);
	mutex_unlock(&md->lock);
	return r;
}

/* ---- Commits ---- */

/*
 * Make what the destination holds durable: its data device flushed, then
 * the chunks that arrived since the last commit recorded as present.
 * Without a metadata device only the flush. Before ACKs and flushes.
 */
int hm_md_commit(struct hm_dev *hd)
{
	struct hm_md *md = hd->meta;
	int r;

	if (md)
		return hm_md_sync(md, HM_MD_SYNC);
	/* Nothing to record: a failed flush fails the ACKs, tried again. */
	r = blkdev_issue_flush(hd->data_bdev);
	if (r)
		hm_dev_io_error(hd);
	return r;
}

static void hm_md_commit_work(struct work_struct *work)
{
	struct hm_md *md = container_of(to_delayed_work(work), struct hm_md,
					commit_work);

	hm_md_sync(md, 0);
	queue_delayed_work(md->wq, &md->commit_work, HM_MD_COMMIT_INTERVAL);
}

/* Record a phase of the migration (the bitmap keeps its meaning). */
int hm_md_set_phase(struct hm_dev *hd, enum hm_phase phase)
{
	struct hm_md *md = hd->meta;
	u32 flags;
	int r;

	if (!md)
		return 0;
	mutex_lock(&md->lock);
	flags = READ_ONCE(hd->fenced) ? HM_SB_FENCED : 0;
	r = hm_md_write(md, hm_md_live_bitmap(md), phase, flags, 0);
	mutex_unlock(&md->lock);
	return r;
}

/* The migration identifier changed (adopted, or a new migration). */
int hm_md_set_migration_id(struct hm_dev *hd)
{
	struct hm_md *md = hd->meta;
	int r;

	if (!md)
		return 0;
	mutex_lock(&md->lock);
	r = hm_md_write(md, NULL, md->disk_phase, md->disk_flags, HM_MD_FORCE);
	mutex_unlock(&md->lock);
	return r;
}

/*
 * Source, fenced and with nothing in flight: from now on the bitmap on
 * disk is what the destination has not acknowledged. Recorded before the
 * handover map goes out, so a restart comes back fenced.
 */
int hm_md_fence(struct hm_dev *hd)
{
	struct hm_md *md = hd->meta;
	int r = 0;

	if (!md)
		return 0;
	mutex_lock(&md->lock);
	if (md->disk_phase == HM_PHASE_TRACKING) {
		bitmap_copy(md->unacked, hd->tracker.dirty, hd->tracker.nr_chunks);
		r = hm_md_write(md, md->unacked, HM_PHASE_HANDOVER,
				HM_SB_FENCED, HM_MD_FULL);
	}
	mutex_unlock(&md->lock);
	return r;
}

/*
 * Bits @first..@first+@nr-1 of the live bitmap were cleared: the next
 * commit looks at their blocks. After the bits change, never before. Any
 * context.
 */
void hm_md_touch(struct hm_dev *hd, unsigned long first, unsigned int nr)
{
	struct hm_md *md = hd->meta;
	unsigned long b;

	if (!md || !nr)
		return;
	smp_mb__before_atomic();	/* pairs with hm_md_pack() */
	for (b = first / HM_MD_BLOCK_BITS;
	     b <= (first + nr - 1) / HM_MD_BLOCK_BITS; b++)
		set_bit(b, md->touched);
}

/* Source: the destination acknowledged these chunks. */
void hm_md_acked(struct hm_dev *hd, unsigned long first, unsigned int nr)
{
	struct hm_md *md = hd->meta;
	unsigned long chunk;

	if (!md || READ_ONCE(md->disk_phase) == HM_PHASE_TRACKING)
		return;
	for (chunk = first; chunk < first + nr; chunk++)
		clear_bit(chunk, md->unacked);
	hm_md_touch(hd, first, nr);
}

/*
 * Destination: the handover map becomes the missing set. Written in full,
 * with the data device flushed, before the VM may write here.
 */
int hm_md_install_map(struct hm_dev *hd, const unsigned long *missing)
{
	struct hm_md *md = hd->meta;
	int r;

	if (!md)
		return 0;
	mutex_lock(&md->lock);
	r = hm_md_write(md, missing, HM_PHASE_POSTCOPY, 0,
			HM_MD_FULL | HM_MD_SYNC);
	mutex_unlock(&md->lock);
	return r;
}

/*
 * Source, suspended while tracking: no write can come, so the dirty set
 * plus what is in flight is exact: mark it clean, for a fast restart.
 */
void hm_md_suspend(struct hm_dev *hd)
{
	struct hm_md *md = hd->meta;

	if (!md)
		return;
	mutex_lock(&md->lock);
	if (hd->role == HM_ROLE_SOURCE && md->disk_phase == HM_PHASE_TRACKING &&
	    !READ_ONCE(hd->fenced)) {
		bitmap_copy(md->unacked, hd->tracker.dirty, hd->tracker.nr_chunks);
		hm_push_mark_inflight(hd, md->unacked);
		hm_md_write(md, md->unacked, HM_PHASE_TRACKING, HM_SB_CLEAN,
			    HM_MD_FULL);
		mutex_unlock(&md->lock);
		return;
	}
	mutex_unlock(&md->lock);
	hm_md_sync(md, 0);
}

/* Before writes resume: the clean bitmap is no longer exact. */
int hm_md_resume(struct hm_dev *hd)
{
	struct hm_md *md = hd->meta;
	int r = 0;

	if (!md)
		return 0;
	mutex_lock(&md->lock);
	if (md->disk_flags & HM_SB_CLEAN)
		r = hm_md_write(md, NULL, md->disk_phase,
				md->disk_flags & ~HM_SB_CLEAN, 0);
	else if (md->failed)
		r = -EIO;
	mutex_unlock(&md->lock);
	return r;
}

bool hm_md_failed(struct hm_dev *hd)
{
	return hd->meta && READ_ONCE(hd->meta->failed);
}

/* ---- Flushes and FUA writes on a destination after handover ---- */

static bool hm_md_defers(struct hm_dev *hd)
{
	return hd->meta && hd->role == HM_ROLE_DEST &&
	       READ_ONCE(hd->phase) == HM_PHASE_POSTCOPY;
}

static void hm_md_defer(struct hm_md *md, struct bio *bio)
{
	spin_lock_irq(&md->defer_lock);
	bio_list_add(&md->deferred, bio);
	spin_unlock_irq(&md->defer_lock);
	queue_work(md->wq, &md->defer_work);
}

/*
 * An empty flush: the VM's completed writes must be durable, and so must
 * the record of the chunks they made present. A commit does both.
 */
bool hm_md_defer_flush(struct hm_dev *hd, struct bio *bio)
{
	if (!(bio->bi_opf & REQ_PREFLUSH) || !hm_md_defers(hd))
		return false;
	hm_md_defer(hd->meta, bio);
	return true;
}

/* A FUA write completed: it is durable once its chunk is recorded present. */
bool hm_md_defer_fua(struct hm_dev *hd, struct bio *bio)
{
	if (!(bio->bi_opf & REQ_FUA) || !op_is_write(bio_op(bio)) ||
	    bio->bi_status || !hm_md_defers(hd))
		return false;
	hm_md_defer(hd->meta, bio);
	return true;
}

static void hm_md_defer_work(struct work_struct *work)
{
	struct hm_md *md = container_of(work, struct hm_md, defer_work);
	struct bio_list bios;
	struct bio *bio;
	int r;

	spin_lock_irq(&md->defer_lock);
	bios = md->deferred;
	bio_list_init(&md->deferred);
	spin_unlock_irq(&md->defer_lock);
	if (bio_list_empty(&bios))
		return;

	r = hm_md_commit(md->hd);
	while ((bio = bio_list_pop(&bios))) {
		if (r)
			bio->bi_status = errno_to_blk_status(r);
		bio_endio(bio);
	}
}

/* ---- Opening ---- */

static int hm_md_alloc(struct hm_md *md, unsigned long nr_chunks)
{
	unsigned long b;

	md->nr_blocks = hm_md_blocks(nr_chunks);
	md->blocks = kvcalloc(md->nr_blocks, sizeof(*md->blocks), GFP_KERNEL);
	md->stale = bitmap_zalloc(md->nr_blocks, GFP_KERNEL);
	md->touched = bitmap_zalloc(md->nr_blocks, GFP_KERNEL);
	md->scratch = kmalloc(HM_MD_BLOCK_SIZE, GFP_KERNEL);
	md->sb_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!md->blocks || !md->stale || !md->touched || !md->scratch ||
	    !md->sb_page)
		return -ENOMEM;
	for (b = 0; b < md->nr_blocks; b++) {
		md->blocks[b] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!md->blocks[b])
			return -ENOMEM;
	}
	if (md->hd->role == HM_ROLE_SOURCE) {
		md->unacked = kvcalloc(BITS_TO_LONGS(nr_chunks),
				       sizeof(unsigned long), GFP_KERNEL);
		if (!md->unacked)
			return -ENOMEM;
	}
	md->wq = alloc_workqueue("hm-md/%s", WQ_MEM_RECLAIM, 0,
				 dm_device_name(md->hd->md));
	return md->wq ? 0 : -ENOMEM;
}

static void hm_md_free(struct hm_md *md)
{
	unsigned long b;

	if (md->wq)
		destroy_workqueue(md->wq);
	kvfree(md->unacked);
	for (b = 0; md->blocks && b < md->nr_blocks; b++)
		if (md->blocks[b])
			__free_page(md->blocks[b]);
	kvfree(md->blocks);
	if (md->sb_page)
		__free_page(md->sb_page);
	kfree(md->scratch);
	bitmap_free(md->stale);
	bitmap_free(md->touched);
	mutex_destroy(&md->lock);
	kfree(md);
}

static bool hm_block_is_zero(const void *block)
{
	return !memchr_inv(block, 0, HM_MD_BLOCK_SIZE);
}

/*
 * Read both superblock slots into @best: the valid one with the highest
 * generation. 1 if both are blank (a new device), 0 if found, or an error.
 */
static int hm_md_read_sb(struct hm_md *md, struct hm_disk_sb *best,
			 char **error)
{
	struct hm_disk_sb *sb = page_address(md->sb_page);
	bool found = false, blank = true;
	unsigned int slot;
	int r;

	for (slot = 0; slot < HM_MD_SB_SLOTS; slot++) {
		r = hm_md_rw(md, &md->sb_page, 1, slot * HM_MD_BLOCK_SECTORS,
			     REQ_OP_READ);
		if (r) {
			*error = "Cannot read the metadata device";
			return r;
		}
		blank &= hm_block_is_zero(sb);
		if (!hm_sb_valid(sb) ||
		    (found && le64_to_cpu(sb->generation) <=
			      le64_to_cpu(best->generation)))
			continue;
		*best = *sb;
		found = true;
	}
	if (found)
		return 0;
	if (blank)
		return 1;
	*error = "Metadata device holds no valid hybridmig superblock: zero its first 8 KiB";
	return -EINVAL;
}

/* Is the superblock of this migration? The table must describe it. */
static int hm_md_check_sb(struct hm_md *md, const struct hm_disk_sb *sb,
			  char **error)
{
	struct hm_dev *hd = md->hd;

	if (le32_to_cpu(sb->version) != HM_MD_VERSION) {
		*error = "Metadata format version is not supported";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->role) != hd->role) {
		*error = hd->role == HM_ROLE_SOURCE ?
			 "Metadata belongs to a destination, the table says source" :
			 "Metadata belongs to a source, the table says dest";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->target_sectors) != hd->len) {
		*error = "Metadata is for a target of another length";
		return -EINVAL;
	}
	if (le32_to_cpu(sb->chunk_sectors) != hd->chunk_sectors) {
		*error = "Metadata is for another chunk size";
		return -EINVAL;
	}
	if (le64_to_cpu(sb->nr_chunks) != hd->tracker.nr_chunks ||
	    le64_to_cpu(sb->bitmap_sector) != HM_MD_BITMAP_SECTOR ||
	    le32_to_cpu(sb->phase) > HM_PHASE_ABORTED ||
	    le32_to_cpu(sb->flags) & ~HM_SB_FLAGS) {
		*error = "Metadata superblock is inconsistent";
		return -EINVAL;
	}
	if (hd->has_migration_id && le32_to_cpu(sb->has_migration_id) &&
	    memcmp(hd->migration_id, sb->migration_id, HM_MIGRATION_ID_LEN)) {
		*error = "Metadata belongs to another migration (migration_id differs)";
		return -EINVAL;
	}
	return 0;
}

/* Take the state of an existing migration from its superblock and bitmap. */
static int hm_md_load(struct hm_md *md, const struct hm_disk_sb *sb,
		      char **error)
{
	struct hm_dev *hd = md->hd;
	struct hm_tracker *t = &hd->tracker;
	u32 flags = le32_to_cpu(sb->flags);
	int r;

	md->generation = le64_to_cpu(sb->generation);
	md->disk_phase = le32_to_cpu(sb->phase);
	md->disk_flags = flags;
	if (le32_to_cpu(sb->has_migration_id)) {
		memcpy(hd->migration_id, sb->migration_id, HM_MIGRATION_ID_LEN);
		hd->has_migration_id = true;
	}
	hd->phase = md->disk_phase;
	hd->fenced = flags & HM_SB_FENCED;

	if (hm_md_bitmap_valid(hd->role, md->disk_phase, flags)) {
		r = hm_md_rw_blocks(md, 0, md->nr_blocks, REQ_OP_READ);
		if (r) {
			*error = "Cannot read the metadata bitmap";
			return r;
		}
		hm_md_unpack(md, t->dirty);
		if (md->unacked)
			bitmap_copy(md->unacked, t->dirty, t->nr_chunks);
	} else if (hd->role == HM_ROLE_SOURCE) {
		/* Crashed while tracking: any chunk may have been written. */
		bitmap_fill(t->dirty, t->nr_chunks);
	} else if (md->disk_phase == HM_PHASE_COMPLETE) {
		bitmap_zero(t->dirty, t->nr_chunks);
	} else {
		bitmap_fill(t->dirty, t->nr_chunks);
	}
	atomic_long_set(&t->nr_dirty, bitmap_weight(t->dirty, t->nr_chunks));
	DMINFO("%s: metadata generation %llu: %s, %ld chunks %s%s",
	       dm_device_name(hd->md), md->generation,
	       hd->role == HM_ROLE_SOURCE ? "source" : "destination",
	       atomic_long_read(&t->nr_dirty),
	       hd->role == HM_ROLE_SOURCE ? "dirty" : "missing",
	       hd->fenced ? ", fenced" : "");
	return 0;
}

/*
 * Open the metadata of @hd on @bdev: a new one is formatted (phase as
 * created), an existing one must match the table and gives its state.
 */
int hm_md_open(struct hm_dev *hd, struct block_device *bdev, char **error)
{
	struct hm_disk_sb sb;
	unsigned long nr_blocks = hm_md_blocks(hd->tracker.nr_chunks);
	struct hm_md *md;
	int r;

	if (bdev_nr_sectors(bdev) <
	    HM_MD_BITMAP_SECTOR + (sector_t)nr_blocks * HM_MD_BLOCK_SECTORS) {
		*error = "Metadata device is too small: it needs 8 KiB plus 4 KiB per 32768 chunks";
		return -EINVAL;
	}
	md = kzalloc(sizeof(*md), GFP_KERNEL);
	if (!md) {
		*error = "Cannot allocate the metadata state";
		return -ENOMEM;
	}
	md->hd = hd;
	md->bdev = bdev;
	mutex_init(&md->lock);
	spin_lock_init(&md->defer_lock);
	bio_list_init(&md->deferred);
	INIT_DELAYED_WORK(&md->commit_work, hm_md_commit_work);
	INIT_WORK(&md->defer_work, hm_md_defer_work);
	r = hm_md_alloc(md, hd->tracker.nr_chunks);
	if (r) {
		*error = "Cannot allocate the metadata state";
		goto bad;
	}

	r = hm_md_read_sb(md, &sb, error);
	if (r < 0)
		goto bad;
	if (r == 0) {
		r = hm_md_check_sb(md, &sb, error);
		if (!r)
			r = hm_md_load(md, &sb, error);
	} else {
		/* A new migration: the state as the table created it. */
		if (hd->role == HM_ROLE_SOURCE && !hd->has_migration_id)
			hm_md_new_migration_id(hd);
		md->disk_phase = hd->phase;
		mutex_lock(&md->lock);
		r = hm_md_write(md, NULL, hd->phase, 0, HM_MD_FORCE);
		mutex_unlock(&md->lock);
		if (r)
			*error = "Cannot write the metadata device";
	}
	if (r)
		goto bad;
	hd->meta = md;
	queue_delayed_work(md->wq, &md->commit_work, HM_MD_COMMIT_INTERVAL);
	return 0;
bad:
	hm_md_free(md);
	return r;
}

/* The last table is gone: no VM I/O is left; record the final state. */
void hm_md_close(struct hm_dev *hd)
{
	struct hm_md *md = hd->meta;

	if (!md)
		return;
	cancel_delayed_work_sync(&md->commit_work);
	flush_workqueue(md->wq);
	/* A source that tracks wrote its clean state at postsuspend. */
	hm_md_sync(md, 0);
	hd->meta = NULL;
	hm_md_free(md);
}

/* For a new migration: a random identifier. */
void hm_md_new_migration_id(struct hm_dev *hd)
{
	get_random_bytes(hd->migration_id, HM_MIGRATION_ID_LEN);
	hd->has_migration_id = true;
}
