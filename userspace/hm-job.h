/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The progress of a migration, as an operator (or libvirt) sees a job:
 * data total, processed and remaining, rates, ETA, elapsed time,
 * downtime, stage and connection state; derived from a parsed status.
 *
 * Kept free of libdevmapper so that it can be unit-tested without a kernel.
 */
#ifndef HM_JOB_H
#define HM_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hm-status.h"

struct json_object;

struct hm_job {
	/*
	 * Source: idle (no link), push, ready, handover, postcopy, complete.
	 * Destination: idle (no link), waiting, postcopy, complete, aborted.
	 * A phase this tool does not know is passed through.
	 */
	char stage[HM_STATUS_WORD_MAX + 1];
	const char *connection;		/* the link state */
	uint64_t total_bytes;
	uint64_t processed_bytes;
	uint64_t remaining_bytes;
	uint64_t rate_bytes_s;		/* acknowledged data per second */
	uint64_t dirty_rate_bytes_s;	/* newly dirtied data per second */
	double percent;			/* processed in percent of total */
	bool has_eta;
	uint64_t eta_s;
	bool has_elapsed;
	uint64_t elapsed_ms;
	bool has_downtime;
	uint64_t downtime_ms;		/* the source's fence to its ack */
};

/*
 * @start_ms: wall clock (ms since the epoch) when the job started, 0 if
 * unknown; @now_ms: the wall clock now.
 */
void hm_job_from_status(const struct hm_status *st, uint64_t size_sectors,
			uint64_t start_ms, uint64_t now_ms,
			struct hm_job *job);

struct json_object *hm_job_to_json(const struct hm_job *job);

/* "0 B", "512 B", "1.5 KiB", "160.0 MiB" ... */
void hm_format_bytes(char *buf, size_t len, uint64_t bytes);
/* "0:07", "12:34", "1:02:03"; "-" when unknown */
void hm_format_eta(char *buf, size_t len, bool known, uint64_t s);

/*
 * One line of progress, without a newline:
 *   vm1: push 62.5% 160.0 MiB of 256.0 MiB, 96.0 MiB left, 50.0 MiB/s,
 *   dirty 1.0 MiB/s, ETA 0:02, link connected
 * @bar: with a 20-character bar, for a terminal.
 */
void hm_job_format(char *buf, size_t len, const char *name,
		   const struct hm_job *job, bool bar);

/* Record and read when the job on device @name started (in HYBRIDMIG_RUN_DIR). */
void hm_job_mark_start(const char *name, uint64_t now_ms);
uint64_t hm_job_start(const char *name);
void hm_job_forget(const char *name);
uint64_t hm_now_ms(void);

#endif /* HM_JOB_H */
