// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of hm_status_parse() and hm_status_to_json(); no kernel needed.
 *
 * Prints one line per test and ends with "N passed, M failed"; exits
 * non-zero if any test failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "hm-compiler.h"
#include "hm-job.h"
#include "hm-status.h"
#include "hm-table.h"

#define EXAMPLE		"source tracking 128 1600 1600 0 4 0"
#define LINK		"connected [2001:db8::2]:7000 3 timeout 100 200 7 8"
/* The transfer fields, 17 to 27, of a source pushing. */
#define TRANSFER	"hybrid 0 16 2912 100 2896 184287232 51200 12 3 0"

/*
 * Whole lines of target 1.2 (push phase), as dmsetup status prints them
 * after "<start> <length> hybridmig": a source 2896 chunks into a push of
 * 4096, and its destination.
 */
#define SOURCE_LINE	"source tracking 128 4096 1200 3 4 77 " \
			"connected 192.0.2.2:7000 0 - 190893056 93440 2944 2920 " \
			"hybrid 0 16 2912 100 2896 184287232 51200 12 3 0"
#define DEST_LINE	"dest waiting 128 4096 1200 0 4 0 " \
			"connected 192.0.2.2:7000 0 - 93440 190893056 2920 2944 " \
			"- 1 0 2896 100 2896 184287232 51200 0 0 0"
/* The post-copy fields, 28 to 30. */
#define POSTCOPY	"603 288 48363"

/*
 * Real lines of this version (30 fields), from the post-copy VM test: a
 * migration with the postcopy policy, complete after 288 pulls and a cut
 * link, on the source and on the destination.
 */
#define SOURCE_DONE_LINE "source complete 64 1536 0 0 4 0 " \
			"connected 192.0.2.2:7000 1 connection_reset 59794768 " \
			"26704 360 404 postcopy 0 0 1536 0 1536 50331648 13647 " \
			"0 0 0 10074 288 0"
#define DEST_DONE_LINE	"dest complete 64 1536 0 0 4 0 " \
			"connected 192.0.2.2:7000 1 peer_closed 26704 59794768 " \
			"404 360 - 1 0 1824 0 1536 59768832 393 0 0 0 603 288 " \
			"48363"
/* And a source in the push phase, 128 chunks hot, before the handover. */
#define SOURCE_HOT_LINE	"source tracking 128 512 128 128 4 11454 " \
			"connected 192.0.2.2:7000 0 - 22682360 6960 97 97 " \
			"hybrid 1 0 602 256 602 22675456 0 0 128 0 0 0 0"
#define U64_MAX_STR	"18446744073709551615"
/* The state fields, 31 to 33. */
#define MIGRATION_ID	"0123456789abcdef0123456789abcdef"
#define STATE		"ok 0 " MIGRATION_ID
/* The post-copy lines above with state fields: metadata failed, no metadata. */
#define SOURCE_STATE_LINE SOURCE_DONE_LINE " failed 3 " MIGRATION_ID
#define DEST_STATE_LINE	DEST_DONE_LINE " - 0 " MIGRATION_ID

static bool test_ok;

/* Record a failed check and go on, so one run shows every failure. */
#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			printf("    %s:%d: check failed: %s\n",		\
			       __FILE__, __LINE__, #cond);		\
			test_ok = false;				\
		}							\
	} while (0)

static bool parse_fails(const char *line)
{
	struct hm_status st;

	return hm_status_parse(line, &st) == -EINVAL;
}

static void test_valid_line(void)
{
	struct hm_status st;

	CHECK(hm_status_parse(EXAMPLE, &st) == 0);
	CHECK(!strcmp(st.role, "source"));
	CHECK(!strcmp(st.phase, "tracking"));
	CHECK(st.chunk_sectors == 128);
	CHECK(st.total_chunks == 1600);
	CHECK(st.dirty_chunks == 1600);
	CHECK(st.hot_chunks == 0);
	CHECK(st.hot_threshold == 4);
	CHECK(st.write_bios == 0);

	/* Tabs, repeated spaces and a trailing newline are only separators. */
	CHECK(hm_status_parse("  dest\tcopying  8 2 1 1 15 7\n", &st) == 0);
	CHECK(!strcmp(st.role, "dest") && !strcmp(st.phase, "copying"));
	CHECK(st.chunk_sectors == 8 && st.write_bios == 7);
}

static void test_extra_fields(void)
{
	struct hm_status st;

	CHECK(hm_status_parse(EXAMPLE " " LINK " " TRANSFER " " POSTCOPY " "
			      STATE " 42 future-word 7", &st) == 0);
	CHECK(st.hot_threshold == 4);
	CHECK(st.write_bios == 0);
	CHECK(st.rx_frames == 8);
	CHECK(st.has_transfer && st.bandwidth_kib_s == 0);
	CHECK(st.has_postcopy && st.pull_avg_us == 48363);
	CHECK(st.has_state && !strcmp(st.migration_id, MIGRATION_ID));

	/* After the link fields come the transfer fields, not just anything. */
	CHECK(parse_fails(EXAMPLE " " LINK " 42 future-word 7"));
	/* Nor after the transfer fields: the post-copy ones are numbers. */
	CHECK(parse_fails(EXAMPLE " " LINK " " TRANSFER " 42 future-word 7"));
	/* Nor after the post-copy fields: io_errors is a number. */
	CHECK(parse_fails(EXAMPLE " " LINK " " TRANSFER " " POSTCOPY
			  " 42 future-word 7"));
}

