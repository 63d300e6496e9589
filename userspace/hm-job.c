// SPDX-License-Identifier: GPL-2.0-only
/*
 * The progress of a migration as a job (see hm-job.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "hm-compiler.h"
#include "hm-job.h"

static uint64_t hm_min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t hm_mul_cap(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static bool hm_is(const char *a, const char *b)
{
	return !strcmp(a, b);
}

static void hm_job_stage(const struct hm_status *st, struct hm_job *job)
{
	const char *stage = st->phase;
	bool linked = !hm_is(st->link_state, "none");

	if (hm_is(st->phase, "tracking"))
		stage = !linked ? "idle" : st->ready ? "ready" : "push";
	else if (hm_is(st->phase, "waiting") && !linked)
		stage = "idle";
	snprintf(job->stage, sizeof(job->stage), "%s", stage);
}

/*
 * What is left to move: on a source before handover, the dirty chunks
 * and those in flight; otherwise the dirty (source: to prefetch) or
 * missing (destination) chunks. The last chunk may be short: cap at the
 * device's size.
 */
static uint64_t hm_job_remaining(const struct hm_status *st, uint64_t size)
{
	uint64_t chunks = st->dirty_chunks;

	if (hm_is(st->phase, "tracking"))
		chunks += st->inflight_chunks;
	if (hm_is(st->phase, "complete"))
		chunks = 0;
	return hm_min_u64(hm_mul_cap(chunks, hm_status_chunk_bytes(st)), size);
}

/* Seconds to go at the net rate (the push minus what gets dirty again). */
static void hm_job_eta(struct hm_job *job)
{
	uint64_t net;

	if (!job->remaining_bytes) {
		job->has_eta = true;
		job->eta_s = 0;
		return;
	}
	if (job->rate_bytes_s <= job->dirty_rate_bytes_s)
		return;
	net = job->rate_bytes_s - job->dirty_rate_bytes_s;
	job->has_eta = true;
	job->eta_s = (job->remaining_bytes + net - 1) / net;
}

void hm_job_from_status(const struct hm_status *st, uint64_t size_sectors,
			uint64_t start_ms, uint64_t now_ms,
			struct hm_job *job)
{
	memset(job, 0, sizeof(*job));
	hm_job_stage(st, job);
	job->connection = st->link_state;
	job->total_bytes = hm_mul_cap(size_sectors, HM_SECTOR_SIZE);
	job->remaining_bytes = hm_job_remaining(st, job->total_bytes);
	job->processed_bytes = job->total_bytes - job->remaining_bytes;
	job->percent = job->total_bytes ?
		(double)job->processed_bytes * 100 / job->total_bytes : 100;
	job->rate_bytes_s = hm_mul_cap(st->rate_kib_s, 1024);
	if (hm_is(st->phase, "tracking"))
		job->dirty_rate_bytes_s =
			hm_mul_cap(st->dirty_rate_chunks_s,
				   hm_status_chunk_bytes(st));
	hm_job_eta(job);
	if (start_ms && now_ms >= start_ms) {
		job->has_elapsed = true;
		job->elapsed_ms = now_ms - start_ms;
	}
	if (st->has_postcopy && st->handover_us) {
		job->has_downtime = true;
		job->downtime_ms = (st->handover_us + 999) / 1000;
	}
}

/**
 * hm_job_to_json() - the job object of "status --json"
 *
 * Return: a new object owned by the caller, or NULL if out of memory.
 */
struct json_object *hm_job_to_json(const struct hm_job *job)
{
	const struct {
		const char *key;
		uint64_t val;
	} nums[] = {
		{ "data_total_bytes", job->total_bytes },
		{ "data_processed_bytes", job->processed_bytes },
		{ "data_remaining_bytes", job->remaining_bytes },
		{ "data_rate_bytes_s", job->rate_bytes_s },
		{ "dirty_rate_bytes_s", job->dirty_rate_bytes_s },
	};
	const struct {
		const char *key;
		bool known;
		uint64_t val;
	} opt[] = {
		{ "eta_s", job->has_eta, job->eta_s },
		{ "elapsed_ms", job->has_elapsed, job->elapsed_ms },
		{ "downtime_ms", job->has_downtime, job->downtime_ms },
	};
	struct json_object *obj = json_object_new_object();
	char pct[16];
	size_t i;

