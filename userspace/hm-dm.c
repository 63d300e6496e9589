// SPDX-License-Identifier: GPL-2.0-only
/*
 * Thin wrapper over libdevmapper: find hybridmig devices, read their status.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdevmapper.h>

#include "hm-compiler.h"
#include "hm-dm.h"

/*
 * libdevmapper log levels (its private _LOG_* values): the low bits are
 * the syslog-like level, higher bits are flags such as _LOG_STDERR.
 */
#define HM_DM_LOG_LEVEL_MASK	0x7f
#define HM_DM_LOG_ERR		3

static char hm_dm_errmsg[256];
static int hm_dm_errnum;

/*
 * Keep libdevmapper quiet, but remember its first error since the last
 * hm_dm_clear_error() and the errno at that point, so that the caller can
 * print one line of its own. The first error is the cause: when the driver
 * is missing, libdevmapper goes on with "Failure to communicate with kernel
 * device-mapper driver." and ends with a misleading "Incompatible
 * libdevmapper ... and kernel driver (unknown version)."
 */
__printf(5, 6)
static void hm_dm_log(int level, const char *file, int line,
		      int dm_errno_or_class, const char *f, ...)
{
	int saved_errno = errno;
	va_list ap;

	(void)file;
	(void)line;

	if ((level & HM_DM_LOG_LEVEL_MASK) > HM_DM_LOG_ERR || hm_dm_errmsg[0])
		return;

	va_start(ap, f);
	vsnprintf(hm_dm_errmsg, sizeof(hm_dm_errmsg), f, ap);
	va_end(ap);
	hm_dm_errnum = dm_errno_or_class > 0 ? dm_errno_or_class : saved_errno;
	errno = saved_errno;
}

void hm_dm_init(void)
{
	dm_log_with_errno_init(hm_dm_log);
}

const char *hm_dm_error(void)
{
	return hm_dm_errmsg;
}

static void hm_dm_clear_error(void)
{
	hm_dm_errmsg[0] = '\0';
	hm_dm_errnum = 0;
}

/* Keep the errnos that have an exit code of their own. */
static int hm_dm_classify(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
	case ENOMEM:
	case EBUSY:
		return -err;
	default:
		return -EIO;
	}
}

/*
 * dm_task_create() fails when out of memory, but also when it cannot reach
 * the driver (no /dev/mapper/control, no permission): then it logged why.
 */
static int hm_dm_task_create(int type, struct dm_task **dmt)
{
	*dmt = dm_task_create(type);
	if (*dmt)
		return 0;
	return hm_dm_errmsg[0] ? hm_dm_classify(hm_dm_errnum) : -ENOMEM;
}

/* Why did dm_task_run() fail? The ioctl's errno, else the logged one. */
static int hm_dm_task_error(struct dm_task *dmt)
{
	int err = dm_task_get_errno(dmt);

	return hm_dm_classify(err ? err : hm_dm_errnum);
}

static int hm_names_add(struct hm_names *names, const char *name)
{
	char **tmp;
	char *copy;

	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	tmp = realloc(names->names, (names->nr + 1) * sizeof(*tmp));
	if (!tmp) {
		free(copy);
		return -ENOMEM;
	}
	tmp[names->nr++] = copy;
	names->names = tmp;
	return 0;
}

void hm_names_free(struct hm_names *names)
{
	size_t i;

	for (i = 0; i < names->nr; i++)
		free(names->names[i]);
	free(names->names);
	names->names = NULL;
	names->nr = 0;
}

static int hm_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk the packed dm_names list of a DM_DEVICE_LIST task. */
static int hm_names_collect(struct dm_task *dmt, struct hm_names *out)
{
	struct dm_names *n = dm_task_get_names(dmt);
	int r;

	if (!n)
		return -EIO;
	if (!n->dev)
		return 0;	/* no devices at all */

	for (;;) {
		r = hm_names_add(out, n->name);
		if (r)
			return r;
		if (!n->next)
			return 0;
		n = (struct dm_names *)((char *)n + n->next);
	}
}

/**
 * hm_dm_list_names() - names of all device-mapper devices
 * @out: filled with a sorted list the caller frees with hm_names_free()
 */
int hm_dm_list_names(struct hm_names *out)
{
	struct dm_task *dmt;
	int r;

	out->names = NULL;
	out->nr = 0;
	hm_dm_clear_error();

	r = hm_dm_task_create(DM_DEVICE_LIST, &dmt);
	if (r)
		return r;

	if (dm_task_run(dmt))
		r = hm_names_collect(dmt, out);
	else
		r = hm_dm_task_error(dmt);
	dm_task_destroy(dmt);

	if (r)
		hm_names_free(out);
	else if (out->nr)
		qsort(out->names, out->nr, sizeof(*out->names), hm_names_cmp);
	return r;
}

/* Find the first hybridmig target of the live table and parse its status. */
static int hm_dm_find_target(struct dm_task *dmt, struct hm_device *dev)
{
	void *next = NULL;
	uint64_t start, length;
	char *type, *params;

	do {
		type = NULL;
		params = NULL;
		next = dm_get_next_target(dmt, next, &start, &length,
					  &type, &params);
		if (type && !strcmp(type, HM_TARGET_NAME)) {
			dev->size_sectors = length;
			return hm_status_parse(params, &dev->status);
		}
	} while (next);

	return -EMEDIUMTYPE;
}

/**
 * hm_dm_get_device() - read the status of one hybridmig device
 * @name: device-mapper name, or a path under /dev/mapper
 * @dev: filled in; dev->name is set as soon as the device is found
 *
 * Return: 0; -ENODEV if there is no such device; -EMEDIUMTYPE if its live
 * table has no hybridmig target; -EINVAL if its status cannot be parsed;
 * -ENOMEM, -EACCES, -EPERM, -EBUSY or -EIO if device-mapper failed.
 */
int hm_dm_get_device(const char *name, struct hm_device *dev)
{
	struct dm_task *dmt;
	struct dm_info info;
	int r;

	memset(dev, 0, sizeof(*dev));
	hm_dm_clear_error();

	r = hm_dm_task_create(DM_DEVICE_STATUS, &dmt);
	if (r)
		return r;

	/* Fails for a name too long, or a path that is no dm device. */
	if (!dm_task_set_name(dmt, name)) {
		r = -ENODEV;
		goto out;
	}
	dm_task_no_open_count(dmt);

	if (!dm_task_run(dmt)) {
		r = hm_dm_task_error(dmt);
		goto out;
	}
	if (!dm_task_get_info(dmt, &info)) {
		r = -EIO;
		goto out;
	}
	if (!info.exists) {
		r = -ENODEV;
		goto out;
	}

	snprintf(dev->name, sizeof(dev->name), "%s", dm_task_get_name(dmt));
	r = hm_dm_find_target(dmt, dev);
out:
	dm_task_destroy(dmt);
	return r;
}