static void test_link_fields(void)
{
	struct hm_status st;

	CHECK(hm_status_parse(EXAMPLE " " LINK, &st) == 0);
	CHECK(!strcmp(st.link_state, "connected"));
	CHECK(!strcmp(st.link_address, "[2001:db8::2]:7000"));
	CHECK(st.reconnects == 3);
	CHECK(!strcmp(st.link_error, "timeout"));
	CHECK(st.tx_bytes == 100 && st.rx_bytes == 200);
	CHECK(st.tx_frames == 7 && st.rx_frames == 8);

	/* "-" stands for no address and no error. */
	CHECK(hm_status_parse(EXAMPLE " none - 0 - 0 0 0 0", &st) == 0);
	CHECK(!strcmp(st.link_state, "none"));
	CHECK(!*st.link_address && !*st.link_error);

	/* Target 1.0 had no link fields: the link reads as none. */
	CHECK(hm_status_parse(EXAMPLE, &st) == 0);
	CHECK(!strcmp(st.link_state, "none"));

	/* Link fields are all or nothing. */
	CHECK(parse_fails(EXAMPLE " connected"));
	CHECK(parse_fails(EXAMPLE " connected 1.2.3.4:5 0 - 1 2 3"));
	CHECK(parse_fails(EXAMPLE " connected 1.2.3.4:5 x - 1 2 3 4"));
}

static void test_transfer_source(void)
{
	struct hm_status st;

	CHECK(hm_status_parse(SOURCE_LINE, &st) == 0);
	CHECK(!strcmp(st.role, "source") && st.total_chunks == 4096);
	CHECK(st.dirty_chunks == 1200 && st.hot_chunks == 3);
	CHECK(!strcmp(st.link_state, "connected") && st.rx_frames == 2920);
	CHECK(st.has_transfer);
	CHECK(!strcmp(st.policy, "hybrid"));
	CHECK(!st.ready);
	CHECK(st.inflight_chunks == 16);
	CHECK(st.sent_chunks == 2912);
	CHECK(st.zero_chunks == 100);
	CHECK(st.acked_chunks == 2896);
	CHECK(st.data_bytes == 184287232);
	CHECK(st.rate_kib_s == 51200);
	CHECK(st.dirty_rate_chunks_s == 12);
	CHECK(st.deferred_chunks == 3);
	CHECK(st.bandwidth_kib_s == 0);

	/* The other policies, converged, with a bandwidth limit. */
	CHECK(hm_status_parse(EXAMPLE " " LINK
			      " precopy 1 0 9 0 9 589824 0 0 0 10240", &st) == 0);
	CHECK(!strcmp(st.policy, "precopy") && st.ready);
	CHECK(st.bandwidth_kib_s == 10240 && st.data_bytes == 589824);
	CHECK(hm_status_parse(EXAMPLE " " LINK
			      " postcopy 1 0 0 0 0 0 0 0 0 0", &st) == 0);
	CHECK(!strcmp(st.policy, "postcopy") && st.ready);
	/* A policy of a later version is only a word. */
	CHECK(hm_status_parse(EXAMPLE " " LINK
			      " adaptive_2 0 0 0 0 0 0 0 0 0 0", &st) == 0);
	CHECK(!strcmp(st.policy, "adaptive_2"));
}

static void test_transfer_dest(void)
{
	struct hm_status st;

	CHECK(hm_status_parse(DEST_LINE, &st) == 0);
	CHECK(!strcmp(st.role, "dest") && !strcmp(st.phase, "waiting"));
	CHECK(st.dirty_chunks == 1200);
	CHECK(st.has_transfer);
	CHECK(!*st.policy);
	CHECK(st.ready);
	CHECK(st.inflight_chunks == 0 && st.sent_chunks == 2896);
	CHECK(st.zero_chunks == 100 && st.acked_chunks == 2896);
	CHECK(st.data_bytes == 184287232 && st.rate_kib_s == 51200);
	CHECK(st.dirty_rate_chunks_s == 0 && st.deferred_chunks == 0);
	CHECK(st.bandwidth_kib_s == 0);
}

static void test_transfer_absent(void)
{
	struct hm_status st;

	/* Target 1.1: link fields, no transfer fields. */
	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse(EXAMPLE " " LINK, &st) == 0);
	CHECK(!st.has_transfer);
	CHECK(!*st.policy && !st.ready);
	CHECK(st.sent_chunks == 0 && st.acked_chunks == 0);
	CHECK(st.bandwidth_kib_s == 0);
	CHECK(!strcmp(st.link_state, "connected"));

	/* Target 1.0: neither. */
	CHECK(hm_status_parse(EXAMPLE, &st) == 0);
	CHECK(!st.has_transfer && !strcmp(st.link_state, "none"));
}

