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
#include "hm-status.h"

#define EXAMPLE		"source tracking 128 1600 1600 0 4 0"
#define LINK		"connected [2001:db8::2]:7000 3 timeout 100 200 7 8"
#define U64_MAX_STR	"18446744073709551615"

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

	CHECK(hm_status_parse(EXAMPLE " " LINK " 42 future-word 7", &st) == 0);
	CHECK(st.hot_threshold == 4);
	CHECK(st.write_bios == 0);
	CHECK(st.rx_frames == 8);
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
}

static bool json_int_is(struct json_object *obj, const char *key, int64_t v)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val))
		return false;
	return json_object_is_type(val, json_type_int) &&
	       json_object_get_int64(val) == v;
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

	CHECK(json_object_object_length(obj) == 13);
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

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "parse: valid line", test_valid_line },
	{ "parse: extra trailing fields accepted", test_extra_fields },
	{ "parse: link fields", test_link_fields },
	{ "parse: too few fields rejected", test_too_few_fields },
	{ "parse: non-numeric field rejected", test_non_numeric },
	{ "parse: u64 max accepted, overflow rejected", test_u64_max },
	{ "parse: negative number rejected", test_negative },
	{ "parse: empty line rejected", test_empty },
	{ "parse: output untouched on error", test_output_untouched_on_error },
	{ "json: fields of one device", test_json },
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
