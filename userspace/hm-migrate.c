// SPDX-License-Identifier: GPL-2.0-only
/*
 * The migration commands of hybridmigctl:
 *
 *   create source|dest NAME DEV [options]
 *   receive NAME [DEV] --listen ADDR --key DESC [options]   (destination)
 *   migrate NAME --to ADDR --key DESC [options]             (source)
 *   handover NAME, abort NAME, set NAME PARAM VALUE
 *   wait NAME [--for EVENT], finish NAME
 *
 * The happy path is three commands: receive on the destination host,
 * migrate on the source host, handover once the hypervisor has paused the
 * VM. receive and migrate stay in the foreground, show progress, and at
 * completion cut the destination over to linear and remove (or detach)
 * the source.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/fs.h>

#include "hm-args.h"
#include "hm-cmd.h"
#include "hm-exit.h"
#include "hm-job.h"
#include "hm-key.h"
#include "hm-log.h"
#include "hm-usage.h"

#define HM_TABLE_MAX	512
#define HM_REPLY_MAX	256

static bool hm_is(const char *a, const char *b)
{
	return !strcmp(a, b);
}

int hm_get_device(const char *name, struct hm_device *dev)
{
	int r = hm_dm_get_device(name, dev);

	return r ? hm_device_err(name, r) : HM_EXIT_OK;
}

/* @name must be a hybridmig device of @role. */
static int hm_get_role(const char *name, const char *role,
		       struct hm_device *dev)
{
	int ret = hm_get_device(name, dev);

	if (ret)
		return ret;
	if (!hm_is(dev->status.role, role)) {
		hm_err("%s is a %s, not a %s", name,
		       hm_is(dev->status.role, "dest") ? "destination" : "source",
		       hm_is(role, "dest") ? "destination" : "source");
		return HM_EXIT_NODEV;
	}
	return HM_EXIT_OK;
}

int hm_data_dev(const char *name, char *dev, size_t len)
{
	struct hm_dm_table table;
	char role[16];
	size_t i;
	int r;

	r = hm_dm_get_table(name, &table);
	if (r)
		return r;
	r = -EMEDIUMTYPE;
	for (i = 0; i < table.nr && r == -EMEDIUMTYPE; i++)
		if (hm_is(table.t[i].type, HM_TARGET_NAME))
			r = hm_table_data_dev(table.t[i].params, role,
					      sizeof(role), dev, len);
	hm_dm_table_free(&table);
	return r;
}

/*
 * The block device @path: "major:minor" and its size. Errors are printed.
 */
static int hm_blockdev(const char *path, char *majmin, size_t len,
		       uint64_t *bytes)
{
	struct stat st;
	int fd, ret = HM_EXIT_OK;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hm_err("cannot open %s: %s", path, strerror(errno));
		return errno == EACCES ? HM_EXIT_PERM : HM_EXIT_NODEV;
	}
	if (fstat(fd, &st) || !S_ISBLK(st.st_mode)) {
		hm_err("%s is not a block device", path);
		ret = HM_EXIT_NODEV;
	} else if (ioctl(fd, BLKGETSIZE64, bytes)) {
		hm_err("cannot read the size of %s: %s", path, strerror(errno));
		ret = HM_EXIT_FAIL;
	} else {
		snprintf(majmin, len, "%u:%u", major(st.st_rdev),
			 minor(st.st_rdev));
	}
	close(fd);
	return ret;
}

/* A table of one hybridmig target of @sectors. */
static int hm_one_target(struct hm_dm_table *table, struct hm_dm_target *t,
			 uint64_t sectors, const char *type, char *params)
{
	t->start = 0;
	t->length = sectors;
	snprintf(t->type, sizeof(t->type), "%s", type);
	t->params = params;
	table->t = t;
	table->nr = 1;
	return 0;
}

/* Why a table was refused: the kernel logs the reason. */
static int hm_table_err(const char *what, const char *name, int r)
{
	if (r == -EEXIST) {
		hm_err("device %s already exists", name);
		return HM_EXIT_BUSY;
	}
	if (r == -EINVAL && access("/sys/module/dm_hybridmig", F_OK)) {
		hm_err("cannot %s %s: the hybridmig target is not loaded (modprobe dm-hybridmig)",
		       what, name);
		return HM_EXIT_FAIL;
	}
	if (r == -EINVAL || r == -EBUSY || r == -EOPNOTSUPP) {
		hm_err("cannot %s %s: the kernel refused the table: %s (the reason is in the kernel log)",
		       what, name, strerror(-r));
		return r == -EBUSY ? HM_EXIT_BUSY : HM_EXIT_FAIL;
	}
	hm_err("cannot %s %s: %s", what, name, strerror(-r));
	return hm_exit_from_errno(r);
}

