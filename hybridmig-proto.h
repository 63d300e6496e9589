/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * hybridmig wire protocol, shared by the kernel target and userspace (the
 * codec unit tests, the fuzzer and the test peers). Specified in
 * Documentation/protocol.rst; keep the two in step.
 *
 * Every frame is a 24-byte header and a payload of hdr.len bytes. Once the
 * handshake has set up session keys, the payload travels sealed with
 * AES-256-GCM (the header is its associated data, the sequence number its
 * nonce) and is followed by the 16-byte tag. All integers are big-endian.
 */
#ifndef HYBRIDMIG_PROTO_H
#define HYBRIDMIG_PROTO_H

#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/types.h>
#include <asm/byteorder.h>
#else
#include <errno.h>
#include <stdint.h>
#include <endian.h>
#include <linux/types.h>
#ifndef be16_to_cpu
#define be16_to_cpu(x) be16toh(x)
#define be32_to_cpu(x) be32toh(x)
#define be64_to_cpu(x) be64toh(x)
#define cpu_to_be16(x) htobe16(x)
#define cpu_to_be32(x) htobe32(x)
#define cpu_to_be64(x) htobe64(x)
#endif
#endif

#define HM_PROTO_MAGIC		0x484d4947U	/* "HMIG" */
#define HM_PROTO_VERSION	2	/* 1: HMAC-SHA256 trailers, cleartext */

#define HM_NONCE_LEN		32
#define HM_MAC_LEN		32	/* HMAC-SHA256: proofs, key derivation */

/*
 * Session frames: AES-256-GCM (the kernel's "gcm(aes)") with the
 * direction's 32-byte session key; the 12-byte nonce is 4 zero bytes and
 * the frame's 64-bit sequence number, big-endian.
 */
#define HM_AEAD_ALG		"gcm(aes)"
#define HM_AEAD_KEY_LEN		32
#define HM_AEAD_IV_LEN		12
#define HM_TAG_LEN		16

/* No payload is larger; chunk data travels in pieces of at most 1 MiB. */
#define HM_MAX_DATA_PIECE	(1U << 20)
#define HM_MAX_PAYLOAD		(HM_MAX_DATA_PIECE + 64)

/* Lanes: one TCP connection each (see Documentation/protocol.rst). */
enum hm_lane {
	HM_LANE_CONTROL = 0,	/* handshake, control, on-demand pulls */
	HM_LANE_BULK = 1,	/* pushed and prefetched chunk data */
	HM_NR_LANES
};

enum hm_frame_type {
	/* Handshake, never sealed: they carry their own proofs. */
	HM_FRAME_HELLO = 1,	/* client -> server */
	HM_FRAME_CHALLENGE = 2,	/* server -> client */
	HM_FRAME_RESPONSE = 3,	/* client -> server */
	HM_FRAME_REJECT = 4,	/* either way, then close */
	/* Session frames, always sealed with the direction's session key. */
	HM_FRAME_WELCOME = 5,	/* server -> client: first sealed frame */
	HM_FRAME_PING = 6,
	HM_FRAME_PONG = 7,
	HM_FRAME_SETUP = 8,	/* source -> dest, control: the geometry */
	HM_FRAME_SETUP_ACK = 9,	/* dest -> source, control */
	HM_FRAME_DATA = 10,	/* source -> dest, bulk: a run of chunks */
	HM_FRAME_ACK = 11,	/* dest -> source, bulk: a run is written */
	HM_FRAME_PULL = 12,	/* dest -> source, control: send me a chunk */
	HM_FRAME_PULL_DATA = 13, /* source -> dest, control: the chunk */
	HM_FRAME_HANDOVER_MAP = 14, /* source -> dest, control: missing chunks */
	HM_FRAME_HANDOVER = 15,	/* source -> dest, control: switch now */
	HM_FRAME_HANDOVER_ACK = 16, /* dest -> source, control */
	HM_FRAME_COMPLETE = 17,	/* dest -> source, control: I hold it all */
	HM_FRAME_ABORT = 18,	/* source -> dest, control: migration off */
	HM_FRAME_HANDOVER_REQUEST = 19, /* dest -> source, control: auto */
	HM_FRAME_TYPE_MAX = HM_FRAME_HANDOVER_REQUEST
};

enum hm_reject_reason {
	HM_REJECT_VERSION = 1,	/* no common protocol version */
	HM_REJECT_AUTH = 2,	/* the peer's proof did not verify */
	HM_REJECT_BUSY = 3,	/* that lane is already connected */
	HM_REJECT_PROTOCOL = 4,	/* malformed frame */
};

