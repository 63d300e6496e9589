// SPDX-License-Identifier: GPL-2.0-only
/*
 * hybridmigctl: admin tool of the hybridmig device-mapper target.
 *
 *   hybridmigctl status [NAME] [--json]
 *   hybridmigctl key generate|load|unload ...
 *   hybridmigctl create|receive|migrate|handover|abort|set|wait|finish ...
 *   hybridmigctl adopt|detach NAME ...
 *
 * Every error is a single line on stderr, "hybridmigctl: error: ...".
 *
 * Exit codes (enum hm_exit in hm-exit.h, after cryptsetup's):
 *   0  success
 *   1  wrong parameters: unknown command or option, bad arguments
 *   2  permission denied by device-mapper (EACCES/EPERM)
 *   3  out of memory
 *   4  wrong device specified: not found, or not a hybridmig device
 *   5  device busy or already exists
 *   6  unexpected failure: device-mapper ioctl failed or no driver, status
 *      line that cannot be parsed, error writing the output
 *   7  timed out
 *   8  the migration was aborted
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hm-cmd.h"
#include "hm-compiler.h"
#include "hm-dm.h"
#include "hm-exit.h"
#include "hm-job.h"
#include "hm-key.h"
#include "hm-log.h"
#include "hm-status.h"

#define HM_VERSION	"0.2.0"

/* The one message line: "hybridmigctl: <level>: <message><tail>". */
static void hm_vlog(const char *level, const char *tail, const char *fmt,
		    va_list ap)
{
	fprintf(stderr, HM_PROG ": %s: ", level);
	vfprintf(stderr, fmt, ap);
	fputs(tail, stderr);
}

void hm_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hm_vlog("error", "\n", fmt, ap);
	va_end(ap);
}

void hm_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hm_vlog("warning", "\n", fmt, ap);
	va_end(ap);
}

int hm_usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hm_vlog("error", "; see " HM_PROG " --help\n", fmt, ap);
	va_end(ap);
	return HM_EXIT_USAGE;
}

/*
 * Report a failed device-mapper operation on @what, preferring the message
 * libdevmapper logged over a bare strerror().
 */
int hm_dm_err(const char *what, int r)
{
	const char *detail = hm_dm_error();

	if (r == -ENOMEM)
		hm_err("out of memory");
	else if (*detail)
		hm_err("%s: %s", what, detail);
	else
		hm_err("%s: %s", what, strerror(-r));
	return hm_exit_from_errno(r);
}

static void hm_usage(FILE *f)
{
	fputs("Usage: " HM_PROG " [--help] [--version] <command> [<args>]\n"
	      "\n"
	      "Admin tool of the hybridmig device-mapper target.\n"
	      "\n"
	      "The happy path: 'receive' on the destination host, 'migrate' on the\n"
	      "source host, 'handover' once the hypervisor has paused the VM.\n"
	      "\n"
	      "Commands:\n"
	      "  receive NAME [DEV] --listen ADDR --key DESC\n"
	      "                           destination: create, listen, wait, cut over\n"
	      "  migrate NAME --to ADDR --key DESC\n"
	      "                           source: (adopt,) connect, push, wait, remove\n"
	      "  handover NAME            hand the paused VM's disk over\n"
	      "  abort NAME               call a migration off before handover\n"
	      "  create source|dest NAME DEV\n"
	      "                           create a source or a destination device\n"
	      "  adopt NAME, detach NAME  insert a source under a volume in use, and\n"
	      "                           take it out again\n"
	      "  set NAME PARAM VALUE     change bandwidth, policy ... at run time\n"
	      "  wait NAME [--for EVENT]  wait for connected, ready, handover, complete\n"
	      "  finish NAME              after completion: cut over, remove the source\n"
	      "  status [NAME] [--json]   show the state of hybridmig devices\n"
	      "  key generate|load|unload the shared secret of a migration\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help       show this help and exit\n"
	      "  -V, --version    show the version and exit\n"
	      "\n"
	      "Exit codes:\n"
	      "  0  success\n"
	      "  1  wrong parameters (unknown command or option, bad arguments)\n"
	      "  2  permission denied (also: authentication with the peer failed)\n"
	      "  3  out of memory\n"
	      "  4  wrong device or file specified (not found, not a hybridmig\n"
	      "     device, no such key, destination of another size)\n"
	      "  5  device busy or already exists (also: key file exists, phase\n"
	      "     does not allow the command)\n"
	      "  6  unexpected failure (device-mapper error, unparsable status)\n"
	      "  7  timed out (--timeout, or no handover acknowledgement in 30 s)\n"
	      "  8  the migration was aborted\n"
	      "\n"
	      "Run '" HM_PROG " <command> --help' for help on a command.\n", f);
}

