// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live adoption of a volume in use, and its reverse:
 *
 *   adopt NAME [source options]: the live table of device NAME moves to a
 *   new hidden device NAME-real, and NAME is reloaded as a hybridmig
 *   source over it - the way LVM stacks a snapshot origin. The VM keeps
 *   its device (same name, same major:minor); its I/O pauses only for the
 *   table swap.
 *
 *   detach NAME: NAME gets the table of NAME-real back, and NAME-real goes.
 *
 * Only tables of linear and striped targets are adopted: they can be
 * copied to another device as they are, and nothing is stacked in them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hm-args.h"
#include "hm-cmd.h"
#include "hm-exit.h"
#include "hm-log.h"

#define HM_TABLE_MAX	512

static bool hm_is(const char *a, const char *b)
{
	return !strcmp(a, b);
}

static void hm_real_name(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s" HM_REAL_SUFFIX, name);
}

static double hm_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 +
	       (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * Swap the live table of @name for @table: load it, then resume, which
 * suspends the device (I/O in flight completes), swaps and resumes. The
 * milliseconds I/O was held go to @ms.
 */
static int hm_swap_table(const char *name, const struct hm_dm_table *table,
			 double *ms)
{
	struct timespec t0;
	int r;

	r = hm_dm_load(name, table);
	if (r)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = hm_dm_resume(name, 0);
	*ms = hm_ms_since(&t0);
	if (r)
		hm_dm_clear(name);
	return r;
}

/* A table hybridmigctl knows how to move: linear and striped targets. */
static int hm_check_adoptable(const char *name, const struct hm_dm_info *info,
			      const struct hm_dm_table *table, uint64_t *len)
{
	size_t i;

	if (!info->live_table || !table->nr) {
		hm_err("%s has no table to adopt", name);
		return HM_EXIT_NODEV;
	}
	if (info->suspended || info->inactive_table) {
		hm_err("%s is suspended or has an inactive table: another tool is changing it",
		       name);
		return HM_EXIT_BUSY;
	}
	*len = 0;
	for (i = 0; i < table->nr; i++) {
		const char *type = table->t[i].type;

		if (hm_is(type, HM_TARGET_NAME)) {
			hm_err("%s is a hybridmig device already", name);
			return HM_EXIT_BUSY;
		}
		if (!hm_is(type, "linear") && !hm_is(type, "striped")) {
			hm_err("%s has a %s target: only tables of linear and striped targets can be adopted",
			       name, type);
			return HM_EXIT_NODEV;
		}
		if (table->t[i].start != *len) {
			hm_err("%s has a table with holes: cannot adopt it", name);
			return HM_EXIT_NODEV;
		}
		*len += table->t[i].length;
	}
	return HM_EXIT_OK;
}

/* Load hybridmig over @real into @name and make it live. */
static int hm_adopt_swap(const char *name, const char *real, uint64_t len,
			 const struct hm_args *a)
{
	char params[HM_TABLE_MAX], majmin[32];
	struct hm_dm_target t = { .start = 0, .length = len,
				  .type = HM_TARGET_NAME, .params = params };
	struct hm_dm_table table = { .t = &t, .nr = 1 };
	struct hm_dm_info ri;
	double ms = 0;
	int r;

	r = hm_dm_info(real, &ri);
	if (r)
		return hm_dm_err("cannot read the new device", r);
	snprintf(majmin, sizeof(majmin), "%u:%u", ri.major, ri.minor);
	if (hm_table_params(params, sizeof(params), "source", majmin, &a->t) < 0) {
		hm_err("table line too long");
		return HM_EXIT_USAGE;
	}
	r = hm_swap_table(name, &table, &ms);
	if (r) {
		hm_err("cannot load hybridmig into %s: %s (the reason is in the kernel log); %s is unchanged",
		       name, strerror(-r), name);
		return hm_exit_from_errno(r);
	}
	printf("%s: adopted: hybridmig source over %s (%s); I/O held for %.1f ms\n",
	       name, real, majmin, ms);
	return HM_EXIT_OK;
}

/**
 * hm_adopt_device() - insert a hybridmig source under device @name
 * @a: the table options of the source
 *
 * Return: an exit code; errors are printed, and leave @name as it was.
 */
int hm_adopt_device(const char *name, const struct hm_args *a)
{
	char real[DM_NAME_LEN + 8], uuid[DM_UUID_LEN];
	struct hm_dm_table table;
	struct hm_dm_info info;
	uint64_t len = 0;
	int ret, r;

	r = hm_dm_info(name, &info);
	if (!r)
		r = hm_dm_get_table(name, &table);
	if (r)
		return hm_device_err(name, r);
	ret = hm_check_adoptable(name, &info, &table, &len);
	hm_real_name(real, sizeof(real), name);
	if (!ret && !hm_dm_info(real, NULL)) {
		hm_err("%s exists already: %s is stacked on already", real, name);
		ret = HM_EXIT_BUSY;
	}
	if (!ret) {
		snprintf(uuid, sizeof(uuid), "%s%s", HM_UUID_REAL, name);
		r = hm_dm_create(real, uuid, &table, HM_DM_UDEV_PRIVATE);
		if (r) {
			hm_err("cannot create %s: %s", real, strerror(-r));
			ret = hm_exit_from_errno(r);
		}
	}
	hm_dm_table_free(&table);
	if (ret)
		return ret;
	ret = hm_adopt_swap(name, real, len, a);
	if (ret)
		hm_dm_remove(real, 1);
	return ret;
}

/**
 * hm_is_adopted() - whether hybridmig device @name was put there by adopt
 * @data_dev: the data device of its hybridmig target ("major:minor")
 */
bool hm_is_adopted(const char *name, const char *data_dev)
{
	char real[DM_NAME_LEN + 8], majmin[32];
	struct hm_dm_info ri;

	hm_real_name(real, sizeof(real), name);
	if (hm_dm_info(real, &ri))
		return false;
	snprintf(majmin, sizeof(majmin), "%u:%u", ri.major, ri.minor);
	return hm_is(majmin, data_dev) &&
	       !strncmp(ri.uuid, HM_UUID_REAL, strlen(HM_UUID_REAL));
}

/**
 * hm_detach_device() - give adopted device @name its own table back
 *
 * Return: an exit code; errors are printed.
 */
int hm_detach_device(const char *name)
{
	char real[DM_NAME_LEN + 8];
	struct hm_dm_table table;
	double ms = 0;
	int r;

	hm_real_name(real, sizeof(real), name);
	r = hm_dm_get_table(real, &table);
	if (r)
		return hm_device_err(real, r);
	r = hm_send_disconnect(name);
	if (!r)
		r = hm_swap_table(name, &table, &ms);
	hm_dm_table_free(&table);
	if (r) {
		hm_err("cannot give %s its table back: %s; it is unchanged",
		       name, strerror(-r));
		return hm_exit_from_errno(r);
	}
	r = hm_dm_remove(real, 1);
	if (r) {
		hm_err("%s is detached, but %s could not be removed: %s", name,
		       real, strerror(-r));
		return hm_exit_from_errno(r);
	}
	printf("%s: detached: back on its own table; I/O held for %.1f ms\n",
	       name, ms);
	return HM_EXIT_OK;
}

int hm_cmd_adopt(int argc, char **argv)
{
	struct hm_args a;
	int ret;

	ret = hm_args_parse(argc, argv, argv[0], HM_O_SOURCE, 1, 1, "NAME", &a);
	if (ret)
		return hm_args_exit(ret);
	hm_dm_init();
	return hm_adopt_device(a.pos[0], &a);
}

/* May @name leave hybridmig now? Only when no migration depends on it. */
static int hm_check_detach(const struct hm_device *dev, bool force)
{
	const struct hm_status *st = &dev->status;
	char data[64];
	int r;

	if (!hm_is(st->role, "source")) {
		hm_err("%s is a destination: detach is for an adopted source", dev->name);
		return HM_EXIT_NODEV;
	}
	r = hm_data_dev(dev->name, data, sizeof(data));
	if (r)
		return hm_device_err(dev->name, r);
	if (!hm_is_adopted(dev->name, data)) {
		hm_err("%s was not adopted (its data device is not %s" HM_REAL_SUFFIX "): nothing to detach",
		       dev->name, dev->name);
		return HM_EXIT_NODEV;
	}
	if (hm_is(st->phase, "handover") || hm_is(st->phase, "postcopy")) {
		hm_err("%s was handed over (phase %s): the destination still needs it until complete",
		       dev->name, st->phase);
		return HM_EXIT_BUSY;
	}
	if (hm_is(st->phase, "tracking") && !hm_is(st->link_state, "none") &&
	    !force) {
		hm_err("%s is migrating (link %s): abort it first, or give --force",
		       dev->name, st->link_state);
		return HM_EXIT_BUSY;
	}
	return HM_EXIT_OK;
}

int hm_cmd_detach(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_args a;
	int ret;

	ret = hm_args_parse(argc, argv, argv[0], HM_O_FORCE, 1, 1, "NAME", &a);
	if (ret)
		return hm_args_exit(ret);
	hm_dm_init();
	ret = hm_get_device(a.pos[0], &dev);
	if (!ret)
		ret = hm_check_detach(&dev, a.force);
	return ret ? ret : hm_detach_device(a.pos[0]);
}
