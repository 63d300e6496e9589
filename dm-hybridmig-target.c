// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-hybridmig: live migration of a VM's local block storage, after the
 * hybrid push / prioritized-prefetch scheme of Nicolae & Cappello (HPDC 2012).
 *
 * This file holds the target: table parsing, the I/O path, dirty tracking,
 * status and messages. See Documentation/hybridmig.rst for the interface.
 */
#include "dm-hybridmig.h"

#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#define DM_MSG_PREFIX "hybridmig"

/* Every live hm_dev, so that a table reload finds the state it inherits. */
static LIST_HEAD(hm_devs);
static DEFINE_MUTEX(hm_devs_lock);

/* One instance per table; the migration state itself is in @hd. */
struct hm_target {
	struct dm_target *ti;
	struct hm_dev *hd;
	struct dm_dev *data_dev;
	struct dm_dev *meta_dev;	/* or NULL: "-" */

	/* Optional arguments as given, to echo them in the TABLE status. */
	bool opt_start_clean;
	bool opt_hot_threshold;
	bool opt_policy;
	bool opt_bandwidth;
	bool opt_ready_chunks;
	bool opt_auto_handover;
	bool opt_migration_id;
	unsigned int hot_threshold;
	enum hm_policy policy;
	unsigned int bandwidth;
	unsigned int ready_chunks;
	u8 migration_id[HM_MIGRATION_ID_LEN];
};

/* The parsed table line. */
struct hm_config {
	enum hm_role role;
	sector_t chunk_sectors;
	bool start_clean;
	bool hot_threshold_given;
	bool policy_given;
	bool bandwidth_given;
	bool ready_chunks_given;
	bool auto_handover;
	bool migration_id_given;
	unsigned int hot_threshold;
	enum hm_policy policy;
	unsigned int bandwidth;
	unsigned int ready_chunks;
	u8 migration_id[HM_MIGRATION_ID_LEN];
};

static const char *hm_role_name(enum hm_role role)
{
	switch (role) {
	case HM_ROLE_SOURCE:
		return "source";
	case HM_ROLE_DEST:
		return "dest";
	}
	return "unknown";
}

static const char *const hm_policy_names[] = {
	[HM_POLICY_HYBRID] = "hybrid",
	[HM_POLICY_PRECOPY] = "precopy",
	[HM_POLICY_POSTCOPY] = "postcopy",
};

