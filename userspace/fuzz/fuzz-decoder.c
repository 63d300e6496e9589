// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness of the hybridmig receive path (decode.c).
 *
 * Input: one selector byte, then the bytes one end of a lane receives.
 *   bit 0: 0 = server (receives c2s), 1 = client (receives s2c)
 *   bit 1: the client's lane (the server learns it from the HELLO)
 *   bit 2: skip_auth: proofs and tags checked but not enforced, so that
 *          mutations reach the session states
 *
 * Besides ASan/UBSan, it checks:
 *   - every header verdict of hm_hdr_check() against a byte-level model
 *     of the rule written from the spec (catches byte-order and offset
 *     mistakes in hybridmig-proto.h);
 *   - the decoder's accounting: consumed bytes are within the input and
 *     on a frame boundary; END means all of it, SHORT means some is left;
 *   - prefix consistency: the valid prefix decodes to END alone, with
 *     the same frame count and state;
 *   - without skip_auth, the session is never entered unless the proofs
 *     and tags verified (auth_skipped stays 0);
 *   - push frames: at most one SETUP or SETUP_ACK, DATA and ACK only on
 *     the bulk lane, never more chunk bytes than the frames carried;
 *   - post-copy frames: only on the control lane; at most one
 *     HANDOVER_REQUEST, HANDOVER_ACK, COMPLETE and ABORT; COMPLETE only
 *     after a handover; no ABORT after one; the map pieces in chunk order,
 *     their set bits within the device.
 *
 * Build and run: make -C userspace fuzz FUZZ_SECONDS=60
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)							\
	do {								\
		fprintf(stderr, "fuzz-decoder: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	} while (0)

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/*
 * The header rule of Documentation/protocol.rst, on raw bytes: each type's
 * smallest and largest payload (only DATA's, PULL_DATA's and
 * HANDOVER_MAP's differ: 16 .. 16 + 1 MiB).
 */
static int model_check(const uint8_t *b, uint8_t lane, uint64_t seq)
{
	static const uint32_t min[] = {
		0, 40, 72, 32, 4, 0, 8, 8, 32, 8, 16, 16,
		8, 16, 16, 8, 8, 0, 0, 0,
	};
	uint8_t type = b[5];
	uint32_t len = get_be32(b + 8);
	uint32_t max;

	if (memcmp(b, "HMIG", 4) || b[4] != 2 || b[7] || get_be32(b + 12) ||
	    b[6] != lane || type < 1 || type > 19)
		return -EPROTO;
	max = type == 10 || type == 13 || type == 14 ? 16 + (1U << 20) :
		min[type];
	if (len > (1U << 20) + 64 || len < min[type] || len > max)
		return -EMSGSIZE;
	if (get_be64(b + 16) != seq)
		return -EBADMSG;
	return 0;
}

static void on_hdr(void *arg, const uint8_t *raw, uint8_t lane, uint64_t seq,
		   int err)
{
	int want = model_check(raw, lane, seq);

	(void)arg;
	if (err != want)
		FAIL("hm_hdr_check() says %d, the model %d (lane %u seq %llu)",
		     err, want, lane, (unsigned long long)seq);
}

static enum hm_dec_result run(struct hm_dec *d, uint8_t sel,
			      const uint8_t *buf, size_t len)
{
	static const char key[] = HM_FUZZ_KEY;

	hm_dec_init(d, sel & 1 ? HM_DEC_CLIENT : HM_DEC_SERVER,
		    (sel >> 1) & 1, (const uint8_t *)key, sizeof(key) - 1);
	d->skip_auth = sel & 4;
	d->on_hdr = on_hdr;
	return hm_dec_stream(d, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_dec d, p;
	enum hm_dec_result r, rp;
	const uint8_t *buf;
	uint8_t *copy;
	size_t len;

	if (size < 1)
		return 0;
	buf = data + 1;
	len = size - 1;
	r = run(&d, data[0], buf, len);

	if ((unsigned int)r >= HM_DEC_NR_RESULTS)
		FAIL("result %d", r);
	if (d.consumed > len)
		FAIL("consumed %zu of %zu", d.consumed, len);
	if (r == HM_DEC_END && d.consumed != len)
		FAIL("END with %zu of %zu consumed", d.consumed, len);
	if (r == HM_DEC_SHORT && d.consumed >= len)
		FAIL("SHORT with nothing left");
	if (d.frames > len / sizeof(struct hm_hdr))
		FAIL("%u frames in %zu bytes", d.frames, len);
	if (d.seq != d.frames)
		FAIL("seq %llu after %u frames", (unsigned long long)d.seq,
		     d.frames);
	if (!(data[0] & 4) && d.auth_skipped > (r == HM_DEC_BAD_PROOF ||
						r == HM_DEC_BAD_MAC))
		FAIL("%u auth failures passed without skip_auth",
		     d.auth_skipped);
	if (d.setups > 1 || (d.setups && d.lane != HM_LANE_CONTROL))
		FAIL("%u SETUPs on lane %u", d.setups, d.lane);
	if ((d.data_frames || d.acks) && d.lane != HM_LANE_BULK)
		FAIL("DATA or ACK on lane %u", d.lane);
	if (d.data_bytes > d.consumed)
		FAIL("%llu data bytes in %zu bytes of frames",
		     (unsigned long long)d.data_bytes, d.consumed);
	if ((d.pulls || d.map_frames || d.handovers || d.completes ||
	     d.aborts || d.requests) && d.lane != HM_LANE_CONTROL)
		FAIL("post-copy frames on lane %u", d.lane);
	if (d.role == HM_DEC_CLIENT &&
	    (d.handovers > 1 || d.completes > 1 || d.aborts > 1 ||
	     d.requests > 1))
		FAIL("%u HANDOVER_ACKs, %u COMPLETEs, %u ABORTs, %u requests",
		     d.handovers, d.completes, d.aborts, d.requests);
	if (d.requests && d.role != HM_DEC_CLIENT)
		FAIL("HANDOVER_REQUEST taken by the destination");
	if (d.map_frames && d.map_next > (HM_FUZZ_TARGET_SECTORS +
	    HM_FUZZ_CHUNK_SECTORS - 1) / HM_FUZZ_CHUNK_SECTORS)
		FAIL("map pieces end at chunk %llu",
		     (unsigned long long)d.map_next);
	if (d.aborts > 1 || (d.aborts && d.handovers))
		FAIL("%u ABORTs, %u handovers", d.aborts, d.handovers);
	if (d.map_missing > d.map_frames * 8ULL * (1U << 20))
		FAIL("%llu missing chunks in %u map pieces",
		     (unsigned long long)d.map_missing, d.map_frames);
	if (d.zero_frames > d.data_frames || d.failed_acks > d.acks)
		FAIL("counters: %u ZERO of %u DATA, %u failed of %u ACKs",
		     d.zero_frames, d.data_frames, d.failed_acks, d.acks);

	/*
	 * The valid prefix alone, from a copy of exactly that size (so ASan
	 * sees any read past it): END, same frames, same state.
	 */
	copy = malloc(d.consumed ? d.consumed : 1);
	if (!copy)
		return 0;
	memcpy(copy, buf, d.consumed);
	rp = run(&p, data[0], copy, d.consumed);
	if (rp != HM_DEC_END || p.frames != d.frames || p.state != d.state ||
	    p.pings != d.pings || p.pongs != d.pongs ||
	    p.setups != d.setups || p.data_frames != d.data_frames ||
	    p.data_bytes != d.data_bytes || p.acks != d.acks ||
	    p.pulls != d.pulls || p.map_frames != d.map_frames ||
	    p.map_missing != d.map_missing || p.handovers != d.handovers ||
	    p.completes != d.completes || p.aborts != d.aborts ||
	    p.requests != d.requests || p.map_next != d.map_next ||
	    p.dest_phase != d.dest_phase)
		FAIL("prefix of %zu bytes: %s, %u frames (whole: %s, %u frames)",
		     d.consumed, hm_dec_result_name(rp), p.frames,
		     hm_dec_result_name(r), d.frames);
	free(copy);
	return 0;
}