static void test_transfer_bad(void)
{
	/* All eleven or none: every shorter group is refused. */
	static const char *const partial[] = {
		"hybrid",
		"hybrid 0",
		"hybrid 0 16",
		"hybrid 0 16 2912 100 2896 184287232 51200 12 3",
	};
	/* One malformed field at each position. */
	static const char *const bad[] = {
		"hyb%rid 0 16 2912 100 2896 184287232 51200 12 3 0",
		"a-policy-name-longer-than-31-chars 0 0 0 0 0 0 0 0 0 0",
		"hybrid 2 16 2912 100 2896 184287232 51200 12 3 0",
		"hybrid 01 16 2912 100 2896 184287232 51200 12 3 0",
		"hybrid - 16 2912 100 2896 184287232 51200 12 3 0",
		"hybrid yes 16 2912 100 2896 184287232 51200 12 3 0",
		"hybrid -1 16 2912 100 2896 184287232 51200 12 3 0",
		"hybrid 0 x 2912 100 2896 184287232 51200 12 3 0",
		"hybrid 0 16 -2912 100 2896 184287232 51200 12 3 0",
		"hybrid 0 16 2912 1e2 2896 184287232 51200 12 3 0",
		"hybrid 0 16 2912 100 0x10 184287232 51200 12 3 0",
		"hybrid 0 16 2912 100 2896 18446744073709551616 51200 12 3 0",
		"hybrid 0 16 2912 100 2896 184287232 51200.5 12 3 0",
		"hybrid 0 16 2912 100 2896 184287232 51200 +12 3 0",
		"hybrid 0 16 2912 100 2896 184287232 51200 12 - 0",
		"hybrid 0 16 2912 100 2896 184287232 51200 12 3 -",
	};
	char line[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(partial); i++) {
		snprintf(line, sizeof(line), "%s %s %s", EXAMPLE, LINK,
			 partial[i]);
		CHECK(parse_fails(line));
		if (!parse_fails(line))
			printf("    accepted: %s\n", partial[i]);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(line, sizeof(line), "%s %s %s", EXAMPLE, LINK, bad[i]);
		CHECK(parse_fails(line));
		if (!parse_fails(line))
			printf("    accepted: %s\n", bad[i]);
	}
	/* The same fields, well-formed, pass: the failures above are real. */
	snprintf(line, sizeof(line), "%s %s %s", EXAMPLE, LINK, TRANSFER);
	CHECK(!parse_fails(line));
}

/* Fields 28-30 on real lines, source and destination. */
static void test_postcopy_fields(void)
{
	struct hm_status st;

	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse(SOURCE_DONE_LINE, &st) == 0);
	CHECK(!strcmp(st.role, "source") && !strcmp(st.phase, "complete"));
	CHECK(!strcmp(st.policy, "postcopy"));
	CHECK(st.bandwidth_kib_s == 0);
	CHECK(st.has_postcopy);
	CHECK(st.handover_us == 10074);
	CHECK(st.pulls == 288);
	CHECK(st.pull_avg_us == 0);
	CHECK(!strcmp(st.link_error, "connection_reset"));

	CHECK(hm_status_parse(DEST_DONE_LINE, &st) == 0);
	CHECK(!strcmp(st.role, "dest") && !strcmp(st.phase, "complete"));
	CHECK(st.sent_chunks == 1824 && st.acked_chunks == 1536);
	CHECK(st.has_postcopy);
	CHECK(st.handover_us == 603);
	CHECK(st.pulls == 288);
	CHECK(st.pull_avg_us == 48363);

	/* Before handover: all three 0, but there. */
	CHECK(hm_status_parse(SOURCE_HOT_LINE, &st) == 0);
	CHECK(st.has_postcopy && st.deferred_chunks == 128);
	CHECK(!st.handover_us && !st.pulls && !st.pull_avg_us);

	/* Up to u64 max. */
	CHECK(hm_status_parse(EXAMPLE " " LINK " " TRANSFER " " U64_MAX_STR " "
			      U64_MAX_STR " " U64_MAX_STR, &st) == 0);
	CHECK(st.handover_us == UINT64_MAX && st.pulls == UINT64_MAX &&
	      st.pull_avg_us == UINT64_MAX);
}

/* Every phase name of either role, and any future word, read as is. */
static void test_phases(void)
{
	static const char *const lines[][2] = {
		{ "source", "tracking" }, { "source", "handover" },
		{ "source", "postcopy" }, { "source", "complete" },
		{ "dest", "waiting" }, { "dest", "postcopy" },
		{ "dest", "complete" }, { "dest", "aborted" },
		{ "dest", "some-future_phase" },
	};
	struct hm_status st;
	char line[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lines); i++) {
		snprintf(line, sizeof(line), "%s %s 128 4 1 0 4 0 %s %s %s",
			 lines[i][0], lines[i][1], LINK, TRANSFER, POSTCOPY);
		CHECK(hm_status_parse(line, &st) == 0);
		CHECK(!strcmp(st.role, lines[i][0]));
		CHECK(!strcmp(st.phase, lines[i][1]));
	}
	CHECK(parse_fails("source hand/over 128 4 1 0 4 0"));
	CHECK(parse_fails("source post.copy 128 4 1 0 4 0"));
}

/* The 27 fields of the push phase's target: no post-copy fields. */
static void test_postcopy_absent(void)
{
	struct hm_status st;

	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse(SOURCE_LINE, &st) == 0);
	CHECK(st.has_transfer && !st.has_postcopy);
	CHECK(!st.handover_us && !st.pulls && !st.pull_avg_us);
	CHECK(st.bandwidth_kib_s == 0 && st.deferred_chunks == 3);
	/* Nor with no transfer fields at all. */
	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse(EXAMPLE " " LINK, &st) == 0);
	CHECK(!st.has_transfer && !st.has_postcopy && !st.pulls);
}

static void test_postcopy_bad(void)
{
	/* All three or none. */
	static const char *const bad[] = {
		"603",
		"603 288",
		"x 288 48363",
		"603 - 48363",
		"603 288 -1",
		"-603 288 48363",
		"603 288 48363.0",
		"603 0x120 48363",
		"603 288 18446744073709551616",
		"18446744073709551616 288 48363",
	};
	char line[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(line, sizeof(line), "%s %s %s %s", EXAMPLE, LINK,
			 TRANSFER, bad[i]);
		CHECK(parse_fails(line));
		if (!parse_fails(line))
			printf("    accepted: %s\n", bad[i]);
	}
	snprintf(line, sizeof(line), "%s %s %s %s", EXAMPLE, LINK, TRANSFER,
		 POSTCOPY);
	CHECK(!parse_fails(line));
}