/* Like every keyword of the table, policy names are case-insensitive. */
static int hm_policy_parse(const char *name, enum hm_policy *policy)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hm_policy_names); i++) {
		if (!strcasecmp(name, hm_policy_names[i])) {
			*policy = i;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *hm_phase_name(enum hm_phase phase)
{
	switch (phase) {
	case HM_PHASE_TRACKING:
		return "tracking";
	case HM_PHASE_WAITING:
		return "waiting";
	case HM_PHASE_HANDOVER:
		return "handover";
	case HM_PHASE_POSTCOPY:
		return "postcopy";
	case HM_PHASE_COMPLETE:
		return "complete";
	case HM_PHASE_ABORTED:
		return "aborted";
	}
	return "unknown";
}

/* ---- Dirty tracking ---- */

static void hm_tracker_free(struct hm_tracker *t)
{
	kvfree(t->dirty);
	kvfree(t->writes);
}

static int hm_tracker_init(struct hm_tracker *t, unsigned long nr_chunks,
			   bool start_clean)
{
	unsigned int level;

	t->nr_chunks = nr_chunks;
	t->dirty = kvcalloc(BITS_TO_LONGS(nr_chunks), sizeof(unsigned long),
			    GFP_KERNEL);
	t->writes = kvcalloc(DIV_ROUND_UP(nr_chunks, HM_HOT_PER_WORD),
			     sizeof(u32), GFP_KERNEL);
	if (!t->dirty || !t->writes) {
		hm_tracker_free(t);
		return -ENOMEM;
	}

	/* With no shared base image, the destination starts with nothing. */
	if (!start_clean)
		bitmap_set(t->dirty, 0, nr_chunks);
	atomic_long_set(&t->nr_dirty, start_clean ? 0 : nr_chunks);
	atomic64_set(&t->nr_dirtied, 0);
	atomic64_set(&t->nr_write_bios, 0);
	for (level = 0; level <= HM_HOT_MAX; level++)
		atomic_long_set(&t->nr_at_level[level], 0);
	atomic_long_set(&t->nr_at_level[0], nr_chunks);
	return 0;
}

void hm_mark_dirty(struct hm_tracker *t, unsigned long first,
		   unsigned long last)
{
	unsigned long chunk;

	for (chunk = first; chunk <= last; chunk++) {
		/* The plain test keeps already-dirty chunks off the bus. */
		if (test_bit(chunk, t->dirty))
			continue;
		if (!test_and_set_bit(chunk, t->dirty)) {
			atomic_long_inc(&t->nr_dirty);
			atomic64_inc(&t->nr_dirtied);
		}
	}
}

/* After an abort: the next destination holds nothing. */
void hm_mark_all_dirty(struct hm_tracker *t)
{
	unsigned long chunk;

	for (chunk = 0; chunk < t->nr_chunks; chunk++)
		if (!test_and_set_bit(chunk, t->dirty))
			atomic_long_inc(&t->nr_dirty);
}

unsigned int hm_write_level(struct hm_tracker *t, unsigned long chunk)
{
	u32 word = READ_ONCE(t->writes[chunk / HM_HOT_PER_WORD]);

	return (word >> ((chunk % HM_HOT_PER_WORD) * HM_HOT_BITS)) & HM_HOT_MAX;
}

/*
 * Halve every write counter, so that hotness is recent: a chunk that is no
 * longer written cools down and gets pushed. The level histogram changes
 * are summed locally and applied once.
 */
void hm_tracker_decay(struct hm_tracker *t)
{
	const u32 keep = (~0U / HM_HOT_MAX) * (HM_HOT_MAX >> 1);
	unsigned long nr_words = DIV_ROUND_UP(t->nr_chunks, HM_HOT_PER_WORD);
	long delta[HM_HOT_MAX + 1] = { };
	unsigned long i;
	unsigned int k, from, to;
	u32 old, new;

	for (i = 0; i < nr_words; i++) {
		old = READ_ONCE(t->writes[i]);
		if (!old)
			continue;
		do {
			new = (old >> 1) & keep;
		} while (!try_cmpxchg(&t->writes[i], &old, new));
		for (k = 0; k < HM_HOT_PER_WORD; k++) {
			from = (old >> (k * HM_HOT_BITS)) & HM_HOT_MAX;
			to = (new >> (k * HM_HOT_BITS)) & HM_HOT_MAX;
			delta[from]--;
			delta[to]++;
		}
		if (!(i % 1024))
			cond_resched();
	}
	for (k = 0; k <= HM_HOT_MAX; k++)
		if (delta[k])
			atomic_long_add(delta[k], &t->nr_at_level[k]);
}

/* Update @rate from the running @total, at most once a second. */
void hm_rate_update(struct hm_rate *rate, u64 total)
{
	unsigned long now = jiffies, elapsed;

	spin_lock(&rate->lock);
	elapsed = now - rate->last_jiffies;
	if (elapsed >= HZ) {
		WRITE_ONCE(rate->per_sec,
			   div64_u64((total - rate->last_total) * HZ, elapsed));
		rate->last_total = total;
		rate->last_jiffies = now;
	}
	spin_unlock(&rate->lock);
}

/* Bump the saturating write counter of @chunk. */
static void hm_count_write(struct hm_tracker *t, unsigned long chunk)
{
	u32 *word = &t->writes[chunk / HM_HOT_PER_WORD];
	unsigned int shift = (chunk % HM_HOT_PER_WORD) * HM_HOT_BITS;
	u32 old = READ_ONCE(*word);
	unsigned int level;

	do {
		level = (old >> shift) & HM_HOT_MAX;
		if (level == HM_HOT_MAX)
			return;
	} while (!try_cmpxchg(word, &old, old + (1U << shift)));

	atomic_long_dec(&t->nr_at_level[level]);
	atomic_long_inc(&t->nr_at_level[level + 1]);
}

static unsigned long hm_nr_hot(struct hm_tracker *t, unsigned int threshold)
{
	unsigned long nr = 0;
	unsigned int level;

	if (!threshold)		/* deferral is off: nothing counts as hot */
		return 0;
	for (level = threshold; level <= HM_HOT_MAX; level++)
		nr += atomic_long_read(&t->nr_at_level[level]);
	return nr;
}

/* ---- Shared per-device state ---- */

static struct hm_dev *hm_dev_find(struct mapped_device *md, sector_t begin)
{
	struct hm_dev *hd;

	list_for_each_entry(hd, &hm_devs, list)
		if (hd->md == md && hd->begin == begin)
			return hd;
	return NULL;
}

/* The device that uses @devt, as its data or its metadata device. */
static struct hm_dev *hm_dev_find_data_dev(dev_t devt)
{
	struct hm_dev *hd;

	list_for_each_entry(hd, &hm_devs, list)
		if (hd->data_devt == devt || hd->meta_devt == devt)
			return hd;
	return NULL;
}

/* A reload must describe the same migration as the live table. */
static int hm_dev_check_reload(struct hm_dev *hd, struct dm_target *ti,
			       dev_t data_devt, dev_t meta_devt,
			       const struct hm_config *cfg)
{
	if (hd->role != cfg->role) {
		ti->error = "Reload cannot change the role";
		return -EINVAL;
	}
	if (hd->data_devt != data_devt) {
		ti->error = "Reload cannot change the data device";
		return -EINVAL;
	}
	if (hd->chunk_sectors != cfg->chunk_sectors) {
		ti->error = "Reload cannot change the chunk size";
		return -EINVAL;
	}
	if (hd->len != ti->len) {
		ti->error = "Reload cannot change the target length";
		return -EINVAL;
	}
	if (hd->meta_devt != meta_devt) {
		ti->error = "Reload cannot change the metadata device";
		return -EINVAL;
	}
	if (cfg->migration_id_given &&
	    (!hd->has_migration_id ||
	     memcmp(hd->migration_id, cfg->migration_id, HM_MIGRATION_ID_LEN))) {
		ti->error = "Reload cannot change the migration_id";
		return -EINVAL;
	}
	return 0;
}

static void hm_dev_error_work(struct work_struct *work)
{
	hm_dev_event(container_of(work, struct hm_dev, error_work));
}

/*
 * The migration identifier of a new device: as the table gives it (the
 * metadata, if any, must agree), else the metadata's, else a source makes
 * one up (a destination adopts its source's).
 */
static void hm_dev_init_migration_id(struct hm_dev *hd,
				     const struct hm_config *cfg)
{
	if (cfg->migration_id_given) {
		memcpy(hd->migration_id, cfg->migration_id, HM_MIGRATION_ID_LEN);
		hd->has_migration_id = true;
	}
}

static void hm_dev_free(struct hm_dev *hd)
{
	hm_dest_destroy(hd);
	hm_md_close(hd);
	cancel_work_sync(&hd->error_work);
	mutex_destroy(&hd->event_lock);
	mutex_destroy(&hd->link_lock);
	mutex_destroy(&hd->msg_lock);
	hm_tracker_free(&hd->tracker);
	kfree(hd);
}

static struct hm_dev *hm_dev_create(struct dm_target *ti,
				    struct block_device *data_bdev,
				    struct block_device *meta_bdev,
				    const struct hm_config *cfg)
{
	int r;

	u64 nr_chunks = DIV_ROUND_UP_SECTOR_T(ti->len, cfg->chunk_sectors);
	struct hm_dev *hd;

	if (nr_chunks > HM_MAX_CHUNKS) {
		ti->error = "Too many chunks: use a larger chunk size";
		return ERR_PTR(-EINVAL);
	}

	hd = kzalloc(sizeof(*hd), GFP_KERNEL);
	if (!hd) {
		ti->error = "Cannot allocate device state";
		return ERR_PTR(-ENOMEM);
	}
	/* The destination's bitmap holds its missing chunks: all, at first. */
	if (hm_tracker_init(&hd->tracker, nr_chunks,
			    cfg->role == HM_ROLE_SOURCE && cfg->start_clean)) {
		kfree(hd);
		ti->error = "Cannot allocate the chunk bitmaps";
		return ERR_PTR(-ENOMEM);
	}

	refcount_set(&hd->ref, 1);
	hd->md = dm_table_get_md(ti->table);
	hd->begin = ti->begin;
	hd->len = ti->len;
	hd->data_devt = data_bdev->bd_dev;
	hd->data_bdev = data_bdev;
	hd->role = cfg->role;
	hd->phase = cfg->role == HM_ROLE_SOURCE ? HM_PHASE_TRACKING :
						  HM_PHASE_WAITING;
	hd->chunk_sectors = cfg->chunk_sectors;
	hd->chunk_shift = ilog2(cfg->chunk_sectors);
	hd->hot_threshold = HM_DEFAULT_HOT_THRESHOLD;
	hd->policy = HM_POLICY_HYBRID;
	spin_lock_init(&hd->phase_lock);
	init_waitqueue_head(&hd->wait);
	atomic_set(&hd->writes_in_flight, 0);
	hd->ready_chunks = HM_DEFAULT_READY_CHUNKS;
	spin_lock_init(&hd->xfer.rate.lock);
	spin_lock_init(&hd->xfer.dirty_rate.lock);
	mutex_init(&hd->msg_lock);
	mutex_init(&hd->link_lock);
	mutex_init(&hd->event_lock);
	INIT_WORK(&hd->error_work, hm_dev_error_work);
	hd->live_ti = ti;
	hm_dev_init_migration_id(hd, cfg);
	if (meta_bdev) {
		hd->meta_devt = meta_bdev->bd_dev;
		r = hm_md_open(hd, meta_bdev, &ti->error);
		if (r) {
			hm_dev_free(hd);
			return ERR_PTR(r);
		}
	}
	if (hd->role == HM_ROLE_SOURCE && !hd->has_migration_id)
		hm_md_new_migration_id(hd);
	if (hd->role == HM_ROLE_DEST && hm_dest_create(hd)) {
		hm_dev_free(hd);
		ti->error = "Cannot allocate the destination's state";
		return ERR_PTR(-ENOMEM);
	}
	list_add(&hd->list, &hm_devs);
	return hd;
}

/*
 * Find the state of the live table of this device (a reload) or create a
 * new one. Two targets never share a data device.
 */
static struct hm_dev *hm_dev_get(struct dm_target *ti,
				 struct block_device *data_bdev,
				 struct block_device *meta_bdev,
				 const struct hm_config *cfg)
{
	struct mapped_device *md = dm_table_get_md(ti->table);
	dev_t data_devt = data_bdev->bd_dev;
	dev_t meta_devt = meta_bdev ? meta_bdev->bd_dev : 0;
	struct hm_dev *hd, *user;
	int r;

	mutex_lock(&hm_devs_lock);
	hd = hm_dev_find(md, ti->begin);
	user = hm_dev_find_data_dev(data_devt);
	if (!user && meta_devt)
		user = hm_dev_find_data_dev(meta_devt);
	if (hd) {
		r = hm_dev_check_reload(hd, ti, data_devt, meta_devt, cfg);
		if (r)
			hd = ERR_PTR(r);
		else
			refcount_inc(&hd->ref);
	} else if (user && user->md == md) {
		ti->error = "Reload cannot move the target to another start sector";
		hd = ERR_PTR(-EINVAL);
	} else if (user) {
		ti->error = "Data or metadata device is in use by another hybridmig target";
		hd = ERR_PTR(-EBUSY);
	} else {
		hd = hm_dev_create(ti, data_bdev, meta_bdev, cfg);
	}
	mutex_unlock(&hm_devs_lock);
	return hd;
}

/* Raise a dm event on the live table (dmsetup wait wakes up). */
void hm_dev_event(struct hm_dev *hd)
{
	mutex_lock(&hd->event_lock);
	if (hd->live_ti)
		dm_table_event(hd->live_ti->table);
	mutex_unlock(&hd->event_lock);
}

/*
 * The data or metadata device failed an I/O: counted in status; the first
 * raises a dm event.
 */
void hm_dev_io_error(struct hm_dev *hd)
{
	if (atomic_inc_return(&hd->io_errors) == 1)
		schedule_work(&hd->error_work);	/* from bio completion */
}

/* A phase change: wake those who wait for it, raise a dm event. */
void hm_dev_set_phase(struct hm_dev *hd, enum hm_phase phase)
{
	spin_lock_irq(&hd->phase_lock);
	WRITE_ONCE(hd->phase, phase);
	spin_unlock_irq(&hd->phase_lock);
	wake_up_all(&hd->wait);
	hm_dev_event(hd);
}

static void hm_dev_set_live(struct hm_dev *hd, struct dm_target *ti)
{
	mutex_lock(&hd->event_lock);
	hd->live_ti = ti;
	mutex_unlock(&hd->event_lock);
}

static void hm_dev_put(struct hm_dev *hd)
{
	mutex_lock(&hm_devs_lock);
	if (!refcount_dec_and_test(&hd->ref)) {
		mutex_unlock(&hm_devs_lock);
		return;
	}
	list_del(&hd->list);
	mutex_unlock(&hm_devs_lock);

	hm_link_stop(hd);
	hm_dev_free(hd);
}

/* ---- Constructor ---- */

static int hm_parse_role(struct dm_arg_set *as, struct hm_config *cfg,
			 char **error)
{
	const char *role = dm_shift_arg(as);

	if (!strcasecmp(role, "source")) {
		cfg->role = HM_ROLE_SOURCE;
		return 0;
	}
	if (!strcasecmp(role, "dest")) {
		cfg->role = HM_ROLE_DEST;
		return 0;
	}
	*error = "Invalid role: expected source or dest";
	return -EINVAL;
}

/* <metadata_dev|->: "-" keeps the migration state in memory only. */
static int hm_parse_metadata_dev(struct dm_target *ti, struct hm_target *ht,
				 struct dm_arg_set *as)
{
	const char *path = dm_shift_arg(as);
	int r;

	if (!strcmp(path, "-"))
		return 0;
	r = dm_get_device(ti, path, dm_table_get_mode(ti->table),
			  &ht->meta_dev);
	if (r)
		ti->error = "Cannot open the metadata device";
	return r;
}

static int hm_parse_chunk_size(struct dm_arg_set *as, struct hm_config *cfg,
			       struct block_device *data_bdev, char **error)
{
	unsigned int lbs_sectors = bdev_logical_block_size(data_bdev) >> SECTOR_SHIFT;
	unsigned int chunk;

	if (kstrtouint(dm_shift_arg(as), 10, &chunk)) {
		*error = "Invalid chunk size: not a number";
		return -EINVAL;
	}
	if (!is_power_of_2(chunk)) {
		*error = "Invalid chunk size: not a power of two";
		return -EINVAL;
	}
	if (chunk < HM_MIN_CHUNK_SECTORS) {
		*error = "Invalid chunk size: less than 8 sectors";
		return -EINVAL;
	}
	if (chunk > HM_MAX_CHUNK_SECTORS) {
		*error = "Invalid chunk size: more than 2048 sectors";
		return -EINVAL;
	}
	if (chunk % lbs_sectors) {
		*error = "Invalid chunk size: not a multiple of the logical block size";
		return -EINVAL;
	}
	cfg->chunk_sectors = chunk;
	return 0;
}

/*
 * A key/value option: given once, with a value (the next argument, which
 * the caller reads).
 */
static int hm_take_value(unsigned int *opt_argc, bool *given,
			 const char *duplicate, const char *missing,
			 char **error)
{
	if (*given) {
		*error = (char *)duplicate;
		return -EINVAL;
	}
	if (!*opt_argc) {
		*error = (char *)missing;
		return -EINVAL;
	}
	(*opt_argc)--;
	*given = true;
	return 0;
}

static int hm_parse_policy(struct dm_arg_set *as, unsigned int *opt_argc,
			   struct hm_config *cfg, char **error)
{
	int r = hm_take_value(opt_argc, &cfg->policy_given,
			      "Duplicate optional argument: policy",
			      "Missing value for policy", error);

	if (r)
		return r;
	if (hm_policy_parse(dm_shift_arg(as), &cfg->policy)) {
		*error = "Invalid policy: expected hybrid, precopy or postcopy";
		return -EINVAL;
	}
	return 0;
}

/*
 * Like dm_read_arg(), but a number too large for an unsigned int is an
 * error rather than wrapping around.
 */
static int hm_read_uint(const struct dm_arg *arg, struct dm_arg_set *as,
			unsigned int *value, char **error)
{
	unsigned int v;

	if (!as->argc || kstrtouint(dm_shift_arg(as), 10, &v) ||
	    v < arg->min || v > arg->max) {
		*error = arg->error;
		return -EINVAL;
	}
	*value = v;
	return 0;
}

/* migration_id <32 hex digits> */
static int hm_parse_migration_id(const char *hex, struct hm_config *cfg,
				 char **error)
{
	if (strlen(hex) != 2 * HM_MIGRATION_ID_LEN ||
	    hex2bin(cfg->migration_id, hex, HM_MIGRATION_ID_LEN)) {
		*error = "Invalid migration_id: expected 32 hex digits";
		return -EINVAL;
	}
	return 0;
}

/* One key/value option; false if @name is not one. */
static bool hm_parse_kv_option(const char *name, struct dm_arg_set *as,
			       unsigned int *opt_argc, struct hm_config *cfg,
			       char **error, int *r)
{
	static const struct dm_arg hot_arg = {
		0, HM_HOT_MAX, "Invalid hot_threshold: expected 0..15"
	};
	static const struct dm_arg bandwidth_arg = {
		0, HM_MAX_BANDWIDTH, "Invalid bandwidth: expected KiB/s, 0 for no limit"
	};
	static const struct dm_arg ready_arg = {
		0, UINT_MAX, "Invalid ready_chunks: expected a number of chunks"
	};

	if (!strcasecmp(name, "migration_id")) {
		*r = hm_take_value(opt_argc, &cfg->migration_id_given,
				   "Duplicate optional argument: migration_id",
				   "Missing value for migration_id", error);
		if (!*r)
			*r = hm_parse_migration_id(dm_shift_arg(as), cfg, error);
	} else if (!strcasecmp(name, "hot_threshold")) {
		*r = hm_take_value(opt_argc, &cfg->hot_threshold_given,
				   "Duplicate optional argument: hot_threshold",
				   "Missing value for hot_threshold", error);
		if (!*r)
			*r = hm_read_uint(&hot_arg, as, &cfg->hot_threshold, error);
	} else if (!strcasecmp(name, "policy")) {
		*r = hm_parse_policy(as, opt_argc, cfg, error);
	} else if (!strcasecmp(name, "bandwidth")) {
		*r = hm_take_value(opt_argc, &cfg->bandwidth_given,
				   "Duplicate optional argument: bandwidth",
				   "Missing value for bandwidth", error);
		if (!*r)
			*r = hm_read_uint(&bandwidth_arg, as, &cfg->bandwidth, error);
	} else if (!strcasecmp(name, "ready_chunks")) {
		*r = hm_take_value(opt_argc, &cfg->ready_chunks_given,
				   "Duplicate optional argument: ready_chunks",
				   "Missing value for ready_chunks", error);
		if (!*r)
			*r = hm_read_uint(&ready_arg, as, &cfg->ready_chunks, error);
	} else {
		return false;
	}
	return true;
}

static int hm_parse_opt_args(struct dm_arg_set *as, struct hm_config *cfg,
			     char **error)
{
	static const struct dm_arg opt_args = {
		0, 16, "Invalid number of optional arguments"
	};
	unsigned int opt_argc;
	const char *name;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(&opt_args, as, &opt_argc, error);
	if (r)
		return r;

	while (opt_argc) {
		name = dm_shift_arg(as);
		opt_argc--;

		if (!strcasecmp(name, "auto_handover")) {
			if (cfg->role != HM_ROLE_DEST) {
				*error = "auto_handover is an option of a destination";
				return -EINVAL;
			}
			if (cfg->auto_handover) {
				*error = "Duplicate optional argument: auto_handover";
				return -EINVAL;
			}
			cfg->auto_handover = true;
			continue;
		}
		if (!strcasecmp(name, "start_clean")) {
			if (cfg->start_clean) {
				*error = "Duplicate optional argument: start_clean";
				return -EINVAL;
			}
			cfg->start_clean = true;
		} else if (!hm_parse_kv_option(name, as, &opt_argc, cfg, error, &r)) {
			*error = "Unknown optional argument";
			return -EINVAL;
		}
		if (r)
			return r;
		/* The other options tune what a source sends. */
		if (cfg->role == HM_ROLE_DEST && strcasecmp(name, "migration_id")) {
			*error = "Optional arguments are for a source, not a destination";
			return -EINVAL;
		}
	}

	if (as->argc) {
		*error = "Too many arguments";
		return -EINVAL;
	}
	return 0;
}

static int hm_parse_table(struct dm_target *ti, struct hm_target *ht,
			  struct dm_arg_set *as, struct hm_config *cfg)
{
	int r;

	r = hm_parse_role(as, cfg, &ti->error);
	if (r)
		return r;

	r = dm_get_device(ti, dm_shift_arg(as), dm_table_get_mode(ti->table),
			  &ht->data_dev);
	if (r) {
		ti->error = "Cannot open the data device";
		return r;
	}

	r = hm_parse_metadata_dev(ti, ht, as);
	if (r)
		return r;
	if (ht->meta_dev && ht->meta_dev->bdev == ht->data_dev->bdev) {
		ti->error = "Metadata device must not be the data device";
		return -EINVAL;
	}

	r = hm_parse_chunk_size(as, cfg, ht->data_dev->bdev, &ti->error);
	if (r)
		return r;

	if (bdev_nr_sectors(ht->data_dev->bdev) < ti->len) {
		ti->error = "Data device is smaller than the target";
		return -EINVAL;
	}

	return hm_parse_opt_args(as, cfg, &ti->error);
}

/*
 * Construct a hybridmig target:
 *
 *   <role> <data_dev> <metadata_dev|-> <chunk_sectors> [<#opt_args> <opt_args>...]
 *
 * Optional arguments (source): start_clean, hot_threshold <0..15>,
 * policy <hybrid|precopy|postcopy>, bandwidth <KiB/s>, ready_chunks <n>.
 */
static int hm_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct hm_config cfg = { };
	struct hm_target *ht;
	struct hm_dev *hd;
	int r;

	if (argc < 4) {
		ti->error = "Invalid argument count: need at least 4";
		return -EINVAL;
	}

	ht = kzalloc(sizeof(*ht), GFP_KERNEL);
	if (!ht) {
		ti->error = "Cannot allocate target context";
		return -ENOMEM;
	}
	ht->ti = ti;

	r = hm_parse_table(ti, ht, &as, &cfg);
	if (r)
		goto bad;

	/*
	 * The destination handles I/O chunk by chunk, so dm core splits its
	 * bios at chunk boundaries. The source only marks the chunks a write
	 * covers, whatever its span (see hm_map()); splitting its large
	 * writes would cost a quarter of their throughput (bench/).
	 */
	if (cfg.role == HM_ROLE_DEST) {
		r = dm_set_target_max_io_len(ti, cfg.chunk_sectors);
		if (r)
			goto bad;
	}

	hd = hm_dev_get(ti, ht->data_dev->bdev,
			ht->meta_dev ? ht->meta_dev->bdev : NULL, &cfg);
	if (IS_ERR(hd)) {
		r = PTR_ERR(hd);
		goto bad;
	}
	ht->hd = hd;

	ht->opt_start_clean = cfg.start_clean;
	ht->opt_hot_threshold = cfg.hot_threshold_given;
	ht->opt_policy = cfg.policy_given;
	ht->opt_bandwidth = cfg.bandwidth_given;
	ht->opt_ready_chunks = cfg.ready_chunks_given;
	ht->opt_auto_handover = cfg.auto_handover;
	ht->hot_threshold = cfg.hot_threshold;
	ht->policy = cfg.policy;
	ht->bandwidth = cfg.bandwidth;
	ht->ready_chunks = cfg.ready_chunks;
	ht->opt_migration_id = cfg.migration_id_given;
	memcpy(ht->migration_id, cfg.migration_id, HM_MIGRATION_ID_LEN);

	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct hm_bio);
	ti->private = ht;
	return 0;

bad:
	if (ht->meta_dev)
		dm_put_device(ti, ht->meta_dev);
	if (ht->data_dev)
		dm_put_device(ti, ht->data_dev);
	kfree(ht);
	return r;
}

