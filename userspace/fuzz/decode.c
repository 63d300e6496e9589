// SPDX-License-Identifier: GPL-2.0-only
/*
 * A userspace receiver of one hybridmig lane (see decode.h), driven by the
 * fuzzer and by decode-check. It follows Documentation/protocol.rst:
 *
 *   server (receives c2s): HELLO seq 0, RESPONSE seq 1 (or REJECT),
 *                          then session frames from seq 2, MACed with
 *                          k_c2s: PING, PONG; on the control lane one
 *                          SETUP, then PULL_DATA, HANDOVER_MAP pieces (in
 *                          chunk order, without overlap) and HANDOVER
 *                          (whose count must be the pieces' set bits), or
 *                          ABORT before it; on the bulk lane DATA
 *   client (receives s2c): CHALLENGE seq 0 (or REJECT), WELCOME seq 1
 *                          (or REJECT), then session frames from seq 2,
 *                          MACed with k_s2c: PING, PONG; on the control
 *                          lane one SETUP_ACK (to the SETUP "we" sent),
 *                          then PULL, one HANDOVER_REQUEST while the
 *                          destination waits, one HANDOVER_ACK, one
 *                          COMPLETE after the handover, one ABORT (the echo
 *                          of ours); on the bulk lane ACK
 *
 * A SETUP whose geometry differs from ours, or a SETUP_ACK saying so or
 * naming an aborted destination, ends the session: any frame after it is
 * unexpected. Each lane is decoded on its own, so whether DATA waits for
 * the control lane's SETUP is not checked here; nor is whether a
 * PULL_DATA answers a PULL "we" sent (the other direction).
 *
 * It never reads past the buffer: a header is copied out and checked
 * before its length is used, and the length is only trusted after
 * hm_hdr_check() bounded it.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "decode.h"

enum {
	S_WANT_HELLO,
	S_WANT_RESPONSE,
	C_WANT_CHALLENGE,
	C_WANT_WELCOME,
	SESSION,
	CLOSED,		/* geometry mismatch: nothing may follow */
};

#define LABEL_MAX	32
#define HMAC_IN_MAX	(LABEL_MAX + 1 + 2 * HM_NONCE_LEN)

static const char *const result_names[HM_DEC_NR_RESULTS] = {
	[HM_DEC_END] = "end",
	[HM_DEC_SHORT] = "short",
	[HM_DEC_BAD_HDR] = "bad-header",
	[HM_DEC_BAD_MAC] = "bad-mac",
	[HM_DEC_BAD_PROOF] = "bad-proof",
	[HM_DEC_BAD_PAYLOAD] = "bad-payload",
	[HM_DEC_UNEXPECTED] = "unexpected",
	[HM_DEC_NO_VERSION] = "no-version",
	[HM_DEC_REJECTED] = "rejected",
};

const char *hm_dec_result_name(enum hm_dec_result r)
{
	return (unsigned int)r < HM_DEC_NR_RESULTS ? result_names[r] : "?";
}

void hm_dec_fuzz_nonce(uint8_t nonce[HM_NONCE_LEN], uint8_t base)
{
	for (unsigned int i = 0; i < HM_NONCE_LEN; i++)
		nonce[i] = base ^ i;
}

static void hmac256(const uint8_t *key, size_t key_len, const uint8_t *in,
		    size_t len, uint8_t out[HM_MAC_LEN])
{
	unsigned int out_len = HM_MAC_LEN;

	if (!HMAC(EVP_sha256(), key, (int)key_len, in, len, out, &out_len) ||
	    out_len != HM_MAC_LEN)
		memset(out, 0, HM_MAC_LEN);	/* matches nothing real */
}

/* HMAC(K, label || lane || a || b), as every proof and key is made. */
static void hmac_label(const struct hm_dec *d, const char *label,
		       uint8_t lane, const uint8_t *a, const uint8_t *b,
		       uint8_t out[HM_MAC_LEN])
{
	uint8_t in[HMAC_IN_MAX];
	size_t n = strlen(label);

	memcpy(in, label, n);
	in[n++] = lane;
	memcpy(in + n, a, HM_NONCE_LEN);
	n += HM_NONCE_LEN;
	memcpy(in + n, b, HM_NONCE_LEN);
	n += HM_NONCE_LEN;
	hmac256(d->key, d->key_len, in, n, out);
}