struct hm_hdr {
	__be32 magic;
	__u8 version;
	__u8 type;
	__u8 lane;
	__u8 flags;		/* none defined: must be 0 */
	__be32 len;		/* payload bytes */
	__be32 reserved;	/* must be 0 */
	__be64 seq;		/* per connection and direction, from 0 */
} __attribute__((packed));

struct hm_hello {
	__be16 version_min;
	__be16 version_max;
	__be32 features;	/* none defined yet */
	__u8 nonce[HM_NONCE_LEN];
} __attribute__((packed));

struct hm_challenge {
	__be16 version;		/* chosen by the server */
	__be16 reserved;
	__be32 features;
	__u8 nonce[HM_NONCE_LEN];
	__u8 proof[HM_MAC_LEN];	/* HMAC(K, SERVER_PROOF lane nc ns) */
} __attribute__((packed));

struct hm_response {
	__u8 proof[HM_MAC_LEN];	/* HMAC(K, CLIENT_PROOF lane ns nc) */
} __attribute__((packed));

struct hm_reject {
	__be32 reason;
} __attribute__((packed));

struct hm_ping {
	__be64 cookie;		/* echoed in the PONG */
} __attribute__((packed));

/* Identifies one migration: random, made by the source (or given). */
#define HM_MIGRATION_ID_LEN	16

/* Sent once per session, before any data: both ends must agree. */
struct hm_setup {
	__be64 target_sectors;	/* length of the target */
	__be32 chunk_sectors;
	__be32 flags;		/* none defined: must be 0 */
	__u8 migration_id[HM_MIGRATION_ID_LEN];
} __attribute__((packed));

enum hm_setup_status {
	HM_SETUP_OK = 0,
	HM_SETUP_GEOMETRY = 1,	/* length or chunk size differ */
	HM_SETUP_MIGRATION = 2,	/* the destination is part of another migration */
};

/* The destination's phase, in SETUP_ACK: a source learns a lost HANDOVER_ACK. */
enum hm_dest_phase {
	HM_DEST_WAITING = 0,	/* before handover */
	HM_DEST_POSTCOPY = 1,	/* handed over: the VM runs here */
	HM_DEST_COMPLETE = 2,	/* holds every chunk */
	HM_DEST_ABORTED = 3,	/* the source aborted the migration */
};

struct hm_setup_ack {
	__be32 status;
	__be32 phase;		/* enum hm_dest_phase */
} __attribute__((packed));

/* The chunks are all zeroes: no data follows. */
#define HM_DATA_ZERO		0x1U

/*
 * A run of whole chunks. Unless HM_DATA_ZERO is set, their bytes follow
 * (the last chunk of the device may be short); a run is at most
 * HM_MAX_DATA_PIECE bytes.
 */
struct hm_data {
	__be64 first_chunk;
	__be32 nr_chunks;
	__be32 flags;
} __attribute__((packed));

enum hm_ack_status {
	HM_ACK_OK = 0,		/* written (or the destination has newer data) */
	HM_ACK_FAILED = 1,	/* the write failed: push it again */
	HM_ACK_RETRY = 2,	/* busy with a pull of it: push it again */
};

/* The destination wrote a run, or did not (status). */
struct hm_ack {
	__be64 first_chunk;
	__be32 nr_chunks;
	__be32 status;		/* enum hm_ack_status */
} __attribute__((packed));

/* A chunk the VM on the destination needs now. Answered by PULL_DATA. */
struct hm_pull {
	__be64 chunk;
} __attribute__((packed));

/*
 * Part of the set of chunks the destination lacks at handover: bit i of
 * byte j stands for chunk first_chunk + 8 * j + i. A set bit is missing.
 */
struct hm_handover_map {
	__be64 first_chunk;	/* a multiple of 8 */
	__be32 nr_chunks;	/* bits that follow, in ceil(nr / 8) bytes */
	__be32 flags;		/* none defined: must be 0 */
} __attribute__((packed));

/* The map is complete: switch to post-copy. */
struct hm_handover {
	__be64 nr_missing;	/* the set bits of the whole map */
} __attribute__((packed));

enum hm_handover_status {
	HM_HANDOVER_OK = 0,	/* the destination runs the VM now */
	HM_HANDOVER_BAD_MAP = 1,	/* the map was incomplete */
	HM_HANDOVER_FAILED = 2,	/* the destination could not record it */
};

struct hm_handover_ack {
	__be32 status;		/* enum hm_handover_status */
	__be32 reserved;
} __attribute__((packed));

/*
 * Labels of the HMAC inputs. Distinct labels for the two proofs stop a
 * peer from reflecting one side's proof as the other's; the session keys
 * are per direction so a frame cannot be replayed back to its sender.
 */