/*
 * Tunables in the table apply once the table goes live; a reload without
 * one keeps the current value (which a message may have set).
 */
static void hm_resume(struct dm_target *ti)
{
	struct hm_target *ht = ti->private;
	struct hm_dev *hd = ht->hd;

	hm_dev_set_live(hd, ti);
	if (ht->opt_hot_threshold)
		WRITE_ONCE(hd->hot_threshold, ht->hot_threshold);
	if (ht->opt_policy)
		WRITE_ONCE(hd->policy, ht->policy);
	if (ht->opt_bandwidth)
		WRITE_ONCE(hd->bandwidth, ht->bandwidth);
	if (ht->opt_ready_chunks)
		WRITE_ONCE(hd->ready_chunks, ht->ready_chunks);
	WRITE_ONCE(hd->auto_handover, ht->opt_auto_handover);
}

/* Record the state while no I/O comes (a clean one, for a source). */
static void hm_postsuspend(struct dm_target *ti)
{
	struct hm_target *ht = ti->private;
	struct hm_dev *hd = ht->hd;

	/* The pusher, whose chunks in flight are part of it, stays. */
	mutex_lock(&hd->msg_lock);
	hm_md_suspend(hd);
	mutex_unlock(&hd->msg_lock);
}

/* Writes may come again: a failed metadata device keeps it suspended. */
static int hm_preresume(struct dm_target *ti)
{
	struct hm_target *ht = ti->private;
	int r = hm_md_resume(ht->hd);

	if (r)
		DMERR("%s: cannot resume: the metadata device failed",
		      dm_device_name(ht->hd->md));
	return r;
}

