// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the wire codec in hybridmig-proto.h: hm_hdr_init(),
 * hm_hdr_check(), hm_frame_payload_len(), hm_frame_max_payload_len(),
 * hm_frame_lane(), hm_frame_is_handshake() and the payload layouts; no
 * kernel and no network needed.
 *
 * Every check is made against the raw bytes of a header, not only through
 * the struct, so a wrong byte order or a wrong offset shows up here.
 *
 * Prints one line per test and ends with "N passed, M failed"; exits
 * non-zero if any test failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hm-compiler.h"
#include "hybridmig-proto.h"

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

/* Like CHECK(a == b) for ints, printing both sides. */
#define CHECK_EQ(a, b)							\
	do {								\
		long long _a = (a), _b = (b);				\
		if (_a != _b) {						\
			printf("    %s:%d: check failed: %s == %s "	\
			       "(%lld != %lld)\n", __FILE__, __LINE__,	\
			       #a, #b, _a, _b);				\
			test_ok = false;				\
		}							\
	} while (0)

#define HDR_LEN		24

/* Offsets of the header fields on the wire (Documentation/protocol.rst). */
#define OFF_MAGIC	0
#define OFF_VERSION	4
#define OFF_TYPE	5
#define OFF_LANE	6
#define OFF_FLAGS	7
#define OFF_LEN		8
#define OFF_RESERVED	12
#define OFF_SEQ		16

#define MIB		(1U << 20)
/*
 * The largest DATA (and PULL_DATA) payload: its 16-byte head and 1 MiB of
 * chunk data; HANDOVER_MAP's head is 16 bytes too, then 1 MiB of map.
 */
#define DATA_MAX	(16 + MIB)
#define MAP_MAX		(16 + MIB)
/* The last frame type; the model and the loops below use the number. */
#define SPEC_TYPE_MAX	19

static const unsigned int all_types[] = {
	HM_FRAME_HELLO, HM_FRAME_CHALLENGE, HM_FRAME_RESPONSE, HM_FRAME_REJECT,
	HM_FRAME_WELCOME, HM_FRAME_PING, HM_FRAME_PONG, HM_FRAME_SETUP,
	HM_FRAME_SETUP_ACK, HM_FRAME_DATA, HM_FRAME_ACK, HM_FRAME_PULL,
	HM_FRAME_PULL_DATA, HM_FRAME_HANDOVER_MAP, HM_FRAME_HANDOVER,
	HM_FRAME_HANDOVER_ACK, HM_FRAME_COMPLETE, HM_FRAME_ABORT,
	HM_FRAME_HANDOVER_REQUEST,
};

/*
 * The smallest payload of each type, as the spec gives it (not via
 * sizeof); 0 for an unknown type. Only DATA, PULL_DATA and HANDOVER_MAP
 * have a larger maximum.
 */
static uint32_t spec_len(unsigned int type)
{
	switch (type) {
	case 1:		/* HELLO */
		return 40;
	case 2:		/* CHALLENGE */
		return 72;
	case 3:		/* RESPONSE */
		return 32;
	case 4:		/* REJECT */
		return 4;
	case 5:		/* WELCOME */
		return 0;
	case 6:		/* PING */
	case 7:		/* PONG */
		return 8;
	case 8:		/* SETUP */
		return 32;
	case 9:		/* SETUP_ACK */
		return 8;
	case 10:	/* DATA */
	case 11:	/* ACK */
		return 16;
	case 12:	/* PULL */
		return 8;
	case 13:	/* PULL_DATA */
	case 14:	/* HANDOVER_MAP */
		return 16;
	case 15:	/* HANDOVER */
	case 16:	/* HANDOVER_ACK */
		return 8;
	case 17:	/* COMPLETE */
	case 18:	/* ABORT */
	case 19:	/* HANDOVER_REQUEST */
		return 0;
	}
	return 0;
}

static uint32_t spec_max_len(unsigned int type)
{
	switch (type) {
	case 10:	/* DATA */
	case 13:	/* PULL_DATA */
		return DATA_MAX;
	case 14:	/* HANDOVER_MAP */
		return MAP_MAX;
	}
	return spec_len(type);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

/* A well-formed header, built byte by byte without the codec. */
static void raw_hdr(uint8_t *b, unsigned int type, unsigned int lane,
		    uint32_t len, uint64_t seq)
{
	memset(b, 0, HDR_LEN);
	memcpy(b + OFF_MAGIC, "HMIG", 4);
	b[OFF_VERSION] = 2;
	b[OFF_TYPE] = type;
	b[OFF_LANE] = lane;
	b[OFF_FLAGS] = 0;
	put_be32(b + OFF_LEN, len);
	put_be32(b + OFF_RESERVED, 0);
	put_be64(b + OFF_SEQ, seq);
}

static int check_raw(const uint8_t *b, unsigned int lane, uint64_t seq)
{
	struct hm_hdr h;

	memcpy(&h, b, sizeof(h));
	return hm_hdr_check(&h, lane, seq);
}

static void test_sizes(void)
{
	CHECK_EQ(sizeof(struct hm_hdr), 24);
	CHECK_EQ(sizeof(struct hm_hello), 40);
	CHECK_EQ(sizeof(struct hm_challenge), 72);
	CHECK_EQ(sizeof(struct hm_response), 32);
	CHECK_EQ(sizeof(struct hm_reject), 4);
	CHECK_EQ(sizeof(struct hm_ping), 8);
	CHECK_EQ(sizeof(struct hm_setup), 32);
	CHECK_EQ(sizeof(struct hm_setup_ack), 8);
	CHECK_EQ(sizeof(struct hm_data), 16);
	CHECK_EQ(sizeof(struct hm_ack), 16);
	CHECK_EQ(sizeof(struct hm_pull), 8);
	CHECK_EQ(sizeof(struct hm_handover_map), 16);
	CHECK_EQ(sizeof(struct hm_handover), 8);
	CHECK_EQ(sizeof(struct hm_handover_ack), 8);
}

static void test_offsets(void)
{
	CHECK_EQ(offsetof(struct hm_hdr, magic), OFF_MAGIC);
	CHECK_EQ(offsetof(struct hm_hdr, version), OFF_VERSION);
	CHECK_EQ(offsetof(struct hm_hdr, type), OFF_TYPE);
	CHECK_EQ(offsetof(struct hm_hdr, lane), OFF_LANE);
	CHECK_EQ(offsetof(struct hm_hdr, flags), OFF_FLAGS);
	CHECK_EQ(offsetof(struct hm_hdr, len), OFF_LEN);
	CHECK_EQ(offsetof(struct hm_hdr, reserved), OFF_RESERVED);
	CHECK_EQ(offsetof(struct hm_hdr, seq), OFF_SEQ);

	CHECK_EQ(offsetof(struct hm_hello, version_min), 0);
	CHECK_EQ(offsetof(struct hm_hello, version_max), 2);
	CHECK_EQ(offsetof(struct hm_hello, features), 4);
	CHECK_EQ(offsetof(struct hm_hello, nonce), 8);

	CHECK_EQ(offsetof(struct hm_challenge, version), 0);
	CHECK_EQ(offsetof(struct hm_challenge, reserved), 2);
	CHECK_EQ(offsetof(struct hm_challenge, features), 4);
	CHECK_EQ(offsetof(struct hm_challenge, nonce), 8);
	CHECK_EQ(offsetof(struct hm_challenge, proof), 40);

	CHECK_EQ(offsetof(struct hm_response, proof), 0);
	CHECK_EQ(offsetof(struct hm_reject, reason), 0);
	CHECK_EQ(offsetof(struct hm_ping, cookie), 0);

	CHECK_EQ(offsetof(struct hm_setup, target_sectors), 0);
	CHECK_EQ(offsetof(struct hm_setup, chunk_sectors), 8);
	CHECK_EQ(offsetof(struct hm_setup, flags), 12);
	CHECK_EQ(offsetof(struct hm_setup, migration_id), 16);

	CHECK_EQ(offsetof(struct hm_setup_ack, status), 0);
	CHECK_EQ(offsetof(struct hm_setup_ack, phase), 4);

	CHECK_EQ(offsetof(struct hm_data, first_chunk), 0);
	CHECK_EQ(offsetof(struct hm_data, nr_chunks), 8);
	CHECK_EQ(offsetof(struct hm_data, flags), 12);

	CHECK_EQ(offsetof(struct hm_ack, first_chunk), 0);
	CHECK_EQ(offsetof(struct hm_ack, nr_chunks), 8);
	CHECK_EQ(offsetof(struct hm_ack, status), 12);

	CHECK_EQ(offsetof(struct hm_pull, chunk), 0);

	CHECK_EQ(offsetof(struct hm_handover_map, first_chunk), 0);
	CHECK_EQ(offsetof(struct hm_handover_map, nr_chunks), 8);
	CHECK_EQ(offsetof(struct hm_handover_map, flags), 12);

	CHECK_EQ(offsetof(struct hm_handover, nr_missing), 0);

	CHECK_EQ(offsetof(struct hm_handover_ack, status), 0);
	CHECK_EQ(offsetof(struct hm_handover_ack, reserved), 4);
}

static void test_constants(void)
{
	CHECK_EQ(HM_PROTO_MAGIC, 0x484d4947);
	CHECK(!memcmp("HMIG", (const char[]){ 0x48, 0x4d, 0x49, 0x47 }, 4));
	CHECK_EQ(HM_PROTO_VERSION, 2);
	CHECK_EQ(HM_NONCE_LEN, 32);
	CHECK_EQ(HM_MAC_LEN, 32);
	CHECK(!strcmp(HM_AEAD_ALG, "gcm(aes)"));
	CHECK_EQ(HM_AEAD_KEY_LEN, 32);
	CHECK_EQ(HM_AEAD_IV_LEN, 12);
	CHECK_EQ(HM_TAG_LEN, 16);
	CHECK(HM_AEAD_KEY_LEN <= HM_MAC_LEN);	/* keys are HMAC outputs */
	CHECK_EQ(HM_MAX_DATA_PIECE, 1 << 20);
	CHECK_EQ(HM_MAX_PAYLOAD, (1 << 20) + 64);
	CHECK_EQ(HM_LANE_CONTROL, 0);
	CHECK_EQ(HM_LANE_BULK, 1);
	CHECK_EQ(HM_NR_LANES, 2);
	CHECK_EQ(HM_FRAME_HELLO, 1);
	CHECK_EQ(HM_FRAME_CHALLENGE, 2);
	CHECK_EQ(HM_FRAME_RESPONSE, 3);
	CHECK_EQ(HM_FRAME_REJECT, 4);
	CHECK_EQ(HM_FRAME_WELCOME, 5);
	CHECK_EQ(HM_FRAME_PING, 6);
	CHECK_EQ(HM_FRAME_PONG, 7);
	CHECK_EQ(HM_FRAME_SETUP, 8);
	CHECK_EQ(HM_FRAME_SETUP_ACK, 9);
	CHECK_EQ(HM_FRAME_DATA, 10);
	CHECK_EQ(HM_FRAME_ACK, 11);
	CHECK_EQ(HM_FRAME_PULL, 12);
	CHECK_EQ(HM_FRAME_PULL_DATA, 13);
	CHECK_EQ(HM_FRAME_HANDOVER_MAP, 14);
	CHECK_EQ(HM_FRAME_HANDOVER, 15);
	CHECK_EQ(HM_FRAME_HANDOVER_ACK, 16);
	CHECK_EQ(HM_FRAME_COMPLETE, 17);
	CHECK_EQ(HM_FRAME_ABORT, 18);
	CHECK_EQ(HM_FRAME_HANDOVER_REQUEST, 19);
	CHECK_EQ(HM_FRAME_TYPE_MAX, SPEC_TYPE_MAX);
	CHECK_EQ(HM_SETUP_OK, 0);
	CHECK_EQ(HM_SETUP_GEOMETRY, 1);
	CHECK_EQ(HM_SETUP_MIGRATION, 2);
	CHECK_EQ(HM_DEST_WAITING, 0);
	CHECK_EQ(HM_DEST_POSTCOPY, 1);
	CHECK_EQ(HM_DEST_COMPLETE, 2);
	CHECK_EQ(HM_DEST_ABORTED, 3);
	CHECK_EQ(HM_ACK_OK, 0);
	CHECK_EQ(HM_ACK_FAILED, 1);
	CHECK_EQ(HM_ACK_RETRY, 2);
	CHECK_EQ(HM_HANDOVER_OK, 0);
	CHECK_EQ(HM_HANDOVER_BAD_MAP, 1);
	CHECK_EQ(HM_HANDOVER_FAILED, 2);
	CHECK_EQ(HM_DATA_ZERO, 1);
	CHECK_EQ(HM_REJECT_VERSION, 1);
	CHECK_EQ(HM_REJECT_AUTH, 2);
	CHECK_EQ(HM_REJECT_BUSY, 3);
	CHECK_EQ(HM_REJECT_PROTOCOL, 4);
	CHECK(!strcmp(HM_LABEL_SERVER_PROOF, "hybridmig v1 server proof"));
	CHECK(!strcmp(HM_LABEL_CLIENT_PROOF, "hybridmig v1 client proof"));
	CHECK(!strcmp(HM_LABEL_KEY_C2S, "hybridmig v2 key c2s"));
	CHECK(!strcmp(HM_LABEL_KEY_S2C, "hybridmig v2 key s2c"));
}

/* hm_hdr_init() writes exactly the bytes the spec gives. */
static void test_init_bytes(void)
{
	static const uint8_t want[HDR_LEN] = {
		'H', 'M', 'I', 'G', 0x02, 0x06, 0x01, 0x00,
		0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	uint8_t b[HDR_LEN];
	struct hm_hdr h;

	memset(&h, 0xa5, sizeof(h));
	hm_hdr_init(&h, HM_FRAME_PING, HM_LANE_BULK, 8, 0x0102030405060708ULL);
	memcpy(b, &h, sizeof(b));
	CHECK(!memcmp(b, want, sizeof(want)));
	if (memcmp(b, want, sizeof(want))) {
		for (size_t i = 0; i < sizeof(b); i++)
			printf("%s%02x", i ? " " : "    got: ", b[i]);
		printf("\n");
	}
}

/* Every type, both lanes, a few sequence numbers: init then check. */
static void test_round_trip(void)
{
	static const uint64_t seqs[] = { 0, 1, 2, 0xffffffffULL,
					 0x100000000ULL, UINT64_MAX };

	for (size_t t = 0; t < ARRAY_SIZE(all_types); t++) {
		for (unsigned int lane = 0; lane < HM_NR_LANES; lane++) {
			for (size_t s = 0; s < ARRAY_SIZE(seqs); s++) {
				unsigned int type = all_types[t];
				uint32_t len = hm_frame_payload_len(type);
				uint32_t max = hm_frame_max_payload_len(type);
				struct hm_hdr h;
				uint8_t raw[HDR_LEN];

				hm_hdr_init(&h, type, lane, len, seqs[s]);
				CHECK_EQ(hm_hdr_check(&h, lane, seqs[s]), 0);
				raw_hdr(raw, type, lane, len, seqs[s]);
				CHECK(!memcmp(&h, raw, HDR_LEN));
				CHECK_EQ(check_raw(raw, lane, seqs[s]), 0);
				hm_hdr_init(&h, type, lane, max, seqs[s]);
				CHECK_EQ(hm_hdr_check(&h, lane, seqs[s]), 0);
				raw_hdr(raw, type, lane, max, seqs[s]);
				CHECK(!memcmp(&h, raw, HDR_LEN));
			}
		}
	}
}

static void test_payload_len(void)
{
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_HELLO), sizeof(struct hm_hello));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_CHALLENGE),
		 sizeof(struct hm_challenge));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_RESPONSE),
		 sizeof(struct hm_response));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_REJECT),
		 sizeof(struct hm_reject));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_PING), sizeof(struct hm_ping));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_PONG), sizeof(struct hm_ping));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_SETUP), sizeof(struct hm_setup));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_SETUP_ACK),
		 sizeof(struct hm_setup_ack));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_DATA), sizeof(struct hm_data));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_ACK), sizeof(struct hm_ack));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_PULL), sizeof(struct hm_pull));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_PULL_DATA),
		 sizeof(struct hm_data));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_HANDOVER_MAP),
		 sizeof(struct hm_handover_map));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_HANDOVER),
		 sizeof(struct hm_handover));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_HANDOVER_ACK),
		 sizeof(struct hm_handover_ack));
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_COMPLETE), 0);
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_ABORT), 0);
	CHECK_EQ(hm_frame_payload_len(HM_FRAME_HANDOVER_REQUEST), 0);
	for (unsigned int t = 0; t < 256; t++)
		CHECK_EQ(hm_frame_payload_len(t), spec_len(t));
}