#define HM_LABEL_SERVER_PROOF	"hybridmig v1 server proof"
#define HM_LABEL_CLIENT_PROOF	"hybridmig v1 client proof"
#define HM_LABEL_KEY_C2S	"hybridmig v2 key c2s"
#define HM_LABEL_KEY_S2C	"hybridmig v2 key s2c"

/*
 * The smallest payload of each frame type; 0 for an unknown type. DATA,
 * PULL_DATA and HANDOVER_MAP have a variable length (see
 * hm_frame_max_payload_len()).
 */
static inline __u32 hm_frame_payload_len(__u8 type)
{
	switch (type) {
	case HM_FRAME_HELLO:
		return sizeof(struct hm_hello);
	case HM_FRAME_CHALLENGE:
		return sizeof(struct hm_challenge);
	case HM_FRAME_RESPONSE:
		return sizeof(struct hm_response);
	case HM_FRAME_REJECT:
		return sizeof(struct hm_reject);
	case HM_FRAME_WELCOME:
		return 0;
	case HM_FRAME_PING:
	case HM_FRAME_PONG:
		return sizeof(struct hm_ping);
	case HM_FRAME_SETUP:
		return sizeof(struct hm_setup);
	case HM_FRAME_SETUP_ACK:
		return sizeof(struct hm_setup_ack);
	case HM_FRAME_DATA:
		return sizeof(struct hm_data);
	case HM_FRAME_ACK:
		return sizeof(struct hm_ack);
	case HM_FRAME_PULL:
		return sizeof(struct hm_pull);
	case HM_FRAME_PULL_DATA:
		return sizeof(struct hm_data);
	case HM_FRAME_HANDOVER_MAP:
		return sizeof(struct hm_handover_map);
	case HM_FRAME_HANDOVER:
		return sizeof(struct hm_handover);
	case HM_FRAME_HANDOVER_ACK:
		return sizeof(struct hm_handover_ack);
	case HM_FRAME_COMPLETE:
	case HM_FRAME_ABORT:
	case HM_FRAME_HANDOVER_REQUEST:
		return 0;
	}
	return 0;
}

/* The largest payload of each frame type. */
static inline __u32 hm_frame_max_payload_len(__u8 type)
{
	switch (type) {
	case HM_FRAME_DATA:
	case HM_FRAME_PULL_DATA:
		return sizeof(struct hm_data) + HM_MAX_DATA_PIECE;
	case HM_FRAME_HANDOVER_MAP:
		return sizeof(struct hm_handover_map) + HM_MAX_DATA_PIECE;
	}
	return hm_frame_payload_len(type);
}

/* The lane each session frame type travels on. */
static inline int hm_frame_lane(__u8 type)
{
	return type == HM_FRAME_DATA || type == HM_FRAME_ACK ?
		HM_LANE_BULK : HM_LANE_CONTROL;
}

static inline int hm_frame_is_handshake(__u8 type)
{
	return type >= HM_FRAME_HELLO && type <= HM_FRAME_REJECT;
}

static inline void hm_hdr_init(struct hm_hdr *h, __u8 type, __u8 lane,
			       __u32 len, __u64 seq)
{
	h->magic = cpu_to_be32(HM_PROTO_MAGIC);
	h->version = HM_PROTO_VERSION;
	h->type = type;
	h->lane = lane;
	h->flags = 0;
	h->len = cpu_to_be32(len);
	h->reserved = 0;
	h->seq = cpu_to_be64(seq);
}

/*
 * Check a received header before anything else is read: magic, version,
 * a known type on the expected (and existing) lane, zero flags and
 * reserved bits, a payload length within the bounds of its type, and the
 * expected sequence number.
 * Returns 0, -EPROTO for a malformed header, -EMSGSIZE for a bad length
 * or -EBADMSG for an out-of-sequence frame (dropped, replayed, reordered).
 */
static inline int hm_hdr_check(const struct hm_hdr *h, __u8 lane, __u64 seq)
{
	__u32 len = be32_to_cpu(h->len);

	if (be32_to_cpu(h->magic) != HM_PROTO_MAGIC ||
	    h->version != HM_PROTO_VERSION || h->flags || h->reserved ||
	    h->lane != lane || h->lane >= HM_NR_LANES || !h->type ||
	    h->type > HM_FRAME_TYPE_MAX)
		return -EPROTO;
	if (len > HM_MAX_PAYLOAD || len < hm_frame_payload_len(h->type) ||
	    len > hm_frame_max_payload_len(h->type))
		return -EMSGSIZE;
	if (be64_to_cpu(h->seq) != seq)
		return -EBADMSG;
	return 0;
}

#endif /* HYBRIDMIG_PROTO_H */
