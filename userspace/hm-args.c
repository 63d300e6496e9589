// SPDX-License-Identifier: GPL-2.0-only
/*
 * Options of the migration commands (see hm-args.h).
 */
#include <getopt.h>
#include <string.h>

#include "hm-args.h"
#include "hm-compiler.h"
#include "hm-exit.h"
#include "hm-log.h"
#include "hm-usage.h"

static const struct {
	struct option o;
	unsigned int bit;
} hm_opts[] = {
	{ { "chunk-size", required_argument, NULL, 'c' }, HM_O_CHUNK },
	{ { "metadata", required_argument, NULL, 'm' }, HM_O_META },
	{ { "policy", required_argument, NULL, 'p' }, HM_O_POLICY },
	{ { "bandwidth", required_argument, NULL, 'b' }, HM_O_BW },
	{ { "hot-threshold", required_argument, NULL, 'H' }, HM_O_HOT },
	{ { "ready-chunks", required_argument, NULL, 'R' }, HM_O_READY },
	{ { "start-clean", no_argument, NULL, 'C' }, HM_O_CLEAN },
	{ { "size", required_argument, NULL, 's' }, HM_O_SIZE },
	{ { "auto-handover", no_argument, NULL, 'A' }, HM_O_AUTO },
	{ { "to", required_argument, NULL, 't' }, HM_O_TO },
	{ { "listen", required_argument, NULL, 'l' }, HM_O_LISTEN },
	{ { "key", required_argument, NULL, 'k' }, HM_O_KEY },
	{ { "key-file", required_argument, NULL, 'K' }, HM_O_KEY },
	{ { "timeout", required_argument, NULL, 'T' }, HM_O_TIMEOUT },
	{ { "interval", required_argument, NULL, 'i' }, HM_O_INTERVAL },
	{ { "no-wait", no_argument, NULL, 'n' }, HM_O_NOWAIT },
	{ { "no-finish", no_argument, NULL, 'N' }, HM_O_NOFINISH },
	{ { "progress", no_argument, NULL, 'P' }, HM_O_PROGRESS },
	{ { "for", required_argument, NULL, 'f' }, HM_O_FOR },
	{ { "force", no_argument, NULL, 'F' }, HM_O_FORCE },
	{ { "help", no_argument, NULL, 'h' }, 0 },
};

static int hm_bad_value(const struct hm_args *a, const char *opt,
			const char *val, const char *want)
{
	return hm_usage_err("invalid %s '%s' for %s: expected %s", opt, val,
			    a->cmd, want);
}

static int hm_parse_seconds(struct hm_args *a, const char *opt,
			    const char *val, uint64_t min, int *out)
{
	uint64_t v;

	if (hm_parse_uint(val, 86400 * 365, &v) || v < min)
		return hm_bad_value(a, opt, val, min ? "a number of seconds, at least 1" :
				    "a number of seconds");
	*out = (int)v;
	return 0;
}

static int hm_parse_table_opt(struct hm_args *a, int c, const char *v)
{
	struct hm_table_opts *t = &a->t;
	uint64_t n;

	switch (c) {
	case 'c':
		if (hm_parse_size(v, true, &n) || hm_chunk_sectors(n, &t->chunk_sectors))
			return hm_bad_value(a, "--chunk-size", v,
					    "a power of two from 4K to 1M");
		return 0;
	case 'm':
		t->metadata = v;
		return 0;
	case 'p':
		if (!hm_valid_policy(v))
			return hm_bad_value(a, "--policy", v,
					    "hybrid, precopy or postcopy");
		t->policy = v;
		return 0;
	case 'b':
		if (hm_parse_rate(v, &t->bandwidth_kib_s))
			return hm_bad_value(a, "--bandwidth", v,
					    "KiB/s, or a rate with K, M or G, 0 for no limit");
		t->has_bandwidth = true;
		return 0;
	case 'H':
		if (hm_parse_uint(v, 15, &n))
			return hm_bad_value(a, "--hot-threshold", v, "0 to 15");
		t->hot_threshold = n;
		t->has_hot_threshold = true;
		return 0;
	case 'R':
		if (hm_parse_uint(v, UINT32_MAX, &t->ready_chunks))
			return hm_bad_value(a, "--ready-chunks", v, "a number of chunks");
		t->has_ready_chunks = true;
		return 0;
	case 'C':
		t->start_clean = true;
		return 0;
	case 'A':
		t->auto_handover = true;
		return 0;
	}
	return -1;
}