static void test_max_payload_len(void)
{
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_DATA),
		 sizeof(struct hm_data) + HM_MAX_DATA_PIECE);
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_DATA), 16 + (1 << 20));
	/* Below the global cap, so the per-type bound is the binding one. */
	CHECK(hm_frame_max_payload_len(HM_FRAME_DATA) < HM_MAX_PAYLOAD);
	/* A pull reply is a DATA payload: the same bounds. */
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_PULL_DATA),
		 hm_frame_max_payload_len(HM_FRAME_DATA));
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_HANDOVER_MAP),
		 sizeof(struct hm_handover_map) + HM_MAX_DATA_PIECE);
	CHECK(hm_frame_max_payload_len(HM_FRAME_HANDOVER_MAP) < HM_MAX_PAYLOAD);
	/* Every fixed-size type: the largest payload is the smallest. */
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_PULL), 8);
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_HANDOVER), 8);
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_HANDOVER_ACK), 8);
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_COMPLETE), 0);
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_ABORT), 0);
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_HANDOVER_REQUEST), 0);
	for (unsigned int t = 0; t < 256; t++)
		CHECK_EQ(hm_frame_max_payload_len(t), spec_max_len(t));
}

/*
 * DATA and ACK on the bulk lane, every other session frame on control:
 * pulls and their replies never wait behind bulk data.
 */