static void hm_dtr(struct dm_target *ti)
{
	struct hm_target *ht = ti->private;
	struct hm_dev *hd = ht->hd;

	mutex_lock(&hd->event_lock);
	if (hd->live_ti == ti)
		hd->live_ti = NULL;
	mutex_unlock(&hd->event_lock);
	hm_dev_put(hd);
	if (ht->meta_dev)
		dm_put_device(ti, ht->meta_dev);
	dm_put_device(ti, ht->data_dev);
	kfree(ht);
}

/* ---- I/O path ---- */

static bool hm_bio_modifies_data(struct bio *bio)
{
	return op_is_write(bio_op(bio)) && bio_sectors(bio);
}

/*
 * A write counts as in flight from before the fence check until it
 * completes, so that a handover can wait for every write that got past it.
 */
static bool hm_write_begin(struct hm_dev *hd)
{
	atomic_inc(&hd->writes_in_flight);
	smp_mb__after_atomic();	/* pairs with hm_push_handover() */
	return !READ_ONCE(hd->fenced);
}

static void hm_write_end(struct hm_dev *hd)
{
	if (atomic_dec_and_test(&hd->writes_in_flight) && READ_ONCE(hd->fenced))
		wake_up_all(&hd->wait);
}

/*
 * Writes, discards and write-zeroes are passed down to the data device.
 * Their chunks are marked dirty at submission and again at completion: a
 * pusher that clears a chunk while a write to it is in flight may read the
 * old data, and the second mark makes sure that chunk is sent again. Once
 * the source is fenced for handover, writes fail: the VM runs elsewhere.
 */
