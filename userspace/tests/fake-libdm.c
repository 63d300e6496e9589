// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stand-in for the few libdevmapper calls hybridmigctl makes, so that the
 * command can be tested end to end without a kernel (see test-cli.sh).
 *
 * The devices are described by the environment:
 *
 *   HM_FAKE_DM="name|type|length|params[|type|length|params...];name2|..."
 *	devices and the targets of their live tables; a device with no
 *	target fields has no table
 *   HM_FAKE_DM_FAIL="open:ERRNO"	dm_task_create() cannot open the
 *					control node (logs, as libdevmapper)
 *   HM_FAKE_DM_FAIL="ioctl:ERRNO"	dm_task_run() fails with ERRNO
 *   HM_FAKE_DM_FAIL="nomem"		dm_task_create() fails, logs nothing
 *   HM_FAKE_DM_FAIL="message:ERRNO"	target messages fail with ERRNO
 *   HM_FAKE_DM_LOG=FILE		changes (create, reload, resume,
 *					remove, clear, message) are appended
 *					to FILE, one line each, and succeed
 *					(create: unless the name exists)
 *   HM_FAKE_DM_REPLY=TEXT		the reply of every target message
 *
 * TABLE returns the targets as given (for a hybridmig target, the status
 * words), WAITEVENT returns after 0.1 s.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libdevmapper.h>
#include <linux/dm-ioctl.h>

#define FAKE_MAX_DEVS		16
#define FAKE_MAX_TARGETS	4
#define FAKE_PARAMS_MAX		512
#define FAKE_CONTROL		"/dev/mapper/control"

struct fake_target {
	char type[DM_MAX_TYPE_NAME];
	uint64_t start, length;
	char params[FAKE_PARAMS_MAX];
};

struct fake_dev {
	char name[DM_NAME_LEN];
	int nr_targets;
	struct fake_target targets[FAKE_MAX_TARGETS];
};

struct dm_task {
	int type;
	char name[DM_NAME_LEN];
	char uuid[DM_UUID_LEN];
	char message[256];
	char targets[1024];		/* CREATE, RELOAD: the table */
	int ioctl_errno;
	struct fake_dev *dev;		/* STATUS: the device, if found */
	struct dm_names *names;		/* LIST */
};

static struct fake_dev fake_devs[FAKE_MAX_DEVS];
static int fake_nr_devs;
static bool fake_loaded;
static dm_log_with_errno_fn fake_log_fn;

#define fake_log(level, err, ...)					\
	do {								\
		if (fake_log_fn)					\
			fake_log_fn(level, __FILE__, __LINE__, err,	\
				    __VA_ARGS__);			\
		else							\
			fprintf(stderr, "libdm: " __VA_ARGS__),	\
			fputc('\n', stderr);				\
	} while (0)

static void fake_die(const char *what)
{
	fprintf(stderr, "fake-libdm: bad HM_FAKE_DM: %s\n", what);
	exit(99);
}

static void fake_add_target(struct fake_dev *dev, char **save)
{
	struct fake_target *t;
	char *type = strtok_r(NULL, "|", save);
	char *len, *params;

	if (!type)
		return;
	len = strtok_r(NULL, "|", save);
	params = strtok_r(NULL, "|", save);
	if (!len || !params || dev->nr_targets == FAKE_MAX_TARGETS)
		fake_die("target needs type|length|params");

	t = &dev->targets[dev->nr_targets];
	if (dev->nr_targets) {
		struct fake_target *prev = t - 1;

		t->start = prev->start + prev->length;
	}
	dev->nr_targets++;
	snprintf(t->type, sizeof(t->type), "%s", type);
	t->length = strtoull(len, NULL, 10);
	snprintf(t->params, sizeof(t->params), "%s", params);
	fake_add_target(dev, save);
}

static void fake_load(void)
{
	const char *env = getenv("HM_FAKE_DM");
	char *buf, *dev_save, *spec;

	if (fake_loaded)
		return;
	fake_loaded = true;
	if (!env)
		return;

	buf = strdup(env);
	if (!buf)
		fake_die("out of memory");
	for (spec = strtok_r(buf, ";", &dev_save); spec;
	     spec = strtok_r(NULL, ";", &dev_save)) {
		struct fake_dev *dev = &fake_devs[fake_nr_devs];
		char *save;

		if (fake_nr_devs == FAKE_MAX_DEVS)
			fake_die("too many devices");
		fake_nr_devs++;
		snprintf(dev->name, sizeof(dev->name), "%s",
			 strtok_r(spec, "|", &save));
		fake_add_target(dev, &save);
	}
	free(buf);
}

/* "open:13" -> 13 for @kind "open"; 0 if HM_FAKE_DM_FAIL is something else. */
static int fake_fail(const char *kind)
{
	const char *env = getenv("HM_FAKE_DM_FAIL");
	size_t len = strlen(kind);

	if (!env || strncmp(env, kind, len))
		return 0;
	if (!env[len])
		return -1;
	return env[len] == ':' ? atoi(env + len + 1) : 0;
}