/* Fields 31-33: metadata failed, or none; an id; I/O errors. */
static void test_state_fields(void)
{
	struct hm_status st;

	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse(SOURCE_STATE_LINE, &st) == 0);
	CHECK(st.has_postcopy && st.pulls == 288);
	CHECK(st.has_state);
	CHECK(!strcmp(st.metadata, "failed"));
	CHECK(st.io_errors == 3);
	CHECK(!strcmp(st.migration_id, MIGRATION_ID));

	/* "-": no metadata device. */
	CHECK(hm_status_parse(DEST_STATE_LINE, &st) == 0);
	CHECK(st.has_state && !*st.metadata && st.io_errors == 0);
	CHECK(!strcmp(st.migration_id, MIGRATION_ID));

	/* "-": a destination that has not adopted an id yet. */
	CHECK(hm_status_parse(EXAMPLE " " LINK " " TRANSFER " " POSTCOPY
			      " ok " U64_MAX_STR " -", &st) == 0);
	CHECK(st.has_state && !strcmp(st.metadata, "ok"));
	CHECK(st.io_errors == UINT64_MAX && !*st.migration_id);

	/* Capitals are hex digits too; a later metadata state is a word. */
	CHECK(hm_status_parse(EXAMPLE " " LINK " " TRANSFER " " POSTCOPY
			      " degraded_2 0 0123456789ABCDEF0123456789abcdef",
			      &st) == 0);
	CHECK(!strcmp(st.metadata, "degraded_2"));
	CHECK(!strcmp(st.migration_id, "0123456789ABCDEF0123456789abcdef"));
}

/* The 30 fields of the post-copy target, and older: no state fields. */
static void test_state_absent(void)
{
	struct hm_status st;

	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse(SOURCE_DONE_LINE, &st) == 0);
	CHECK(st.has_postcopy && !st.has_state);
	CHECK(!*st.metadata && !st.io_errors && !*st.migration_id);
	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse(SOURCE_LINE, &st) == 0);
	CHECK(!st.has_postcopy && !st.has_state && !*st.migration_id);
}

static void test_state_bad(void)
{
	/* All three or none. */
	static const char *const bad[] = {
		"ok",
		"ok 0",
		"o%k 0 " MIGRATION_ID,
		"a-metadata-word-longer-than-31-chars 0 " MIGRATION_ID,
		"ok - " MIGRATION_ID,
		"ok -1 " MIGRATION_ID,
		"ok 1.5 " MIGRATION_ID,
		"ok 0x1 " MIGRATION_ID,
		"ok 18446744073709551616 " MIGRATION_ID,
		"ok 0 0123456789abcdef0123456789abcde",
		"ok 0 0123456789abcdef0123456789abcdef0",
		"ok 0 0123456789abcdef0123456789abcdeg",
		"ok 0 0x23456789abcdef0123456789abcdef",
		"ok 0 --",
		"ok 0 none",
		"ok 0 0",
	};
	char line[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(line, sizeof(line), "%s %s %s %s %s", EXAMPLE, LINK,
			 TRANSFER, POSTCOPY, bad[i]);
		CHECK(parse_fails(line));
		if (!parse_fails(line))
			printf("    accepted: %s\n", bad[i]);
	}
	snprintf(line, sizeof(line), "%s %s %s %s %s", EXAMPLE, LINK, TRANSFER,
		 POSTCOPY, STATE);
	CHECK(!parse_fails(line));
}

static void test_transfer_u64_max(void)
{
	struct hm_status st;

	CHECK(hm_status_parse(EXAMPLE " " LINK " hybrid 1 " U64_MAX_STR " "
			      U64_MAX_STR " " U64_MAX_STR " " U64_MAX_STR " "
			      U64_MAX_STR " " U64_MAX_STR " " U64_MAX_STR " "
			      U64_MAX_STR " " U64_MAX_STR, &st) == 0);
	CHECK(st.inflight_chunks == UINT64_MAX);
	CHECK(st.data_bytes == UINT64_MAX);
	CHECK(st.bandwidth_kib_s == UINT64_MAX);
}

static void test_too_few_fields(void)
{
	CHECK(parse_fails("source tracking 128 1600 1600 0 4"));
	CHECK(parse_fails("source tracking"));
	CHECK(parse_fails("source"));
}

static void test_non_numeric(void)
{
	CHECK(parse_fails("source tracking 128 1600 x 0 4 0"));
	CHECK(parse_fails("source tracking 12a 1600 1600 0 4 0"));
	CHECK(parse_fails("source tracking 0x80 1600 1600 0 4 0"));
	CHECK(parse_fails("source tracking +128 1600 1600 0 4 0"));
	CHECK(parse_fails("source tracking 128 1600 1600 0 4 1.5"));
	/* A role or phase that is no plain word is rejected too. */
	CHECK(parse_fails("source trac%king 128 1600 1600 0 4 0"));
}

static void test_u64_max(void)
{
	struct hm_status st;

	CHECK(hm_status_parse("source tracking " U64_MAX_STR " " U64_MAX_STR
			      " " U64_MAX_STR " " U64_MAX_STR " " U64_MAX_STR
			      " " U64_MAX_STR, &st) == 0);
	CHECK(st.chunk_sectors == UINT64_MAX);
	CHECK(st.total_chunks == UINT64_MAX);
	CHECK(st.write_bios == UINT64_MAX);

	/* One more overflows. */
	CHECK(parse_fails("source tracking 128 1600 1600 0 4 18446744073709551616"));
	CHECK(parse_fails("source tracking 128 1600 1600 0 4 99999999999999999999"));
}

static void test_negative(void)
{
	CHECK(parse_fails("source tracking 128 1600 1600 0 4 -1"));
	CHECK(parse_fails("source tracking -128 1600 1600 0 4 0"));
}