static int hm_map_source(struct hm_dev *hd, struct bio *bio,
			 struct hm_bio *hb, sector_t offset)
{
	unsigned long chunk;

	if (!hm_bio_modifies_data(bio))
		return DM_MAPIO_REMAPPED;
	if (!hm_write_begin(hd)) {
		hm_write_end(hd);
		DMERR_LIMIT("%s: write refused: handed over to the destination",
			    dm_device_name(hd->md));
		return DM_MAPIO_KILL;
	}

	/* A write may span several chunks: mark every one it touches. */
	hb->first_chunk = offset >> hd->chunk_shift;
	hb->last_chunk = (offset + bio_sectors(bio) - 1) >> hd->chunk_shift;
	hb->tracked = true;

	atomic64_inc(&hd->tracker.nr_write_bios);
	for (chunk = hb->first_chunk; chunk <= hb->last_chunk; chunk++)
		hm_count_write(&hd->tracker, chunk);
	hm_mark_dirty(&hd->tracker, hb->first_chunk, hb->last_chunk);
	return DM_MAPIO_REMAPPED;
}

static int hm_map(struct dm_target *ti, struct bio *bio)
{
	struct hm_target *ht = ti->private;
	struct hm_dev *hd = ht->hd;
	struct hm_bio *hb = dm_per_bio_data(bio, sizeof(*hb));
	sector_t offset = dm_target_offset(ti, bio->bi_iter.bi_sector);

	hb->tracked = false;
	hb->overwrite = false;
	hb->md_deferred = false;
	hb->refused = false;
	bio_set_dev(bio, ht->data_dev->bdev);
	if (!bio_sectors(bio))
		return hm_md_defer_flush(hd, bio) ? DM_MAPIO_SUBMITTED :
						    DM_MAPIO_REMAPPED;
	bio->bi_iter.bi_sector = offset;

	if (hd->role == HM_ROLE_DEST)
		return hm_dest_map(hd, bio);
	return hm_map_source(hd, bio, hb, offset);
}