/* An empty or over-long name cannot be a device-mapper device. */
static int hm_check_name(const char *name)
{
	if (!name[0] || strlen(name) + strlen(HM_REAL_SUFFIX) >= DM_NAME_LEN ||
	    strchr(name, '/')) {
		hm_err("invalid device name '%s'", name);
		return HM_EXIT_NODEV;
	}
	return HM_EXIT_OK;
}

/*
 * Create hybridmig device @name of @role over @path. A destination is
 * a->size_bytes long (default: the whole device), and refused if @path is
 * smaller than that.
 */
static int hm_create_device(const char *role, const char *name,
			    const char *path, const struct hm_args *a)
{
	char params[HM_TABLE_MAX], majmin[32], uuid[DM_UUID_LEN];
	struct hm_dm_target t;
	struct hm_dm_table table;
	uint64_t bytes, size;
	bool dest = hm_is(role, "dest");
	int ret, r;

	ret = hm_check_name(name);
	if (!ret && !hm_dm_info(name, NULL)) {
		hm_err("device %s already exists", name);
		ret = HM_EXIT_BUSY;
	}
	if (!ret)
		ret = hm_blockdev(path, majmin, sizeof(majmin), &bytes);
	if (ret)
		return ret;
	size = a->has_size ? a->size_bytes : bytes & ~511ULL;
	if (bytes < size) {
		hm_err("%s holds %" PRIu64 " bytes, less than the source's %" PRIu64 " (--size): give a volume at least as large",
		       path, bytes, size);
		return HM_EXIT_NODEV;
	}
	if (!size) {
		hm_err("%s is empty", path);
		return HM_EXIT_NODEV;
	}
	if (hm_table_params(params, sizeof(params), role, majmin, &a->t) < 0) {
		hm_err("table line too long");
		return HM_EXIT_USAGE;
	}
	snprintf(uuid, sizeof(uuid), "%s%s", dest ? HM_UUID_DEST : HM_UUID_SOURCE,
		 name);
	hm_one_target(&table, &t, size / 512, HM_TARGET_NAME, params);
	r = hm_dm_create(name, uuid, &table, 0);
	return r ? hm_table_err("create", name, r) : HM_EXIT_OK;
}

/*
 * Messages
 */

static int hm_send(const char *name, const char *msg, char *reply, size_t len)
{
	return hm_dm_message(name, msg, reply, len);
}

/* A message that failed in a way its command did not explain. */
static int hm_msg_err(const char *name, const char *word, int r)
{
	hm_err("%s: %s failed: %s (the reason is in the kernel log)", name,
	       word, strerror(-r));
	return hm_exit_from_errno(r);
}

/* connect or listen, with the key of @a; a --key-file is loaded first. */
static int hm_link(const char *name, const char *word, const struct hm_args *a)
{
	char msg[512];
	int ret, r;

	if (a->key_file) {
		ret = hm_key_load_file(a->key, a->key_file, true);
		if (ret)
			return ret;
	}
	snprintf(msg, sizeof(msg), "%s %s %s", word, a->addr, a->key);
	r = hm_send(name, msg, NULL, 0);
	/*
	 * The kernel copied the secret: it need not stay in the keyring (if
	 * it is gone already, another command on this host unloaded it).
	 */
	if (a->key_file)
		hm_key_invalidate(a->key, true);
	switch (r) {
	case 0:
		return HM_EXIT_OK;
	case -ENOKEY:
		hm_err("%s: no logon key '%s' in the keyring: load it with '" HM_PROG " key load %s FILE', or give --key-file",
		       name, a->key, a->key);
		return HM_EXIT_NODEV;
	case -EKEYREJECTED:
		hm_err("%s: the secret of logon key '%s' must be 16 to 128 bytes",
		       name, a->key);
		return HM_EXIT_USAGE;
	case -EBUSY:
		hm_err("%s already has a link: send disconnect first, or wait for it",
		       name);
		return HM_EXIT_BUSY;
	case -EADDRINUSE:
	case -EADDRNOTAVAIL:
		hm_err("%s: cannot listen on %s: %s", name, a->addr, strerror(-r));
		return HM_EXIT_BUSY;
	}
	return hm_msg_err(name, word, r);
}