static void test_empty(void)
{
	CHECK(parse_fails(""));
	CHECK(parse_fails("   \t\n"));
	CHECK(parse_fails(NULL));
}

static void test_output_untouched_on_error(void)
{
	struct hm_status st;

	memset(&st, 0xa5, sizeof(st));
	CHECK(hm_status_parse("source tracking 128 1600 1600 0 4 x", &st) == -EINVAL);
	CHECK(st.chunk_sectors == 0xa5a5a5a5a5a5a5a5ULL);

	/* Nor by an error in the last field of all. */
	CHECK(hm_status_parse(EXAMPLE " " LINK
			      " hybrid 0 16 2912 100 2896 184287232 51200 12 3 z",
			      &st) == -EINVAL);
	CHECK(st.chunk_sectors == 0xa5a5a5a5a5a5a5a5ULL);
	CHECK(st.inflight_chunks == 0xa5a5a5a5a5a5a5a5ULL);
}

static bool json_int_is(struct json_object *obj, const char *key, int64_t v)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val))
		return false;
	return json_object_is_type(val, json_type_int) &&
	       json_object_get_int64(val) == v;
}

static bool json_bool_is(struct json_object *obj, const char *key, bool b)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val))
		return false;
	return json_object_is_type(val, json_type_boolean) &&
	       json_object_get_boolean(val) == b;
}

static bool json_null_is(struct json_object *obj, const char *key)
{
	struct json_object *val;

	return json_object_object_get_ex(obj, key, &val) && !val;
}

static bool json_str_is(struct json_object *obj, const char *key,
			const char *s)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val))
		return false;
	return json_object_is_type(val, json_type_string) &&
	       !strcmp(json_object_get_string(val), s);
}

static void test_json(void)
{
	struct json_object *obj, *link;
	struct hm_status st;

	/* 1600 chunks of 64 KiB: 100 MiB. */
	CHECK(hm_status_parse("source tracking 128 1600 1200 3 4 77", &st) == 0);
	obj = hm_status_to_json("vm1-disk", &st, 204800);
	CHECK(obj);
	if (!obj)
		return;

	CHECK(json_object_object_length(obj) == 17);
	CHECK(json_str_is(obj, "name", "vm1-disk"));
	CHECK(json_str_is(obj, "role", "source"));
	CHECK(json_str_is(obj, "phase", "tracking"));
	CHECK(json_int_is(obj, "chunk_sectors", 128));
	CHECK(json_int_is(obj, "chunk_bytes", 65536));
	CHECK(json_int_is(obj, "total_chunks", 1600));
	CHECK(json_int_is(obj, "dirty_chunks", 1200));
	CHECK(json_int_is(obj, "dirty_bytes", 1200 * 65536LL));
	CHECK(json_int_is(obj, "hot_chunks", 3));
	CHECK(json_int_is(obj, "hot_threshold", 4));
	CHECK(json_int_is(obj, "write_bios", 77));
	CHECK(json_int_is(obj, "size_bytes", 104857600));
	/* No transfer fields in the line: null, not left out. */
	CHECK(json_null_is(obj, "transfer"));
	/* Nor state fields. */
	CHECK(json_null_is(obj, "metadata"));
	CHECK(json_null_is(obj, "io_errors"));
	CHECK(json_null_is(obj, "migration_id"));
	json_object_put(obj);

	CHECK(hm_status_parse(EXAMPLE " " LINK, &st) == 0);
	obj = hm_status_to_json("vm1-disk", &st, 204800);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_object_object_get_ex(obj, "link", &link));
	CHECK(json_object_object_length(link) == 8);
	CHECK(json_str_is(link, "state", "connected"));
	CHECK(json_str_is(link, "address", "[2001:db8::2]:7000"));
	CHECK(json_str_is(link, "last_error", "timeout"));
	CHECK(json_int_is(link, "reconnects", 3));
	CHECK(json_int_is(link, "tx_bytes", 100));
	CHECK(json_int_is(link, "rx_frames", 8));
	json_object_put(obj);
}

/* The keys of "transfer", in order. */
static const char *const transfer_keys[] = {
	"policy", "ready", "inflight_chunks", "sent_chunks", "zero_chunks",
	"acked_chunks", "data_bytes", "rate_kib_s", "dirty_rate_chunks_s",
	"deferred_chunks", "bandwidth_kib_s", "handover_us", "pulls",
	"pull_avg_us",
};