static int hm_end_io(struct dm_target *ti, struct bio *bio,
		     blk_status_t *error)
{
	struct hm_target *ht = ti->private;
	struct hm_dev *hd = ht->hd;
	struct hm_bio *hb = dm_per_bio_data(bio, sizeof(*hb));

	if (hb->md_deferred)
		return DM_ENDIO_DONE;	/* completed after its commit */
	if (*error && *error != BLK_STS_NOTSUPP && *error != BLK_STS_AGAIN &&
	    !hb->refused)
		hm_dev_io_error(hd);
	/* Failed writes may have changed the data too: mark them as well. */
	if (hb->tracked) {
		hm_mark_dirty(&hd->tracker, hb->first_chunk, hb->last_chunk);
		hm_write_end(hd);
	}
	if (hb->overwrite)
		hm_dest_end_io(hd, bio, *error);
	/* A FUA write is durable once the chunks it filled are recorded. */
	hb->md_deferred = true;
	if (hm_md_defer_fua(hd, bio))
		return DM_ENDIO_INCOMPLETE;
	hb->md_deferred = false;
	return DM_ENDIO_DONE;
}

/* ---- Status and messages ---- */

/*
 * <policy> <ready> <inflight_chunks> <sent_chunks> <zero_chunks>
 * <acked_chunks> <data_bytes> <rate_kib> <dirty_rate> <deferred_chunks>
 * <bandwidth_kib> <handover_us> <pulls> <pull_avg_us>
 */
static void hm_emit_xfer_status(struct hm_dev *hd, char *result,
				unsigned int maxlen, unsigned int *size)
{
	struct hm_xfer_stats *x = &hd->xfer;
	bool source = hd->role == HM_ROLE_SOURCE;
	unsigned int sz = *size;
	u64 pulls = atomic64_read(&x->pulls);

	/* Rates age even when nothing moves. */
	hm_rate_update(&x->rate, atomic64_read(&x->acked_bytes));
	hm_rate_update(&x->dirty_rate, atomic64_read(&hd->tracker.nr_dirtied));
	DMEMIT(" %s %d %ld %lld %lld %lld %lld %lu %lu %lu %u",
	       source ? hm_policy_names[READ_ONCE(hd->policy)] : "-",
	       READ_ONCE(x->ready), atomic_long_read(&x->inflight),
	       atomic64_read(&x->sent_chunks), atomic64_read(&x->zero_chunks),
	       atomic64_read(&x->acked_chunks), atomic64_read(&x->data_bytes),
	       READ_ONCE(x->rate.per_sec) >> 10,
	       source ? READ_ONCE(x->dirty_rate.per_sec) : 0,
	       source ? READ_ONCE(x->deferred) : 0,
	       source ? READ_ONCE(hd->bandwidth) : 0);
	/* <handover_us> <pulls> <pull_avg_us> */
	DMEMIT(" %llu %llu %llu", READ_ONCE(x->handover_us), pulls,
	       pulls ? div64_u64(atomic64_read(&x->pull_ns), pulls * 1000) : 0);
	*size = sz;
}

/* <metadata: - | ok | failed> <io_errors> <migration_id | -> */
static void hm_emit_state_status(struct hm_dev *hd, char *result,
				 unsigned int maxlen, unsigned int *size)
{
	unsigned int sz = *size;

	DMEMIT(" %s %d", !hd->meta ? "-" : hm_md_failed(hd) ? "failed" : "ok",
	       atomic_read(&hd->io_errors));
	if (READ_ONCE(hd->has_migration_id))
		DMEMIT(" %*phN", HM_MIGRATION_ID_LEN, hd->migration_id);
	else
		DMEMIT(" -");
	*size = sz;
}

/*
 * INFO:  <role> <phase> <chunk_sectors> <total_chunks> <dirty_chunks>
 *        <hot_chunks> <hot_threshold> <write_bios>
 *        <link: 8 fields, see hm_link_emit_status()>
 *        <transfer: 14 fields, see hm_emit_xfer_status()>
 *        <metadata> <io_errors> <migration_id>
 * TABLE: <role> <data_dev> <metadata_dev|-> <chunk_sectors> [<#opt_args> <opt_args>...]
 */
