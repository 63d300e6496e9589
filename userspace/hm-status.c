// SPDX-License-Identifier: GPL-2.0-only
/*
 * Parsing of the hybridmig target's INFO status line, and its JSON form.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "hm-compiler.h"
#include "hm-status.h"

#define HM_SPACE	" \t\n"

/* Find the next whitespace-separated word at *pos and move past it. */
static const char *hm_next_word(const char **pos, size_t *len)
{
	const char *s = *pos + strspn(*pos, HM_SPACE);

	*len = strcspn(s, HM_SPACE);
	*pos = s + *len;
	return *len ? s : NULL;
}

static bool hm_is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A role or phase name: a short identifier, copied NUL-terminated. */
static int hm_parse_word(const char *s, size_t len, char *out)
{
	size_t i;

	if (len > HM_STATUS_WORD_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!hm_is_word_char(s[i]))
			return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/*
 * A decimal u64: digits only (no sign, no base prefix, no spaces), and
 * no overflow. Done by hand as strtoull() accepts "-1" and "+1".
 */
static int hm_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned int d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return len ? 0 : -EINVAL;
}

/* An address: printable, no spaces; "-" means none. */
static int hm_parse_addr(const char *s, size_t len, char *out)
{
	size_t i;

	if (len > HM_STATUS_ADDR_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (s[i] < '!' || s[i] > '~')
			return -EINVAL;
	if (len == 1 && s[0] == '-')
		len = 0;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* The link fields, after the eighth; absent in target 1.0's status. */
static int hm_parse_link(const char **pos, struct hm_status *st)
{
	uint64_t *const nums[] = {
		&st->tx_bytes, &st->rx_bytes, &st->tx_frames, &st->rx_frames,
	};
	const char *w;
	size_t len;
	size_t i;

	w = hm_next_word(pos, &len);
	if (!w) {
		strcpy(st->link_state, "none");
		return 0;
	}
	if (hm_parse_word(w, len, st->link_state))
		return -EINVAL;
	w = hm_next_word(pos, &len);
	if (!w || hm_parse_addr(w, len, st->link_address))
		return -EINVAL;
	w = hm_next_word(pos, &len);
	if (!w || hm_parse_u64(w, len, &st->reconnects))
		return -EINVAL;
	w = hm_next_word(pos, &len);
	if (!w || hm_parse_word(w, len, st->link_error))
		return -EINVAL;
	if (!strcmp(st->link_error, "-"))
		st->link_error[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(nums); i++) {
		w = hm_next_word(pos, &len);
		if (!w || hm_parse_u64(w, len, nums[i]))
			return -EINVAL;
	}
	return 0;
}

/* A flag: exactly "0" or "1". */
static int hm_parse_bool(const char *s, size_t len, bool *out)
{
	if (len != 1 || (s[0] != '0' && s[0] != '1'))
		return -EINVAL;
	*out = s[0] == '1';
	return 0;
}

/*
 * The transfer fields, after the link fields; absent in target 1.1's
 * status (which had no push phase).
 */
static int hm_parse_transfer(const char **pos, struct hm_status *st)
{
	uint64_t *const nums[] = {
		&st->inflight_chunks, &st->sent_chunks, &st->zero_chunks,
		&st->acked_chunks, &st->data_bytes, &st->rate_kib_s,
		&st->dirty_rate_chunks_s, &st->deferred_chunks,
		&st->bandwidth_kib_s,
	};
	const char *w;
	size_t len;
	size_t i;

	w = hm_next_word(pos, &len);
	if (!w)
		return 0;
	if (hm_parse_word(w, len, st->policy))
		return -EINVAL;
	if (!strcmp(st->policy, "-"))
		st->policy[0] = '\0';
	w = hm_next_word(pos, &len);
	if (!w || hm_parse_bool(w, len, &st->ready))
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(nums); i++) {
		w = hm_next_word(pos, &len);
		if (!w || hm_parse_u64(w, len, nums[i]))
			return -EINVAL;
	}
	st->has_transfer = true;
	return 0;
}

/*
 * The post-copy fields, after the transfer fields; absent in the status
 * of the push phase's target (27 fields, no handover).
 */
static int hm_parse_postcopy(const char **pos, struct hm_status *st)
{
	uint64_t *const nums[] = {
		&st->handover_us, &st->pulls, &st->pull_avg_us,
	};
	const char *w;
	size_t len;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(nums); i++) {
		w = hm_next_word(pos, &len);
		if (!w && !i)
			return 0;
		if (!w || hm_parse_u64(w, len, nums[i]))
			return -EINVAL;
	}
	st->has_postcopy = true;
	return 0;
}

static bool hm_is_hex_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* A migration id: exactly 32 hex digits; "-" means none. */
static int hm_parse_migration_id(const char *s, size_t len, char *out)
{
	size_t i;

	if (len == 1 && s[0] == '-')
		len = 0;
	else if (len != HM_STATUS_MIGRATION_ID_LEN)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!hm_is_hex_char(s[i]))
			return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/*
 * The state fields, after the post-copy fields; absent in the status of
 * the post-copy target (30 fields).
 */