static void test_json_transfer(void)
{
	struct json_object *obj, *tr, *link;
	struct hm_status st;
	size_t i = 0;

	CHECK(hm_status_parse(SOURCE_LINE, &st) == 0);
	obj = hm_status_to_json("vm1-src", &st, 524288);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_object_object_length(obj) == 17);
	/* Existing keys unchanged. */
	CHECK(json_int_is(obj, "dirty_chunks", 1200));
	CHECK(json_int_is(obj, "dirty_bytes", 1200 * 65536LL));
	CHECK(json_object_object_get_ex(obj, "link", &link));
	CHECK(json_int_is(link, "tx_bytes", 190893056));
	CHECK(json_object_object_get_ex(obj, "transfer", &tr));
	CHECK(tr && json_object_is_type(tr, json_type_object));
	if (!tr || !json_object_is_type(tr, json_type_object)) {
		json_object_put(obj);
		return;
	}
	CHECK(json_object_object_length(tr) == (int)ARRAY_SIZE(transfer_keys));
	json_object_object_foreach(tr, key, val) {
		(void)val;
		CHECK(i < ARRAY_SIZE(transfer_keys) &&
		      !strcmp(key, transfer_keys[i]));
		i++;
	}
	CHECK(json_str_is(tr, "policy", "hybrid"));
	CHECK(json_bool_is(tr, "ready", false));
	CHECK(json_int_is(tr, "inflight_chunks", 16));
	CHECK(json_int_is(tr, "sent_chunks", 2912));
	CHECK(json_int_is(tr, "zero_chunks", 100));
	CHECK(json_int_is(tr, "acked_chunks", 2896));
	CHECK(json_int_is(tr, "data_bytes", 184287232));
	CHECK(json_int_is(tr, "rate_kib_s", 51200));
	CHECK(json_int_is(tr, "dirty_rate_chunks_s", 12));
	CHECK(json_int_is(tr, "deferred_chunks", 3));
	CHECK(json_int_is(tr, "bandwidth_kib_s", 0));
	/* A 27-field status: the post-copy keys are there, null. */
	CHECK(json_null_is(tr, "handover_us"));
	CHECK(json_null_is(tr, "pulls"));
	CHECK(json_null_is(tr, "pull_avg_us"));
	json_object_put(obj);

	/* After post-copy, on the source: numbers. */
	CHECK(hm_status_parse(SOURCE_DONE_LINE, &st) == 0);
	obj = hm_status_to_json("vm3", &st, 98304);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_object_object_length(obj) == 17);
	CHECK(json_str_is(obj, "phase", "complete"));
	CHECK(json_int_is(obj, "dirty_chunks", 0));
	CHECK(json_object_object_get_ex(obj, "transfer", &tr));
	CHECK(json_object_object_length(tr) == (int)ARRAY_SIZE(transfer_keys));
	CHECK(json_str_is(tr, "policy", "postcopy"));
	CHECK(json_int_is(tr, "handover_us", 10074));
	CHECK(json_int_is(tr, "pulls", 288));
	CHECK(json_int_is(tr, "pull_avg_us", 0));
	json_object_put(obj);

	/* And on the destination. */
	CHECK(hm_status_parse(DEST_DONE_LINE, &st) == 0);
	obj = hm_status_to_json("vm3-dst", &st, 98304);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_object_object_get_ex(obj, "transfer", &tr));
	CHECK(json_null_is(tr, "policy"));
	CHECK(json_int_is(tr, "handover_us", 603));
	CHECK(json_int_is(tr, "pulls", 288));
	CHECK(json_int_is(tr, "pull_avg_us", 48363));
	json_object_put(obj);

	/* The destination: no policy (null), ready. */
	CHECK(hm_status_parse(DEST_LINE, &st) == 0);
	obj = hm_status_to_json("vm1-dst", &st, 524288);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_object_object_get_ex(obj, "transfer", &tr));
	CHECK(json_null_is(tr, "policy"));
	CHECK(json_bool_is(tr, "ready", true));
	CHECK(json_int_is(tr, "acked_chunks", 2896));
	CHECK(json_int_is(tr, "deferred_chunks", 0));
	json_object_put(obj);
}

/* The last keys: "transfer", then the state, in order. */
static bool json_keys_end_with_state(struct json_object *obj)
{
	static const char *const last[] = {
		"transfer", "metadata", "io_errors", "migration_id",
	};
	size_t skip = json_object_object_length(obj) - ARRAY_SIZE(last);
	size_t i = 0;
	bool ok = true;

	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (i >= skip)
			ok &= !strcmp(key, last[i - skip]);
		i++;
	}
	return ok;
}

static void test_json_state(void)
{
	struct json_object *obj;
	struct hm_status st;

	/* Metadata failed, I/O errors, an id. */
	CHECK(hm_status_parse(SOURCE_STATE_LINE, &st) == 0);
	obj = hm_status_to_json("vm3", &st, 98304);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_object_object_length(obj) == 17);
	CHECK(json_keys_end_with_state(obj));
	CHECK(json_str_is(obj, "metadata", "failed"));
	CHECK(json_int_is(obj, "io_errors", 3));
	CHECK(json_str_is(obj, "migration_id", MIGRATION_ID));
	/* Existing keys unchanged. */
	CHECK(json_str_is(obj, "phase", "complete"));
	CHECK(json_int_is(obj, "total_chunks", 1536));
	json_object_put(obj);

	/* No metadata device: "none". */
	CHECK(hm_status_parse(DEST_STATE_LINE, &st) == 0);
	obj = hm_status_to_json("vm3-dst", &st, 98304);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_str_is(obj, "metadata", "none"));
	CHECK(json_int_is(obj, "io_errors", 0));
	CHECK(json_str_is(obj, "migration_id", MIGRATION_ID));
	json_object_put(obj);

	/* No id yet: null; a metadata word of a later version as is. */
	CHECK(hm_status_parse(EXAMPLE " " LINK " " TRANSFER " " POSTCOPY
			      " resyncing 0 -", &st) == 0);
	obj = hm_status_to_json("vm1-dst", &st, 204800);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_str_is(obj, "metadata", "resyncing"));
	CHECK(json_int_is(obj, "io_errors", 0));
	CHECK(json_null_is(obj, "migration_id"));
	json_object_put(obj);

	/* A 30-field target: the three keys are there, null. */
	CHECK(hm_status_parse(SOURCE_DONE_LINE, &st) == 0);
	obj = hm_status_to_json("vm3", &st, 98304);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_object_object_length(obj) == 17);
	CHECK(json_keys_end_with_state(obj));
	CHECK(json_null_is(obj, "metadata"));
	CHECK(json_null_is(obj, "io_errors"));
	CHECK(json_null_is(obj, "migration_id"));
	json_object_put(obj);
}