static void hm_status(struct dm_target *ti, status_type_t type,
		      unsigned int status_flags, char *result,
		      unsigned int maxlen)
{
	struct hm_target *ht = ti->private;
	struct hm_dev *hd = ht->hd;
	struct hm_tracker *t = &hd->tracker;
	unsigned int threshold = READ_ONCE(hd->hot_threshold);
	unsigned int nr_opt;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%s %s %llu %lu %lu %lu %u %lld",
		       hm_role_name(hd->role), hm_phase_name(hd->phase),
		       (unsigned long long)hd->chunk_sectors, t->nr_chunks,
		       atomic_long_read(&t->nr_dirty), hm_nr_hot(t, threshold),
		       threshold, atomic64_read(&t->nr_write_bios));
		mutex_lock(&hd->link_lock);
		hm_link_emit_status(hd, result, maxlen, &sz);
		mutex_unlock(&hd->link_lock);
		hm_emit_xfer_status(hd, result, maxlen, &sz);
		hm_emit_state_status(hd, result, maxlen, &sz);
		break;

	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %s %llu", hm_role_name(hd->role),
		       ht->data_dev->name,
		       ht->meta_dev ? ht->meta_dev->name : "-",
		       (unsigned long long)hd->chunk_sectors);
		nr_opt = ht->opt_start_clean + ht->opt_auto_handover +
			 2 * (ht->opt_hot_threshold + ht->opt_policy +
			      ht->opt_bandwidth + ht->opt_ready_chunks +
			      ht->opt_migration_id);
		if (!nr_opt)
			break;
		DMEMIT(" %u", nr_opt);
		if (ht->opt_start_clean)
			DMEMIT(" start_clean");
		if (ht->opt_auto_handover)
			DMEMIT(" auto_handover");
		if (ht->opt_hot_threshold)
			DMEMIT(" hot_threshold %u", ht->hot_threshold);
		if (ht->opt_policy)
			DMEMIT(" policy %s", hm_policy_names[ht->policy]);
		if (ht->opt_bandwidth)
			DMEMIT(" bandwidth %u", ht->bandwidth);
		if (ht->opt_ready_chunks)
			DMEMIT(" ready_chunks %u", ht->ready_chunks);
		if (ht->opt_migration_id)
			DMEMIT(" migration_id %*phN", HM_MIGRATION_ID_LEN,
			       ht->migration_id);
		break;

	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",role=%s,data_dev=%s,chunk_sectors=%llu;",
		       hm_role_name(hd->role), ht->data_dev->name,
		       (unsigned long long)hd->chunk_sectors);
		break;
	}
}

/*
 * Write the dirty chunks as space-separated ranges ("a" or "a-b") to @result.
 * When the buffer fills up, dm-ioctl flags it and libdevmapper retries with
 * a larger one.
 */
static void hm_emit_dirty_ranges(struct hm_tracker *t, char *result,
				 unsigned int maxlen)
{
	unsigned long start = 0, end;
	unsigned int sz = 0;

	while (sz + 1 < maxlen) {
		start = find_next_bit(t->dirty, t->nr_chunks, start);
		if (start >= t->nr_chunks)
			break;
		end = find_next_zero_bit(t->dirty, t->nr_chunks, start);
		if (sz)
			DMEMIT(" ");
		if (end - start == 1)
			DMEMIT("%lu", start);
		else
			DMEMIT("%lu-%lu", start, end - 1);
		start = end;
	}
}

/* set <param> <value>: the source's push tunables. */
static int hm_set_param(struct hm_dev *hd, const char *param,
			const char *value)
{
	enum hm_policy policy;
	unsigned int v;

	if (hd->role != HM_ROLE_SOURCE) {
		DMERR("set %s: a destination has no tunables", param);
		return -EINVAL;
	}
	if (!strcasecmp(param, "hot_threshold")) {
		if (kstrtouint(value, 10, &v) || v > HM_HOT_MAX) {
			DMERR("set hot_threshold: expected 0..%u, got '%s'",
			      HM_HOT_MAX, value);
			return -EINVAL;
		}
		WRITE_ONCE(hd->hot_threshold, v);
	} else if (!strcasecmp(param, "policy")) {
		if (hm_policy_parse(value, &policy)) {
			DMERR("set policy: expected hybrid, precopy or postcopy, got '%s'",
			      value);
			return -EINVAL;
		}
		WRITE_ONCE(hd->policy, policy);
	} else if (!strcasecmp(param, "bandwidth")) {
		if (kstrtouint(value, 10, &v) || v > HM_MAX_BANDWIDTH) {
			DMERR("set bandwidth: expected KiB/s (0 for no limit), got '%s'",
			      value);
			return -EINVAL;
		}
		WRITE_ONCE(hd->bandwidth, v);
	} else if (!strcasecmp(param, "ready_chunks")) {
		if (kstrtouint(value, 10, &v)) {
			DMERR("set ready_chunks: expected a number of chunks, got '%s'",
			      value);
			return -EINVAL;
		}
		WRITE_ONCE(hd->ready_chunks, v);
	} else {
		DMERR("set: unknown parameter '%s'", param);
		return -EINVAL;
	}
	hm_pusher_kick(hd);	/* under msg_lock: the pusher cannot go away */
	return 0;
}

/* connect (source) or listen (destination) <host:port> <key_description> */
static int hm_msg_open_link(struct dm_target *ti, struct hm_dev *hd,
			    const char *verb, const char *addr,
			    const char *key_desc)
{
	bool server = !strcasecmp(verb, "listen");
	bool dest = hd->role == HM_ROLE_DEST;

	if (server != dest) {
		DMERR("%s: a source connects, a destination listens",
		      dm_table_device_name(ti->table));
		return -EINVAL;
	}
	return hm_link_start(hd, dm_table_device_name(ti->table), server,
			     addr, key_desc);
}

/* ping <count>: send count PINGs on every lane, reply with the number sent. */
static int hm_msg_ping(struct dm_target *ti, struct hm_dev *hd,
		       const char *arg, char *result, unsigned int maxlen)
{
	unsigned int count, sz = 0;
	long sent;

	if (kstrtouint(arg, 10, &count) || !count || count > HM_MAX_PINGS) {
		DMERR("ping: expected a count of 1..%u", HM_MAX_PINGS);
		return -EINVAL;
	}
	sent = hm_link_ping(hd, count);
	if (sent < 0) {
		DMERR("%s: ping failed: error %ld", dm_table_device_name(ti->table),
		      sent);
		return sent;
	}
	DMEMIT("%ld", sent);
	return 1;
}