static void test_frame_lane(void)
{
	CHECK_EQ(hm_frame_lane(HM_FRAME_PULL), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_PULL_DATA), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_HANDOVER_MAP), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_HANDOVER), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_HANDOVER_ACK), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_COMPLETE), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_ABORT), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_HANDOVER_REQUEST), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_SETUP), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_SETUP_ACK), HM_LANE_CONTROL);
	CHECK_EQ(hm_frame_lane(HM_FRAME_DATA), HM_LANE_BULK);
	CHECK_EQ(hm_frame_lane(HM_FRAME_ACK), HM_LANE_BULK);
	CHECK_EQ(hm_frame_lane(HM_FRAME_WELCOME), HM_LANE_CONTROL);
	for (unsigned int t = 0; t < 256; t++)
		CHECK_EQ(hm_frame_lane(t), t == 10 || t == 11 ?
			 HM_LANE_BULK : HM_LANE_CONTROL);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* The payload structs, filled with cpu_to_be*(), give the spec's bytes. */
static void test_payload_bytes(void)
{
	static const uint8_t want_setup[16] = {
		0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
		0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t want_ack[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };
	static const uint8_t want_ack_phase[8] = { 0, 0, 0, 0, 0, 0, 0, 3 };
	static const uint8_t want_data[16] = {
		0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xfe,
		0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01,
	};
	struct hm_setup setup = {
		.target_sectors = cpu_to_be64(0x0102030405ULL),
		.chunk_sectors = cpu_to_be32(128),
		.flags = 0,
	};
	struct hm_setup_ack sack = {
		.status = cpu_to_be32(HM_SETUP_GEOMETRY),
	};
	struct hm_setup_ack sack_phase = {
		.status = cpu_to_be32(HM_SETUP_OK),
		.phase = cpu_to_be32(HM_DEST_ABORTED),
	};
	struct hm_data data = {
		.first_chunk = cpu_to_be64(0x7ffffffeULL),
		.nr_chunks = cpu_to_be32(16),
		.flags = cpu_to_be32(HM_DATA_ZERO),
	};
	struct hm_ack ack = {
		.first_chunk = cpu_to_be64(0x7ffffffeULL),
		.nr_chunks = cpu_to_be32(16),
		.status = cpu_to_be32(5),
	};
	uint8_t b[16];

	CHECK(!memcmp(&setup, want_setup, sizeof(want_setup)));
	CHECK(!memcmp(&sack, want_ack, sizeof(want_ack)));
	CHECK(!memcmp(&sack_phase, want_ack_phase, sizeof(want_ack_phase)));
	CHECK(!memcmp(&data, want_data, sizeof(want_data)));
	/* ACK: the same head as DATA, status in place of the flags. */
	memcpy(b, &ack, sizeof(b));
	CHECK(!memcmp(b, want_data, 12));
	CHECK_EQ(get_be32(b + 12), 5);
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* PULL, HANDOVER_MAP, HANDOVER, HANDOVER_ACK: the spec's bytes. */
static void test_postcopy_payload_bytes(void)
{
	static const uint8_t want_pull[8] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	};
	static const uint8_t want_map[16] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x08,
		0x00, 0x7f, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t want_ho[8] = {
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	};
	static const uint8_t want_hoack[8] = { 0, 0, 0, 1, 0, 0, 0, 0 };
	struct hm_pull pull = { .chunk = cpu_to_be64(0x0102030405060708ULL) };
	struct hm_handover_map map = {
		.first_chunk = cpu_to_be64(0x800008ULL),
		.nr_chunks = cpu_to_be32(0x7fffff),
	};
	struct hm_handover ho = { .nr_missing = cpu_to_be64(0x100000002ULL) };
	struct hm_handover_ack hoack = {
		.status = cpu_to_be32(HM_HANDOVER_BAD_MAP),
	};
	uint8_t b[16];

	CHECK(!memcmp(&pull, want_pull, sizeof(want_pull)));
	CHECK(!memcmp(&map, want_map, sizeof(want_map)));
	CHECK(!memcmp(&ho, want_ho, sizeof(want_ho)));
	CHECK(!memcmp(&hoack, want_hoack, sizeof(want_hoack)));
	/* Read back through the raw bytes, not the struct. */
	memcpy(b, &map, sizeof(map));
	CHECK_EQ(get_be64(b), 0x800008);
	CHECK_EQ(get_be32(b + 8), 0x7fffff);
	memcpy(b, &ho, sizeof(ho));
	CHECK_EQ(get_be64(b), 0x100000002LL);
}

/*
 * The map's bit layout (Documentation/protocol.rst): bit i of byte j of a
 * piece stands for chunk first_chunk + 8 * j + i, least significant bit
 * first; a piece of nr chunks carries ceil(nr / 8) bytes. The encoder and
 * decoder here are written from the spec; they must be inverse, put the
 * right bit in the right byte, and at most 1 MiB of map fits a piece.
 */
static void map_encode(const bool *missing, uint64_t first, uint32_t nr,
		       uint8_t *out)
{
	memset(out, 0, (nr + 7) / 8);
	for (uint32_t k = 0; k < nr; k++)
		if (missing[first + k])
			out[k / 8] |= 1U << (k % 8);
}

static void test_handover_map_bits(void)
{
	enum { NR = 61 };	/* not a multiple of 8: the last byte is short */
	bool missing[NR + 8] = { false }, back[NR + 8] = { false };
	uint8_t bytes[16];

	missing[8] = true;		/* byte 1 of a piece at 0, bit 0 */
	missing[15] = true;		/* byte 1, bit 7 */
	missing[17] = true;		/* byte 2, bit 1 */
	missing[60] = true;		/* the last chunk: byte 7, bit 4 */
	map_encode(missing, 0, NR, bytes);
	CHECK_EQ(bytes[0], 0x00);
	CHECK_EQ(bytes[1], 0x81);
	CHECK_EQ(bytes[2], 0x02);
	CHECK_EQ(bytes[7], 0x10);
	for (uint32_t j = 0; j < (NR + 7) / 8; j++)
		for (unsigned int i = 0; i < 8 && 8 * j + i < NR; i++)
			back[8 * j + i] = bytes[j] >> i & 1;
	CHECK(!memcmp(missing, back, sizeof(missing)));
	/* A piece starting at chunk 8: byte 0 bit 0 is chunk 8. */
	map_encode(missing, 8, 16, bytes);
	CHECK_EQ(bytes[0], 0x81);
	CHECK_EQ(bytes[1], 0x02);
	/* The largest piece: 1 MiB of map, 8 Mi chunks, in one frame. */
	CHECK_EQ(hm_frame_max_payload_len(HM_FRAME_HANDOVER_MAP) -
		 sizeof(struct hm_handover_map), (8U << 20) / 8);
}

static void test_is_handshake(void)
{
	for (unsigned int t = 0; t < 256; t++) {
		bool want = t >= 1 && t <= 4;

		CHECK_EQ(!!hm_frame_is_handshake(t), want);
	}
	/* Everything from WELCOME on is a session frame, sealed. */
	CHECK(!hm_frame_is_handshake(HM_FRAME_WELCOME));
	CHECK(hm_frame_is_handshake(HM_FRAME_REJECT));
}

static void test_bad_magic(void)
{
	static const char *const magics[] = {
		"GIMH", "HMIg", "hmig", "\0\0\0\0", "HMIH", "IMIG",
	};
	uint8_t b[HDR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(magics); i++) {
		raw_hdr(b, HM_FRAME_HELLO, 0, 40, 0);
		memcpy(b + OFF_MAGIC, magics[i], 4);
		CHECK_EQ(check_raw(b, 0, 0), -EPROTO);
	}
	/* Every single bit flipped in the magic. */
	for (unsigned int bit = 0; bit < 32; bit++) {
		raw_hdr(b, HM_FRAME_HELLO, 0, 40, 0);
		b[OFF_MAGIC + bit / 8] ^= 1U << (bit % 8);
		CHECK_EQ(check_raw(b, 0, 0), -EPROTO);
	}
}

static void test_bad_version(void)
{
	static const uint8_t versions[] = { 0, 1, 3, 0x80, 0xff };
	uint8_t b[HDR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
		raw_hdr(b, HM_FRAME_PING, 0, 8, 5);
		b[OFF_VERSION] = versions[i];
		CHECK_EQ(check_raw(b, 0, 5), -EPROTO);
	}
}

static void test_bad_flags(void)
{
	uint8_t b[HDR_LEN];

	for (unsigned int bit = 0; bit < 8; bit++) {
		raw_hdr(b, HM_FRAME_PING, 0, 8, 5);
		b[OFF_FLAGS] = 1U << bit;
		CHECK_EQ(check_raw(b, 0, 5), -EPROTO);
	}
	raw_hdr(b, HM_FRAME_WELCOME, 1, 0, 1);
	b[OFF_FLAGS] = 0xff;
	CHECK_EQ(check_raw(b, 1, 1), -EPROTO);
}

static void test_bad_reserved(void)
{
	uint8_t b[HDR_LEN];

	/* A non-zero bit anywhere in the 4 reserved bytes. */
	for (unsigned int bit = 0; bit < 32; bit++) {
		raw_hdr(b, HM_FRAME_PING, 0, 8, 5);
		b[OFF_RESERVED + bit / 8] = 1U << (bit % 8);
		CHECK_EQ(check_raw(b, 0, 5), -EPROTO);
	}
}

static void test_bad_lane(void)
{
	uint8_t b[HDR_LEN];

	/* A frame of the other lane. */
	raw_hdr(b, HM_FRAME_PING, HM_LANE_BULK, 8, 3);
	CHECK_EQ(check_raw(b, HM_LANE_CONTROL, 3), -EPROTO);
	raw_hdr(b, HM_FRAME_PING, HM_LANE_CONTROL, 8, 3);
	CHECK_EQ(check_raw(b, HM_LANE_BULK, 3), -EPROTO);
	/* Lanes that do not exist. */
	for (unsigned int lane = HM_NR_LANES; lane < 256; lane += 37) {
		raw_hdr(b, HM_FRAME_HELLO, lane, 40, 0);
		CHECK_EQ(check_raw(b, 0, 0), -EPROTO);
		CHECK_EQ(check_raw(b, 1, 0), -EPROTO);
	}
}

static void test_bad_type(void)
{
	uint8_t b[HDR_LEN];

	/* Type 0: with every length a known type has, and with 0. */
	for (size_t t = 0; t < ARRAY_SIZE(all_types); t++) {
		raw_hdr(b, 0, 0, spec_len(all_types[t]), 0);
		CHECK_EQ(check_raw(b, 0, 0), -EPROTO);
	}
	/* Every type above the last one. */
	for (unsigned int t = HM_FRAME_TYPE_MAX + 1; t < 256; t++) {
		raw_hdr(b, t, 0, 0, 0);
		CHECK_EQ(check_raw(b, 0, 0), -EPROTO);
		raw_hdr(b, t, 0, 8, 0);
		CHECK_EQ(check_raw(b, 0, 0), -EPROTO);
		raw_hdr(b, t, 1, 16, 0);
		CHECK_EQ(check_raw(b, 1, 0), -EPROTO);
	}
	/* The first type after HANDOVER_REQUEST, with lengths the known types have. */
	raw_hdr(b, SPEC_TYPE_MAX + 1, 0, 0, 4);
	CHECK_EQ(check_raw(b, 0, 4), -EPROTO);
	raw_hdr(b, SPEC_TYPE_MAX + 1, 0, 8, 4);
	CHECK_EQ(check_raw(b, 0, 4), -EPROTO);
	raw_hdr(b, SPEC_TYPE_MAX + 1, 1, 16, 4);
	CHECK_EQ(check_raw(b, 1, 4), -EPROTO);
	raw_hdr(b, SPEC_TYPE_MAX + 1, 0, DATA_MAX, 4);
	CHECK_EQ(check_raw(b, 0, 4), -EPROTO);
	/* The last known type is accepted. */
	raw_hdr(b, SPEC_TYPE_MAX, 0, 0, 4);
	CHECK_EQ(check_raw(b, 0, 4), 0);
}

static void test_bad_len(void)
{
	static const uint32_t odd_lens[] = {
		0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 39, 40, 41,
		56, 71, 72, 73, 104, 0x80, 0x100, 0x10000, MIB, DATA_MAX - 1,
		DATA_MAX, DATA_MAX + 1, 0x80000000U, 0xfffffff8U, 0xffffffffU,
		HM_MAX_PAYLOAD, HM_MAX_PAYLOAD - 1,
	};
	uint8_t b[HDR_LEN];

	for (size_t t = 0; t < ARRAY_SIZE(all_types); t++) {
		unsigned int type = all_types[t];
		uint32_t min = spec_len(type), max = spec_max_len(type);

		for (size_t i = 0; i < ARRAY_SIZE(odd_lens); i++) {
			uint32_t len = odd_lens[i];

			raw_hdr(b, type, 1, len, 9);
			CHECK_EQ(check_raw(b, 1, 9),
				 len >= min && len <= max ? 0 : -EMSGSIZE);
		}
		/* One byte off either way, and the high bit set. */
		raw_hdr(b, type, 1, max + 1, 9);
		CHECK_EQ(check_raw(b, 1, 9), -EMSGSIZE);
		if (min) {
			raw_hdr(b, type, 1, min - 1, 9);
			CHECK_EQ(check_raw(b, 1, 9), -EMSGSIZE);
		}
		raw_hdr(b, type, 1, min | 0x80000000U, 9);
		CHECK_EQ(check_raw(b, 1, 9), -EMSGSIZE);
		/* The length is big-endian: a byte-swapped one is wrong. */
		if (min) {
			raw_hdr(b, type, 1, __builtin_bswap32(min), 9);
			CHECK_EQ(check_raw(b, 1, 9), -EMSGSIZE);
		}
	}
}

/* The bounds of the new types, one byte either side of each. */
static void test_push_len_bounds(void)
{
	static const struct {
		unsigned int type;
		uint32_t len;
		int want;
	} cases[] = {
		{ HM_FRAME_DATA, 0, -EMSGSIZE },
		{ HM_FRAME_DATA, 15, -EMSGSIZE },
		{ HM_FRAME_DATA, 16, 0 },		/* a ZERO run */
		{ HM_FRAME_DATA, 17, 0 },
		{ HM_FRAME_DATA, 16 + 512, 0 },
		{ HM_FRAME_DATA, 16 + 4096, 0 },
		{ HM_FRAME_DATA, MIB, 0 },
		{ HM_FRAME_DATA, DATA_MAX - 1, 0 },
		{ HM_FRAME_DATA, DATA_MAX, 0 },		/* 1 MiB of data */
		{ HM_FRAME_DATA, DATA_MAX + 1, -EMSGSIZE },
		{ HM_FRAME_DATA, DATA_MAX + 48, -EMSGSIZE },
		{ HM_FRAME_DATA, HM_MAX_PAYLOAD, -EMSGSIZE },
		{ HM_FRAME_DATA, HM_MAX_PAYLOAD + 1, -EMSGSIZE },
		{ HM_FRAME_DATA, 2 * MIB, -EMSGSIZE },
		{ HM_FRAME_DATA, 0xffffffffU, -EMSGSIZE },
		{ HM_FRAME_SETUP, 0, -EMSGSIZE },
		{ HM_FRAME_SETUP, 8, -EMSGSIZE },
		{ HM_FRAME_SETUP, 16, -EMSGSIZE },
		{ HM_FRAME_SETUP, 31, -EMSGSIZE },
		{ HM_FRAME_SETUP, 32, 0 },
		{ HM_FRAME_SETUP, 33, -EMSGSIZE },
		{ HM_FRAME_SETUP, DATA_MAX, -EMSGSIZE },
		{ HM_FRAME_SETUP_ACK, 0, -EMSGSIZE },
		{ HM_FRAME_SETUP_ACK, 4, -EMSGSIZE },
		{ HM_FRAME_SETUP_ACK, 7, -EMSGSIZE },
		{ HM_FRAME_SETUP_ACK, 8, 0 },
		{ HM_FRAME_SETUP_ACK, 9, -EMSGSIZE },
		{ HM_FRAME_SETUP_ACK, 16, -EMSGSIZE },
		{ HM_FRAME_ACK, 0, -EMSGSIZE },
		{ HM_FRAME_ACK, 15, -EMSGSIZE },
		{ HM_FRAME_ACK, 16, 0 },
		{ HM_FRAME_ACK, 17, -EMSGSIZE },
		{ HM_FRAME_ACK, 16 + 4096, -EMSGSIZE },	/* no data in an ACK */
		{ HM_FRAME_ACK, DATA_MAX, -EMSGSIZE },
		/* PULL_DATA: a DATA payload, the same bounds. */
		{ HM_FRAME_PULL_DATA, 0, -EMSGSIZE },
		{ HM_FRAME_PULL_DATA, 15, -EMSGSIZE },
		{ HM_FRAME_PULL_DATA, 16, 0 },		/* a ZERO chunk */
		{ HM_FRAME_PULL_DATA, 16 + 512, 0 },
		{ HM_FRAME_PULL_DATA, DATA_MAX, 0 },
		{ HM_FRAME_PULL_DATA, DATA_MAX + 1, -EMSGSIZE },
		{ HM_FRAME_PULL_DATA, HM_MAX_PAYLOAD, -EMSGSIZE },
		/* HANDOVER_MAP: a 16-byte head, then up to 1 MiB of bits. */
		{ HM_FRAME_HANDOVER_MAP, 0, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_MAP, 15, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_MAP, 16, 0 },
		{ HM_FRAME_HANDOVER_MAP, 17, 0 },	/* up to 8 chunks */
		{ HM_FRAME_HANDOVER_MAP, MAP_MAX - 1, 0 },
		{ HM_FRAME_HANDOVER_MAP, MAP_MAX, 0 },
		{ HM_FRAME_HANDOVER_MAP, MAP_MAX + 1, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_MAP, HM_MAX_PAYLOAD, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_MAP, 0xffffffffU, -EMSGSIZE },
		/* The fixed-size post-copy frames: exactly their size. */
		{ HM_FRAME_PULL, 0, -EMSGSIZE },
		{ HM_FRAME_PULL, 7, -EMSGSIZE },
		{ HM_FRAME_PULL, 8, 0 },
		{ HM_FRAME_PULL, 9, -EMSGSIZE },
		{ HM_FRAME_PULL, 16, -EMSGSIZE },	/* not a DATA head */
		{ HM_FRAME_HANDOVER, 7, -EMSGSIZE },
		{ HM_FRAME_HANDOVER, 8, 0 },
		{ HM_FRAME_HANDOVER, 9, -EMSGSIZE },
		{ HM_FRAME_HANDOVER, 16, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_ACK, 0, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_ACK, 7, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_ACK, 8, 0 },
		{ HM_FRAME_HANDOVER_ACK, 9, -EMSGSIZE },
		{ HM_FRAME_COMPLETE, 0, 0 },
		{ HM_FRAME_COMPLETE, 1, -EMSGSIZE },
		{ HM_FRAME_COMPLETE, 8, -EMSGSIZE },
		{ HM_FRAME_ABORT, 0, 0 },
		{ HM_FRAME_ABORT, 1, -EMSGSIZE },
		{ HM_FRAME_ABORT, 4, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_REQUEST, 0, 0 },
		{ HM_FRAME_HANDOVER_REQUEST, 1, -EMSGSIZE },
		{ HM_FRAME_HANDOVER_REQUEST, 8, -EMSGSIZE },
		/* The old fixed-size types did not get DATA's range. */
		{ HM_FRAME_PING, 16, -EMSGSIZE },
		{ HM_FRAME_PONG, DATA_MAX, -EMSGSIZE },
		{ HM_FRAME_WELCOME, 1, -EMSGSIZE },
		{ HM_FRAME_HELLO, 41, -EMSGSIZE },
	};
	uint8_t b[HDR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		for (unsigned int lane = 0; lane < HM_NR_LANES; lane++) {
			int got;

			raw_hdr(b, cases[i].type, lane, cases[i].len, 3);
			got = check_raw(b, lane, 3);
			if (got != cases[i].want)
				printf("    type %u len %u lane %u: %d, want %d\n",
				       cases[i].type, cases[i].len, lane, got,
				       cases[i].want);
			CHECK_EQ(got, cases[i].want);
		}
	}
	/* A length within bounds does not hide a bad sequence number. */
	raw_hdr(b, HM_FRAME_DATA, 1, DATA_MAX, 4);
	CHECK_EQ(check_raw(b, 1, 5), -EBADMSG);
	/* Nor does the check of the length come after the sequence's. */
	raw_hdr(b, HM_FRAME_DATA, 1, DATA_MAX + 1, 4);
	CHECK_EQ(check_raw(b, 1, 5), -EMSGSIZE);
}

static void test_len_over_max(void)
{
	static const uint32_t lens[] = {
		HM_MAX_PAYLOAD + 1, HM_MAX_PAYLOAD + 8, 2 * HM_MAX_PAYLOAD,
		0x7fffffffU, 0xffffffffU,
	};
	uint8_t b[HDR_LEN];

	for (size_t t = 0; t < ARRAY_SIZE(all_types); t++) {
		for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
			raw_hdr(b, all_types[t], 0, lens[i], 0);
			CHECK_EQ(check_raw(b, 0, 0), -EMSGSIZE);
		}
	}
}