static void hm_status_usage(FILE *f)
{
	fputs("Usage: " HM_PROG " status [NAME] [--json]\n"
	      "\n"
	      "Show the state of every hybridmig device, or of device NAME (a\n"
	      "device-mapper name or a /dev/mapper path).\n"
	      "\n"
	      "Options:\n"
	      "  --json       print JSON instead of a table, with the job's\n"
	      "               progress (see hybridmigctl(8))\n"
	      "  -h, --help   show this help and exit\n"
	      "\n"
	      "Columns:\n"
	      "  NAME     device-mapper name\n"
	      "  ROLE     migration role (source or dest)\n"
	      "  PHASE    migration phase; source: tracking, handover,\n"
	      "           postcopy or complete; dest: waiting, postcopy,\n"
	      "           complete or aborted\n"
	      "  CHUNK    chunk size: B, K (KiB), M (MiB), G (GiB) ...\n"
	      "  CHUNKS   number of chunks\n"
	      "  DIRTY    source: dirty chunks, still to be copied;\n"
	      "           dest: missing chunks, not received yet\n"
	      "  DIRTY%   dirty chunks in percent of all chunks\n"
	      "  HOT      chunks written at least hot_threshold times\n"
	      "  WRITES   write bios seen by the target\n"
	      "  POLICY   transfer policy: hybrid, precopy or postcopy (dest: -)\n"
	      "  READY    source: the push converged (yes or no); dest: a\n"
	      "           source's session is set up\n"
	      "  ACKED    source: chunks the destination acknowledged;\n"
	      "           dest: chunks written and acknowledged\n"
	      "  RATE     acknowledged chunk data per second, over ~1 s\n"
	      "           (POLICY to RATE are - for a target without a push\n"
	      "           phase)\n"
	      "  PULLS    chunks pulled on demand after handover; source:\n"
	      "           served, dest: completed (- for a target without\n"
	      "           post-copy)\n"
	      "  META     metadata device: none, ok or FAILED (then re-create\n"
	      "           the device once it works; see hybridmig-metadata.rst)\n"
	      "  ERRORS   I/O errors of the data and metadata devices\n"
	      "  MIGRATION\n"
	      "           migration id, 32 hex digits (dest: - until it\n"
	      "           adopted its source's)\n"
	      "           (META to MIGRATION are - for a target without them)\n"
	      "  LINK     connection to the peer: none, connecting, listening,\n"
	      "           connected or retrying, then \":<last error>\" if any\n"
	      "\n"
	      "Exit codes: see " HM_PROG " --help.\n", f);
}

/*
 * Collecting devices
 */

struct hm_devices {
	struct hm_device *dev;
	size_t nr;
};