/*
 * Waiting and progress
 */

enum hm_until { HM_CONNECTED, HM_READY, HM_HANDOVER, HM_COMPLETE };

struct hm_watch {
	const char *name;
	enum hm_until until;
	int timeout_s;		/* -1: none */
	int interval_s;		/* between plain progress lines */
	bool progress;
	bool fail_fast;		/* link failures of a source end the wait */
	bool expect_link;	/* a source losing its link was aborted */
	bool hint;		/* tell the operator when to hand over */
};

static const char *const hm_until_names[] = {
	[HM_CONNECTED] = "connected", [HM_READY] = "ready",
	[HM_HANDOVER] = "handover", [HM_COMPLETE] = "complete",
};

static bool hm_past_handover(const struct hm_status *st)
{
	return hm_is(st->phase, "postcopy") || hm_is(st->phase, "complete");
}

static bool hm_reached(const struct hm_status *st, enum hm_until until)
{
	switch (until) {
	case HM_CONNECTED:
		return hm_is(st->link_state, "connected");
	case HM_READY:
		return hm_past_handover(st) ||
		       (st->ready && hm_is(st->link_state, "connected"));
	case HM_HANDOVER:
		return hm_past_handover(st);
	case HM_COMPLETE:
		return hm_is(st->phase, "complete");
	}
	return false;
}

static bool hm_auth_error(const char *e)
{
	return hm_is(e, "bad_peer_proof") || hm_is(e, "peer_rejected_auth");
}

/*
 * A state the wait cannot get out of by itself: an exit code, and why in
 * @msg; or 0.
 */
static int hm_failed(const struct hm_watch *w, const struct hm_device *dev,
		     char *msg, size_t len)
{
	const struct hm_status *st = &dev->status;
	const char *e = st->link_error;

	if (hm_is(st->phase, "aborted")) {
		snprintf(msg, len, "%s: the source aborted the migration: remove this destination",
			 w->name);
		return HM_EXIT_ABORTED;
	}
	if (!hm_is(st->role, "source") || !hm_is(st->phase, "tracking"))
		return 0;
	if (w->expect_link && hm_is(st->link_state, "none")) {
		snprintf(msg, len, "%s: the migration was aborted or disconnected", w->name);
		return HM_EXIT_ABORTED;
	}
	if (!w->fail_fast || hm_is(st->link_state, "connected"))
		return 0;
	if (hm_auth_error(e)) {
		snprintf(msg, len, "%s: authentication failed (%s): the two hosts do not hold the same secret",
			 w->name, e);
		return HM_EXIT_PERM;
	}
	if (hm_is(e, "peer_geometry_mismatch")) {
		snprintf(msg, len, "%s: the destination differs in length or chunk size: create it with --size %" PRIu64 "s --chunk-size %" PRIu64 "s",
			 w->name, dev->size_sectors, st->chunk_sectors);
		return HM_EXIT_NODEV;
	}
	if (hm_is(e, "peer_aborted")) {
		snprintf(msg, len, "%s: the destination was aborted by an earlier migration: create it anew",
			 w->name);
		return HM_EXIT_ABORTED;
	}
	return 0;
}

struct hm_display {
	bool tty;
	bool shown;		/* a terminal line is on screen */
	uint64_t next_ms;	/* next plain line */
	char stage[HM_STATUS_WORD_MAX + 1];
};

static void hm_show(struct hm_display *d, const struct hm_watch *w,
		    const struct hm_device *dev, bool last)
{
	struct hm_job job;
	uint64_t now = hm_now_ms();
	char line[512];
	bool changed;

	hm_job_from_status(&dev->status, dev->size_sectors,
			   hm_job_start(w->name), now, &job);
	changed = strcmp(d->stage, job.stage);
	snprintf(d->stage, sizeof(d->stage), "%s", job.stage);
	hm_job_format(line, sizeof(line), w->name, &job, d->tty);
	if (d->tty) {
		printf("\r\033[K%s%s", line, last ? "\n" : "");
		d->shown = !last;
	} else if (last || changed || now >= d->next_ms) {
		printf("%s\n", line);
		d->next_ms = now + w->interval_s * 1000ULL;
	}
	fflush(stdout);
}