/*
 * Open a sealed session frame (AES-256-GCM, the header @frame as
 * associated data, nonce 0^4 || be64 seq): its @len payload bytes into
 * @out. False if the tag does not verify (@out then holds garbage).
 */
static bool aead_open(const uint8_t key[HM_AEAD_KEY_LEN], const uint8_t *frame,
		      uint32_t len, uint8_t *out)
{
	const uint8_t *ct = frame + sizeof(struct hm_hdr);
	uint8_t iv[HM_AEAD_IV_LEN] = { 0 };
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, ok;

	if (!ctx)
		abort();
	memcpy(iv + 4, frame + offsetof(struct hm_hdr, seq), 8);
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, sizeof(iv),
				 NULL) &&
	     EVP_DecryptInit_ex(ctx, NULL, NULL, key, iv) &&
	     EVP_DecryptUpdate(ctx, NULL, &n, frame, sizeof(struct hm_hdr)) &&
	     (!len || EVP_DecryptUpdate(ctx, out, &n, ct, (int)len)) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, HM_TAG_LEN,
				 (void *)(ct + len)) &&
	     EVP_DecryptFinal_ex(ctx, out + len, &n) > 0;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* A failed proof or MAC: fatal, unless the fuzzer asked to go on. */
static bool auth_ok(struct hm_dec *d, const uint8_t *got,
		    const uint8_t *want)
{
	if (!CRYPTO_memcmp(got, want, HM_MAC_LEN))
		return true;
	d->auth_skipped++;
	return d->skip_auth;
}

void hm_dec_init(struct hm_dec *d, enum hm_dec_role role, uint8_t lane,
		 const uint8_t *key, size_t key_len)
{
	memset(d, 0, sizeof(*d));
	d->key = key;
	d->key_len = key_len;
	d->role = role;
	if (role == HM_DEC_CLIENT) {
		d->state = C_WANT_CHALLENGE;
		d->lane = lane;
		d->lane_known = true;
		hm_dec_fuzz_nonce(d->own_nonce, HM_FUZZ_NONCE_CLIENT);
	} else {
		d->state = S_WANT_HELLO;
		hm_dec_fuzz_nonce(d->own_nonce, HM_FUZZ_NONCE_SERVER);
	}
}

static enum hm_dec_result do_hello(struct hm_dec *d, const struct hm_hdr *h,
				   const uint8_t *p)
{
	struct hm_hello hello;

	memcpy(&hello, p, sizeof(hello));
	if (be16_to_cpu(hello.version_min) > HM_PROTO_VERSION ||
	    be16_to_cpu(hello.version_max) < HM_PROTO_VERSION)
		return HM_DEC_NO_VERSION;
	/* Unknown feature bits are not an error: the server offers none. */
	d->lane = h->lane;
	d->lane_known = true;
	memcpy(d->peer_nonce, hello.nonce, HM_NONCE_LEN);
	d->state = S_WANT_RESPONSE;
	return HM_DEC_END;
}

static enum hm_dec_result do_response(struct hm_dec *d, const uint8_t *p)
{
	const uint8_t *nc = d->peer_nonce, *ns = d->own_nonce;
	uint8_t want[HM_MAC_LEN];

	hmac_label(d, HM_LABEL_CLIENT_PROOF, d->lane, ns, nc, want);
	if (!auth_ok(d, p, want))
		return HM_DEC_BAD_PROOF;
	hmac_label(d, HM_LABEL_KEY_C2S, d->lane, nc, ns, d->rx_key);
	d->have_key = true;
	d->state = SESSION;
	return HM_DEC_END;
}

static enum hm_dec_result do_challenge(struct hm_dec *d, const uint8_t *p)
{
	const uint8_t *nc = d->own_nonce;
	struct hm_challenge c;
	uint8_t want[HM_MAC_LEN];