static int hm_parse_opt(struct hm_args *a, int c, const char *v)
{
	int r = hm_parse_table_opt(a, c, v);

	if (r >= 0)
		return r;
	switch (c) {
	case 's':
		if (hm_parse_size(v, true, &a->size_bytes) || !a->size_bytes ||
		    a->size_bytes % 512)
			return hm_bad_value(a, "--size", v,
					    "a size in bytes (K, M, G, T suffixes, s for sectors), a multiple of 512");
		a->has_size = true;
		return 0;
	case 't':
	case 'l':
		if (!hm_valid_address(v))
			return hm_bad_value(a, c == 't' ? "--to" : "--listen", v,
					    "a.b.c.d:port or [v6]:port");
		a->addr = v;
		return 0;
	case 'k':
		a->key = v;
		return 0;
	case 'K':
		a->key_file = v;
		return 0;
	case 'T':
		return hm_parse_seconds(a, "--timeout", v, 0, &a->timeout_s);
	case 'i':
		return hm_parse_seconds(a, "--interval", v, 1, &a->interval_s);
	case 'f':
		if (strcmp(v, "connected") && strcmp(v, "ready") &&
		    strcmp(v, "handover") && strcmp(v, "complete"))
			return hm_bad_value(a, "--for", v,
					    "connected, ready, handover or complete");
		a->until = v;
		return 0;
	}
	a->no_wait |= c == 'n';
	a->no_finish |= c == 'N';
	a->progress |= c == 'P';
	a->force |= c == 'F';
	a->help |= c == 'h';
	return 0;
}

static unsigned int hm_opt_bit(int c)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hm_opts); i++)
		if (hm_opts[i].o.val == c)
			return hm_opts[i].bit;
	return 0;
}

static const char *hm_opt_name(int c)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hm_opts); i++)
		if (hm_opts[i].o.val == c)
			return hm_opts[i].o.name;
	return "?";
}

int hm_args_parse(int argc, char **argv, const char *cmd, unsigned int allowed,
		  int min_pos, int max_pos, const char *need,
		  struct hm_args *a)
{
	struct option longopts[ARRAY_SIZE(hm_opts) + 1];
	size_t i;
	int c, r;

	memset(a, 0, sizeof(*a));
	memset(longopts, 0, sizeof(longopts));
	a->cmd = cmd;
	a->timeout_s = -1;
	a->interval_s = 5;
	for (i = 0; i < ARRAY_SIZE(hm_opts); i++)
		longopts[i] = hm_opts[i].o;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		const char *opt = argv[optind - 1];

		if (c == '?')
			return hm_usage_err("unknown option '%s' for %s", opt, cmd);
		if (c == ':')
			return hm_usage_err("option '%s' of %s needs a value", opt, cmd);
		if (c != 'h' && !(hm_opt_bit(c) & allowed))
			return hm_usage_err("unknown option '--%s' for %s",
					    hm_opt_name(c), cmd);
		a->given |= hm_opt_bit(c);
		r = hm_parse_opt(a, c, optarg);
		if (r)
			return r;
	}
	for (; optind < argc; optind++) {
		if (a->npos == max_pos)
			return hm_usage_err("unexpected argument '%s' for %s",
					    argv[optind], cmd);
		a->pos[a->npos++] = argv[optind];
	}
	if (a->help) {
		hm_print_usage(cmd, stdout);
		return HM_ARGS_HELP;
	}
	if (a->npos < min_pos)
		return hm_usage_err("%s needs %s", cmd, need);
	return HM_EXIT_OK;
}