/* End the terminal's progress line before another line is printed. */
static void hm_show_break(struct hm_display *d)
{
	if (d->shown)
		putchar('\n');
	d->shown = false;
}

static void hm_hint(struct hm_display *d, const struct hm_watch *w,
		    const struct hm_status *st, bool *hinted)
{
	if (!w->hint || *hinted || !hm_is(st->phase, "tracking") ||
	    !st->ready || !hm_is(st->link_state, "connected"))
		return;
	*hinted = true;
	hm_show_break(d);
	printf("%s: ready for handover: pause the VM, then run '" HM_PROG " handover %s'\n",
	       w->name, w->name);
}

/*
 * Wait, event-driven (dm events), until the device reaches w->until;
 * showing progress if asked. @dev holds the last status on return.
 */
static int hm_watch(const struct hm_watch *w, struct hm_device *dev)
{
	uint64_t deadline = w->timeout_s < 0 ? 0 :
		hm_now_ms() + w->timeout_s * 1000ULL;
	struct hm_display d = { .tty = isatty(STDOUT_FILENO) };
	struct hm_dm_info info;
	bool hinted = false;
	char msg[256];
	int ret, r, tick;

	for (;;) {
		/* The event counter first, so that no event is missed. */
		r = hm_dm_info(w->name, &info);
		if (!r)
			r = hm_dm_get_device(w->name, dev);
		if (r) {
			hm_show_break(&d);
			return hm_device_err(w->name, r);
		}
		if (hm_reached(&dev->status, w->until))
			break;
		if (w->progress)
			hm_show(&d, w, dev, false);
		hm_hint(&d, w, &dev->status, &hinted);
		ret = hm_failed(w, dev, msg, sizeof(msg));
		if (ret) {
			hm_show_break(&d);
			hm_err("%s", msg);
			return ret;
		}
		tick = d.tty || !w->progress ? 1000 : 500;
		if (deadline) {
			uint64_t now = hm_now_ms();

			if (now >= deadline) {
				hm_show_break(&d);
				hm_err("%s: timed out after %d s waiting for %s (phase %s); nothing was changed",
				       w->name, w->timeout_s, hm_until_names[w->until],
				       dev->status.phase);
				return HM_EXIT_TIMEOUT;
			}
			if (deadline - now < (uint64_t)tick)
				tick = deadline - now;
		}
		r = hm_dm_wait_event(w->name, info.event_nr, tick, NULL);
		if (r && r != -ETIMEDOUT) {
			hm_show_break(&d);
			return hm_device_err(w->name, r);
		}
	}
	if (w->progress)
		hm_show(&d, w, dev, true);
	return HM_EXIT_OK;
}

static void hm_watch_init(struct hm_watch *w, const char *name,
			  enum hm_until until, const struct hm_args *a)
{
	memset(w, 0, sizeof(*w));
	w->name = name;
	w->until = until;
	w->timeout_s = a->timeout_s;
	w->interval_s = a->interval_s;
	w->progress = true;
}

/*
 * Finishing
 */

/* End the link of @name, if it has one: 0 or a negative errno. */
int hm_send_disconnect(const char *name)
{
	int r = hm_send(name, "disconnect", NULL, 0);

	return r == -ENOTCONN ? 0 : r;
}

/* "/dev/loop1 (7:1)", "/dev/mapper/vg-lv (254:3)" for a data device. */
static void hm_dev_path(char *buf, size_t len, const char *majmin)
{
	char path[PATH_MAX], link[PATH_MAX], name[DM_NAME_LEN] = "";
	const char *base;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%s/dm/name", majmin);
	f = fopen(path, "re");
	if (f && fgets(name, sizeof(name), f)) {
		name[strcspn(name, "\n")] = '\0';
		snprintf(buf, len, "/dev/mapper/%s (%s)", name, majmin);
		fclose(f);
		return;
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/sys/dev/block/%s", majmin);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		snprintf(buf, len, "%s", majmin);
		return;
	}
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(buf, len, "/dev/%s (%s)", base ? base + 1 : link, majmin);
}