static int hm_parse_state(const char **pos, struct hm_status *st)
{
	const char *w;
	size_t len;

	w = hm_next_word(pos, &len);
	if (!w)
		return 0;
	if (hm_parse_word(w, len, st->metadata))
		return -EINVAL;
	if (!strcmp(st->metadata, "-"))
		st->metadata[0] = '\0';
	w = hm_next_word(pos, &len);
	if (!w || hm_parse_u64(w, len, &st->io_errors))
		return -EINVAL;
	w = hm_next_word(pos, &len);
	if (!w || hm_parse_migration_id(w, len, st->migration_id))
		return -EINVAL;
	st->has_state = true;
	return 0;
}

/**
 * hm_status_parse() - parse the INFO status of a hybridmig target
 * @params: the status line, as returned by dm_get_next_target()
 * @out: filled in on success only
 *
 * The link fields may be missing (target 1.0), and so may the transfer
 * fields after them (target 1.0 and 1.1), the post-copy fields after
 * those (the 27 fields of the push phase's target) and the state fields
 * after those (the 30 fields of the post-copy target); a group that is
 * there must be complete. Fields after the state fields are ignored:
 * later kernels may append more.
 *
 * Return: 0, or -EINVAL if a field is missing or malformed.
 */
int hm_status_parse(const char *params, struct hm_status *out)
{
	struct hm_status st;
	uint64_t *const nums[] = {
		&st.chunk_sectors, &st.total_chunks, &st.dirty_chunks,
		&st.hot_chunks, &st.hot_threshold, &st.write_bios,
	};
	const char *pos = params;
	const char *w;
	size_t len;
	size_t i;

	if (!params)
		return -EINVAL;
	memset(&st, 0, sizeof(st));

	w = hm_next_word(&pos, &len);
	if (!w || hm_parse_word(w, len, st.role))
		return -EINVAL;
	w = hm_next_word(&pos, &len);
	if (!w || hm_parse_word(w, len, st.phase))
		return -EINVAL;

	for (i = 0; i < ARRAY_SIZE(nums); i++) {
		w = hm_next_word(&pos, &len);
		if (!w || hm_parse_u64(w, len, nums[i]))
			return -EINVAL;
	}
	if (hm_parse_link(&pos, &st) || hm_parse_transfer(&pos, &st))
		return -EINVAL;
	if (st.has_transfer && hm_parse_postcopy(&pos, &st))
		return -EINVAL;
	if (st.has_postcopy && hm_parse_state(&pos, &st))
		return -EINVAL;

	*out = st;
	return 0;
}

static uint64_t hm_mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t hm_status_chunk_bytes(const struct hm_status *st)
{
	return hm_mul_sat(st->chunk_sectors, HM_SECTOR_SIZE);
}

/* Dirty chunks in bytes; the last chunk may be partial, so cap at the size. */
uint64_t hm_status_dirty_bytes(const struct hm_status *st,
			       uint64_t size_sectors)
{
	uint64_t dirty = hm_mul_sat(st->dirty_chunks, hm_status_chunk_bytes(st));
	uint64_t size = hm_mul_sat(size_sectors, HM_SECTOR_SIZE);

	return dirty < size ? dirty : size;
}

