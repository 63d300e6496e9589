// SPDX-License-Identifier: GPL-2.0-only
/*
 * decode-check: run the fuzzer's decoder (decode.c) over files, as the
 * fuzzer does (first byte: the selector, see fuzz-decoder.c), and print
 * the verdict of each. With --expect RESULT, fail unless every file gives
 * that result. Used to show that the seeds written by the Python peer's
 * codec decode as valid streams in C: both sides agree on framing,
 * proofs, session keys and MACs.
 *
 * usage: decode-check [--expect end|rejected|...] FILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

static int check_file(const char *path, const char *expect)
{
	static uint8_t buf[1 << 21];
	static const char key[] = HM_FUZZ_KEY;
	struct hm_dec d;
	enum hm_dec_result r;
	size_t n;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n < 1) {
		fprintf(stderr, "%s: empty\n", path);
		return 1;
	}
	hm_dec_init(&d, buf[0] & 1 ? HM_DEC_CLIENT : HM_DEC_SERVER,
		    (buf[0] >> 1) & 1, (const uint8_t *)key, sizeof(key) - 1);
	d.skip_auth = buf[0] & 4;
	r = hm_dec_stream(&d, buf + 1, n - 1);
	printf("%s: %s, %u frames (%u pings, %u pongs), %zu of %zu bytes",
	       path, hm_dec_result_name(r), d.frames, d.pings, d.pongs,
	       d.consumed, n - 1);
	if (d.setups)
		printf(", %s%s", d.role == HM_DEC_SERVER ? "SETUP" : "SETUP_ACK",
		       d.geometry_mismatch ? " (geometry mismatch)" : "");
	if (d.data_frames)
		printf(", %u DATA (%u ZERO, %llu chunks, %llu bytes)",
		       d.data_frames, d.zero_frames,
		       (unsigned long long)d.data_chunks,
		       (unsigned long long)d.data_bytes);
	if (d.acks)
		printf(", %u ACKs (%u failed)", d.acks, d.failed_acks);
	if (d.role == HM_DEC_CLIENT && d.setups)
		printf(", dest phase %u", d.dest_phase);
	if (d.pulls)
		printf(", %u %s", d.pulls,
		       d.role == HM_DEC_SERVER ? "PULL_DATA" : "PULLs");
	if (d.map_frames)
		printf(", %u map pieces (%llu missing)", d.map_frames,
		       (unsigned long long)d.map_missing);
	if (d.handovers)
		printf(", %u %s", d.handovers,
		       d.role == HM_DEC_SERVER ? "HANDOVER" : "HANDOVER_ACK");
	if (d.completes)
		printf(", COMPLETE");
	if (d.aborts)
		printf(", ABORT");
	if (d.requests)
		printf(", HANDOVER_REQUEST");
	if (r == HM_DEC_REJECTED)
		printf(", reason %u", d.reject_reason);
	if (r == HM_DEC_BAD_HDR)
		printf(", error %d", d.hdr_err);
	if (d.auth_skipped)
		printf(", %u auth failures skipped", d.auth_skipped);
	if (expect && strcmp(expect, hm_dec_result_name(r))) {
		printf(": FAIL, expected %s\n", expect);
		return 1;
	}
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *expect = NULL;
	int i = 1, bad = 0, files = 0;

	if (argc > 2 && !strcmp(argv[1], "--expect")) {
		expect = argv[2];
		i = 3;
	}
	for (; i < argc; i++, files++)
		bad += check_file(argv[i], expect);
	if (!files) {
		fprintf(stderr, "usage: decode-check [--expect RESULT] FILE...\n");
		return 2;
	}
	printf("decode-check: %d of %d files as expected\n", files - bad, files);
	return bad ? 1 : 0;
}