static void test_json_dirty_capped(void)
{
	struct json_object *obj;
	struct hm_status st;

	/* 300 sectors in 3 chunks of 128: the last one is partial. */
	CHECK(hm_status_parse("source tracking 128 3 3 0 4 1", &st) == 0);
	CHECK(hm_status_dirty_bytes(&st, 300) == 300 * 512);
	obj = hm_status_to_json("small", &st, 300);
	CHECK(obj);
	if (!obj)
		return;
	CHECK(json_int_is(obj, "dirty_bytes", 300 * 512));
	CHECK(json_int_is(obj, "size_bytes", 300 * 512));
	json_object_put(obj);

	/* Not all dirty: not capped. */
	CHECK(hm_status_parse("source tracking 128 3 2 0 4 1", &st) == 0);
	CHECK(hm_status_dirty_bytes(&st, 300) == 2 * 65536);
}

static void test_json_huge(void)
{
	struct json_object *obj, *val;
	struct hm_status st;

	CHECK(hm_status_parse("source tracking 128 1600 1600 0 4 " U64_MAX_STR,
			      &st) == 0);
	obj = hm_status_to_json("big", &st, 204800);
	CHECK(obj);
	if (!obj)
		return;
	/* Not wrapped to a negative int64. */
	CHECK(json_object_object_get_ex(obj, "write_bios", &val));
	CHECK(json_object_get_uint64(val) == UINT64_MAX);
	CHECK(strstr(json_object_to_json_string(obj), U64_MAX_STR));
	json_object_put(obj);
}


static void test_sizes(void)
{
	uint64_t v;

	CHECK(hm_parse_size("4096", false, &v) == 0 && v == 4096);
	CHECK(hm_parse_size("64K", false, &v) == 0 && v == 65536);
	CHECK(hm_parse_size("64k", false, &v) == 0 && v == 65536);
	CHECK(hm_parse_size("1MiB", false, &v) == 0 && v == 1 << 20);
	CHECK(hm_parse_size("2G", false, &v) == 0 && v == 2ULL << 30);
	CHECK(hm_parse_size("128s", true, &v) == 0 && v == 65536);
	CHECK(hm_parse_size("128s", false, &v) == -EINVAL);
	CHECK(hm_parse_size("", false, &v) == -EINVAL);
	CHECK(hm_parse_size("-1", false, &v) == -EINVAL);
	CHECK(hm_parse_size("1X", false, &v) == -EINVAL);
	CHECK(hm_parse_size("1KX", false, &v) == -EINVAL);
	CHECK(hm_parse_size("17179869184G", false, &v) == -EINVAL);
	CHECK(hm_chunk_sectors(65536, &v) == 0 && v == 128);
	CHECK(hm_chunk_sectors(4096, &v) == 0 && v == 8);
	CHECK(hm_chunk_sectors(1 << 20, &v) == 0 && v == 2048);
	CHECK(hm_chunk_sectors(2048, &v) == -EINVAL);
	CHECK(hm_chunk_sectors(2 << 20, &v) == -EINVAL);
	CHECK(hm_chunk_sectors(3 << 12, &v) == -EINVAL);
}

static void test_rates(void)
{
	uint64_t v;

	CHECK(hm_parse_rate("51200", &v) == 0 && v == 51200);
	CHECK(hm_parse_rate("50M", &v) == 0 && v == 51200);
	CHECK(hm_parse_rate("1G", &v) == 0 && v == 1 << 20);
	CHECK(hm_parse_rate("0", &v) == 0 && v == 0);
	CHECK(hm_parse_rate("1024G", &v) == 0 && v == HM_BANDWIDTH_MAX);
	CHECK(hm_parse_rate("1T", &v) == 0 && v == HM_BANDWIDTH_MAX);
	CHECK(hm_parse_rate("2T", &v) == -EINVAL);
	CHECK(hm_parse_rate("fast", &v) == -EINVAL);
	CHECK(hm_valid_address("192.0.2.2:7000"));
	CHECK(hm_valid_address("[2001:db8::2]:7000"));
	CHECK(!hm_valid_address("192.0.2.2"));
	CHECK(!hm_valid_address("192.0.2.2:0"));
	CHECK(!hm_valid_address("192.0.2.2:65536"));
	CHECK(!hm_valid_address(":7000"));
	CHECK(!hm_valid_address("[2001:db8::2:7000"));
}

static void test_table_params(void)
{
	struct hm_table_opts o = { .chunk_sectors = 64 };
	char buf[256], role[16], dev[32];

	CHECK(hm_table_params(buf, sizeof(buf), "dest", "7:1", &o) > 0);
	CHECK(!strcmp(buf, "dest 7:1 - 64"));
	o.auto_handover = true;
	CHECK(hm_table_params(buf, sizeof(buf), "dest", "7:1", &o) > 0);
	CHECK(!strcmp(buf, "dest 7:1 - 64 1 auto_handover"));
	memset(&o, 0, sizeof(o));
	o.metadata = "/dev/vg/meta";
	o.start_clean = true;
	o.policy = "precopy";
	o.has_hot_threshold = true;
	o.hot_threshold = 0;
	o.has_bandwidth = true;
	o.bandwidth_kib_s = 51200;
	o.has_ready_chunks = true;
	o.ready_chunks = 64;
	CHECK(hm_table_params(buf, sizeof(buf), "source", "254:3", &o) > 0);
	CHECK(!strcmp(buf, "source 254:3 /dev/vg/meta 128 9 start_clean hot_threshold 0 policy precopy bandwidth 51200 ready_chunks 64"));
	CHECK(hm_table_params(buf, 20, "source", "254:3", &o) == -ENOSPC);
	CHECK(hm_table_data_dev("source 254:3 - 128 1 start_clean", role,
				sizeof(role), dev, sizeof(dev)) == 0);
	CHECK(!strcmp(role, "source") && !strcmp(dev, "254:3"));
	CHECK(hm_table_data_dev("source", role, sizeof(role), dev, sizeof(dev)) == -EINVAL);
}

