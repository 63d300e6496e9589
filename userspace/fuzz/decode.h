/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A userspace receiver of one hybridmig lane, for the fuzzer: it walks a
 * byte buffer as the sequence of frames one end of a connection receives,
 * exactly as the kernel must: every header through hm_hdr_check() with the
 * expected sequence number before its payload is touched, payload and tag
 * bounds, the handshake state machine, the peer's proof, the session keys,
 * the AES-256-GCM seal of every session frame (OpenSSL), and the
 * migration frames' rules: each from its own end on its own lane, SETUP and
 * SETUP_ACK once, DATA and ACK runs inside a fixed test geometry, and the
 * handover and post-copy frames (PULL, PULL_DATA, HANDOVER_MAP, HANDOVER,
 * HANDOVER_ACK, COMPLETE, ABORT, HANDOVER_REQUEST) in the order the phases
 * allow.
 */
#ifndef HM_FUZZ_DECODE_H
#define HM_FUZZ_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hybridmig-proto.h"

/* Fixed test secret and the nonce "we" sent; gen-seeds.py uses the same. */
#define HM_FUZZ_KEY		"hybridmig fuzz key"
#define HM_FUZZ_NONCE_CLIENT	0xc0	/* nc[i] = 0xc0 ^ i */
#define HM_FUZZ_NONCE_SERVER	0x50	/* ns[i] = 0x50 ^ i */

/*
 * The geometry of "our" target, which SETUP must match and DATA and ACK
 * runs must fit: 2001 chunks of 1 KiB, the last one 512 bytes, so a
 * one-chunk DATA frame fits the fuzzer's inputs, and a run of more than
 * 1 MiB (1025 chunks) is possible.
 */
#define HM_FUZZ_TARGET_SECTORS	4001ULL
#define HM_FUZZ_CHUNK_SECTORS	2U

enum hm_dec_role {
	HM_DEC_SERVER,		/* receives the client's frames (c2s) */
	HM_DEC_CLIENT,		/* receives the server's frames (s2c) */
};

enum hm_dec_result {
	HM_DEC_END,		/* input ends on a frame boundary, all valid */
	HM_DEC_SHORT,		/* input ends inside a frame */
	HM_DEC_BAD_HDR,		/* hm_hdr_check() refused a header */
	HM_DEC_BAD_MAC,		/* a session frame's tag did not verify */
	HM_DEC_BAD_PROOF,	/* the peer's handshake proof did not verify */
	HM_DEC_BAD_PAYLOAD,	/* a payload field is invalid */
	HM_DEC_UNEXPECTED,	/* a valid frame this state, end or lane does
				 * not allow */
	HM_DEC_NO_VERSION,	/* no common protocol version */
	HM_DEC_REJECTED,	/* the peer sent REJECT */
	HM_DEC_NR_RESULTS
};

struct hm_dec {
	/* Set by hm_dec_init(); the caller may set skip_auth and on_hdr. */
	const uint8_t *key;
	size_t key_len;
	enum hm_dec_role role;
	uint8_t own_nonce[HM_NONCE_LEN];	/* client: nc; server: ns */
	/*
	 * Fuzzing aid: proofs and tags are still checked but a mismatch
	 * is not fatal (a frame whose tag fails is read as cleartext), so
	 * mutations reach the session states. Off in anything that claims
	 * to be a receiver.
	 */
	bool skip_auth;
	/* Called for every header checked, with hm_hdr_check()'s verdict. */
	void (*on_hdr)(void *arg, const uint8_t *raw, uint8_t lane,
		       uint64_t seq, int err);
	void *arg;

	/* State. */
	int state;
	bool lane_known;
	uint8_t lane;
	uint64_t seq;			/* the next frame's expected seq */
	uint8_t peer_nonce[HM_NONCE_LEN];
	uint8_t rx_key[HM_MAC_LEN];
	bool have_key;

	/* Results. */
	size_t consumed;		/* bytes of complete, valid frames */
	unsigned int frames;		/* valid frames */
	unsigned int pings, pongs;
	unsigned int setups;		/* SETUP (server) or SETUP_ACK (client) */
	bool geometry_mismatch;		/* ... that ended the session */
	unsigned int data_frames;	/* DATA frames, ZERO ones included */
	unsigned int zero_frames;
	uint64_t data_chunks;		/* chunks in DATA frames */
	uint64_t data_bytes;		/* chunk data in DATA frames */
	unsigned int acks, failed_acks;	/* ACKs, and those with status != 0 */
	/* Handover and post-copy (control lane). */
	uint32_t dest_phase;		/* client: SETUP_ACK's, then as it goes */
	unsigned int pulls;		/* PULL (client) or PULL_DATA (server) */
	unsigned int map_frames;	/* HANDOVER_MAP pieces (server) */
	uint64_t map_next;		/* the next piece starts here or later */
	uint64_t map_missing;		/* their set bits, so far (server) */
	unsigned int handovers;		/* HANDOVER or HANDOVER_ACK */
	unsigned int completes, aborts;	/* COMPLETE (client), ABORT */
	unsigned int requests;		/* HANDOVER_REQUEST (client) */
	uint32_t reject_reason;
	int hdr_err;			/* hm_hdr_check() result, BAD_HDR */
	unsigned int auth_skipped;	/* proofs/MACs that failed, skip_auth */
};

/* lane: the client's own lane; the server learns it from the HELLO. */
void hm_dec_init(struct hm_dec *d, enum hm_dec_role role, uint8_t lane,
		 const uint8_t *key, size_t key_len);
enum hm_dec_result hm_dec_stream(struct hm_dec *d, const uint8_t *buf,
				 size_t len);
const char *hm_dec_result_name(enum hm_dec_result r);
void hm_dec_fuzz_nonce(uint8_t nonce[HM_NONCE_LEN], uint8_t base);

#endif /* HM_FUZZ_DECODE_H */