	memcpy(&c, p, sizeof(c));
	if (be16_to_cpu(c.version) != HM_PROTO_VERSION)
		return HM_DEC_NO_VERSION;
	/* We offered no features: the server may choose none. */
	if (c.reserved || c.features)
		return HM_DEC_BAD_PAYLOAD;
	/* A server that reflects our nonce is refused whatever its proof. */
	if (!memcmp(c.nonce, nc, HM_NONCE_LEN))
		return HM_DEC_BAD_PROOF;
	hmac_label(d, HM_LABEL_SERVER_PROOF, d->lane, nc, c.nonce, want);
	if (!auth_ok(d, c.proof, want))
		return HM_DEC_BAD_PROOF;
	memcpy(d->peer_nonce, c.nonce, HM_NONCE_LEN);
	hmac_label(d, HM_LABEL_KEY_S2C, d->lane, nc, c.nonce, d->rx_key);
	d->have_key = true;
	d->state = C_WANT_WELCOME;
	return HM_DEC_END;
}

#define FUZZ_NR_CHUNKS	((HM_FUZZ_TARGET_SECTORS + HM_FUZZ_CHUNK_SECTORS - 1) / \
			 HM_FUZZ_CHUNK_SECTORS)

/*
 * The bytes of chunks first .. first + nr - 1 of the test geometry (the
 * last chunk is short), or 0 if the run is empty or leaves the device.
 */
static uint64_t run_bytes(uint64_t first, uint32_t nr)
{
	uint64_t end;

	if (!nr || first >= FUZZ_NR_CHUNKS || nr > FUZZ_NR_CHUNKS - first)
		return 0;
	end = (first + nr) * HM_FUZZ_CHUNK_SECTORS;
	if (end > HM_FUZZ_TARGET_SECTORS)
		end = HM_FUZZ_TARGET_SECTORS;
	return (end - first * HM_FUZZ_CHUNK_SECTORS) * 512;
}

/*
 * Which end sends a migration frame: the server (destination) or the
 * client. ABORT goes both ways (the destination echoes it).
 */
static bool sent_by_server(uint8_t type, enum hm_dec_role role)
{
	switch (type) {
	case HM_FRAME_SETUP_ACK:
	case HM_FRAME_ACK:
	case HM_FRAME_PULL:
	case HM_FRAME_HANDOVER_ACK:
	case HM_FRAME_COMPLETE:
	case HM_FRAME_HANDOVER_REQUEST:
		return true;
	case HM_FRAME_ABORT:
		return role == HM_DEC_CLIENT;
	}
	return false;
}

static enum hm_dec_result do_setup(struct hm_dec *d, const uint8_t *p)
{
	struct hm_setup s;

	memcpy(&s, p, sizeof(s));
	if (d->setups)
		return HM_DEC_UNEXPECTED;	/* once per session */
	if (s.flags)
		return HM_DEC_BAD_PAYLOAD;
	d->setups++;
	if (be64_to_cpu(s.target_sectors) != HM_FUZZ_TARGET_SECTORS ||
	    be32_to_cpu(s.chunk_sectors) != HM_FUZZ_CHUNK_SECTORS) {
		/* Answered with HM_SETUP_GEOMETRY; the link then drops. */
		d->geometry_mismatch = true;
		d->state = CLOSED;
	}
	return HM_DEC_END;
}

static enum hm_dec_result do_setup_ack(struct hm_dec *d, const uint8_t *p)
{
	struct hm_setup_ack a;

	memcpy(&a, p, sizeof(a));
	if (d->setups)
		return HM_DEC_UNEXPECTED;	/* one answer to one SETUP */
	if (be32_to_cpu(a.phase) > HM_DEST_ABORTED ||
	    be32_to_cpu(a.status) > HM_SETUP_MIGRATION)
		return HM_DEC_BAD_PAYLOAD;
	d->setups++;
	d->dest_phase = be32_to_cpu(a.phase);
	/* Another geometry or another migration: the link drops. */
	if (be32_to_cpu(a.status) != HM_SETUP_OK) {
		d->geometry_mismatch = true;
		d->state = CLOSED;
	}
	/* An aborted destination is never used again: the link drops. */
	if (d->dest_phase == HM_DEST_ABORTED)
		d->state = CLOSED;
	return HM_DEC_END;
}