/*
 * A complete destination tells its source so over the link (COMPLETE); the
 * source then ends by itself, migrate removes it, and the link goes. Were
 * the link cut first, the source could miss that frame and wait in
 * post-copy for a destination that is linear by then: so the link stays
 * until the source has gone, HM_SOURCE_GONE_MS at most.
 */
#define HM_SOURCE_GONE_MS 10000

static void hm_wait_source_gone(const char *name)
{
	uint64_t deadline = hm_now_ms() + HM_SOURCE_GONE_MS;
	struct hm_dm_info info;
	struct hm_device dev;

	while (hm_now_ms() < deadline) {
		if (hm_dm_info(name, &info) || hm_dm_get_device(name, &dev) ||
		    !hm_is(dev.status.link_state, "connected"))
			return;
		hm_dm_wait_event(name, info.event_nr, 100, NULL);
	}
}

/* Cut a complete destination over to linear over its data device. */
static int hm_finish_dest(const struct hm_device *dev)
{
	char data[64], params[96], path[PATH_MAX + 80];
	struct hm_dm_target t;
	struct hm_dm_table table;
	int r;

	r = hm_data_dev(dev->name, data, sizeof(data));
	if (r)
		return hm_device_err(dev->name, r);
	hm_wait_source_gone(dev->name);
	r = hm_send_disconnect(dev->name);
	if (r)
		return hm_msg_err(dev->name, "disconnect", r);
	snprintf(params, sizeof(params), "%s 0", data);
	hm_one_target(&table, &t, dev->size_sectors, "linear", params);
	r = hm_dm_load(dev->name, &table);
	if (!r)
		r = hm_dm_resume(dev->name, 0);
	if (r) {
		hm_dm_clear(dev->name);
		return hm_table_err("cut over", dev->name, r);
	}
	hm_job_forget(dev->name);
	hm_dev_path(path, sizeof(path), data);
	printf("%s: complete; now linear over %s\n", dev->name, path);
	return HM_EXIT_OK;
}

/* Remove a complete source, or give an adopted volume its table back. */
static int hm_finish_source(const struct hm_device *dev)
{
	char data[64];
	int r;

	r = hm_data_dev(dev->name, data, sizeof(data));
	if (r)
		return hm_device_err(dev->name, r);
	hm_job_forget(dev->name);
	if (hm_is_adopted(dev->name, data))
		return hm_detach_device(dev->name);
	r = hm_send_disconnect(dev->name);
	if (r)
		return hm_msg_err(dev->name, "disconnect", r);
	r = hm_dm_remove(dev->name, 1);
	if (r == -EBUSY) {
		hm_err("%s is complete but still open: stop the VM's process on this host, then run '" HM_PROG " finish %s'",
		       dev->name, dev->name);
		return HM_EXIT_BUSY;
	}
	if (r)
		return hm_dm_err("cannot remove the source", r);
	printf("%s: complete; source removed\n", dev->name);
	return HM_EXIT_OK;
}

static int hm_finish(const struct hm_device *dev)
{
	return hm_is(dev->status.role, "dest") ? hm_finish_dest(dev) :
						  hm_finish_source(dev);
}

/*
 * Commands
 */

static int hm_need_link(const struct hm_args *a, const char *addr_opt)
{
	if (!a->addr)
		return hm_usage_err("%s needs %s HOST:PORT", a->cmd, addr_opt);
	if (!a->key)
		return hm_usage_err("%s needs --key DESCRIPTION", a->cmd);
	return HM_EXIT_OK;
}

int hm_cmd_create(int argc, char **argv)
{
	struct hm_args a;
	const char *role;
	int ret;

	ret = hm_args_parse(argc, argv, argv[0], HM_O_SOURCE | HM_O_DEST, 3, 3,
		 "ROLE (source or dest), NAME and DEV", &a);
	if (ret)
		return hm_args_exit(ret);
	role = a.pos[0];
	if (!hm_is(role, "source") && !hm_is(role, "dest"))
		return hm_usage_err("invalid role '%s' for create: expected source or dest",
				    role);
	if (hm_is(role, "source") && (a.given & (HM_O_SIZE | HM_O_AUTO)))
		return hm_usage_err("--size and --auto-handover are options of a destination");
	if (hm_is(role, "dest") &&
	    (a.given & (HM_O_SOURCE & ~(HM_O_CHUNK | HM_O_META))))
		return hm_usage_err("--policy, --bandwidth, --hot-threshold, --ready-chunks and --start-clean are options of a source");
	hm_dm_init();
	ret = hm_create_device(role, a.pos[1], a.pos[2], &a);
	if (!ret)
		printf("created %s %s over %s\n",
		       hm_is(role, "dest") ? "destination" : "source",
		       a.pos[1], a.pos[2]);
	return ret;
}