static void test_bad_seq(void)
{
	static const struct {
		uint64_t got, want;
	} cases[] = {
		{ 1, 0 },			/* a frame dropped */
		{ 0, 1 },			/* a frame replayed */
		{ 2, 3 },			/* an old frame */
		{ 4, 3 },			/* a frame skipped */
		{ 0x100000002ULL, 2 },		/* differs in the high word */
		{ 2, 0x100000002ULL },
		{ UINT64_MAX, 0 },
		{ 0, UINT64_MAX },
		{ 0x0200000000000000ULL, 2 },	/* byte-swapped */
	};
	uint8_t b[HDR_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		raw_hdr(b, HM_FRAME_PING, 0, 8, cases[i].got);
		CHECK_EQ(check_raw(b, 0, cases[i].want), -EBADMSG);
		CHECK_EQ(check_raw(b, 0, cases[i].got), 0);
	}
	for (unsigned int bit = 0; bit < 64; bit++) {
		raw_hdr(b, HM_FRAME_PONG, 1, 8, 7);
		b[OFF_SEQ + bit / 8] ^= 1U << (bit % 8);
		CHECK_EQ(check_raw(b, 1, 7), -EBADMSG);
	}
}

/*
 * Which error wins when several fields are wrong: a malformed header first,
 * then the length, then the sequence number, so a receiver never reads a
 * payload on the word of a header that is also out of sequence.
 */