static int hm_devices_add(struct hm_devices *devs, const struct hm_device *dev)
{
	struct hm_device *tmp;

	tmp = realloc(devs->dev, (devs->nr + 1) * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	tmp[devs->nr++] = *dev;
	devs->dev = tmp;
	return 0;
}

static void hm_devices_free(struct hm_devices *devs)
{
	free(devs->dev);
	devs->dev = NULL;
	devs->nr = 0;
}

/* Print the error of hm_dm_get_device() on @name, return the exit code. */
int hm_device_err(const char *name, int r)
{
	char what[DM_NAME_LEN + 64];

	switch (r) {
	case -ENODEV:
		hm_err("device %s not found", name);
		break;
	case -EMEDIUMTYPE:
		hm_err("%s is not a hybridmig device", name);
		break;
	case -EINVAL:
		hm_err("cannot parse status of %s", name);
		break;
	default:
		snprintf(what, sizeof(what), "cannot read status of %s", name);
		return hm_dm_err(what, r);
	}
	return hm_exit_from_errno(r);
}

static int hm_collect_one(const char *name, struct hm_devices *devs)
{
	struct hm_device dev;
	int r;

	r = hm_dm_get_device(name, &dev);
	if (!r)
		r = hm_devices_add(devs, &dev);
	return r ? hm_device_err(name, r) : HM_EXIT_OK;
}

static int hm_collect_all(struct hm_devices *devs)
{
	struct hm_names names;
	struct hm_device dev;
	int ret = HM_EXIT_OK;
	size_t i;
	int r;

	r = hm_dm_list_names(&names);
	if (r)
		return hm_dm_err("cannot list device-mapper devices", r);

	for (i = 0; i < names.nr; i++) {
		r = hm_dm_get_device(names.names[i], &dev);
		/* Removed since listed, or no hybridmig target: skip. */
		if (r == -ENODEV || r == -EMEDIUMTYPE)
			continue;
		if (!r)
			r = hm_devices_add(devs, &dev);
		if (r) {
			ret = hm_device_err(names.names[i], r);
			break;
		}
	}

	hm_names_free(&names);
	return ret;
}

/*
 * Output
 */

enum hm_col {
	HM_COL_NAME, HM_COL_ROLE, HM_COL_PHASE, HM_COL_CHUNK, HM_COL_CHUNKS,
	HM_COL_DIRTY, HM_COL_DIRTY_PCT, HM_COL_HOT, HM_COL_WRITES,
	HM_COL_POLICY, HM_COL_READY, HM_COL_ACKED, HM_COL_RATE, HM_COL_PULLS,
	HM_COL_META, HM_COL_ERRORS, HM_COL_MIGRATION, HM_COL_LINK,
	HM_NR_COLS
};

static const struct {
	const char *title;
	bool right;			/* right-aligned (numbers) */
} hm_cols[HM_NR_COLS] = {
	[HM_COL_NAME]		= { "NAME", false },
	[HM_COL_ROLE]		= { "ROLE", false },
	[HM_COL_PHASE]		= { "PHASE", false },
	[HM_COL_CHUNK]		= { "CHUNK", true },
	[HM_COL_CHUNKS]		= { "CHUNKS", true },
	[HM_COL_DIRTY]		= { "DIRTY", true },
	[HM_COL_DIRTY_PCT]	= { "DIRTY%", true },
	[HM_COL_HOT]		= { "HOT", true },
	[HM_COL_WRITES]		= { "WRITES", true },
	[HM_COL_POLICY]		= { "POLICY", false },
	[HM_COL_READY]		= { "READY", false },
	[HM_COL_ACKED]		= { "ACKED", true },
	[HM_COL_RATE]		= { "RATE", true },
	[HM_COL_PULLS]		= { "PULLS", true },
	[HM_COL_META]		= { "META", false },
	[HM_COL_ERRORS]		= { "ERRORS", true },
	[HM_COL_MIGRATION]	= { "MIGRATION", false },
	[HM_COL_LINK]		= { "LINK", false },
};

#define HM_CELL_MAX	DM_NAME_LEN

struct hm_row {
	char cell[HM_NR_COLS][HM_CELL_MAX];
};

/* A size in the largest binary unit that divides it exactly: 64K, 1M. */
static void hm_format_size(char *buf, size_t len, uint64_t bytes)
{
	static const char units[] = "BKMGTPE";
	unsigned int u = 0;

	while (bytes && !(bytes % 1024) && u < sizeof(units) - 2) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 "%c", bytes, units[u]);
}

/*
 * One decimal; 0.0 and 100.0 are kept for exactly none and exactly all,
 * so that rounding never hides the last dirty chunk.
 */
