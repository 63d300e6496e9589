// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command-line values and hybridmig table lines (see hm-table.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hm-compiler.h"
#include "hm-table.h"

/* Leading decimal digits of @s into @out; *end past them. No sign. */
static int hm_parse_digits(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		unsigned int d = *p - '0';

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (p == s)
		return -EINVAL;
	*end = p;
	*out = v;
	return 0;
}

int hm_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;

	if (hm_parse_digits(s, &end, &v) || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The power of 1024 of a binary suffix (K/k/KiB ...), or -1. */
static int hm_suffix_shift(const char *sfx)
{
	static const char units[] = "KMGTP";
	const char *u = *sfx ? strchr(units, sfx[0] & ~0x20) : NULL;

	if (!u)
		return -1;
	if (sfx[1] && strcmp(sfx + 1, "iB") && strcmp(sfx + 1, "B"))
		return -1;
	return 10 * (int)(u - units + 1);
}

static int hm_scale(uint64_t v, int shift, uint64_t *out)
{
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int hm_parse_size(const char *s, bool sectors_ok, uint64_t *bytes)
{
	const char *end;
	uint64_t v;
	int shift;

	if (hm_parse_digits(s, &end, &v))
		return -EINVAL;
	if (!*end)
		return hm_scale(v, 0, bytes);
	if (sectors_ok && !strcmp(end, "s"))
		return hm_scale(v, 9, bytes);
	shift = hm_suffix_shift(end);
	return shift < 0 ? -EINVAL : hm_scale(v, shift, bytes);
}

int hm_parse_rate(const char *s, uint64_t *kib_s)
{
	const char *end;
	uint64_t v;
	int shift;

	if (hm_parse_digits(s, &end, &v))
		return -EINVAL;
	shift = *end ? hm_suffix_shift(end) : 10;
	if (shift < 0 || hm_scale(v, shift - 10, kib_s) ||
	    *kib_s > HM_BANDWIDTH_MAX)
		return -EINVAL;
	return 0;
}

bool hm_valid_policy(const char *s)
{
	return !strcasecmp(s, "hybrid") || !strcasecmp(s, "precopy") ||
	       !strcasecmp(s, "postcopy");
}

bool hm_valid_address(const char *s)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || colon == s || strchr(s, ' '))
		return false;
	if (s[0] == '[' && colon[-1] != ']')
		return false;
	return !hm_parse_uint(colon + 1, 65535, &port) && port;
}

int hm_chunk_sectors(uint64_t bytes, uint64_t *sectors)
{
	uint64_t sec = bytes / 512;

	if (bytes % 512 || sec < HM_CHUNK_MIN || sec > HM_CHUNK_MAX ||
	    (sec & (sec - 1)))
		return -EINVAL;
	*sectors = sec;
	return 0;
}

/* Append to @buf at *pos; -ENOSPC once it does not fit. */
__printf(4, 5)
static int hm_append(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *pos)
		return -ENOSPC;
	*pos += n;
	return 0;
}

/* The optional arguments, in the kernel's own order; returns the count. */
static int hm_table_opt_words(char *buf, size_t len,
			      const struct hm_table_opts *o)
{
	size_t pos = 0;
	int words = 0, r = 0;

	buf[0] = '\0';
	if (o->start_clean) {
		r |= hm_append(buf, len, &pos, " start_clean");
		words++;
	}
	if (o->auto_handover) {
		r |= hm_append(buf, len, &pos, " auto_handover");
		words++;
	}
	if (o->has_hot_threshold) {
		r |= hm_append(buf, len, &pos, " hot_threshold %u",
			       o->hot_threshold);
		words += 2;
	}
	if (o->policy) {
		r |= hm_append(buf, len, &pos, " policy %s", o->policy);
		words += 2;
	}
	if (o->has_bandwidth) {
		r |= hm_append(buf, len, &pos, " bandwidth %" PRIu64,
			       o->bandwidth_kib_s);
		words += 2;
	}
	if (o->has_ready_chunks) {
		r |= hm_append(buf, len, &pos, " ready_chunks %" PRIu64,
			       o->ready_chunks);
		words += 2;
	}
	return r ? -ENOSPC : words;
}

int hm_table_params(char *buf, size_t len, const char *role,
		    const char *data_dev, const struct hm_table_opts *o)
{
	char opts[256];
	size_t pos = 0;
	int words, r;

	words = hm_table_opt_words(opts, sizeof(opts), o);
	if (words < 0)
		return words;
	r = hm_append(buf, len, &pos, "%s %s %s %" PRIu64, role, data_dev,
		      o->metadata ? o->metadata : "-",
		      o->chunk_sectors ? o->chunk_sectors : HM_CHUNK_DEFAULT);
	if (!r && words)
		r = hm_append(buf, len, &pos, " %d%s", words, opts);
	return r ? r : (int)pos;
}

int hm_table_data_dev(const char *params, char *role, size_t role_len,
		      char *dev, size_t dev_len)
{
	char r[32], d[64];

	if (sscanf(params, "%31s %63s", r, d) != 2)
		return -EINVAL;
	if (strlen(r) >= role_len || strlen(d) >= dev_len)
		return -EINVAL;
	strcpy(role, r);
	strcpy(dev, d);
	return 0;
}