static void test_error_order(void)
{
	uint8_t b[HDR_LEN];

	raw_hdr(b, HM_FRAME_PING, 0, 0xffffffffU, 99);
	b[OFF_FLAGS] = 1;
	CHECK_EQ(check_raw(b, 0, 0), -EPROTO);

	raw_hdr(b, 0, 0, 0xffffffffU, 99);
	CHECK_EQ(check_raw(b, 0, 0), -EPROTO);

	raw_hdr(b, HM_FRAME_PING, 1, 9, 99);
	CHECK_EQ(check_raw(b, 0, 0), -EPROTO);

	raw_hdr(b, HM_FRAME_PING, 0, 9, 99);
	CHECK_EQ(check_raw(b, 0, 0), -EMSGSIZE);

	raw_hdr(b, HM_FRAME_HELLO, 0, 0xffffffffU, 99);
	CHECK_EQ(check_raw(b, 0, 0), -EMSGSIZE);

	raw_hdr(b, HM_FRAME_PING, 0, 8, 99);
	CHECK_EQ(check_raw(b, 0, 0), -EBADMSG);
}

/* hm_hdr_check() only reads the header it is given, good or bad. */
static void test_check_const(void)
{
	uint8_t b[HDR_LEN], copy[HDR_LEN];
	struct hm_hdr h;

	raw_hdr(b, HM_FRAME_CHALLENGE, 0, 72, 0);
	memcpy(&h, b, sizeof(h));
	CHECK_EQ(hm_hdr_check(&h, 0, 0), 0);
	CHECK(!memcmp(&h, b, sizeof(b)));

	raw_hdr(b, HM_FRAME_PING, 0, 0xffffffffU, 5);
	b[OFF_FLAGS] = 3;
	memcpy(copy, b, sizeof(b));
	memcpy(&h, b, sizeof(h));
	CHECK_EQ(hm_hdr_check(&h, 0, 5), -EPROTO);
	CHECK(!memcmp(&h, copy, sizeof(copy)));
}