static void hm_format_percent(char *buf, size_t len, uint64_t part,
			      uint64_t whole)
{
	long double pct;

	if (!whole) {
		snprintf(buf, len, "-");
		return;
	}
	pct = (long double)part * 100 / whole;
	if (part && pct < 0.1L)
		pct = 0.1L;
	if (part < whole && pct > 99.9L)
		pct = 99.9L;
	snprintf(buf, len, "%.1Lf", pct);
}

static void hm_format_u64(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%" PRIu64, v);
}

/* A rate given in KiB/s: 0, 512K/s, 112.4M/s, 1.2G/s ... */
static void hm_format_rate(char *buf, size_t len, uint64_t kib)
{
	static const char units[] = "KMGTPE";
	long double v = kib;
	unsigned int u = 0;

	if (kib < 1024) {
		snprintf(buf, len, kib ? "%" PRIu64 "K/s" : "0", kib);
		return;
	}
	while (v >= 1024 && u < sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1Lf%c/s", v, units[u]);
}

/*
 * The metadata state ("none" without a metadata device, a failure in
 * capitals), the I/O errors and the migration id; "-" where unknown.
 */
static void hm_format_state(const struct hm_status *st,
			    char (*cell)[HM_CELL_MAX])
{
	const char *md = *st->metadata ? st->metadata : "none";

	if (!st->has_state) {
		strcpy(cell[HM_COL_META], "-");
		strcpy(cell[HM_COL_ERRORS], "-");
		strcpy(cell[HM_COL_MIGRATION], "-");
		return;
	}
	snprintf(cell[HM_COL_META], HM_CELL_MAX, "%s",
		 strcmp(md, "failed") ? md : "FAILED");
	hm_format_u64(cell[HM_COL_ERRORS], HM_CELL_MAX, st->io_errors);
	snprintf(cell[HM_COL_MIGRATION], HM_CELL_MAX, "%s",
		 *st->migration_id ? st->migration_id : "-");
}

static void hm_format_row(const struct hm_device *dev, struct hm_row *row)
{
	const struct hm_status *st = &dev->status;
	char (*cell)[HM_CELL_MAX] = row->cell;

	snprintf(cell[HM_COL_NAME], HM_CELL_MAX, "%s", dev->name);
	snprintf(cell[HM_COL_ROLE], HM_CELL_MAX, "%s", st->role);
	snprintf(cell[HM_COL_PHASE], HM_CELL_MAX, "%s", st->phase);
	hm_format_size(cell[HM_COL_CHUNK], HM_CELL_MAX,
		       hm_status_chunk_bytes(st));
	hm_format_u64(cell[HM_COL_CHUNKS], HM_CELL_MAX, st->total_chunks);
	hm_format_u64(cell[HM_COL_DIRTY], HM_CELL_MAX, st->dirty_chunks);
	hm_format_percent(cell[HM_COL_DIRTY_PCT], HM_CELL_MAX,
			  st->dirty_chunks, st->total_chunks);
	hm_format_u64(cell[HM_COL_HOT], HM_CELL_MAX, st->hot_chunks);
	hm_format_u64(cell[HM_COL_WRITES], HM_CELL_MAX, st->write_bios);
	if (st->has_transfer) {
		snprintf(cell[HM_COL_POLICY], HM_CELL_MAX, "%s",
			 *st->policy ? st->policy : "-");
		snprintf(cell[HM_COL_READY], HM_CELL_MAX, "%s",
			 st->ready ? "yes" : "no");
		hm_format_u64(cell[HM_COL_ACKED], HM_CELL_MAX,
			      st->acked_chunks);
		hm_format_rate(cell[HM_COL_RATE], HM_CELL_MAX, st->rate_kib_s);
	} else {
		/* A target without a push phase. */
		strcpy(cell[HM_COL_POLICY], "-");
		strcpy(cell[HM_COL_READY], "-");
		strcpy(cell[HM_COL_ACKED], "-");
		strcpy(cell[HM_COL_RATE], "-");
	}
	if (st->has_postcopy)
		hm_format_u64(cell[HM_COL_PULLS], HM_CELL_MAX, st->pulls);
	else
		strcpy(cell[HM_COL_PULLS], "-");
	hm_format_state(st, cell);
	/* The link state, and why it last went down ("retrying:timeout"). */
	snprintf(cell[HM_COL_LINK], HM_CELL_MAX, "%s%s%s", st->link_state,
		 *st->link_error ? ":" : "", st->link_error);
}

static void hm_print_row(const struct hm_row *row, const int *width)
{
	int c;

	for (c = 0; c < HM_NR_COLS; c++) {
		const char *sep = c ? "  " : "";

		if (hm_cols[c].right)
			printf("%s%*s", sep, width[c], row->cell[c]);
		else if (c == HM_NR_COLS - 1)
			printf("%s%s", sep, row->cell[c]);
		else
			printf("%s%-*s", sep, width[c], row->cell[c]);
	}
	putchar('\n');
}

/* A failed metadata device and I/O errors, after the table. */
static void hm_warn_state(const struct hm_device *dev)
{
	const struct hm_status *st = &dev->status;

	if (!strcmp(st->metadata, "failed"))
		hm_warn("%s: metadata FAILED (re-create the device once the metadata device works; see hybridmig-metadata.rst)",
			dev->name);
	if (st->io_errors)
		hm_warn("%s: %" PRIu64 " I/O error%s on the data or metadata device",
			dev->name, st->io_errors,
			st->io_errors == 1 ? "" : "s");
}

/* Row 0 is the header. */
static int hm_print_table(const struct hm_devices *devs)
{
	int width[HM_NR_COLS];
	struct hm_row *rows;
	size_t i;
	int c;

	rows = calloc(devs->nr + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;

	for (c = 0; c < HM_NR_COLS; c++)
		snprintf(rows[0].cell[c], HM_CELL_MAX, "%s", hm_cols[c].title);
	for (i = 0; i < devs->nr; i++)
		hm_format_row(&devs->dev[i], &rows[i + 1]);

	for (c = 0; c < HM_NR_COLS; c++) {
		width[c] = 0;
		for (i = 0; i <= devs->nr; i++) {
			int w = strlen(rows[i].cell[c]);

			if (w > width[c])
				width[c] = w;
		}
	}

	for (i = 0; i <= devs->nr; i++)
		hm_print_row(&rows[i], width);
	/* The warnings after the table, also when both go to one file. */
	fflush(stdout);
	for (i = 0; i < devs->nr; i++)
		hm_warn_state(&devs->dev[i]);

	free(rows);
	return 0;
}

/* The status, and the job derived from it. */
static struct json_object *hm_device_to_json(const struct hm_device *dev)
{
	struct json_object *obj, *job;
	struct hm_job j;

	obj = hm_status_to_json(dev->name, &dev->status, dev->size_sectors);
	if (!obj)
		return NULL;
	hm_job_from_status(&dev->status, dev->size_sectors,
			   hm_job_start(dev->name), hm_now_ms(), &j);
	job = hm_job_to_json(&j);
	if (hm_json_add(obj, "job", job)) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

static int hm_print_json(const struct hm_devices *devs)
{
	struct json_object *root, *arr, *obj;
	const char *s;
	size_t i;
	int r = -ENOMEM;

	root = json_object_new_object();
	if (!root)
		return -ENOMEM;
	arr = json_object_new_array();
	if (!arr)
		goto out;
	if (json_object_object_add(root, "devices", arr)) {
		json_object_put(arr);
		goto out;
	}

	for (i = 0; i < devs->nr; i++) {
		const struct hm_device *dev = &devs->dev[i];

		obj = hm_device_to_json(dev);
		if (!obj)
			goto out;
		if (json_object_array_add(arr, obj)) {
			json_object_put(obj);
			goto out;
		}
	}

	s = json_object_to_json_string_ext(root,
					   JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_SPACED |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		goto out;
	puts(s);
	r = 0;
out:
	json_object_put(root);
	return r;
}

/*
 * Commands
 */

struct hm_status_args {
	const char *name;
	bool json;
	bool help;
};

static int hm_status_parse_args(int argc, char **argv,
				struct hm_status_args *args)
{
	bool opts_done = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!opts_done && !strcmp(a, "--")) {
			opts_done = true;
		} else if (!opts_done && !strcmp(a, "--json")) {
			args->json = true;
		} else if (!opts_done &&
			   (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			args->help = true;
		} else if (!opts_done && a[0] == '-' && a[1]) {
			return hm_usage_err("unknown option '%s' for status", a);
		} else if (args->name) {
			return hm_usage_err("unexpected argument '%s': status takes at most one device name",
					    a);
		} else {
			args->name = a;
		}
	}
	return HM_EXIT_OK;
}

/* An empty or over-long name cannot be a device-mapper device. */
static bool hm_valid_name(const char *name)
{
	return name[0] && strlen(name) < DM_NAME_LEN;
}

static int hm_output(const struct hm_devices *devs,
		     const struct hm_status_args *args)
{
	int r;

	if (!args->json && !devs->nr) {
		fputs(HM_PROG ": no hybridmig devices\n", stderr);
		return HM_EXIT_OK;
	}

	r = args->json ? hm_print_json(devs) : hm_print_table(devs);
	if (r) {
		hm_err("out of memory");
		return hm_exit_from_errno(r);
	}
	return HM_EXIT_OK;
}

static int hm_cmd_status(int argc, char **argv)
{
	struct hm_status_args args = { 0 };
	struct hm_devices devs = { 0 };
	int ret;

	ret = hm_status_parse_args(argc, argv, &args);
	if (ret)
		return ret;
	if (args.help) {
		hm_status_usage(stdout);
		return HM_EXIT_OK;
	}
	if (args.name && !hm_valid_name(args.name)) {
		hm_err("invalid device name '%s'", args.name);
		return HM_EXIT_NODEV;
	}

	hm_dm_init();
	if (args.name)
		ret = hm_collect_one(args.name, &devs);
	else
		ret = hm_collect_all(&devs);
	if (!ret)
		ret = hm_output(&devs, &args);

	hm_devices_free(&devs);
	return ret;
}

static const struct hm_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} hm_cmds[] = {
	{ "status", hm_cmd_status },
	{ "key", hm_cmd_key },
	{ "create", hm_cmd_create },
	{ "receive", hm_cmd_receive },
	{ "migrate", hm_cmd_migrate },
	{ "handover", hm_cmd_handover },
	{ "abort", hm_cmd_abort },
	{ "set", hm_cmd_set },
	{ "wait", hm_cmd_wait },
	{ "finish", hm_cmd_finish },
	{ "adopt", hm_cmd_adopt },
	{ "detach", hm_cmd_detach },
	{ "udev", hm_cmd_udev },
};

static const struct hm_cmd *hm_find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hm_cmds); i++)
		if (!strcmp(hm_cmds[i].name, name))
			return &hm_cmds[i];
	return NULL;
}

/* Output lost (a full disk, a closed pipe) is a failure too. */
static int hm_flush_stdout(int ret)
{
	if (fflush(stdout) || ferror(stdout)) {
		if (!ret)
			hm_err("cannot write output: %s", strerror(errno));
		return ret ? ret : HM_EXIT_FAIL;
	}
	return ret;
}

static int hm_main(int argc, char **argv)
{
	const struct hm_cmd *cmd;
	const char *a;

	if (argc < 2)
		return hm_usage_err("missing command");

	a = argv[1];
	if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
		hm_usage(stdout);
		return HM_EXIT_OK;
	}
	if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
		puts(HM_PROG " " HM_VERSION);
		return HM_EXIT_OK;
	}
	if (a[0] == '-')
		return hm_usage_err("unknown option '%s'", a);

	cmd = hm_find_cmd(a);
	if (!cmd)
		return hm_usage_err("unknown command '%s'", a);
	return cmd->fn(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	return hm_flush_stdout(hm_main(argc, argv));
}