/* A run: inside the device, and at most HM_MAX_DATA_PIECE bytes of it. */
static enum hm_dec_result do_data(struct hm_dec *d, const uint8_t *p,
				  uint32_t len)
{
	struct hm_data h;
	uint32_t flags, nr;
	uint64_t bytes;

	memcpy(&h, p, sizeof(h));
	flags = be32_to_cpu(h.flags);
	nr = be32_to_cpu(h.nr_chunks);
	bytes = run_bytes(be64_to_cpu(h.first_chunk), nr);
	if (flags & ~HM_DATA_ZERO || !bytes || bytes > HM_MAX_DATA_PIECE)
		return HM_DEC_BAD_PAYLOAD;
	/* A ZERO run carries no data; any other exactly its chunks' bytes. */
	if (len - sizeof(h) != (flags & HM_DATA_ZERO ? 0 : bytes))
		return HM_DEC_BAD_PAYLOAD;
	d->data_frames++;
	d->data_chunks += nr;
	if (flags & HM_DATA_ZERO)
		d->zero_frames++;
	else
		d->data_bytes += bytes;
	return HM_DEC_END;
}

static enum hm_dec_result do_ack(struct hm_dec *d, const uint8_t *p)
{
	struct hm_ack a;

	memcpy(&a, p, sizeof(a));
	if (!run_bytes(be64_to_cpu(a.first_chunk), be32_to_cpu(a.nr_chunks)) ||
	    be32_to_cpu(a.status) > HM_ACK_RETRY)
		return HM_DEC_BAD_PAYLOAD;
	d->acks++;
	if (a.status)
		d->failed_acks++;	/* the source marks the run dirty again */
	return HM_DEC_END;
}

/* PULL (client): a chunk of the device, once SETUP_ACK said we are set up. */
static enum hm_dec_result do_pull(struct hm_dec *d, const uint8_t *p)
{
	struct hm_pull pull;

	memcpy(&pull, p, sizeof(pull));
	if (!d->setups)
		return HM_DEC_UNEXPECTED;
	if (be64_to_cpu(pull.chunk) >= FUZZ_NR_CHUNKS)
		return HM_DEC_BAD_PAYLOAD;
	d->pulls++;
	return HM_DEC_END;
}

/* PULL_DATA (server): a DATA payload of exactly one chunk, after SETUP. */
static enum hm_dec_result do_pull_data(struct hm_dec *d, const uint8_t *p,
				       uint32_t len)
{
	struct hm_data h;
	enum hm_dec_result r;

	memcpy(&h, p, sizeof(h));
	if (!d->setups || d->aborts)
		return HM_DEC_UNEXPECTED;
	if (be32_to_cpu(h.nr_chunks) != 1)
		return HM_DEC_BAD_PAYLOAD;
	r = do_data(d, p, len);
	if (r == HM_DEC_END) {
		/* Counted as a pull, not as pushed data. */
		d->data_frames--;
		d->data_chunks--;
		if (be32_to_cpu(h.flags) & HM_DATA_ZERO)
			d->zero_frames--;
		else
			d->data_bytes -= len - sizeof(h);
		d->pulls++;
	}
	return r;
}

static unsigned int popcount8(uint8_t b)
{
	return (unsigned int)__builtin_popcount(b);
}

/*
 * HANDOVER_MAP (server), before HANDOVER: a piece from a multiple of 8,
 * inside the device, of exactly ceil(nr / 8) bytes, starting at or after
 * the end of the previous piece (pieces come in chunk order, without
 * overlap); bits past nr in the last byte are ignored.
 */
static enum hm_dec_result do_map(struct hm_dec *d, const uint8_t *p,
				 uint32_t len)
{
	struct hm_handover_map m;
	uint64_t first;
	uint32_t nr, i;

	memcpy(&m, p, sizeof(m));
	if (!d->setups || d->handovers || d->aborts)
		return HM_DEC_UNEXPECTED;
	first = be64_to_cpu(m.first_chunk);
	nr = be32_to_cpu(m.nr_chunks);
	if (m.flags || !nr || first % 8 || first < d->map_next ||
	    first >= FUZZ_NR_CHUNKS || nr > FUZZ_NR_CHUNKS - first ||
	    len - sizeof(m) != (nr + 7ULL) / 8)
		return HM_DEC_BAD_PAYLOAD;
	for (i = 0; i < nr / 8; i++)
		d->map_missing += popcount8(p[sizeof(m) + i]);
	if (nr % 8)
		d->map_missing += popcount8(p[sizeof(m) + nr / 8] &
					    ((1U << (nr % 8)) - 1));
	d->map_frames++;
	d->map_next = first + nr;
	return HM_DEC_END;
}