void dm_log_with_errno_init(dm_log_with_errno_fn fn)
{
	fake_log_fn = fn;
}

struct dm_task *dm_task_create(int type)
{
	struct dm_task *dmt;
	int err;

	fake_load();

	if (fake_fail("nomem"))
		return NULL;

	err = fake_fail("open");
	if (err > 0) {
		/* What libdevmapper 1.02.185 logs, first error first. */
		errno = err;
		fake_log(3, -1, "%s: open failed: %s", FAKE_CONTROL,
			 strerror(err));
		fake_log(7, 0, "<backtrace>");
		fake_log(3, -1, "Failure to communicate with kernel device-mapper driver.");
		fake_log(3 | 128, -1, "Incompatible libdevmapper 1.02.185 (2022-05-18) and kernel driver (unknown version).");
		errno = err;
		return NULL;
	}

	dmt = calloc(1, sizeof(*dmt));
	if (dmt)
		dmt->type = type;
	return dmt;
}

void dm_task_destroy(struct dm_task *dmt)
{
	if (!dmt)
		return;
	free(dmt->names);
	free(dmt);
}

int dm_task_set_name(struct dm_task *dmt, const char *name)
{
	static const char prefix[] = "/dev/mapper/";

	if (strchr(name, '/')) {
		if (strncmp(name, prefix, strlen(prefix))) {
			fake_log(3, -1, "Device %s not found", name);
			return 0;
		}
		name += strlen(prefix);
	}
	if (strlen(name) >= DM_NAME_LEN) {
		fake_log(3, -1, "Name \"%s\" too long.", name);
		return 0;
	}
	snprintf(dmt->name, sizeof(dmt->name), "%s", name);
	return 1;
}

int dm_task_no_open_count(struct dm_task *dmt)
{
	(void)dmt;
	return 1;
}

static size_t fake_names_size(const char *name)
{
	size_t sz = offsetof(struct dm_names, name) + strlen(name) + 1;

	return (sz + 7) & ~(size_t)7;
}

/* Pack the names as the DM_LIST_DEVICES ioctl does. */
static int fake_list(struct dm_task *dmt)
{
	struct dm_names *n;
	size_t total = sizeof(*n) + 8;
	char *p;
	int i;

	for (i = 0; i < fake_nr_devs; i++)
		total += fake_names_size(fake_devs[i].name);
	dmt->names = calloc(1, total);
	if (!dmt->names)
		return 0;

	p = (char *)dmt->names;
	for (i = 0; i < fake_nr_devs; i++) {
		n = (struct dm_names *)p;
		n->dev = 0xfd00 + i + 1;
		strcpy(n->name, fake_devs[i].name);
		if (i + 1 < fake_nr_devs)
			n->next = fake_names_size(fake_devs[i].name);
		p += fake_names_size(fake_devs[i].name);
	}
	return 1;
}

static void fake_status(struct dm_task *dmt)
{
	int i;

	for (i = 0; i < fake_nr_devs; i++)
		if (!strcmp(fake_devs[i].name, dmt->name))
			dmt->dev = &fake_devs[i];
}

static const char *const fake_ops[] = {
	[DM_DEVICE_CREATE] = "create", [DM_DEVICE_RELOAD] = "reload",
	[DM_DEVICE_REMOVE] = "remove", [DM_DEVICE_RESUME] = "resume",
	[DM_DEVICE_SUSPEND] = "suspend", [DM_DEVICE_CLEAR] = "clear",
	[DM_DEVICE_TARGET_MSG] = "message",
};

/* Record a change in HM_FAKE_DM_LOG: "create vm1 uuid=...: 0 8 linear ...". */
static void fake_record(struct dm_task *dmt)
{
	const char *path = getenv("HM_FAKE_DM_LOG");
	FILE *f = path ? fopen(path, "a") : NULL;

	if (!f)
		return;
	fprintf(f, "%s %s", fake_ops[dmt->type], dmt->name);
	if (dmt->uuid[0])
		fprintf(f, " uuid=%s", dmt->uuid);
	if (dmt->targets[0])
		fprintf(f, ":%s", dmt->targets);
	if (dmt->message[0])
		fprintf(f, ": %s", dmt->message);
	fputc('\n', f);
	fclose(f);
}

static int fake_fail_ioctl(struct dm_task *dmt, int err)
{
	dmt->ioctl_errno = err;
	errno = err;
	fake_log(3, -1, "device-mapper: %s ioctl on %s failed: %s",
		 dmt->type == DM_DEVICE_LIST ? "list" : "status",
		 dmt->name, strerror(err));
	return 0;
}