int hm_cmd_receive(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_watch w;
	struct hm_args a;
	const char *name;
	bool created = false;
	int ret, r;

	ret = hm_args_parse(argc, argv, argv[0], HM_O_DEST | HM_O_LISTEN | HM_O_KEY | HM_O_WATCH |
		 HM_O_NOWAIT | HM_O_NOFINISH, 1, 2, "NAME [DEV]", &a);
	if (ret)
		return hm_args_exit(ret);
	ret = hm_need_link(&a, "--listen");
	if (ret)
		return ret;
	name = a.pos[0];
	hm_dm_init();
	r = hm_dm_info(name, NULL);
	if (r == -ENODEV && a.npos == 2) {
		ret = hm_create_device("dest", name, a.pos[1], &a);
		created = !ret;
	} else if (a.npos == 2 && !r) {
		hm_err("device %s already exists: give no DEV to listen with it",
		       name);
		ret = HM_EXIT_BUSY;
	}
	if (!ret)
		ret = hm_get_role(name, "dest", &dev);
	if (!ret)
		ret = hm_link(name, "listen", &a);
	if (ret) {
		if (created)
			hm_dm_remove(name, 1);
		return ret;
	}
	hm_job_mark_start(name, hm_now_ms());
	printf("%s: listening on %s\n", name, a.addr);
	if (a.no_wait)
		return HM_EXIT_OK;

	hm_watch_init(&w, name, HM_COMPLETE, &a);
	ret = hm_watch(&w, &dev);
	if (ret || a.no_finish)
		return ret;
	return hm_finish(&dev);
}

/* Changes asked for on the command line of migrate, on a running source. */
static int hm_apply_settings(const char *name, const struct hm_args *a)
{
	char msg[64];
	int r = 0;

	if (a->t.policy) {
		snprintf(msg, sizeof(msg), "set policy %s", a->t.policy);
		r = hm_send(name, msg, NULL, 0);
	}
	if (!r && a->t.has_bandwidth) {
		snprintf(msg, sizeof(msg), "set bandwidth %" PRIu64,
			 a->t.bandwidth_kib_s);
		r = hm_send(name, msg, NULL, 0);
	}
	return r ? hm_msg_err(name, "set", r) : HM_EXIT_OK;
}

/* The source to migrate: a hybridmig source, or a volume to adopt. */
static int hm_migrate_source(const char *name, const struct hm_args *a,
			     struct hm_device *dev)
{
	int r = hm_dm_get_device(name, dev);

	if (r == -EMEDIUMTYPE) {
		r = hm_dm_info(name, NULL);
		return r ? hm_device_err(name, r) : hm_adopt_device(name, a);
	}
	if (r)
		return hm_device_err(name, r);
	if (!hm_is(dev->status.role, "source"))
		return hm_get_role(name, "source", dev);
	if (a->given & (HM_O_SOURCE & ~(HM_O_POLICY | HM_O_BW))) {
		hm_err("%s is a hybridmig source already: only --policy and --bandwidth apply",
		       name);
		return HM_EXIT_USAGE;
	}
	return hm_apply_settings(name, a);
}