/*
 * HANDOVER (server): its count must be the map's set bits (else the
 * destination answers BAD_MAP and drops the link). A repeated one is
 * answered again.
 */
static enum hm_dec_result do_handover(struct hm_dec *d, const uint8_t *p)
{
	struct hm_handover h;

	memcpy(&h, p, sizeof(h));
	if (!d->setups || d->aborts)
		return HM_DEC_UNEXPECTED;
	if (!d->handovers && be64_to_cpu(h.nr_missing) != d->map_missing)
		return HM_DEC_BAD_PAYLOAD;
	d->handovers++;
	return HM_DEC_END;
}

/* HANDOVER_ACK (client): one, status OK, reserved 0, not after COMPLETE. */
static enum hm_dec_result do_handover_ack(struct hm_dec *d, const uint8_t *p)
{
	struct hm_handover_ack a;

	memcpy(&a, p, sizeof(a));
	if (!d->setups || d->handovers || d->dest_phase != HM_DEST_WAITING ||
	    d->aborts)
		return HM_DEC_UNEXPECTED;
	if (a.status || a.reserved)
		return HM_DEC_BAD_PAYLOAD;
	d->handovers++;
	d->dest_phase = HM_DEST_POSTCOPY;
	return HM_DEC_END;
}

/*
 * HANDOVER_REQUEST (client): an auto_handover destination's VM wrote. At
 * most once a session, from a destination that said it waits, before its
 * HANDOVER_ACK (one may cross our HANDOVER) and before the echo of an
 * ABORT of ours. No payload.
 */
static enum hm_dec_result do_handover_request(struct hm_dec *d)
{
	if (!d->setups || d->dest_phase != HM_DEST_WAITING || d->handovers ||
	    d->aborts || d->requests)
		return HM_DEC_UNEXPECTED;
	d->requests++;
	return HM_DEC_END;
}

/* COMPLETE (client): once, after the handover. */
static enum hm_dec_result do_complete(struct hm_dec *d)
{
	if (!d->setups || d->dest_phase != HM_DEST_POSTCOPY)
		return HM_DEC_UNEXPECTED;
	d->completes++;
	d->dest_phase = HM_DEST_COMPLETE;
	return HM_DEC_END;
}

/*
 * ABORT: the server takes one before the handover; the client takes one
 * (the echo of its own) while the destination waits.
 */
static enum hm_dec_result do_abort(struct hm_dec *d)
{
	if (!d->setups || d->aborts || d->handovers ||
	    (d->role == HM_DEC_CLIENT && d->dest_phase != HM_DEST_WAITING))
		return HM_DEC_UNEXPECTED;
	d->aborts++;
	return HM_DEC_END;
}

/* The migration frames: from the right end, on the right lane. */
static enum hm_dec_result do_push(struct hm_dec *d, const struct hm_hdr *h,
				  const uint8_t *p, uint32_t len)
{
	if (d->state != SESSION ||
	    sent_by_server(h->type, d->role) != (d->role == HM_DEC_CLIENT) ||
	    hm_frame_lane(h->type) != d->lane)
		return HM_DEC_UNEXPECTED;
	switch (h->type) {
	case HM_FRAME_SETUP:
		return do_setup(d, p);
	case HM_FRAME_SETUP_ACK:
		return do_setup_ack(d, p);
	case HM_FRAME_DATA:
		return do_data(d, p, len);
	case HM_FRAME_ACK:
		return do_ack(d, p);
	case HM_FRAME_PULL:
		return do_pull(d, p);
	case HM_FRAME_PULL_DATA:
		return do_pull_data(d, p, len);
	case HM_FRAME_HANDOVER_MAP:
		return do_map(d, p, len);
	case HM_FRAME_HANDOVER:
		return do_handover(d, p);
	case HM_FRAME_HANDOVER_ACK:
		return do_handover_ack(d, p);
	case HM_FRAME_COMPLETE:
		return do_complete(d);
	case HM_FRAME_ABORT:
		return do_abort(d);
	case HM_FRAME_HANDOVER_REQUEST:
		return do_handover_request(d);
	}
	return HM_DEC_UNEXPECTED;
}

