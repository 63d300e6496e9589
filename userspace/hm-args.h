/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The options of the migration commands, parsed in one place: each command
 * names the options it takes; any other is an error of usage.
 */
#ifndef HM_ARGS_H
#define HM_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hm-table.h"

enum hm_opt {
	HM_O_CHUNK	= 1 << 0,	/* --chunk-size SIZE */
	HM_O_META	= 1 << 1,	/* --metadata DEV */
	HM_O_POLICY	= 1 << 2,	/* --policy P */
	HM_O_BW		= 1 << 3,	/* --bandwidth RATE */
	HM_O_HOT	= 1 << 4,	/* --hot-threshold N */
	HM_O_READY	= 1 << 5,	/* --ready-chunks N */
	HM_O_CLEAN	= 1 << 6,	/* --start-clean */
	HM_O_SIZE	= 1 << 7,	/* --size SIZE */
	HM_O_AUTO	= 1 << 8,	/* --auto-handover */
	HM_O_TO		= 1 << 9,	/* --to ADDR */
	HM_O_LISTEN	= 1 << 10,	/* --listen ADDR */
	HM_O_KEY	= 1 << 11,	/* --key DESC, --key-file FILE */
	HM_O_TIMEOUT	= 1 << 12,	/* --timeout S */
	HM_O_INTERVAL	= 1 << 13,	/* --interval S */
	HM_O_NOWAIT	= 1 << 14,	/* --no-wait */
	HM_O_NOFINISH	= 1 << 15,	/* --no-finish */
	HM_O_PROGRESS	= 1 << 16,	/* --progress */
	HM_O_FOR	= 1 << 17,	/* --for EVENT */
	HM_O_FORCE	= 1 << 18,	/* --force */
};

/* The options of a source table, and of a destination's. */
#define HM_O_SOURCE	(HM_O_CHUNK | HM_O_META | HM_O_POLICY | HM_O_BW | \
			 HM_O_HOT | HM_O_READY | HM_O_CLEAN)
#define HM_O_DEST	(HM_O_CHUNK | HM_O_META | HM_O_SIZE | HM_O_AUTO)
#define HM_O_WATCH	(HM_O_TIMEOUT | HM_O_INTERVAL)

#define HM_MAX_POS	3

struct hm_args {
	const char *cmd;		/* for messages: "migrate" */
	const char *pos[HM_MAX_POS];
	int npos;
	struct hm_table_opts t;
	bool has_size;
	uint64_t size_bytes;
	const char *addr;		/* --to or --listen */
	const char *key;
	const char *key_file;
	int timeout_s;			/* -1: none */
	int interval_s;
	bool no_wait, no_finish, progress, force, help;
	const char *until;		/* --for */
	unsigned int given;		/* enum hm_opt bits seen */
};

/* hm_args_parse() printed the usage (--help): exit with 0. */
#define HM_ARGS_HELP	(-1)

static inline int hm_args_exit(int ret)
{
	return ret == HM_ARGS_HELP ? 0 : ret;
}

/*
 * Parse argv[1..] of command @cmd (argv[0] is the command), allowing the
 * options in @allowed, and from @min_pos to @max_pos positional arguments
 * (@need names them for the error). Return: an exit code, errors printed;
 * or HM_ARGS_HELP once --help printed the usage of @cmd.
 */
int hm_args_parse(int argc, char **argv, const char *cmd, unsigned int allowed,
		  int min_pos, int max_pos, const char *need,
		  struct hm_args *a);

#endif /* HM_ARGS_H */