/*
 * unfence i_know_the_destination_is_gone: the override for a source that
 * handed over (or began to) and whose destination is lost for good. The
 * VM may run here again, on the data as of the fence: whatever it wrote
 * on the destination since is lost. A new migration identifier keeps the
 * old destination from ever talking to this source again.
 */
static int hm_msg_unfence(struct dm_target *ti, struct hm_dev *hd,
			  const char *confirm)
{
	const char *name = dm_table_device_name(ti->table);
	int r;

	if (strcmp(confirm, "i_know_the_destination_is_gone")) {
		DMERR("%s: usage: unfence i_know_the_destination_is_gone", name);
		return -EINVAL;
	}
	if (!READ_ONCE(hd->fenced)) {
		DMERR("%s: unfence: the source is not fenced", name);
		return -EINVAL;
	}
	if (hd->link) {
		DMERR("%s: unfence: disconnect from the destination first", name);
		return -EBUSY;
	}
	hm_md_new_migration_id(hd);
	hm_mark_all_dirty(&hd->tracker);
	WRITE_ONCE(hd->fenced, false);
	hm_dev_set_phase(hd, HM_PHASE_TRACKING);
	r = hm_md_set_phase(hd, HM_PHASE_TRACKING);
	DMWARN("%s: unfenced by the operator: writable again, every chunk dirty, a new migration",
	       name);
	return r;
}

static int hm_msg_source_only(struct dm_target *ti, struct hm_dev *hd,
			      const char *verb)
{
	if (hd->role == HM_ROLE_SOURCE)
		return 0;
	DMERR("%s: %s is a message for the source",
	      dm_table_device_name(ti->table), verb);
	return -EINVAL;
}

/*
 * Messages:
 *   set hot_threshold|policy|bandwidth|ready_chunks <value>	(source)
 *   list_dirty		(replies with the dirty chunk ranges)
 *   connect <host:port> <key_description>	(source)
 *   listen <host:port> <key_description>	(destination)
 *   handover		(source: the VM is paused here; it runs there next)
 *   abort		(source, before handover: the migration is off)
 *   unfence i_know_the_destination_is_gone	(source: see hm_msg_unfence)
 *   disconnect
 *   ping <count>	(replies with the number of PINGs sent per lane)
 */
static int hm_message(struct dm_target *ti, unsigned int argc, char **argv,
		      char *result, unsigned int maxlen)
{
	struct hm_target *ht = ti->private;
	struct hm_dev *hd = ht->hd;
	int r = -EINVAL;

	mutex_lock(&hd->msg_lock);
	if (argc == 3 && !strcasecmp(argv[0], "set")) {
		r = hm_set_param(hd, argv[1], argv[2]);
	} else if (argc == 3 && (!strcasecmp(argv[0], "connect") ||
				 !strcasecmp(argv[0], "listen"))) {
		r = hm_msg_open_link(ti, hd, argv[0], argv[1], argv[2]);
	} else if (argc == 2 && !strcasecmp(argv[0], "ping")) {
		r = hm_msg_ping(ti, hd, argv[1], result, maxlen);
	} else if (argc == 1 && !strcasecmp(argv[0], "disconnect")) {
		r = hd->link ? 0 : -ENOTCONN;
		if (r)
			DMERR("disconnect: %s is not connected or listening",
			      dm_table_device_name(ti->table));
		hm_link_stop(hd);
	} else if (argc == 1 && !strcasecmp(argv[0], "handover")) {
		r = hm_msg_source_only(ti, hd, argv[0]) ?: hm_push_handover(hd);
	} else if (argc == 1 && !strcasecmp(argv[0], "abort")) {
		r = hm_msg_source_only(ti, hd, argv[0]) ?: hm_push_abort(hd);
	} else if (argc == 2 && !strcasecmp(argv[0], "unfence")) {
		r = hm_msg_source_only(ti, hd, argv[0]) ?:
		    hm_msg_unfence(ti, hd, argv[1]);
	} else if (argc == 1 && !strcasecmp(argv[0], "list_dirty")) {
		hm_emit_dirty_ranges(&hd->tracker, result, maxlen);
		r = 1;
	} else if (argc >= 1 && !strcasecmp(argv[0], "set")) {
		DMERR("usage: set <param> <value>");
	} else {
		DMERR("unknown message '%s' (or wrong argument count)",
		      argc ? argv[0] : "");
	}
	mutex_unlock(&hd->msg_lock);
	return r;
}

/* ---- Device limits ---- */

static int hm_iterate_devices(struct dm_target *ti,
			      iterate_devices_callout_fn fn, void *data)
{
	struct hm_target *ht = ti->private;

	return fn(ti, ht->data_dev, 0, ti->len, data);
}

/*
 * Whole chunks are what moves between hosts, so advertise the chunk size as
 * the optimal I/O size. io_min is left alone: small writes cost the source
 * nothing extra.
 */
static void hm_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct hm_target *ht = ti->private;
	unsigned int chunk_bytes = ht->hd->chunk_sectors << SECTOR_SHIFT;

	if (!limits->io_opt || limits->io_opt % chunk_bytes)
		limits->io_opt = chunk_bytes;
}

static struct target_type hybridmig_target = {
	.name = "hybridmig",
	.version = {1, 3, 0},
	.module = THIS_MODULE,
	.ctr = hm_ctr,
	.dtr = hm_dtr,
	.map = hm_map,
	.end_io = hm_end_io,
	.postsuspend = hm_postsuspend,
	.preresume = hm_preresume,
	.resume = hm_resume,
	.status = hm_status,
	.message = hm_message,
	.iterate_devices = hm_iterate_devices,
	.io_hints = hm_io_hints,
};

static int __init dm_hybridmig_init(void)
{
	int r = dm_register_target(&hybridmig_target);

	if (r < 0)
		DMERR("register failed %d", r);
	return r;
}

static void __exit dm_hybridmig_exit(void)
{
	dm_unregister_target(&hybridmig_target);
}

module_init(dm_hybridmig_init);
module_exit(dm_hybridmig_exit);

MODULE_DESCRIPTION(DM_NAME " live migration of local storage (hybrid push/prefetch)");
MODULE_AUTHOR("The hybridmig developers");
MODULE_LICENSE("GPL");
/*
 * Every session frame is sealed with AES-GCM, the handshake uses
 * HMAC-SHA256: have modprobe bring the fast implementations (on a host
 * without udev nothing else would).
 */
MODULE_SOFTDEP("pre: aesni_intel sha256_ssse3");