static enum hm_dec_result do_frame(struct hm_dec *d, const struct hm_hdr *h,
				   const uint8_t *frame, uint32_t len)
{
	/* The opened payload of a session frame (one receiver at a time). */
	static uint8_t plain[HM_MAX_PAYLOAD];
	const uint8_t *p = frame + sizeof(*h);

	if (hm_frame_is_handshake(h->type)) {
		if (h->type == HM_FRAME_REJECT && d->state != SESSION) {
			struct hm_reject r;

			memcpy(&r, p, sizeof(r));
			d->reject_reason = be32_to_cpu(r.reason);
			return HM_DEC_REJECTED;
		}
		switch (d->state) {
		case S_WANT_HELLO:
			if (h->type == HM_FRAME_HELLO)
				return do_hello(d, h, p);
			break;
		case S_WANT_RESPONSE:
			if (h->type == HM_FRAME_RESPONSE)
				return do_response(d, p);
			break;
		case C_WANT_CHALLENGE:
			if (h->type == HM_FRAME_CHALLENGE)
				return do_challenge(d, p);
			break;
		}
		return HM_DEC_UNEXPECTED;
	}

	/*
	 * A session frame: only with a key, and only if its tag verifies.
	 * With skip_auth, a frame whose tag fails is read as if its payload
	 * were in clear, so that mutations reach the payload rules.
	 */
	if (!d->have_key)
		return HM_DEC_UNEXPECTED;
	if (!aead_open(d->rx_key, frame, len, plain)) {
		d->auth_skipped++;
		if (!d->skip_auth)
			return HM_DEC_BAD_MAC;
		memcpy(plain, p, len);
	}
	p = plain;

	switch (h->type) {
	case HM_FRAME_WELCOME:
		if (d->state != C_WANT_WELCOME)
			return HM_DEC_UNEXPECTED;
		d->state = SESSION;
		return HM_DEC_END;
	case HM_FRAME_PING:
	case HM_FRAME_PONG:
		if (d->state != SESSION)
			return HM_DEC_UNEXPECTED;
		if (h->type == HM_FRAME_PING)
			d->pings++;
		else
			d->pongs++;
		return HM_DEC_END;
	case HM_FRAME_SETUP:
	case HM_FRAME_SETUP_ACK:
	case HM_FRAME_DATA:
	case HM_FRAME_ACK:
	case HM_FRAME_PULL:
	case HM_FRAME_PULL_DATA:
	case HM_FRAME_HANDOVER_MAP:
	case HM_FRAME_HANDOVER:
	case HM_FRAME_HANDOVER_ACK:
	case HM_FRAME_COMPLETE:
	case HM_FRAME_ABORT:
	case HM_FRAME_HANDOVER_REQUEST:
		return do_push(d, h, p, len);
	}
	return HM_DEC_UNEXPECTED;
}

enum hm_dec_result hm_dec_stream(struct hm_dec *d, const uint8_t *buf,
				 size_t len)
{
	while (d->consumed < len) {
		const uint8_t *frame = buf + d->consumed;
		size_t avail = len - d->consumed;
		enum hm_dec_result r;
		struct hm_hdr h;
		uint8_t lane;
		uint32_t plen;
		size_t need;
		int err;

		if (avail < sizeof(h))
			return HM_DEC_SHORT;
		memcpy(&h, frame, sizeof(h));

		/* A server learns the lane from the first HELLO's header. */
		if (d->lane_known)
			lane = d->lane;
		else
			lane = h.lane < HM_NR_LANES ? h.lane : 0;
		err = hm_hdr_check(&h, lane, d->seq);
		if (d->on_hdr)
			d->on_hdr(d->arg, frame, lane, d->seq, err);
		if (err) {
			d->hdr_err = err;
			return HM_DEC_BAD_HDR;
		}

		/* Only now is the length trusted: at most HM_MAX_PAYLOAD. */
		plen = be32_to_cpu(h.len);
		need = sizeof(h) + plen;
		if (!hm_frame_is_handshake(h.type))
			need += HM_TAG_LEN;
		if (avail < need)
			return HM_DEC_SHORT;

		r = do_frame(d, &h, frame, plen);
		if (r != HM_DEC_END)
			return r;
		d->seq++;
		d->frames++;
		d->consumed += need;
	}
	return HM_DEC_END;
}