/*
 * Exhaustive over type x lane x a few lengths x a few seqs against a
 * reference model of the rule written out from the spec.
 */
static int model_check(const uint8_t *b, unsigned int lane, uint64_t seq)
{
	uint32_t len = (uint32_t)b[OFF_LEN] << 24 | b[OFF_LEN + 1] << 16 |
		       b[OFF_LEN + 2] << 8 | b[OFF_LEN + 3];
	uint64_t s = 0;
	unsigned int type = b[OFF_TYPE];

	for (int i = 0; i < 8; i++)
		s = s << 8 | b[OFF_SEQ + i];
	if (memcmp(b, "HMIG", 4) || b[OFF_VERSION] != 2 || b[OFF_FLAGS] ||
	    b[OFF_RESERVED] || b[OFF_RESERVED + 1] || b[OFF_RESERVED + 2] ||
	    b[OFF_RESERVED + 3] || b[OFF_LANE] != lane || type < 1 ||
	    type > SPEC_TYPE_MAX)
		return -EPROTO;
	if (len < spec_len(type) || len > spec_max_len(type))
		return -EMSGSIZE;
	if (s != seq)
		return -EBADMSG;
	return 0;
}

/* Mismatches between hm_hdr_check() and the model for one type and lane. */
static unsigned int model_mismatches(unsigned int type, unsigned int lane)
{
	static const uint32_t lens[] = {
		0, 1, 4, 7, 8, 9, 15, 16, 17, 32, 40, 72, 4096 + 16, DATA_MAX,
		DATA_MAX + 1, HM_MAX_PAYLOAD, 0xffffffffU,
	};
	static const uint64_t seqs[] = { 0, 1, 0x100000001ULL };
	unsigned int bad = 0;
	uint8_t b[HDR_LEN];

	for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
		for (size_t s = 0; s < ARRAY_SIZE(seqs); s++) {
			raw_hdr(b, type, lane, lens[l], seqs[s]);
			for (unsigned int el = 0; el < HM_NR_LANES; el++)
				bad += check_raw(b, el, 1) != model_check(b, el, 1);
		}
	}
	return bad;
}