int hm_cmd_migrate(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_watch w;
	struct hm_args a;
	const char *name;
	int ret;

	ret = hm_args_parse(argc, argv, argv[0], HM_O_SOURCE | HM_O_TO | HM_O_KEY | HM_O_WATCH |
		 HM_O_NOWAIT | HM_O_NOFINISH, 1, 1, "NAME", &a);
	if (ret)
		return hm_args_exit(ret);
	ret = hm_need_link(&a, "--to");
	if (ret)
		return ret;
	name = a.pos[0];
	hm_dm_init();
	ret = hm_check_name(name);
	if (!ret)
		ret = hm_migrate_source(name, &a, &dev);
	if (!ret)
		ret = hm_get_role(name, "source", &dev);
	if (ret)
		return ret;
	if (!hm_is(dev.status.phase, "tracking")) {
		hm_err("%s is in phase %s: already handed over", name,
		       dev.status.phase);
		return HM_EXIT_BUSY;
	}
	if (hm_is(dev.status.link_state, "none")) {
		ret = hm_link(name, "connect", &a);
		if (ret)
			return ret;
		hm_job_mark_start(name, hm_now_ms());
	} else if (strcmp(dev.status.link_address, a.addr)) {
		hm_err("%s is linked to %s already: abort that migration first",
		       name, dev.status.link_address);
		return HM_EXIT_BUSY;
	}
	printf("%s: migrating to %s\n", name, a.addr);
	if (a.no_wait)
		return HM_EXIT_OK;

	hm_watch_init(&w, name, HM_COMPLETE, &a);
	w.fail_fast = w.expect_link = w.hint = true;
	ret = hm_watch(&w, &dev);
	if (ret == HM_EXIT_PERM || ret == HM_EXIT_NODEV)
		hm_send(name, "disconnect", NULL, 0);	/* stop retrying */
	if (ret || a.no_finish)
		return ret;
	return hm_finish(&dev);
}

/*
 * The start of a command on one source, NAME: its arguments, then the
 * device. Return: 0, an exit code, or HM_ARGS_HELP (see hm_args_exit()).
 */
static int hm_source_arg(int argc, char **argv, struct hm_args *a,
			 struct hm_device *dev)
{
	int ret = hm_args_parse(argc, argv, argv[0], 0, 1, 1, "NAME", a);

	if (ret)
		return ret;
	hm_dm_init();
	return hm_get_role(a->pos[0], "source", dev);
}

int hm_cmd_handover(int argc, char **argv)
{
	char left[32];
	struct hm_device dev;
	struct hm_args a;
	const char *name;
	int ret, r;

	ret = hm_source_arg(argc, argv, &a, &dev);
	if (ret)
		return hm_args_exit(ret);
	name = a.pos[0];
	if (!hm_is(dev.status.phase, "tracking")) {
		hm_err("%s is in phase %s: handed over already", name,
		       dev.status.phase);
		return HM_EXIT_BUSY;
	}
	if (!dev.status.has_postcopy) {
		hm_err("the kernel module of %s has no handover (hybridmig target 1.2 or older)",
		       name);
		return HM_EXIT_FAIL;
	}
	if (!hm_is(dev.status.link_state, "connected")) {
		hm_err("%s is not connected to its destination (link %s): nothing was fenced",
		       name, dev.status.link_state);
		return HM_EXIT_FAIL;
	}
	r = hm_send(name, "handover", NULL, 0);
	if (r == -ENOTCONN) {
		hm_err("%s lost its link: nothing was fenced; retry once it is connected",
		       name);
		return HM_EXIT_FAIL;
	}
	if (r == -ETIMEDOUT) {
		hm_err("%s: no acknowledgement within 30 s: the source stays fenced and goes on; wait for phase postcopy ('" HM_PROG " wait %s --for handover')",
		       name, name);
		return HM_EXIT_TIMEOUT;
	}
	if (r == -EINVAL) {
		hm_err("%s: handover refused: a handover is under way already", name);
		return HM_EXIT_BUSY;
	}
	if (r)
		return hm_msg_err(name, "handover", r);
	ret = hm_get_device(name, &dev);
	if (ret)
		return ret;
	hm_format_bytes(left, sizeof(left), hm_status_dirty_bytes(&dev.status,
				dev.size_sectors));
	printf("%s: handed over in %.1f ms; %" PRIu64 " chunks (%s) left to send; resume the VM on the destination\n",
	       name, dev.status.handover_us / 1000.0, dev.status.dirty_chunks,
	       left);
	return HM_EXIT_OK;
}

int hm_cmd_abort(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_args a;
	const char *name;
	int ret, r;

	ret = hm_source_arg(argc, argv, &a, &dev);
	if (ret)
		return hm_args_exit(ret);
	name = a.pos[0];
	r = hm_send(name, "abort", NULL, 0);
	if (r == -EPERM) {
		hm_err("%s was handed over (phase %s): it cannot be aborted; the migration can only complete",
		       name, dev.status.phase);
		return HM_EXIT_BUSY;
	}
	if (r)
		return hm_msg_err(name, "abort", r);
	hm_job_forget(name);
	printf("%s: migration aborted; the VM stays here; remove the destination\n",
	       name);
	return HM_EXIT_OK;
}

