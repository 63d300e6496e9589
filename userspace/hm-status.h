/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Parsing of the hybridmig target's INFO status line, and its JSON form.
 *
 * Kept free of libdevmapper so that it can be unit-tested without a kernel.
 */
#ifndef HM_STATUS_H
#define HM_STATUS_H

#include <stdint.h>

struct json_object;

#define HM_TARGET_NAME		"hybridmig"
#define HM_SECTOR_SIZE		512ULL

/* Longest role or phase name accepted, without the NUL. */
#define HM_STATUS_WORD_MAX	31

/*
 * One parsed INFO status line:
 *
 *   <role> <phase> <chunk_sectors> <total_chunks> <dirty_chunks>
 *   <hot_chunks> <hot_threshold> <write_bios> [<more fields>...]
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
};

int hm_status_parse(const char *params, struct hm_status *out);

uint64_t hm_status_chunk_bytes(const struct hm_status *st);
uint64_t hm_status_dirty_bytes(const struct hm_status *st,
			       uint64_t size_sectors);

struct json_object *hm_status_to_json(const char *name,
				      const struct hm_status *st,
				      uint64_t size_sectors);

#endif /* HM_STATUS_H */
