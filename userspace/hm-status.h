/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Parsing of the hybridmig target's INFO status line, and its JSON form.
 *
 * Kept free of libdevmapper so that it can be unit-tested without a kernel.
 */
#ifndef HM_STATUS_H
#define HM_STATUS_H

#include <stdbool.h>
#include <stdint.h>

struct json_object;

#define HM_TARGET_NAME		"hybridmig"
#define HM_SECTOR_SIZE		512ULL

/* Longest role or phase name accepted, without the NUL. */
#define HM_STATUS_WORD_MAX	31
/* Longest peer address accepted ("[v6]:port"), without the NUL. */
#define HM_STATUS_ADDR_MAX	63
/* A migration id: 16 bytes in hex. */
#define HM_STATUS_MIGRATION_ID_LEN	32

/*
 * One parsed INFO status line:
 *
 *   <role> <phase> <chunk_sectors> <total_chunks> <dirty_chunks>
 *   <hot_chunks> <hot_threshold> <write_bios>
 *   [<link_state> <address> <reconnects> <last_error> <tx_bytes>
 *    <rx_bytes> <tx_frames> <rx_frames>
 *    [<policy> <ready> <inflight_chunks> <sent_chunks> <zero_chunks>
 *     <acked_chunks> <data_bytes> <rate> <dirty_rate> <deferred_chunks>
 *     <bandwidth>
 *     [<handover_us> <pulls> <pull_avg_us>
 *      [<metadata> <io_errors> <migration_id> [<more fields>...]]]]]
 *
 * A status without the link fields (target 1.0.0) reads as link state
 * "none"; "-" in address or last_error reads as an empty string. A status
 * without the transfer fields (target 1.1.0, no push phase) has
 * has_transfer false and every transfer field 0; "-" as the policy (a
 * destination's) reads as an empty string. A status without the
 * post-copy fields (27 fields: the push phase only, no handover) has
 * has_postcopy false and those three fields 0. A status without the
 * state fields (30 fields) has has_state false, those fields 0 and
 * empty. Each group is all or nothing.
 *
 * State: metadata is "-" (no metadata device, read as an empty string),
 * "ok" or "failed", and any other word is accepted as is; migration_id is
 * 32 hex digits, or "-" (a destination before it adopted one; read as an
 * empty string).
 *
 * Phases: a source is tracking, handover, postcopy or complete; a
 * destination waiting, postcopy, complete or aborted. Any other word is
 * accepted as is (a later target may add phases).
 */
struct hm_status {
	char role[HM_STATUS_WORD_MAX + 1];
	char phase[HM_STATUS_WORD_MAX + 1];
	uint64_t chunk_sectors;
	uint64_t total_chunks;
	uint64_t dirty_chunks;
	uint64_t hot_chunks;
	uint64_t hot_threshold;
	uint64_t write_bios;

	char link_state[HM_STATUS_WORD_MAX + 1];
	char link_address[HM_STATUS_ADDR_MAX + 1];
	uint64_t reconnects;
	char link_error[HM_STATUS_WORD_MAX + 1];
	uint64_t tx_bytes;
	uint64_t rx_bytes;
	uint64_t tx_frames;
	uint64_t rx_frames;

	bool has_transfer;
	char policy[HM_STATUS_WORD_MAX + 1];
	bool ready;
	uint64_t inflight_chunks;
	uint64_t sent_chunks;
	uint64_t zero_chunks;
	uint64_t acked_chunks;
	uint64_t data_bytes;
	uint64_t rate_kib_s;		/* acknowledged chunk data, KiB/s */
	uint64_t dirty_rate_chunks_s;	/* chunks newly dirtied per second */
	uint64_t deferred_chunks;
	uint64_t bandwidth_kib_s;	/* push limit; 0: none */

	bool has_postcopy;		/* fields 28-30 are there */
	/* source: fence to HANDOVER_ACK; dest: first map frame to switch */
	uint64_t handover_us;
	uint64_t pulls;			/* source: served; dest: completed */
	uint64_t pull_avg_us;		/* dest: mean pull latency; source: 0 */

	bool has_state;			/* fields 31-33 are there */
	char metadata[HM_STATUS_WORD_MAX + 1];	/* "": no metadata device */
	uint64_t io_errors;		/* data and metadata device errors */
	char migration_id[HM_STATUS_MIGRATION_ID_LEN + 1];	/* "": none */
};

int hm_status_parse(const char *params, struct hm_status *out);

uint64_t hm_status_chunk_bytes(const struct hm_status *st);
uint64_t hm_status_dirty_bytes(const struct hm_status *st,
			       uint64_t size_sectors);

struct json_object *hm_status_to_json(const char *name,
				      const struct hm_status *st,
				      uint64_t size_sectors);

/*
 * JSON helpers: add a value under @key; 0 or -ENOMEM. hm_json_add() takes
 * a new object, or NULL if its allocation failed. An optional number that
 * is not @known is written as null.
 */
int hm_json_add(struct json_object *obj, const char *key,
		struct json_object *val);
int hm_json_add_u64(struct json_object *obj, const char *key, uint64_t v);
int hm_json_add_string(struct json_object *obj, const char *key,
		       const char *s);
int hm_json_add_bool(struct json_object *obj, const char *key, bool b);
int hm_json_add_opt_u64(struct json_object *obj, const char *key,
			bool known, uint64_t v);

#endif /* HM_STATUS_H */
