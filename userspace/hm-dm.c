// SPDX-License-Identifier: GPL-2.0-only
/*
 * Thin wrapper over libdevmapper: find hybridmig devices, read their status.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <libdevmapper.h>
#include <stdbool.h>

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

/*
 * Tasks on one device
 */

/* A task on device @name: created, named, not yet run. */
static int hm_dm_task_on(int type, const char *name, struct dm_task **dmt)
{
	int r;

	hm_dm_clear_error();
	r = hm_dm_task_create(type, dmt);
	if (r)
		return r;
	if (!dm_task_set_name(*dmt, name)) {
		dm_task_destroy(*dmt);
		*dmt = NULL;
		return -ENODEV;
	}
	return 0;
}

/* The raw errno of a failed task (messages need it: ENOTCONN, ENOKEY ...). */
static int hm_dm_task_raw_error(struct dm_task *dmt)
{
	int err = dm_task_get_errno(dmt);

	if (!err)
		err = hm_dm_errnum > 0 ? hm_dm_errnum : EIO;
	return -err;
}

static void hm_dm_fill_info(struct dm_task *dmt, const struct dm_info *di,
			    struct hm_dm_info *info)
{
	const char *uuid = dm_task_get_uuid(dmt);

	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", dm_task_get_name(dmt));
	snprintf(info->uuid, sizeof(info->uuid), "%s", uuid ? uuid : "");
	info->major = di->major;
	info->minor = di->minor;
	info->open_count = di->open_count;
	info->event_nr = di->event_nr;
	info->suspended = !!di->suspended;
	info->live_table = !!di->live_table;
	info->inactive_table = !!di->inactive_table;
	info->read_only = !!di->read_only;
}

/* Run @dmt and read the device's state; -ENODEV if it does not exist. */
static int hm_dm_run_info(struct dm_task *dmt, struct hm_dm_info *info,
			  bool raw)
{
	struct dm_info di;

	if (!dm_task_run(dmt))
		return raw ? hm_dm_task_raw_error(dmt) : hm_dm_task_error(dmt);
	if (!dm_task_get_info(dmt, &di))
		return -EIO;
	if (!di.exists)
		return -ENODEV;
	if (info)
		hm_dm_fill_info(dmt, &di, info);
	return 0;
}

/**
 * hm_dm_info() - the state of device @name
 *
 * Return: 0, -ENODEV if there is no such device, or another negative errno.
 */
int hm_dm_info(const char *name, struct hm_dm_info *info)
{
	struct dm_task *dmt;
	int r;

	r = hm_dm_task_on(DM_DEVICE_INFO, name, &dmt);
	if (r)
		return r;
	r = hm_dm_run_info(dmt, info, false);
	dm_task_destroy(dmt);
	return r;
}

void hm_dm_table_free(struct hm_dm_table *table)
{
	size_t i;

	for (i = 0; i < table->nr; i++)
		free(table->t[i].params);
	free(table->t);
	table->t = NULL;
	table->nr = 0;
}

static int hm_dm_table_add(struct hm_dm_table *table, uint64_t start,
			   uint64_t length, const char *type,
			   const char *params)
{
	struct hm_dm_target *tmp;
	char *copy = strdup(params ? params : "");

	if (!copy)
		return -ENOMEM;
	tmp = realloc(table->t, (table->nr + 1) * sizeof(*tmp));
	if (!tmp) {
		free(copy);
		return -ENOMEM;
	}
	table->t = tmp;
	tmp += table->nr++;
	tmp->start = start;
	tmp->length = length;
	snprintf(tmp->type, sizeof(tmp->type), "%s", type);
	tmp->params = copy;
	return 0;
}

/**
 * hm_dm_get_table() - the live table of device @name
 *
 * Return: 0 (an empty table if the device has none), -ENODEV, or another
 * negative errno.
 */
int hm_dm_get_table(const char *name, struct hm_dm_table *table)
{
	uint64_t start, length;
	char *type, *params;
	struct dm_task *dmt;
	void *next = NULL;
	int r;

	table->t = NULL;
	table->nr = 0;
	r = hm_dm_task_on(DM_DEVICE_TABLE, name, &dmt);
	if (r)
		return r;
	r = hm_dm_run_info(dmt, NULL, false);
	while (!r) {
		type = NULL;
		next = dm_get_next_target(dmt, next, &start, &length, &type,
					  &params);
		if (type)
			r = hm_dm_table_add(table, start, length, type, params);
		if (!next)
			break;
	}
	dm_task_destroy(dmt);
	if (r)
		hm_dm_table_free(table);
	return r;
}

static int hm_dm_add_targets(struct dm_task *dmt,
			     const struct hm_dm_table *table)
{
	size_t i;

	for (i = 0; i < table->nr; i++) {
		const struct hm_dm_target *t = &table->t[i];

		if (!dm_task_add_target(dmt, t->start, t->length, t->type,
					t->params))
			return -ENOMEM;
	}
	return 0;
}

/*
 * Run a task that changes devices, synchronised with udev as dmsetup does
 * (without udev, DM_DISABLE_UDEV=1, libdevmapper makes the nodes itself).
 */