/* Add @val (a new object, or NULL if its allocation failed) under @key. */
int hm_json_add(struct json_object *obj, const char *key,
		       struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Numbers are int64 in JSON; the few that cannot be (only a corrupt or
 * far-future status could have them) are written as uint64 rather than
 * wrapped to negative values.
 */
int hm_json_add_u64(struct json_object *obj, const char *key,
			   uint64_t v)
{
	struct json_object *val;

	if (v <= INT64_MAX)
		val = json_object_new_int64((int64_t)v);
	else
		val = json_object_new_uint64(v);
	return hm_json_add(obj, key, val);
}

int hm_json_add_string(struct json_object *obj, const char *key,
			      const char *s)
{
	return hm_json_add(obj, key, json_object_new_string(s));
}

/* A string, or null for an empty one. */
static int hm_json_add_opt_string(struct json_object *obj, const char *key,
				  const char *s)
{
	if (*s)
		return hm_json_add_string(obj, key, s);
	return json_object_object_add(obj, key, NULL) ? -ENOMEM : 0;
}

static struct json_object *hm_link_to_json(const struct hm_status *st)
{
	const struct {
		const char *key;
		uint64_t val;
	} nums[] = {
		{ "reconnects", st->reconnects },
		{ "tx_bytes", st->tx_bytes },
		{ "rx_bytes", st->rx_bytes },
		{ "tx_frames", st->tx_frames },
		{ "rx_frames", st->rx_frames },
	};
	struct json_object *obj = json_object_new_object();
	size_t i;

	if (!obj)
		return NULL;
	if (hm_json_add_string(obj, "state", st->link_state) ||
	    hm_json_add_opt_string(obj, "address", st->link_address) ||
	    hm_json_add_opt_string(obj, "last_error", st->link_error))
		goto fail;
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		if (hm_json_add_u64(obj, nums[i].key, nums[i].val))
			goto fail;
	return obj;

fail:
	json_object_put(obj);
	return NULL;
}

int hm_json_add_bool(struct json_object *obj, const char *key, bool b)
{
	return hm_json_add(obj, key, json_object_new_boolean(b));
}

/* A number, or null if the target does not report it. */
int hm_json_add_opt_u64(struct json_object *obj, const char *key,
			       bool known, uint64_t v)
{
	if (known)
		return hm_json_add_u64(obj, key, v);
	return json_object_object_add(obj, key, NULL) ? -ENOMEM : 0;
}

/*
 * The transfer's progress: the push phase, then handover and post-copy
 * (null for a target without them); NULL means out of memory.
 */
static struct json_object *hm_transfer_to_json(const struct hm_status *st)
{
	const struct {
		const char *key;
		uint64_t val;
	} nums[] = {
		{ "inflight_chunks", st->inflight_chunks },
		{ "sent_chunks", st->sent_chunks },
		{ "zero_chunks", st->zero_chunks },
		{ "acked_chunks", st->acked_chunks },
		{ "data_bytes", st->data_bytes },
		{ "rate_kib_s", st->rate_kib_s },
		{ "dirty_rate_chunks_s", st->dirty_rate_chunks_s },
		{ "deferred_chunks", st->deferred_chunks },
		{ "bandwidth_kib_s", st->bandwidth_kib_s },
	};
	const struct {
		const char *key;
		uint64_t val;
	} postcopy[] = {
		{ "handover_us", st->handover_us },
		{ "pulls", st->pulls },
		{ "pull_avg_us", st->pull_avg_us },
	};
	struct json_object *obj = json_object_new_object();
	size_t i;

	if (!obj)
		return NULL;
	if (hm_json_add_opt_string(obj, "policy", st->policy) ||
	    hm_json_add_bool(obj, "ready", st->ready))
		goto fail;
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		if (hm_json_add_u64(obj, nums[i].key, nums[i].val))
			goto fail;
	for (i = 0; i < ARRAY_SIZE(postcopy); i++)
		if (hm_json_add_opt_u64(obj, postcopy[i].key, st->has_postcopy,
					postcopy[i].val))
			goto fail;
	return obj;

fail:
	json_object_put(obj);
	return NULL;
}

/*
 * The state: metadata ("none" without a metadata device), io_errors and
 * migration_id (null before the destination adopted one); all three null
 * for a target without them.
 */
static int hm_state_to_json(struct json_object *obj,
			    const struct hm_status *st)
{
	const char *md = !st->has_state ? "" :
			 *st->metadata ? st->metadata : "none";

	if (hm_json_add_opt_string(obj, "metadata", md) ||
	    hm_json_add_opt_u64(obj, "io_errors", st->has_state,
				st->io_errors) ||
	    hm_json_add_opt_string(obj, "migration_id", st->migration_id))
		return -ENOMEM;
	return 0;
}

/**
 * hm_status_to_json() - the JSON object describing one hybridmig device
 * @name: device-mapper name of the device
 * @st: its parsed status
 * @size_sectors: length of its hybridmig target, in 512-byte sectors
 *
 * Return: a new object owned by the caller, or NULL if out of memory.
 */
struct json_object *hm_status_to_json(const char *name,
				      const struct hm_status *st,
				      uint64_t size_sectors)
{
	const struct {
		const char *key;
		uint64_t val;
	} nums[] = {
		{ "chunk_sectors", st->chunk_sectors },
		{ "chunk_bytes", hm_status_chunk_bytes(st) },
		{ "total_chunks", st->total_chunks },
		{ "dirty_chunks", st->dirty_chunks },
		{ "dirty_bytes", hm_status_dirty_bytes(st, size_sectors) },
		{ "hot_chunks", st->hot_chunks },
		{ "hot_threshold", st->hot_threshold },
		{ "write_bios", st->write_bios },
		{ "size_bytes", hm_mul_sat(size_sectors, HM_SECTOR_SIZE) },
	};
	struct json_object *obj, *link, *transfer;
	size_t i;

	obj = json_object_new_object();
	if (!obj)
		return NULL;

	if (hm_json_add_string(obj, "name", name) ||
	    hm_json_add_string(obj, "role", st->role) ||
	    hm_json_add_string(obj, "phase", st->phase))
		goto fail;
	for (i = 0; i < ARRAY_SIZE(nums); i++)
		if (hm_json_add_u64(obj, nums[i].key, nums[i].val))
			goto fail;
	link = hm_link_to_json(st);
	if (!link || json_object_object_add(obj, "link", link)) {
		json_object_put(link);
		goto fail;
	}
	/* null for a target without a push phase (1.0 and 1.1). */
	if (st->has_transfer) {
		transfer = hm_transfer_to_json(st);
		if (!transfer ||
		    json_object_object_add(obj, "transfer", transfer)) {
			json_object_put(transfer);
			goto fail;
		}
	} else if (json_object_object_add(obj, "transfer", NULL)) {
		goto fail;
	}
	if (hm_state_to_json(obj, st))
		goto fail;
	return obj;

fail:
	json_object_put(obj);
	return NULL;
}