static void test_job(void)
{
	struct hm_status st;
	struct hm_job job;
	char buf[256];

	/* 1200 dirty + 16 in flight of 4096 64K chunks, 50 MiB/s, 12 chunks/s dirtied. */
	CHECK(hm_status_parse(SOURCE_LINE, &st) == 0);
	hm_job_from_status(&st, 4096 * 128, 1000, 4500, &job);
	CHECK(!strcmp(job.stage, "push") && !strcmp(job.connection, "connected"));
	CHECK(job.total_bytes == 256ULL << 20);
	CHECK(job.remaining_bytes == (1200 + 16) * 65536ULL);
	CHECK(job.processed_bytes + job.remaining_bytes == job.total_bytes);
	CHECK(job.rate_bytes_s == 51200 * 1024ULL);
	CHECK(job.dirty_rate_bytes_s == 12 * 65536ULL);
	CHECK(job.has_eta && job.eta_s == 2);
	CHECK(job.has_elapsed && job.elapsed_ms == 3500);
	CHECK(!job.has_downtime);
	hm_job_format(buf, sizeof(buf), "vm1", &job, false);
	CHECK(!strcmp(buf, "vm1: push 70.3% 180.0 MiB of 256.0 MiB, 76.0 MiB left, 50.0 MiB/s, dirty 768.0 KiB/s, ETA 0:02, link connected"));
	hm_job_format(buf, sizeof(buf), "vm1", &job, true);
	CHECK(!strncmp(buf, "vm1: [##############......] push", 32));

	/* Dirtied faster than pushed: no ETA. */
	st.dirty_rate_chunks_s = 1000;
	hm_job_from_status(&st, 4096 * 128, 0, 4500, &job);
	CHECK(!job.has_eta && !job.has_elapsed);

	/* A source handed over and complete: downtime, nothing left. */
	CHECK(hm_status_parse(SOURCE_DONE_LINE, &st) == 0);
	hm_job_from_status(&st, 1536 * 64, 0, 0, &job);
	CHECK(!strcmp(job.stage, "complete") && job.remaining_bytes == 0);
	CHECK(job.has_eta && job.eta_s == 0 && job.percent == 100);
	CHECK(job.has_downtime && job.downtime_ms == 11);

	/* A source with no link is idle; a destination waits. */
	CHECK(hm_status_parse(EXAMPLE, &st) == 0);
	hm_job_from_status(&st, 1600 * 128, 0, 0, &job);
	CHECK(!strcmp(job.stage, "idle") && !strcmp(job.connection, "none"));
	CHECK(hm_status_parse(DEST_LINE, &st) == 0);
	hm_job_from_status(&st, 4096 * 128, 0, 0, &job);
	CHECK(!strcmp(job.stage, "waiting") && job.dirty_rate_bytes_s == 0);

	hm_format_eta(buf, sizeof(buf), true, 3723);
	CHECK(!strcmp(buf, "1:02:03"));
	hm_format_eta(buf, sizeof(buf), false, 0);
	CHECK(!strcmp(buf, "-"));
	hm_format_bytes(buf, sizeof(buf), 1023);
	CHECK(!strcmp(buf, "1023 B"));
	hm_format_bytes(buf, sizeof(buf), 1536);
	CHECK(!strcmp(buf, "1.5 KiB"));
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "args: sizes and chunk sizes", test_sizes },
	{ "args: rates and addresses", test_rates },
	{ "table: parameters of a source and a destination", test_table_params },
	{ "job: fields from a status, progress line", test_job },
	{ "parse: valid line", test_valid_line },
	{ "parse: extra trailing fields accepted", test_extra_fields },
	{ "parse: link fields", test_link_fields },
	{ "parse: transfer fields of a source", test_transfer_source },
	{ "parse: transfer fields of a destination", test_transfer_dest },
	{ "parse: no transfer fields (target 1.0, 1.1)", test_transfer_absent },
	{ "parse: partial or malformed transfer fields rejected",
	  test_transfer_bad },
	{ "parse: transfer counters up to u64 max", test_transfer_u64_max },
	{ "parse: state fields 31-33", test_state_fields },
	{ "parse: no state fields (30-field target)", test_state_absent },
	{ "parse: partial or malformed state fields rejected",
	  test_state_bad },
	{ "parse: post-copy fields 28-30 (real lines)", test_postcopy_fields },
	{ "parse: every phase name", test_phases },
	{ "parse: no post-copy fields (27-field target)",
	  test_postcopy_absent },
	{ "parse: partial or malformed post-copy fields rejected",
	  test_postcopy_bad },
	{ "parse: too few fields rejected", test_too_few_fields },
	{ "parse: non-numeric field rejected", test_non_numeric },
	{ "parse: u64 max accepted, overflow rejected", test_u64_max },
	{ "parse: negative number rejected", test_negative },
	{ "parse: empty line rejected", test_empty },
	{ "parse: output untouched on error", test_output_untouched_on_error },
	{ "json: fields of one device", test_json },
	{ "json: transfer object, source and destination", test_json_transfer },
	{ "json: metadata, io_errors, migration_id", test_json_state },
	{ "json: dirty_bytes capped at the device size", test_json_dirty_capped },
	{ "json: numbers above INT64_MAX not wrapped", test_json_huge },
};

int main(void)
{
	unsigned int passed = 0, failed = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		test_ok = true;
		tests[i].fn();
		printf("%s: %s\n", test_ok ? "PASS" : "FAIL", tests[i].name);
		if (test_ok)
			passed++;
		else
			failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
