/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Command-line values (sizes, rates, numbers) and the hybridmig table
 * lines built from them. Kept free of libdevmapper for unit tests.
 */
#ifndef HM_TABLE_H
#define HM_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HM_CHUNK_DEFAULT	128	/* sectors: 64 KiB */
#define HM_CHUNK_MIN		8
#define HM_CHUNK_MAX		2048
#define HM_BANDWIDTH_MAX	1073741824ULL	/* KiB/s, as the kernel */

/* Options of a hybridmig table line; unset ones are left out. */
struct hm_table_opts {
	uint64_t chunk_sectors;
	const char *metadata;		/* NULL: "-" */
	bool start_clean;
	bool auto_handover;		/* dest */
	const char *policy;		/* NULL: not given */
	bool has_hot_threshold;
	unsigned int hot_threshold;
	bool has_bandwidth;
	uint64_t bandwidth_kib_s;
	bool has_ready_chunks;
	uint64_t ready_chunks;
};

/*
 * A decimal number, then an optional binary suffix: K, M, G, T (KiB ...,
 * "KiB" and "k" accepted too), or "s" for 512-byte sectors if
 * @sectors_ok. Bytes out. 0 or -EINVAL (also on overflow).
 */
int hm_parse_size(const char *s, bool sectors_ok, uint64_t *bytes);
/* A bandwidth: a number of KiB/s, or with a K, M or G suffix (per second). */
int hm_parse_rate(const char *s, uint64_t *kib_s);
/* A plain decimal number no larger than @max. */
int hm_parse_uint(const char *s, uint64_t max, uint64_t *out);
bool hm_valid_policy(const char *s);
/* host:port or [v6]:port, with a port of 1..65535 (the kernel checks more). */
bool hm_valid_address(const char *s);
/* A chunk size in bytes: a power of two from 4 KiB to 1 MiB; sectors out. */
int hm_chunk_sectors(uint64_t bytes, uint64_t *sectors);

/*
 * The parameters of a hybridmig target (what follows "hybridmig"):
 * "<role> <data_dev> <metadata_dev|-> <chunk_sectors> [<#opts> <opts>...]".
 * Return: the length of the line, or -ENOSPC if @len is too short.
 */
int hm_table_params(char *buf, size_t len, const char *role,
		    const char *data_dev, const struct hm_table_opts *o);

/*
 * The data device ("major:minor" as the kernel shows it) and role of a
 * hybridmig target's table parameters. 0 or -EINVAL.
 */
int hm_table_data_dev(const char *params, char *role, size_t role_len,
		      char *dev, size_t dev_len);

#endif /* HM_TABLE_H */