static int fake_change(struct dm_task *dmt)
{
	int err = fake_fail("message");

	fake_status(dmt);
	if (dmt->type == DM_DEVICE_TARGET_MSG && err > 0)
		return fake_fail_ioctl(dmt, err);
	if (dmt->type == DM_DEVICE_CREATE && dmt->dev)
		return fake_fail_ioctl(dmt, EEXIST);
	/* A device created lives on in this process, without a table. */
	if (dmt->type == DM_DEVICE_CREATE && fake_nr_devs < FAKE_MAX_DEVS)
		snprintf(fake_devs[fake_nr_devs++].name, DM_NAME_LEN, "%s",
			 dmt->name);
	if (dmt->type != DM_DEVICE_CREATE && !dmt->dev)
		return fake_fail_ioctl(dmt, ENXIO);
	fake_record(dmt);
	return 1;
}

int dm_task_run(struct dm_task *dmt)
{
	static const struct timespec tenth = { 0, 100000000 };
	int err = fake_fail("ioctl");

	if (err > 0)
		return fake_fail_ioctl(dmt, err);

	switch (dmt->type) {
	case DM_DEVICE_LIST:
		return fake_list(dmt);
	case DM_DEVICE_WAITEVENT:
		nanosleep(&tenth, NULL);
		/* fall through */
	case DM_DEVICE_STATUS:
	case DM_DEVICE_INFO:
	case DM_DEVICE_TABLE:
		fake_status(dmt);
		return 1;	/* a missing device is no error, as for real */
	case DM_DEVICE_CREATE:
	case DM_DEVICE_RELOAD:
	case DM_DEVICE_REMOVE:
	case DM_DEVICE_RESUME:
	case DM_DEVICE_SUSPEND:
	case DM_DEVICE_CLEAR:
	case DM_DEVICE_TARGET_MSG:
		return fake_change(dmt);
	default:
		return 0;
	}
}

int dm_task_get_errno(struct dm_task *dmt)
{
	return dmt->ioctl_errno;
}

struct dm_names *dm_task_get_names(struct dm_task *dmt)
{
	return dmt->names;
}

int dm_task_get_info(struct dm_task *dmt, struct dm_info *info)
{
	memset(info, 0, sizeof(*info));
	info->exists = !!dmt->dev;
	if (dmt->dev) {
		info->live_table = dmt->dev->nr_targets > 0;
		info->target_count = dmt->dev->nr_targets;
	}
	return 1;
}

const char *dm_task_get_name(const struct dm_task *dmt)
{
	return dmt->dev ? dmt->dev->name : dmt->name;
}

void *dm_get_next_target(struct dm_task *dmt, void *next, uint64_t *start,
			 uint64_t *length, char **target_type, char **params)
{
	struct fake_dev *dev = dmt->dev;
	struct fake_target *t = next;

	if (!t && dev && dev->nr_targets)
		t = &dev->targets[0];
	if (!t) {
		*start = 0;
		*length = 0;
		*target_type = NULL;
		*params = NULL;
		return NULL;
	}

	*start = t->start;
	*length = t->length;
	*target_type = t->type;
	*params = t->params;
	t++;
	return t < dev->targets + dev->nr_targets ? t : NULL;
}

const char *dm_task_get_uuid(const struct dm_task *dmt)
{
	return dmt->dev ? "" : dmt->uuid;
}

int dm_task_set_uuid(struct dm_task *dmt, const char *uuid)
{
	snprintf(dmt->uuid, sizeof(dmt->uuid), "%s", uuid);
	return 1;
}

int dm_task_add_target(struct dm_task *dmt, uint64_t start, uint64_t size,
		       const char *ttype, const char *params)
{
	size_t len = strlen(dmt->targets);

	snprintf(dmt->targets + len, sizeof(dmt->targets) - len,
		 " %llu %llu %s %s", (unsigned long long)start,
		 (unsigned long long)size, ttype, params);
	return 1;
}

int dm_task_set_message(struct dm_task *dmt, const char *message)
{
	snprintf(dmt->message, sizeof(dmt->message), "%s", message);
	return 1;
}

const char *dm_task_get_message_response(struct dm_task *dmt)
{
	(void)dmt;
	return getenv("HM_FAKE_DM_REPLY");
}

int dm_task_set_sector(struct dm_task *dmt, uint64_t sector)
{
	(void)dmt;
	(void)sector;
	return 1;
}

int dm_task_set_event_nr(struct dm_task *dmt, uint32_t event_nr)
{
	(void)dmt;
	(void)event_nr;
	return 1;
}

int dm_task_retry_remove(struct dm_task *dmt)
{
	(void)dmt;
	return 1;
}

int dm_task_set_cookie(struct dm_task *dmt, uint32_t *cookie, uint16_t flags)
{
	(void)dmt;
	(void)flags;
	*cookie = 0;
	return 1;
}

int dm_udev_wait(uint32_t cookie)
{
	(void)cookie;
	return 1;
}