static int hm_dm_run_udev(struct dm_task *dmt, uint16_t udev_flags)
{
	uint32_t cookie = 0;
	int r = 0;

	if (!dm_task_set_cookie(dmt, &cookie, udev_flags))
		return -EIO;
	if (!dm_task_run(dmt))
		r = hm_dm_task_raw_error(dmt);
	dm_udev_wait(cookie);
	return r;
}

/**
 * hm_dm_create() - create device @name with @table, and make it live
 * @uuid: its device-mapper UUID, or NULL
 * @udev_flags: DM_UDEV_* flags (HM_DM_UDEV_PRIVATE for a hidden device)
 */
int hm_dm_create(const char *name, const char *uuid,
		 const struct hm_dm_table *table, uint16_t udev_flags)
{
	struct dm_task *dmt;
	int r;

	r = hm_dm_task_on(DM_DEVICE_CREATE, name, &dmt);
	if (r)
		return r;
	if (uuid && !dm_task_set_uuid(dmt, uuid))
		r = -EINVAL;
	if (!r)
		r = hm_dm_add_targets(dmt, table);
	if (!r)
		r = hm_dm_run_udev(dmt, udev_flags);
	dm_task_destroy(dmt);
	return r;
}

/** hm_dm_load() - load @table as the inactive table of @name */
int hm_dm_load(const char *name, const struct hm_dm_table *table)
{
	struct dm_task *dmt;
	int r;

	r = hm_dm_task_on(DM_DEVICE_RELOAD, name, &dmt);
	if (r)
		return r;
	r = hm_dm_add_targets(dmt, table);
	if (!r && !dm_task_run(dmt))
		r = hm_dm_task_raw_error(dmt);
	dm_task_destroy(dmt);
	return r;
}

/* A task without arguments but the device's name. */
static int hm_dm_simple(int type, const char *name, uint16_t udev_flags,
			bool udev, int retry)
{
	struct dm_task *dmt;
	int r;

	r = hm_dm_task_on(type, name, &dmt);
	if (r)
		return r;
	if (retry)
		dm_task_retry_remove(dmt);
	if (udev)
		r = hm_dm_run_udev(dmt, udev_flags);
	else if (!dm_task_run(dmt))
		r = hm_dm_task_raw_error(dmt);
	dm_task_destroy(dmt);
	return r;
}

/** hm_dm_resume() - resume @name, making its inactive table live if any */
int hm_dm_resume(const char *name, uint16_t udev_flags)
{
	return hm_dm_simple(DM_DEVICE_RESUME, name, udev_flags, true, 0);
}

/** hm_dm_suspend() - suspend @name (I/O in flight completes first) */
int hm_dm_suspend(const char *name)
{
	return hm_dm_simple(DM_DEVICE_SUSPEND, name, 0, false, 0);
}

/** hm_dm_remove() - remove @name; @retry: retry a while if it is busy */
int hm_dm_remove(const char *name, int retry)
{
	return hm_dm_simple(DM_DEVICE_REMOVE, name, 0, true, retry);
}

/** hm_dm_clear() - drop the inactive table of @name */
int hm_dm_clear(const char *name)
{
	return hm_dm_simple(DM_DEVICE_CLEAR, name, 0, false, 0);
}

int hm_dm_message(const char *name, const char *msg, char *reply,
		  size_t reply_len)
{
	struct dm_task *dmt;
	const char *resp;
	int r;

	if (reply_len)
		reply[0] = '\0';
	r = hm_dm_task_on(DM_DEVICE_TARGET_MSG, name, &dmt);
	if (r)
		return r;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg)) {
		r = -ENOMEM;
	} else if (!dm_task_run(dmt)) {
		r = hm_dm_task_raw_error(dmt);
	} else if (reply_len) {
		resp = dm_task_get_message_response(dmt);
		snprintf(reply, reply_len, "%s", resp ? resp : "");
	}
	dm_task_destroy(dmt);
	return r;
}

static void hm_dm_alarm(int sig)
{
	(void)sig;
}

/* Interrupt a blocking ioctl after @ms (0: disarm). */
static void hm_dm_arm_timer(int ms)
{
	struct itimerval it = { 0 };
	struct sigaction sa = { 0 };

	if (ms > 0) {
		sa.sa_handler = hm_dm_alarm;	/* no SA_RESTART */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		it.it_value.tv_sec = ms / 1000;
		it.it_value.tv_usec = (ms % 1000) * 1000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

int hm_dm_wait_event(const char *name, uint32_t event_nr, int timeout_ms,
		     struct hm_dm_info *info)
{
	struct dm_task *dmt;
	int r;

	r = hm_dm_task_on(DM_DEVICE_WAITEVENT, name, &dmt);
	if (r)
		return r;
	if (!dm_task_set_event_nr(dmt, event_nr)) {
		dm_task_destroy(dmt);
		return -ENOMEM;
	}
	hm_dm_arm_timer(timeout_ms);
	r = hm_dm_run_info(dmt, info, true);
	hm_dm_arm_timer(0);
	dm_task_destroy(dmt);
	if (r == -EINTR)
		r = -ETIMEDOUT;
	return r;
}