static void test_against_model(void)
{
	unsigned int mismatches = 0;

	for (unsigned int type = 0; type < 256; type++)
		for (unsigned int lane = 0; lane < 4; lane++)
			mismatches += model_mismatches(type, lane);
	CHECK_EQ(mismatches, 0);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "struct sizes", test_sizes },
	{ "field offsets", test_offsets },
	{ "constants and labels", test_constants },
	{ "hm_hdr_init: wire bytes", test_init_bytes },
	{ "round trip: every type, lane and seq", test_round_trip },
	{ "hm_frame_payload_len: every type", test_payload_len },
	{ "hm_frame_max_payload_len: every type", test_max_payload_len },
	{ "hm_frame_lane: every type", test_frame_lane },
	{ "payloads: SETUP, SETUP_ACK, DATA, ACK wire bytes",
	  test_payload_bytes },
	{ "payloads: PULL, HANDOVER_MAP, HANDOVER, HANDOVER_ACK wire bytes",
	  test_postcopy_payload_bytes },
	{ "HANDOVER_MAP: bit i of byte j is chunk first + 8j + i",
	  test_handover_map_bits },
	{ "hm_frame_is_handshake: every type", test_is_handshake },
	{ "reject: bad magic", test_bad_magic },
	{ "reject: bad version", test_bad_version },
	{ "reject: non-zero flags", test_bad_flags },
	{ "reject: non-zero reserved", test_bad_reserved },
	{ "reject: wrong or unknown lane", test_bad_lane },
	{ "reject: type 0 and types above max", test_bad_type },
	{ "reject: wrong length for each type", test_bad_len },
	{ "bounds: DATA, PULL_DATA, HANDOVER_MAP 16..16+1MiB, SETUP 16, "
	  "SETUP_ACK 8, ACK 16, PULL/HANDOVER/HANDOVER_ACK 8, "
	  "COMPLETE/ABORT/HANDOVER_REQUEST 0",
	  test_push_len_bounds },
	{ "reject: length above HM_MAX_PAYLOAD", test_len_over_max },
	{ "reject: wrong seq (-EBADMSG)", test_bad_seq },
	{ "reject: error precedence", test_error_order },
	{ "hm_hdr_check: header left untouched", test_check_const },
	{ "hm_hdr_check: agrees with a reference model", test_against_model },
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