/* The value of "set PARAM VALUE", as the kernel wants it. */
static int hm_set_value(const char *param, const char *v, char *out,
			size_t len)
{
	uint64_t n;

	if (hm_is(param, "bandwidth")) {
		if (hm_parse_rate(v, &n))
			return hm_usage_err("invalid bandwidth '%s': expected KiB/s, or a rate with K, M or G, 0 for no limit",
					    v);
	} else if (hm_is(param, "hot_threshold")) {
		if (hm_parse_uint(v, 15, &n))
			return hm_usage_err("invalid hot_threshold '%s': expected 0 to 15", v);
	} else if (hm_is(param, "ready_chunks")) {
		if (hm_parse_uint(v, UINT32_MAX, &n))
			return hm_usage_err("invalid ready_chunks '%s': expected a number of chunks",
					    v);
	} else if (hm_is(param, "policy")) {
		if (!hm_valid_policy(v))
			return hm_usage_err("invalid policy '%s': expected hybrid, precopy or postcopy",
					    v);
		snprintf(out, len, "set policy %s", v);
		return HM_EXIT_OK;
	} else {
		return hm_usage_err("unknown parameter '%s' for set: expected bandwidth, policy, hot_threshold or ready_chunks",
				    param);
	}
	snprintf(out, len, "set %s %" PRIu64, param, n);
	return HM_EXIT_OK;
}

int hm_cmd_set(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_args a;
	char msg[96];
	int ret, r;

	ret = hm_args_parse(argc, argv, argv[0], 0, 3, 3, "NAME, PARAM and VALUE", &a);
	if (ret)
		return hm_args_exit(ret);
	ret = hm_set_value(a.pos[1], a.pos[2], msg, sizeof(msg));
	if (ret)
		return ret;
	hm_dm_init();
	ret = hm_get_device(a.pos[0], &dev);
	if (ret)
		return ret;
	if (hm_is(dev.status.role, "dest")) {
		hm_err("%s is a destination: it has no tunables", a.pos[0]);
		return HM_EXIT_NODEV;
	}
	r = hm_send(a.pos[0], msg, NULL, 0);
	return r ? hm_msg_err(a.pos[0], "set", r) : HM_EXIT_OK;
}

int hm_cmd_wait(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_watch w;
	struct hm_args a;
	enum hm_until u = HM_COMPLETE;
	int ret;

	ret = hm_args_parse(argc, argv, argv[0], HM_O_FOR | HM_O_WATCH | HM_O_PROGRESS, 1, 1,
		 "NAME", &a);
	if (ret)
		return hm_args_exit(ret);
	if (a.until) {
		for (u = HM_CONNECTED; u < HM_COMPLETE; u++)
			if (hm_is(a.until, hm_until_names[u]))
				break;
	}
	hm_dm_init();
	ret = hm_get_device(a.pos[0], &dev);
	if (ret)
		return ret;
	hm_watch_init(&w, a.pos[0], u, &a);
	w.progress = a.progress;
	w.fail_fast = true;
	return hm_watch(&w, &dev);
}

int hm_cmd_finish(int argc, char **argv)
{
	struct hm_device dev;
	struct hm_watch w;
	struct hm_args a;
	int ret;

	ret = hm_args_parse(argc, argv, argv[0], HM_O_TIMEOUT, 1, 1, "NAME", &a);
	if (ret)
		return hm_args_exit(ret);
	hm_dm_init();
	ret = hm_get_device(a.pos[0], &dev);
	if (ret)
		return ret;
	hm_watch_init(&w, a.pos[0], HM_COMPLETE, &a);
	w.progress = false;
	if (!hm_past_handover(&dev.status) && a.timeout_s < 0) {
		hm_err("%s is in phase %s: finish waits for completion only after handover (or give --timeout)",
		       a.pos[0], dev.status.phase);
		return HM_EXIT_BUSY;
	}
	ret = hm_watch(&w, &dev);
	return ret ? ret : hm_finish(&dev);
}
