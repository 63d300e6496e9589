// SPDX-License-Identifier: GPL-2.0-only
/*
 * A userspace receiver of one hybridmig lane (see decode.h), driven by the
 * fuzzer and by decode-check. It follows Documentation/protocol.rst:
 *
 *   server (receives c2s): HELLO seq 0, RESPONSE seq 1 (or REJECT),
 *                          then PING/PONG from seq 2, MACed with k_c2s
 *   client (receives s2c): CHALLENGE seq 0 (or REJECT), WELCOME seq 1
 *                          (or REJECT), then PING/PONG from seq 2, MACed
 *                          with k_s2c
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

static enum hm_dec_result do_frame(struct hm_dec *d, const struct hm_hdr *h,
				   const uint8_t *frame, uint32_t len)
{
	const uint8_t *p = frame + sizeof(*h);
	uint8_t mac[HM_MAC_LEN];

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

	/* A session frame: only with a key, and only with a good MAC. */
	if (!d->have_key)
		return HM_DEC_UNEXPECTED;
	hmac256(d->rx_key, HM_MAC_LEN, frame, sizeof(*h) + len, mac);
	if (!auth_ok(d, p + len, mac))
		return HM_DEC_BAD_MAC;

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
			need += HM_MAC_LEN;
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