	if (!obj)
		return NULL;
	if (hm_json_add_string(obj, "stage", job->stage) ||
	    hm_json_add_string(obj, "connection", job->connection))
		goto fail;
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		if (hm_json_add_u64(obj, nums[i].key, nums[i].val))
			goto fail;
	/* One decimal, as a number. */
	snprintf(pct, sizeof(pct), "%.1f", job->percent);
	if (hm_json_add(obj, "percent",
			json_object_new_double_s(strtod(pct, NULL), pct)))
		goto fail;
	for (i = 0; i < ARRAY_SIZE(opt); i++)
		if (hm_json_add_opt_u64(obj, opt[i].key, opt[i].known,
					opt[i].val))
			goto fail;
	return obj;

fail:
	json_object_put(obj);
	return NULL;
}

void hm_format_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	double v = bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u < ARRAY_SIZE(units) - 1) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

void hm_format_eta(char *buf, size_t len, bool known, uint64_t s)
{
	if (!known)
		snprintf(buf, len, "-");
	else if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 ":%02u:%02u", s / 3600,
			 (unsigned int)(s / 60 % 60), (unsigned int)(s % 60));
	else
		snprintf(buf, len, "%u:%02u", (unsigned int)(s / 60),
			 (unsigned int)(s % 60));
}

static void hm_format_bar(char *buf, size_t len, double percent)
{
	char bar[21];
	int full = percent >= 100 ? 20 : (int)(percent / 5);

	memset(bar, '#', full);
	memset(bar + full, '.', 20 - full);
	bar[20] = '\0';
	snprintf(buf, len, "[%s] ", bar);
}

void hm_job_format(char *buf, size_t len, const char *name,
		   const struct hm_job *job, bool bar)
{
	char done[32], total[32], left[32], rate[32], drate[32], eta[32];
	char b[32] = "";

	hm_format_bytes(done, sizeof(done), job->processed_bytes);
	hm_format_bytes(total, sizeof(total), job->total_bytes);
	hm_format_bytes(left, sizeof(left), job->remaining_bytes);
	hm_format_bytes(rate, sizeof(rate), job->rate_bytes_s);
	hm_format_bytes(drate, sizeof(drate), job->dirty_rate_bytes_s);
	hm_format_eta(eta, sizeof(eta), job->has_eta, job->eta_s);
	if (bar)
		hm_format_bar(b, sizeof(b), job->percent);
	snprintf(buf, len,
		 "%s: %s%s %.1f%% %s of %s, %s left, %s/s, dirty %s/s, ETA %s, link %s",
		 name, b, job->stage, job->percent, done, total, left, rate,
		 drate, eta, job->connection);
}

/*
 * Job start times: one small file per device, in HYBRIDMIG_RUN_DIR
 * (default /run/hybridmig), written by migrate and receive. Best effort:
 * without it, the elapsed time is unknown.
 */
static void hm_job_path(char *buf, size_t len, const char *name)
{
	const char *dir = getenv("HYBRIDMIG_RUN_DIR");

	snprintf(buf, len, "%s/%s.start", dir && *dir ? dir : "/run/hybridmig",
		 name);
}

void hm_job_mark_start(const char *name, uint64_t now_ms)
{
	char path[PATH_MAX];
	FILE *f;

	hm_job_path(path, sizeof(path), name);
	*strrchr(path, '/') = '\0';
	mkdir(path, 0755);
	hm_job_path(path, sizeof(path), name);
	f = fopen(path, "we");
	if (!f)
		return;
	fprintf(f, "%" PRIu64 "\n", now_ms);
	fclose(f);
}

uint64_t hm_job_start(const char *name)
{
	char path[PATH_MAX];
	uint64_t ms = 0;
	FILE *f;

	hm_job_path(path, sizeof(path), name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%" SCNu64, &ms) != 1)
		ms = 0;
	fclose(f);
	return ms;
}

void hm_job_forget(const char *name)
{
	char path[PATH_MAX];

	hm_job_path(path, sizeof(path), name);
	unlink(path);
}

uint64_t hm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
