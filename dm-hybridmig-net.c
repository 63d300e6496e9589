// SPDX-License-Identifier: GPL-2.0-only
/*
 * dm-hybridmig: the authenticated link between a source and a destination.
 *
 * A link is two TCP connections ("lanes", see hybridmig-proto.h): control
 * and bulk, so that latency-critical frames never queue behind bulk data.
 * The source is the client and connects both; the destination listens on
 * one address and accepts both. Each lane authenticates on its own with a
 * mutual HMAC-SHA256 challenge-response over a secret from the kernel
 * keyring, then seals every frame with AES-256-GCM under a per-direction
 * session key, its sequence number the nonce. Any violation closes the
 * link; the source reconnects with backoff and the destination goes back
 * to listening.
 *
 * Threads: one supervisor per link (the client's connector, the server's
 * acceptor) and one receiver per connected lane. The wire format is in
 * Documentation/protocol.rst.
 */
#include "dm-hybridmig.h"

#include <crypto/aead.h>
#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <keys/user-type.h>
#include <linux/device-mapper.h>
#include <linux/bio.h>
#include <linux/bvec.h>
#include <linux/inet.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/random.h>
#include <linux/scatterlist.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <linux/uio.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#define DM_MSG_PREFIX "hybridmig"

#define HM_IO_TIMEOUT		(1 * HZ)	/* wake-up period of blocking I/O */
#define HM_HANDSHAKE_TIMEOUT	(3 * HZ)
#define HM_PING_INTERVAL	(2 * HZ)
#define HM_DEAD_TIMEOUT		(8 * HZ)	/* silence that ends a lane */
#define HM_BACKOFF_MIN		(HZ / 10)
#define HM_BACKOFF_MAX		(10 * HZ)
#define HM_SECRET_MIN		16
#define HM_SECRET_MAX		128

enum hm_link_state {
	HM_LINK_CONNECTING,	/* source: connecting and authenticating */
	HM_LINK_LISTENING,	/* destination: waiting for the source's lanes */
	HM_LINK_CONNECTED,	/* every lane up and authenticated */
	HM_LINK_RETRYING,	/* source: waiting to reconnect after a failure */
};

/*
 * One direction of a lane's session: the AEAD keyed for it, a request and
 * a scatterlist for one frame at a time. Header and tag (and the payload's
 * fixed part, when sending) live here, in memory a scatterlist may map.
 */
struct hm_aead {
	struct crypto_aead *tfm;
	struct aead_request *req;
	struct crypto_wait wait;
	unsigned int end;		/* the sg entry marked last */
	u8 iv[HM_AEAD_IV_LEN];
	struct hm_hdr hdr;		/* the associated data */
	u8 head[64];			/* the payload's fixed part (sending) */
	u8 tag[HM_TAG_LEN];
	/* header, fixed part, one entry per page of data, tag */
	struct scatterlist sg[HM_BUF_PAGES + 3];
};

/* One lane: a TCP connection with its own session keys and sequence. */
struct hm_lane_conn {
	struct hm_link *link;
	u8 lane;
	struct socket *sock;
	struct task_struct *rx_thread;
	struct hm_aead *tx;		/* keyed with this side's key */
	struct hm_aead *rx;		/* keyed with the peer's key */
	struct mutex tx_lock;		/* frames go out whole and in order */
	bool closing;			/* we are closing it: not a failure */
	bool up;			/* authenticated and running: under tx_lock */
	u64 tx_seq;
	u64 rx_seq;
	u64 generation;			/* of the link when it was attached */
	unsigned long last_tx;		/* jiffies, for keepalive */
	unsigned long last_rx;
	u8 rx_buf[128];			/* fixed part of any payload */
	struct hm_buf *rx_data;		/* data of the DATA frame received */
	struct bio_vec tx_bvec[HM_BUF_PAGES];	/* under tx_lock */
	struct bio_vec rx_bvec[HM_BUF_PAGES];	/* receiver thread only */
};

struct hm_link {
	struct hm_dev *hd;
	bool server;			/* destination: listens */
	char dev_name[16];
	char addr_str[64];
	struct sockaddr_storage addr;
	int addrlen;
	struct net *net;		/* of the process that sent the message */
	struct crypto_shash *auth;	/* keyed with the shared secret */

	struct task_struct *thread;	/* supervisor: connector or acceptor */
	struct socket *listener;
	struct hm_lane_conn lanes[HM_NR_LANES];
	struct hm_lane_conn probe;	/* server: a lane in its handshake */
	wait_queue_head_t wait;
	atomic_t broken;		/* a lane failed: close the link */
	u64 generation;			/* bumped for every session */
	bool was_connected;

	enum hm_link_state state;	/* READ_ONCE/WRITE_ONCE */
	const char *last_error;		/* static string, or NULL */
	unsigned int reconnects;
	atomic64_t tx_bytes;
	atomic64_t rx_bytes;
	atomic64_t tx_frames;
	atomic64_t rx_frames;
};

/* ---- HMAC helpers ---- */

struct hm_mac_part {
	const void *data;
	unsigned int len;
};

static int hm_hmac(struct crypto_shash *tfm, const struct hm_mac_part *parts,
		   unsigned int nr_parts, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	unsigned int i;
	int r;

	desc->tfm = tfm;
	r = crypto_shash_init(desc);
	for (i = 0; !r && i < nr_parts; i++)
		r = crypto_shash_update(desc, parts[i].data, parts[i].len);
	if (!r)
		r = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return r;
}

/* HMAC(K, label || lane || a || b): the proofs and the session keys. */
static int hm_hmac_labelled(struct crypto_shash *tfm, const char *label,
			    u8 lane, const u8 *a, const u8 *b, u8 *out)
{
	const struct hm_mac_part parts[] = {
		{ label, strlen(label) },
		{ &lane, 1 },
		{ a, HM_NONCE_LEN },
		{ b, HM_NONCE_LEN },
	};

	return hm_hmac(tfm, parts, ARRAY_SIZE(parts), out);
}

static struct crypto_shash *hm_alloc_hmac(const u8 *key, unsigned int len)
{
	struct crypto_shash *tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	int r;

	if (IS_ERR(tfm))
		return tfm;
	r = crypto_shash_setkey(tfm, key, len);
	if (r) {
		crypto_free_shash(tfm);
		return ERR_PTR(r);
	}
	return tfm;
}

/* ---- Frame protection: AES-256-GCM ---- */

static void hm_aead_free(struct hm_aead *a)
{
	if (!a)
		return;
	aead_request_free(a->req);
	if (a->tfm)
		crypto_free_aead(a->tfm);
	kfree_sensitive(a);
}

/*
 * An AEAD for one direction of a lane, keyed with @key. Asynchronous
 * drivers are allowed (mask 0): the x86 AES-GCM is one, a SIMD wrapper
 * that runs the AES-NI code at once in process context and falls back to
 * cryptd only where the FPU is not usable; the synchronous alternatives
 * are generic code, many times slower. Each request is waited for.
 */
static struct hm_aead *hm_aead_alloc(const u8 *key)
{
	struct hm_aead *a;
	int r;

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return ERR_PTR(-ENOMEM);
	a->tfm = crypto_alloc_aead(HM_AEAD_ALG, 0, 0);
	if (IS_ERR(a->tfm)) {
		r = PTR_ERR(a->tfm);
		a->tfm = NULL;
		goto fail;
	}
	r = crypto_aead_setkey(a->tfm, key, HM_AEAD_KEY_LEN);
	if (!r)
		r = crypto_aead_setauthsize(a->tfm, HM_TAG_LEN);
	if (r)
		goto fail;
	if (WARN_ON_ONCE(crypto_aead_ivsize(a->tfm) != HM_AEAD_IV_LEN)) {
		r = -EINVAL;
		goto fail;
	}
	a->req = aead_request_alloc(a->tfm, GFP_KERNEL);
	if (!a->req) {
		r = -ENOMEM;
		goto fail;
	}
	crypto_init_wait(&a->wait);
	aead_request_set_callback(a->req, CRYPTO_TFM_REQ_MAY_SLEEP |
				  CRYPTO_TFM_REQ_MAY_BACKLOG,
				  crypto_req_done, &a->wait);
	sg_init_table(a->sg, ARRAY_SIZE(a->sg));
	a->end = ARRAY_SIZE(a->sg) - 1;
	return a;
fail:
	hm_aead_free(a);
	return ERR_PTR(r);
}

/*
 * Describe a frame to seal or open in place: the header (associated
 * data), the payload's fixed part @head, @len bytes of @buf from @offset,
 * and the tag.
 */
static void hm_aead_map(struct hm_aead *a, void *head, unsigned int head_len,
			struct hm_buf *buf, unsigned int offset,
			unsigned int len)
{
	struct scatterlist *sg = a->sg;
	unsigned int nr = 0, bytes;

	sg_unmark_end(&sg[a->end]);
	sg_set_buf(&sg[nr++], &a->hdr, sizeof(a->hdr));
	if (head_len)
		sg_set_buf(&sg[nr++], head, head_len);
	for (; len; offset += bytes, len -= bytes) {
		bytes = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(offset));
		sg_set_page(&sg[nr++], buf->pages[offset >> PAGE_SHIFT], bytes,
			    offset_in_page(offset));
	}
	sg_set_buf(&sg[nr], a->tag, sizeof(a->tag));
	sg_mark_end(&sg[nr]);
	a->end = nr;
}

/*
 * Seal (@enc) or open the frame hm_aead_map() described, in place. The
 * nonce is the frame's sequence number: a key serves one direction of one
 * connection, whose numbers only go up. @len: the payload's length.
 * Opening fails with -EBADMSG if the tag does not verify.
 */
static int hm_aead_crypt(struct hm_aead *a, u64 seq, unsigned int len,
			 bool enc)
{
	__be64 nonce = cpu_to_be64(seq);
	int r;

	BUILD_BUG_ON(sizeof(a->iv) < sizeof(nonce));
	memset(a->iv, 0, sizeof(a->iv) - sizeof(nonce));
	memcpy(a->iv + sizeof(a->iv) - sizeof(nonce), &nonce, sizeof(nonce));
	aead_request_set_ad(a->req, sizeof(a->hdr));
	aead_request_set_crypt(a->req, a->sg, a->sg,
			       len + (enc ? 0 : HM_TAG_LEN), a->iv);
	r = enc ? crypto_aead_encrypt(a->req) : crypto_aead_decrypt(a->req);
	return crypto_wait_req(r, &a->wait);
}

/* ---- Link state and errors ---- */

static void hm_link_set_state(struct hm_link *link, enum hm_link_state state)
{
	if (READ_ONCE(link->state) == state)
		return;
	WRITE_ONCE(link->state, state);
	hm_dev_event(link->hd);
}

static void hm_link_connected(struct hm_link *link)
{
	DMINFO("%s: link %s %s: authenticated, %u reconnects", link->dev_name,
	       link->server ? "from" : "to", link->addr_str, link->reconnects);
	hm_link_set_state(link, HM_LINK_CONNECTED);
}

/*
 * Remember why the link last went down (kept after it recovers); an
 * authentication failure raises an event.
 */
static void hm_link_error(struct hm_link *link, const char *error, bool event)
{
	WRITE_ONCE(link->last_error, error);
	if (event) {
		DMWARN_LIMIT("%s: peer %s refused: %s", link->dev_name,
			     link->addr_str, error);
		hm_dev_event(link->hd);
	}
}

static const char *hm_errno_name(int r)
{
	switch (r) {
	case -ECONNREFUSED:
		return "connection_refused";
	case -ETIMEDOUT:
	case -EAGAIN:
	case -EINPROGRESS:	/* connect() timed out */
		return "timeout";
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ENETDOWN:
		return "unreachable";
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EPIPE:
		return "connection_reset";
	case -ESHUTDOWN:
		return "peer_closed";
	case -EPROTO:
	case -EMSGSIZE:
		return "bad_frame";
	case -EBADMSG:
		return "bad_sequence";
	case -EKEYREJECTED:
		return "bad_mac";
	}
	return "io_error";
}

/* ---- Socket I/O ---- */

static void hm_sock_setup(struct socket *sock)
{
	struct sock *sk = sock->sk;

	/* Lanes carry I/O for the block layer: never recurse into it. */
	sk->sk_allocation = GFP_NOIO;
	sk->sk_use_task_frag = false;
	sk->sk_rcvtimeo = HM_IO_TIMEOUT;
	sk->sk_sndtimeo = HM_HANDSHAKE_TIMEOUT;
	tcp_sock_set_nodelay(sk);
	tcp_sock_set_user_timeout(sk, jiffies_to_msecs(HM_DEAD_TIMEOUT));
	sock_set_keepalive(sk);
	/* A closed lane is dead: reset it rather than linger in FIN-WAIT. */
	sock_no_linger(sk);
	tcp_sock_set_keepidle(sk, 5);
	tcp_sock_set_keepintvl(sk, 2);
	tcp_sock_set_keepcnt(sk, 3);
}

static int hm_send_kvec(struct socket *sock, struct kvec *vec, size_t nr,
			size_t len, bool more)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0) };
	int r;

	r = kernel_sendmsg(sock, &msg, vec, nr, len);
	if (r < 0)
		return r;
	return r == len ? 0 : -EPIPE;
}

/*
 * Receive exactly @len bytes. Each blocking call wakes up every
 * HM_IO_TIMEOUT; @deadline bounds the whole wait, and a pending
 * kthread_stop() ends it.
 */
static int hm_recv_all(struct socket *sock, void *buf, size_t len,
		       unsigned long deadline)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	struct kvec vec;
	size_t done = 0;
	int r;

	while (done < len) {
		vec.iov_base = buf + done;
		vec.iov_len = len - done;
		r = kernel_recvmsg(sock, &msg, &vec, 1, len - done, MSG_WAITALL);
		if (r > 0)
			done += r;
		else if (!r)
			return -ESHUTDOWN;
		else if (r != -EAGAIN && r != -EINTR && r != -ERESTARTSYS)
			return r;
		if (done == len)
			break;
		/* Checked after every round: a peer trickling bytes gains nothing. */
		if (kthread_should_stop())
			return -EINTR;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
	}
	return 0;
}

/*
 * Receive @len bytes of data into @buf. A megabyte may take a while on a
 * slow link: the deadline moves on whenever bytes arrive.
 */
static int hm_recv_pages(struct hm_lane_conn *lc, struct hm_buf *buf,
			 unsigned int len)
{
	unsigned long deadline = jiffies + HM_DEAD_TIMEOUT;
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	unsigned int i, offset, bytes;
	int r;

	for (i = 0, offset = 0; offset < len; i++, offset += bytes) {
		bytes = min_t(unsigned int, len - offset, PAGE_SIZE);
		bvec_set_page(&lc->rx_bvec[i], buf->pages[i], bytes, 0);
	}
	iov_iter_bvec(&msg.msg_iter, ITER_DEST, lc->rx_bvec, i, len);
	while (msg_data_left(&msg)) {
		r = sock_recvmsg(lc->sock, &msg, MSG_WAITALL | MSG_NOSIGNAL);
		if (r > 0) {
			deadline = jiffies + HM_DEAD_TIMEOUT;
			continue;
		}
		if (!r)
			return -ESHUTDOWN;
		if (r != -EAGAIN && r != -EINTR && r != -ERESTARTSYS)
			return r;
		if (kthread_should_stop())
			return -EINTR;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
	}
	buf->len = len;
	return 0;
}

int hm_buf_alloc_pages(struct hm_buf *buf)
{
	unsigned int i;

	for (i = 0; i < HM_BUF_PAGES; i++) {
		buf->pages[i] = alloc_page(GFP_KERNEL);
		if (!buf->pages[i])
			return -ENOMEM;
	}
	return 0;
}

/* A bio for @len bytes of @buf from @offset, at @sector of the data device. */
struct bio *hm_buf_bio(struct hm_dev *hd, struct hm_buf *buf,
		       unsigned int offset, unsigned int len, blk_opf_t opf,
		       sector_t sector)
{
	unsigned int bytes;
	struct bio *bio;

	bio = bio_alloc(hd->data_bdev,
			DIV_ROUND_UP(offset_in_page(offset) + len, PAGE_SIZE),
			opf, GFP_NOIO);
	for (; len; offset += bytes, len -= bytes) {
		bytes = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(offset));
		__bio_add_page(bio, buf->pages[offset >> PAGE_SHIFT], bytes,
			       offset_in_page(offset));
	}
	bio->bi_iter.bi_sector = sector;
	return bio;
}

/* Are @len bytes of @buf from @offset all zero? */
bool hm_buf_is_zero(const struct hm_buf *buf, unsigned int offset,
		    unsigned int len)
{
	unsigned int bytes;
	void *addr;

	for (; len; offset += bytes, len -= bytes) {
		bytes = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(offset));
		addr = page_address(buf->pages[offset >> PAGE_SHIFT]);
		if (memchr_inv(addr + offset_in_page(offset), 0, bytes))
			return false;
	}
	return true;
}

void hm_buf_free_pages(struct hm_buf *buf)
{
	unsigned int i;

	for (i = 0; i < HM_BUF_PAGES; i++)
		if (buf->pages[i])
			__free_page(buf->pages[i]);
}

/* ---- Frames ---- */

#ifndef HM_HAVE_SPLICE_PAGES
/* Before MSG_SPLICE_PAGES: sendpage(), page by page. */
static int hm_sendpage_all(struct hm_lane_conn *lc, struct hm_buf *buf,
			   unsigned int offset, unsigned int len)
{
	unsigned int bytes;
	int r;

	while (len) {
		bytes = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(offset));
		r = kernel_sendpage(lc->sock, buf->pages[offset >> PAGE_SHIFT],
				    offset_in_page(offset), bytes,
				    MSG_MORE | MSG_SENDPAGE_NOTLAST | MSG_NOSIGNAL);
		if (r < 0)
			return r;
		if (r != bytes)
			return -EPIPE;
		offset += bytes;
		len -= bytes;
	}
	return 0;
}
#endif

/* Describe @len bytes of @buf from @offset in lc->tx_bvec. */
static unsigned int hm_buf_to_bvec(struct hm_lane_conn *lc, struct hm_buf *buf,
				   unsigned int offset, unsigned int len)
{
	unsigned int nr = 0, bytes;

	for (; len; offset += bytes, len -= bytes) {
		bytes = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(offset));
		bvec_set_page(&lc->tx_bvec[nr++], buf->pages[offset >> PAGE_SHIFT],
			      bytes, offset_in_page(offset));
	}
	return nr;
}

/*
 * Send @len bytes of @buf from @offset. Pushed chunk data goes without a
 * copy where the kernel allows: TCP keeps references to the pages, which
 * is safe only because a push slot's pages are not reused before the
 * destination has acknowledged them. Other buffers are reused at once
 * (the pull buffer, the handover map), so their bytes are copied.
 */
static int hm_send_pages(struct hm_lane_conn *lc, struct hm_buf *buf,
			 unsigned int offset, unsigned int len, bool zero_copy)
{
	struct msghdr msg = { .msg_flags = MSG_MORE | MSG_NOSIGNAL };
	unsigned int nr;
	int r;

#ifdef HM_HAVE_SPLICE_PAGES
	if (zero_copy)
		msg.msg_flags |= MSG_SPLICE_PAGES;
#else
	if (zero_copy)
		return hm_sendpage_all(lc, buf, offset, len);
#endif
	nr = hm_buf_to_bvec(lc, buf, offset, len);
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, lc->tx_bvec, nr, len);
	r = sock_sendmsg(lc->sock, &msg);
	if (r < 0)
		return r;
	return r == len ? 0 : -EPIPE;
}

/*
 * Send one frame on a lane: its header, the payload's fixed part @head and
 * @len bytes of @buf from @offset; only in session @generation, unless it
 * is 0. A session frame's payload goes sealed, followed by its tag: @buf's
 * bytes are encrypted in place (no sender needs them afterwards: a push is
 * read again before it is sent again). Serialised per lane by tx_lock.
 */
static int hm_lane_send_frame(struct hm_link *link, struct hm_lane_conn *lc,
			      u64 generation, u8 type, const void *head,
			      u32 head_len, struct hm_buf *buf,
			      unsigned int offset, unsigned int len)
{
	bool session = !hm_frame_is_handshake(type);
	size_t total = sizeof(struct hm_hdr) + head_len + len +
		       (session ? HM_TAG_LEN : 0);
	struct hm_aead *a;
	struct hm_hdr hdr;
	struct kvec vec[3];
	size_t nr = 0, vlen;
	int r;

	mutex_lock(&lc->tx_lock);
	a = lc->tx;
	/*
	 * Session frames go only on a lane that is up: never into a handshake
	 * (a sender that raced with a reconnect). WELCOME is the one session
	 * frame of the handshake.
	 */
	if (!lc->sock || (session && type != HM_FRAME_WELCOME && !lc->up) ||
	    (session && !a)) {
		r = -ENOTCONN;
		goto out;
	}
	/* A frame of a session that has ended must not go into the next. */
	if (generation && generation != lc->generation) {
		r = -ENOTCONN;
		goto out;
	}
	hm_hdr_init(&hdr, type, lc->lane, head_len + len, lc->tx_seq);
	if (session) {
		if (WARN_ON_ONCE(head_len > sizeof(a->head))) {
			r = -EMSGSIZE;
			goto out;
		}
		a->hdr = hdr;
		memcpy(a->head, head, head_len);
		head = a->head;
		hm_aead_map(a, a->head, head_len, buf, offset, len);
		r = hm_aead_crypt(a, lc->tx_seq, head_len + len, true);
		if (r)
			goto out;
		/*
		 * A megabyte is long: let the VM's I/O threads run. The x86
		 * AES-GCM walks a frame page by page and, as the request may
		 * sleep, yields between pages (skcipher_walk_done()); this
		 * covers an implementation that does not.
		 */
		if (len > PAGE_SIZE)
			cond_resched();
	}

	/* Small frames go out in one call; data pages between two. */
	vec[nr++] = (struct kvec){ &hdr, sizeof(hdr) };
	vlen = sizeof(hdr);
	if (head_len) {
		vec[nr++] = (struct kvec){ (void *)head, head_len };
		vlen += head_len;
	}
	r = 0;
	if (len) {
		r = hm_send_kvec(lc->sock, vec, nr, vlen, true);
		if (!r)
			r = hm_send_pages(lc, buf, offset, len,
					  type == HM_FRAME_DATA);
		nr = 0;
		vlen = 0;
	}
	if (session) {
		vec[nr++] = (struct kvec){ a->tag, sizeof(a->tag) };
		vlen += sizeof(a->tag);
	}
	if (!r && nr)
		r = hm_send_kvec(lc->sock, vec, nr, vlen, false);
	if (!r) {
		lc->tx_seq++;
		lc->last_tx = jiffies;
		atomic64_add(total, &link->tx_bytes);
		atomic64_inc(&link->tx_frames);
	} else if (lc->up) {
		/* Part of a frame may be out: nothing can follow it. */
		lc->up = false;
		atomic_set(&link->broken, 1);
		wake_up(&link->wait);
	}
out:
	mutex_unlock(&lc->tx_lock);
	return r;
}

static int hm_lane_send(struct hm_link *link, struct hm_lane_conn *lc,
			u8 type, const void *payload, u32 len)
{
	return hm_lane_send_frame(link, lc, 0, type, payload, len, NULL, 0, 0);
}

/*
 * Handshake frames come before the session keys, session frames after;
 * the one overlap is a REJECT of our RESPONSE, which the source (already
 * keyed, waiting for WELCOME) must still understand.
 */
static bool hm_frame_in_place(struct hm_lane_conn *lc, u8 type)
{
	if (!hm_frame_is_handshake(type))
		return lc->rx;
	return !lc->rx || (!lc->rx_thread && type == HM_FRAME_REJECT);
}

/*
 * Only the destination takes frames with data (DATA, PULL_DATA and the
 * handover map), each on its own lane; the lanes have separate pools.
 */
static struct hm_buf *hm_lane_data_buf(struct hm_link *link,
				       struct hm_lane_conn *lc, u8 type)
{
	struct hm_buf *buf;

	if (!link->server || hm_frame_lane(type) != lc->lane)
		return ERR_PTR(-EPROTO);
	buf = hm_recv_get_buf(link->hd, lc->lane);
	return buf ?: ERR_PTR(-EINTR);
}

static void hm_lane_put_data(struct hm_link *link, struct hm_lane_conn *lc)
{
	if (lc->rx_data)
		hm_recv_put_buf(link->hd, lc->rx_data);
	lc->rx_data = NULL;
}

/*
 * Receive one frame: the fixed part of its payload into lc->rx_buf, the
 * data of a DATA frame into lc->rx_data. The header is checked before the
 * payload is read, so a hostile length never sizes a read or an
 * allocation; data lands in a buffer of a bounded pool. A session
 * frame's payload is opened in place, and only if its tag verifies.
 * Returns the frame type, -EAGAIN if nothing arrived before the I/O
 * timeout, or a negative error.
 */
static int hm_lane_recv(struct hm_link *link, struct hm_lane_conn *lc,
			struct hm_hdr *hdr, unsigned long deadline)
{
	struct hm_aead *a = lc->rx;
	u32 len, head_len, data_len;
	bool session;
	int r;

	r = hm_recv_all(lc->sock, hdr, 1, jiffies);
	if (r == -ETIMEDOUT)
		return -EAGAIN;
	if (!r)
		r = hm_recv_all(lc->sock, (u8 *)hdr + 1, sizeof(*hdr) - 1,
				deadline);
	if (r)
		return r;
	r = hm_hdr_check(hdr, lc->lane, lc->rx_seq);
	if (r)
		return r;
	if (!hm_frame_in_place(lc, hdr->type))
		return -EPROTO;

	session = !hm_frame_is_handshake(hdr->type);
	len = be32_to_cpu(hdr->len);
	head_len = hm_frame_payload_len(hdr->type);
	data_len = len - head_len;
	BUILD_BUG_ON(sizeof(lc->rx_buf) < sizeof(struct hm_challenge));
	if (WARN_ON_ONCE(head_len > sizeof(lc->rx_buf)))
		return -EMSGSIZE;
	r = hm_recv_all(lc->sock, lc->rx_buf, head_len, deadline);
	if (r)
		return r;
	if (data_len) {
		lc->rx_data = hm_lane_data_buf(link, lc, hdr->type);
		if (IS_ERR(lc->rx_data)) {
			r = PTR_ERR(lc->rx_data);
			lc->rx_data = NULL;
			return r;
		}
		r = hm_recv_pages(lc, lc->rx_data, data_len);
	}

	if (!r && session) {
		r = hm_recv_all(lc->sock, a->tag, sizeof(a->tag), deadline);
		if (!r) {
			a->hdr = *hdr;
			hm_aead_map(a, lc->rx_buf, head_len, lc->rx_data, 0,
				    data_len);
			r = hm_aead_crypt(a, lc->rx_seq, len, false);
			if (r == -EBADMSG)
				r = -EKEYREJECTED;
		}
	}
	if (r) {
		hm_lane_put_data(link, lc);
		return r;
	}

	lc->rx_seq++;
	lc->last_rx = jiffies;
	atomic64_add(sizeof(*hdr) + len + (session ? HM_TAG_LEN : 0),
		     &link->rx_bytes);
	atomic64_inc(&link->rx_frames);
	return hdr->type;
}

static void hm_lane_reject(struct hm_link *link, struct hm_lane_conn *lc,
			   u32 reason)
{
	struct hm_reject rej = { .reason = cpu_to_be32(reason) };

	hm_lane_send(link, lc, HM_FRAME_REJECT, &rej, sizeof(rej));
}

/* ---- Handshake ---- */

/* Key both directions of a lane with keys derived from the two nonces. */
static int hm_lane_set_keys(struct hm_link *link, struct hm_lane_conn *lc,
			    const u8 *nc, const u8 *ns)
{
	u8 c2s[HM_MAC_LEN], s2c[HM_MAC_LEN];
	struct hm_aead *tx, *rx;
	int r;

	BUILD_BUG_ON(HM_AEAD_KEY_LEN > HM_MAC_LEN);
	r = hm_hmac_labelled(link->auth, HM_LABEL_KEY_C2S, lc->lane, nc, ns, c2s);
	if (!r)
		r = hm_hmac_labelled(link->auth, HM_LABEL_KEY_S2C, lc->lane, nc, ns,
				     s2c);
	if (r)
		goto out;

	tx = hm_aead_alloc(link->server ? s2c : c2s);
	rx = hm_aead_alloc(link->server ? c2s : s2c);
	if (IS_ERR(tx) || IS_ERR(rx)) {
		r = IS_ERR(tx) ? PTR_ERR(tx) : PTR_ERR(rx);
		if (!IS_ERR(tx))
			hm_aead_free(tx);
		if (!IS_ERR(rx))
			hm_aead_free(rx);
		goto out;
	}
	lc->tx = tx;
	lc->rx = rx;
out:
	memzero_explicit(c2s, sizeof(c2s));
	memzero_explicit(s2c, sizeof(s2c));
	return r;
}

/* Map a REJECT from the peer to the error status shows. */
static int hm_peer_rejected(struct hm_link *link, struct hm_lane_conn *lc)
{
	const struct hm_reject *rej = (const void *)lc->rx_buf;

	switch (be32_to_cpu(rej->reason)) {
	case HM_REJECT_AUTH:
		hm_link_error(link, "peer_rejected_auth", true);
		break;
	case HM_REJECT_VERSION:
		hm_link_error(link, "peer_rejected_version", true);
		break;
	default:
		hm_link_error(link, "peer_rejected", true);
	}
	return -ECONNREFUSED;
}

/* Expect a frame of @type, or a REJECT. */
static int hm_handshake_recv(struct hm_link *link, struct hm_lane_conn *lc,
			     u8 type, unsigned long deadline)
{
	struct hm_hdr hdr;
	int r;

	do {
		r = hm_lane_recv(link, lc, &hdr, deadline);
	} while (r == -EAGAIN && time_before(jiffies, deadline) &&
		 !kthread_should_stop());
	if (r == -EAGAIN)
		r = -ETIMEDOUT;
	if (r < 0) {
		hm_link_error(link, hm_errno_name(r), false);
		return r;
	}
	if (r == HM_FRAME_REJECT)
		return hm_peer_rejected(link, lc);
	if (r != type) {
		hm_link_error(link, "bad_frame", false);
		return -EPROTO;
	}
	return 0;
}

/* The source's side of a lane's handshake. */
static int hm_handshake_client(struct hm_link *link, struct hm_lane_conn *lc)
{
	unsigned long deadline = jiffies + HM_HANDSHAKE_TIMEOUT;
	struct hm_hello hello = {
		.version_min = cpu_to_be16(HM_PROTO_VERSION),
		.version_max = cpu_to_be16(HM_PROTO_VERSION),
	};
	struct hm_challenge ch;
	struct hm_response resp;
	u8 want[HM_MAC_LEN];
	int r;

	get_random_bytes(hello.nonce, sizeof(hello.nonce));
	r = hm_lane_send(link, lc, HM_FRAME_HELLO, &hello, sizeof(hello));
	if (!r)
		r = hm_handshake_recv(link, lc, HM_FRAME_CHALLENGE, deadline);
	if (r)
		return r;
	memcpy(&ch, lc->rx_buf, sizeof(ch));

	/* The server proves it knows the secret before we prove anything. */
	r = hm_hmac_labelled(link->auth, HM_LABEL_SERVER_PROOF, lc->lane,
			     hello.nonce, ch.nonce, want);
	if (r)
		return r;
	if (be16_to_cpu(ch.version) != HM_PROTO_VERSION ||
	    crypto_memneq(want, ch.proof, sizeof(want)) ||
	    !memcmp(ch.nonce, hello.nonce, sizeof(ch.nonce))) {
		hm_link_error(link, "bad_peer_proof", true);
		hm_lane_reject(link, lc, HM_REJECT_AUTH);
		return -EACCES;
	}

	r = hm_hmac_labelled(link->auth, HM_LABEL_CLIENT_PROOF, lc->lane,
			     ch.nonce, hello.nonce, resp.proof);
	if (!r)
		r = hm_lane_send(link, lc, HM_FRAME_RESPONSE, &resp, sizeof(resp));
	if (!r)
		r = hm_lane_set_keys(link, lc, hello.nonce, ch.nonce);
	if (!r)
		r = hm_handshake_recv(link, lc, HM_FRAME_WELCOME, deadline);
	return r;
}

/* The destination's side of a lane's handshake. */
static int hm_handshake_server(struct hm_link *link, struct hm_lane_conn *lc)
{
	unsigned long deadline = jiffies + HM_HANDSHAKE_TIMEOUT;
	struct hm_challenge ch = { .version = cpu_to_be16(HM_PROTO_VERSION) };
	struct hm_hello hello;
	u8 want[HM_MAC_LEN];
	int r;

	r = hm_handshake_recv(link, lc, HM_FRAME_HELLO, deadline);
	if (r)
		return r;
	memcpy(&hello, lc->rx_buf, sizeof(hello));
	if (be16_to_cpu(hello.version_min) > HM_PROTO_VERSION ||
	    be16_to_cpu(hello.version_max) < HM_PROTO_VERSION) {
		hm_lane_reject(link, lc, HM_REJECT_VERSION);
		hm_link_error(link, "version_mismatch", true);
		return -EPROTO;
	}

	get_random_bytes(ch.nonce, sizeof(ch.nonce));
	r = hm_hmac_labelled(link->auth, HM_LABEL_SERVER_PROOF, lc->lane,
			     hello.nonce, ch.nonce, ch.proof);
	if (!r)
		r = hm_lane_send(link, lc, HM_FRAME_CHALLENGE, &ch, sizeof(ch));
	if (!r)
		r = hm_handshake_recv(link, lc, HM_FRAME_RESPONSE, deadline);
	if (!r)
		r = hm_hmac_labelled(link->auth, HM_LABEL_CLIENT_PROOF, lc->lane,
				     ch.nonce, hello.nonce, want);
	if (r)
		return r;
	if (crypto_memneq(want, lc->rx_buf, sizeof(want))) {
		hm_link_error(link, "bad_peer_proof", true);
		hm_lane_reject(link, lc, HM_REJECT_AUTH);
		return -EACCES;
	}

	r = hm_lane_set_keys(link, lc, hello.nonce, ch.nonce);
	if (!r)
		r = hm_lane_send(link, lc, HM_FRAME_WELCOME, NULL, 0);
	return r;
}

/* ---- Lanes ---- */

static void hm_lane_free_keys(struct hm_lane_conn *lc)
{
	hm_aead_free(lc->tx);
	hm_aead_free(lc->rx);
	lc->tx = NULL;
	lc->rx = NULL;
}

/* Stop a lane's receiver, then close its socket. */
static void hm_lane_close(struct hm_lane_conn *lc)
{
	struct socket *sock = lc->sock;

	if (!sock)
		return;
	WRITE_ONCE(lc->closing, true);
	kernel_sock_shutdown(sock, SHUT_RDWR);
	mutex_lock(&lc->tx_lock);
	lc->up = false;
	mutex_unlock(&lc->tx_lock);
	if (lc->rx_thread) {
		kthread_stop(lc->rx_thread);
		put_task_struct(lc->rx_thread);
		lc->rx_thread = NULL;
	}
	mutex_lock(&lc->tx_lock);
	lc->sock = NULL;
	mutex_unlock(&lc->tx_lock);
	sock_release(sock);
	hm_lane_free_keys(lc);
}

static void hm_link_close_lanes(struct hm_link *link)
{
	unsigned int i;

	for (i = 0; i < HM_NR_LANES; i++)
		hm_lane_close(&link->lanes[i]);
}

static bool hm_link_all_lanes_up(struct hm_link *link)
{
	unsigned int i;

	for (i = 0; i < HM_NR_LANES; i++)
		if (!link->lanes[i].rx_thread)
			return false;
	return true;
}

static void hm_lane_failed(struct hm_link *link, struct hm_lane_conn *lc,
			   int r)
{
	if (kthread_should_stop() || READ_ONCE(lc->closing))
		return;
	/*
	 * The first failure of a session says why it ended: the other lane
	 * then only sees the peer go. -ECANCELED: the handler set last_error.
	 */
	if (r != -ECANCELED && !atomic_read(&link->broken))
		hm_link_error(link, hm_errno_name(r), false);
	DMWARN_LIMIT("%s: lane %u to %s lost: %s", link->dev_name, lc->lane,
		     link->addr_str, READ_ONCE(link->last_error));
	atomic_set(&link->broken, 1);
	wake_up(&link->wait);
}

/* The frames a destination takes; *@buf is taken over where it is used. */
static int hm_dest_deliver(struct hm_dev *hd, int type, const void *p,
			   struct hm_buf **buf)
{
	struct hm_buf *data = *buf;
	int r;

	switch (type) {
	case HM_FRAME_SETUP:
		return hm_recv_setup(hd, p);
	case HM_FRAME_DATA:
	case HM_FRAME_PULL_DATA:
		*buf = NULL;
		return hm_recv_data(hd, p, data, type == HM_FRAME_PULL_DATA);
	case HM_FRAME_HANDOVER_MAP:
		return hm_dest_recv_map(hd, p, data);
	case HM_FRAME_HANDOVER:
		return hm_dest_recv_handover(hd, p);
	case HM_FRAME_ABORT:
		r = hm_dest_recv_abort(hd);
		return r ?: hm_link_send(hd, HM_FRAME_ABORT, NULL, 0);
	}
	return -EPROTO;
}

/* The frames a source takes. */
static int hm_source_deliver(struct hm_dev *hd, int type, const void *p)
{
	switch (type) {
	case HM_FRAME_SETUP_ACK:
		return hm_push_recv_setup_ack(hd, p);
	case HM_FRAME_ACK:
		return hm_push_recv_ack(hd, p);
	case HM_FRAME_PULL:
		return hm_push_recv_pull(hd, p);
	case HM_FRAME_HANDOVER_ACK:
		return hm_push_recv_handover_ack(hd, p);
	case HM_FRAME_COMPLETE:
		return hm_push_recv_complete(hd);
	case HM_FRAME_ABORT:
		return hm_push_recv_abort_ack(hd);
	case HM_FRAME_HANDOVER_REQUEST:
		return hm_push_recv_handover_request(hd);
	}
	return -EPROTO;
}

/* Hand a migration frame to the source's or the destination's engine. */
static int hm_lane_deliver(struct hm_link *link, struct hm_lane_conn *lc,
			   int type)
{
	struct hm_dev *hd = link->hd;
	struct hm_buf *buf = lc->rx_data;
	const void *p = lc->rx_buf;
	int r;

	lc->rx_data = NULL;
	if (hm_frame_lane(type) != lc->lane)
		r = -EPROTO;
	else if (link->server)
		r = hm_dest_deliver(hd, type, p, &buf);
	else
		r = hm_source_deliver(hd, type, p);
	if (buf)
		hm_recv_put_buf(hd, buf);
	return r;
}

static int hm_lane_handle(struct hm_link *link, struct hm_lane_conn *lc,
			  int type)
{
	switch (type) {
	case HM_FRAME_PING:
		return hm_lane_send(link, lc, HM_FRAME_PONG, lc->rx_buf,
				    sizeof(struct hm_ping));
	case HM_FRAME_PONG:
		return 0;
	case HM_FRAME_WELCOME:
		break;
	default:
		return hm_lane_deliver(link, lc, type);
	}
	return -EPROTO;		/* WELCOME twice, or a frame we never expect */
}

/* Keep a quiet lane alive; declare it dead after HM_DEAD_TIMEOUT. */
static int hm_lane_keepalive(struct hm_link *link, struct hm_lane_conn *lc)
{
	struct hm_ping ping;

	if (time_after(jiffies, lc->last_rx + HM_DEAD_TIMEOUT))
		return -ETIMEDOUT;
	if (time_before(jiffies, lc->last_tx + HM_PING_INTERVAL))
		return 0;
	ping.cookie = cpu_to_be64(get_jiffies_64());
	return hm_lane_send(link, lc, HM_FRAME_PING, &ping, sizeof(ping));
}

static int hm_lane_rx_thread(void *data)
{
	struct hm_lane_conn *lc = data;
	struct hm_link *link = lc->link;
	unsigned int noio = memalloc_noio_save();
	struct hm_hdr hdr;
	int r;

	while (!kthread_should_stop()) {
		r = hm_lane_recv(link, lc, &hdr, jiffies + HM_DEAD_TIMEOUT);
		if (r == -EAGAIN)
			r = hm_lane_keepalive(link, lc);
		else if (r > 0)
			r = hm_lane_handle(link, lc, r);
		if (r < 0) {
			hm_lane_failed(link, lc, r);
			break;
		}
	}
	memalloc_noio_restore(noio);

	/* The supervisor closes the lane; wait for it to stop us. */
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

/* Take over an authenticated socket as lane @lc and start its receiver. */
static int hm_lane_start(struct hm_link *link, struct hm_lane_conn *lc)
{
	struct task_struct *t;

	lc->last_rx = jiffies;
	lc->last_tx = jiffies;
	lc->sock->sk->sk_sndtimeo = HM_DEAD_TIMEOUT;
	mutex_lock(&lc->tx_lock);
	lc->up = true;
	mutex_unlock(&lc->tx_lock);
	t = kthread_create(hm_lane_rx_thread, lc, "hm-rx%u/%s", lc->lane,
			   link->dev_name);
	if (IS_ERR(t))
		return PTR_ERR(t);
	get_task_struct(t);
	lc->rx_thread = t;
	wake_up_process(t);
	return 0;
}

static void hm_lane_attach(struct hm_lane_conn *lc, struct socket *sock)
{
	mutex_lock(&lc->tx_lock);
	lc->generation = lc->link->generation;
	lc->sock = sock;
	lc->closing = false;
	lc->tx_seq = 0;
	lc->rx_seq = 0;
	mutex_unlock(&lc->tx_lock);
}

/* ---- Client (source) ---- */

static int hm_client_connect_lane(struct hm_link *link, struct hm_lane_conn *lc)
{
	struct socket *sock;
	int r;

	r = sock_create_kern(link->net, link->addr.ss_family, SOCK_STREAM,
			     IPPROTO_TCP, &sock);
	if (r)
		return r;
	hm_sock_setup(sock);
	r = kernel_connect(sock, (struct sockaddr *)&link->addr, link->addrlen, 0);
	if (r) {
		sock_release(sock);
		hm_link_error(link, hm_errno_name(r), false);
		return r;
	}
	hm_lane_attach(lc, sock);
	r = hm_handshake_client(link, lc);
	if (!r)
		r = hm_lane_start(link, lc);
	if (r)
		hm_lane_close(lc);
	return r;
}

static int hm_client_connect(struct hm_link *link)
{
	unsigned int i;
	int r = 0;

	WRITE_ONCE(link->generation, link->generation + 1);
	for (i = 0; i < HM_NR_LANES && !r; i++)
		r = hm_client_connect_lane(link, &link->lanes[i]);
	if (r)
		hm_link_close_lanes(link);
	return r;
}

/* Wait before the next attempt; every failure in a row doubles it. */
static void hm_client_backoff(struct hm_link *link, unsigned long *backoff)
{
	atomic_set(&link->broken, 0);
	hm_link_set_state(link, HM_LINK_RETRYING);
	wait_event_interruptible_timeout(link->wait, kthread_should_stop(),
					 *backoff);
	*backoff = min(*backoff * 2, (unsigned long)HM_BACKOFF_MAX);
}

/*
 * The source's supervisor: connect and authenticate both lanes, then wait
 * until one fails; close the link and try again with exponential backoff.
 * The backoff starts over only after a session the destination accepted:
 * one it refused (say, for its geometry) is a failure like any other.
 */
static int hm_client_thread(void *data)
{
	struct hm_link *link = data;
	unsigned long backoff = HM_BACKOFF_MIN;
	bool was_connected = false;

	while (!kthread_should_stop()) {
		hm_link_set_state(link, HM_LINK_CONNECTING);
		if (hm_client_connect(link)) {
			hm_client_backoff(link, &backoff);
			continue;
		}

		if (was_connected)
			link->reconnects++;
		was_connected = true;
		hm_link_connected(link);
		hm_push_link_up(link->hd, link->generation);

		wait_event_interruptible(link->wait, kthread_should_stop() ||
					 atomic_read(&link->broken));
		hm_link_close_lanes(link);
		if (hm_push_link_down(link->hd)) {
			backoff = HM_BACKOFF_MIN;
			atomic_set(&link->broken, 0);
		} else if (!kthread_should_stop()) {
			hm_client_backoff(link, &backoff);
		}
	}
	hm_link_close_lanes(link);
	hm_push_link_down(link->hd);
	return 0;
}

/* ---- Server (destination) ---- */

/* Close the lanes; the writes of the session finish before another starts. */
static void hm_server_end_session(struct hm_link *link)
{
	hm_link_close_lanes(link);
	hm_recv_link_down(link->hd);
}

static int hm_server_listen(struct hm_link *link)
{
	struct socket *sock;
	int r;

	r = sock_create_kern(link->net, link->addr.ss_family, SOCK_STREAM,
			     IPPROTO_TCP, &sock);
	if (r)
		return r;
	sock->sk->sk_reuse = SK_CAN_REUSE;
	sock->sk->sk_rcvtimeo = HM_IO_TIMEOUT;
	r = kernel_bind(sock, (struct sockaddr *)&link->addr, link->addrlen);
	if (!r)
		r = kernel_listen(sock, 8);
	if (r) {
		sock_release(sock);
		return r;
	}
	link->listener = sock;
	return 0;
}

/* Wait for a first header and peek at it: it names the lane. */
static int hm_peek_header(struct socket *sock, struct hm_hdr *hdr)
{
	unsigned long deadline = jiffies + HM_HANDSHAKE_TIMEOUT;
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	struct kvec vec = { hdr, sizeof(*hdr) };
	int r;

	do {
		r = kernel_recvmsg(sock, &msg, &vec, 1, sizeof(*hdr),
				   MSG_PEEK | MSG_WAITALL);
		if (r == sizeof(*hdr) || (r <= 0 && r != -EAGAIN))
			return r;
	} while (time_before(jiffies, deadline) && !kthread_should_stop());
	return -ETIMEDOUT;
}

/*
 * Authenticate an accepted connection, then install it as the lane its
 * HELLO named. A newly authenticated lane replaces a stale one of the same
 * number: after a failure the source reconnects before we may have noticed.
 */
static void hm_server_handshake(struct hm_link *link, struct socket *sock)
{
	struct hm_lane_conn *probe = &link->probe;
	struct hm_hdr hdr;
	struct hm_lane_conn *lc;
	int r;

	hm_sock_setup(sock);
	r = hm_peek_header(sock, &hdr);
	if (r != sizeof(hdr) || hdr.lane >= HM_NR_LANES) {
		hm_link_error(link, r < 0 ? hm_errno_name(r) : "bad_frame", false);
		sock_release(sock);
		return;
	}

	memset(probe, 0, sizeof(*probe));
	probe->link = link;
	probe->sock = sock;
	probe->lane = hdr.lane;
	mutex_init(&probe->tx_lock);
	r = hm_handshake_server(link, probe);
	mutex_destroy(&probe->tx_lock);
	if (r) {
		hm_lane_free_keys(probe);
		sock_release(sock);
		return;
	}

	/* The source opens a session with lane 0: end any older one. */
	if (hdr.lane == HM_LANE_CONTROL) {
		hm_server_end_session(link);
		WRITE_ONCE(link->generation, link->generation + 1);
		atomic_set(&link->broken, 0);
		hm_link_set_state(link, HM_LINK_LISTENING);
	}
	lc = &link->lanes[hdr.lane];
	hm_lane_close(lc);
	hm_lane_attach(lc, sock);
	mutex_lock(&lc->tx_lock);
	lc->tx_seq = probe->tx_seq;
	lc->rx_seq = probe->rx_seq;
	lc->tx = probe->tx;
	lc->rx = probe->rx;
	mutex_unlock(&lc->tx_lock);
	if (hm_lane_start(link, lc)) {
		hm_lane_close(lc);
		return;
	}
	if (hm_link_all_lanes_up(link)) {
		if (link->was_connected)
			link->reconnects++;
		link->was_connected = true;
		hm_link_connected(link);
	}
}

/*
 * The destination's supervisor: accept and authenticate lanes; when one
 * fails, drop the whole link and wait for the source to come back.
 */
static int hm_server_thread(void *data)
{
	struct hm_link *link = data;
	struct socket *sock;
	int r;

	hm_link_set_state(link, HM_LINK_LISTENING);
	while (!kthread_should_stop()) {
		if (atomic_read(&link->broken)) {
			/* Closed first: the other lane keeps the first error. */
			hm_server_end_session(link);
			atomic_set(&link->broken, 0);
			hm_link_set_state(link, HM_LINK_LISTENING);
		}
		r = kernel_accept(link->listener, &sock, 0);
		if (r == -EAGAIN || r == -EINTR || r == -ERESTARTSYS)
			continue;
		if (r) {
			/* Out of memory or the like: do not spin. */
			schedule_timeout_interruptible(HM_BACKOFF_MIN);
			continue;
		}
		hm_server_handshake(link, sock);
	}
	hm_server_end_session(link);
	return 0;
}

/* ---- Link setup and teardown ---- */

/* Parse "a.b.c.d:port" or "[v6addr]:port". */
static int hm_parse_addr(const char *s, struct sockaddr_storage *ss, int *len)
{
	const char *colon = strrchr(s, ':');
	const char *end;
	u16 port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || kstrtou16(colon + 1, 10, &port) || !port)
		return -EINVAL;

	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (colon - s < 3 || colon[-1] != ']' ||
		    !in6_pton(s + 1, colon - s - 2, sin6->sin6_addr.s6_addr, -1,
			      &end) || end != colon - 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (!in4_pton(s, colon - s, (u8 *)&sin->sin_addr.s_addr, -1,
			      &end) || end != colon)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	}
	return 0;
}

/*
 * Key the link's authentication HMAC with the secret of a "logon" key. The
 * secret is copied only into the crypto transform, never logged or shown.
 */
static int hm_link_load_key(struct hm_link *link, const char *desc)
{
	const struct user_key_payload *payload;
	struct key *key;
	int r;

	key = request_key(&key_type_logon, desc, NULL);
	if (IS_ERR(key)) {
		DMERR("%s: logon key \"%s\" not found in the caller's keyrings",
		      link->dev_name, desc);
		return PTR_ERR(key);
	}

	down_read(&key->sem);
	payload = user_key_payload_locked(key);
	if (!payload) {
		r = -EKEYREVOKED;
	} else if (payload->datalen < HM_SECRET_MIN ||
		   payload->datalen > HM_SECRET_MAX) {
		DMERR("%s: logon key \"%s\": the secret must be %u to %u bytes",
		      link->dev_name, desc, HM_SECRET_MIN, HM_SECRET_MAX);
		r = -EKEYREJECTED;
	} else {
		link->auth = hm_alloc_hmac(payload->data, payload->datalen);
		r = PTR_ERR_OR_ZERO(link->auth);
		if (r)
			link->auth = NULL;
	}
	up_read(&key->sem);
	key_put(key);
	return r;
}

static void hm_link_free(struct hm_link *link)
{
	if (link->listener)
		sock_release(link->listener);
	if (link->auth)
		crypto_free_shash(link->auth);
	if (link->net)
		put_net(link->net);
	kfree(link);
}

/*
 * Start the link of @hd: the source connects to @addr, the destination
 * listens on it. The socket lives in the network namespace of the process
 * that sent the message. Called under hd->msg_lock.
 */
int hm_link_start(struct hm_dev *hd, const char *dev_name, bool server,
		  const char *addr, const char *key_desc)
{
	struct hm_link *link;
	struct task_struct *t;
	unsigned int i;
	int r;

	if (hd->link) {
		DMERR("%s: a link is already open; send disconnect first",
		      dev_name);
		return -EBUSY;
	}

	link = kzalloc(sizeof(*link), GFP_KERNEL);
	if (!link)
		return -ENOMEM;
	link->hd = hd;
	link->server = server;
	link->state = server ? HM_LINK_LISTENING : HM_LINK_CONNECTING;
	strscpy(link->dev_name, dev_name, sizeof(link->dev_name));
	strscpy(link->addr_str, addr, sizeof(link->addr_str));
	init_waitqueue_head(&link->wait);
	for (i = 0; i < HM_NR_LANES; i++) {
		link->lanes[i].link = link;
		link->lanes[i].lane = i;
		mutex_init(&link->lanes[i].tx_lock);
	}

	r = hm_parse_addr(addr, &link->addr, &link->addrlen);
	if (r) {
		DMERR("%s: invalid address \"%s\": expected a.b.c.d:port or [v6]:port",
		      dev_name, addr);
		goto bad;
	}
	r = hm_link_load_key(link, key_desc);
	if (r)
		goto bad;
	link->net = get_net(current->nsproxy->net_ns);

	r = server ? hm_receiver_create(hd) : hm_pusher_create(hd, dev_name);
	if (r)
		goto bad;

	if (server) {
		r = hm_server_listen(link);
		if (r) {
			DMERR("%s: cannot listen on %s: error %d", dev_name, addr, r);
			goto bad;
		}
	}

	t = kthread_create(server ? hm_server_thread : hm_client_thread, link,
			   "hm-%s/%s", server ? "listen" : "connect", dev_name);
	if (IS_ERR(t)) {
		r = PTR_ERR(t);
		goto bad;
	}
	get_task_struct(t);
	link->thread = t;
	mutex_lock(&hd->link_lock);
	WRITE_ONCE(hd->link, link);
	mutex_unlock(&hd->link_lock);
	wake_up_process(t);
	hm_dev_event(hd);
	return 0;

bad:
	hm_receiver_destroy(hd);
	hm_pusher_destroy(hd);
	hm_link_free(link);
	return r;
}

/*
 * Close the link of @hd, if any. Called under hd->msg_lock, or at free;
 * status may look at the link until it is unpublished under link_lock.
 */
void hm_link_stop(struct hm_dev *hd)
{
	struct hm_link *link = hd->link;

	if (!link)
		return;
	mutex_lock(&hd->link_lock);
	WRITE_ONCE(hd->link, NULL);
	mutex_unlock(&hd->link_lock);
	if (link->listener)
		kernel_sock_shutdown(link->listener, SHUT_RDWR);
	kthread_stop(link->thread);
	put_task_struct(link->thread);
	/* The lanes are closed: no frame reaches the engines any more. */
	hm_receiver_destroy(hd);
	hm_pusher_destroy(hd);
	hm_link_free(link);
	hm_dev_event(hd);
}

/*
 * Send a frame to the peer on the lane of its type. Callers run only while
 * the link exists (the engines are stopped before it is freed).
 */
int hm_link_send(struct hm_dev *hd, u8 type, const void *payload, u32 len)
{
	struct hm_link *link = READ_ONCE(hd->link);

	if (!link)
		return -ENOTCONN;
	return hm_lane_send(link, &link->lanes[hm_frame_lane(type)], type,
			    payload, len);
}

/* The session now on the lanes; a frame may be bound to it. */
u64 hm_link_generation(struct hm_dev *hd)
{
	struct hm_link *link = READ_ONCE(hd->link);

	return link ? READ_ONCE(link->generation) : 0;
}

/*
 * Send a frame with data: @head, then @len bytes of @buf from @offset, in
 * session @generation only (0: any).
 */
int hm_link_send_buf(struct hm_dev *hd, u64 generation, u8 type,
		     const void *head, u32 head_len, struct hm_buf *buf,
		     unsigned int offset, unsigned int len)
{
	struct hm_link *link = READ_ONCE(hd->link);

	if (!link)
		return -ENOTCONN;
	return hm_lane_send_frame(link, &link->lanes[hm_frame_lane(type)],
				  generation, type, head, head_len, buf, offset,
				  len);
}

/* A migration error that ends the link: status and an event say why. */
void hm_link_set_error(struct hm_dev *hd, const char *error)
{
	struct hm_link *link = READ_ONCE(hd->link);

	if (link)
		hm_link_error(link, error, true);
}

/*
 * Send @count PINGs over every lane, back to back: a link check, and a way
 * to keep the link busy in tests. Stops at the first error. Called under
 * hd->msg_lock; returns the number sent, or a negative error.
 */
long hm_link_ping(struct hm_dev *hd, unsigned int count)
{
	struct hm_link *link = hd->link;
	struct hm_ping ping;
	unsigned int i, lane;
	int r;

	if (!link || READ_ONCE(link->state) != HM_LINK_CONNECTED)
		return -ENOTCONN;
	for (i = 0; i < count; i++) {
		ping.cookie = cpu_to_be64(i);
		for (lane = 0; lane < HM_NR_LANES; lane++) {
			r = hm_lane_send(link, &link->lanes[lane], HM_FRAME_PING,
					 &ping, sizeof(ping));
			if (r)
				return r;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return count;
}

static const char *hm_link_state_name(enum hm_link_state state)
{
	switch (state) {
	case HM_LINK_CONNECTING:
		return "connecting";
	case HM_LINK_LISTENING:
		return "listening";
	case HM_LINK_CONNECTED:
		return "connected";
	case HM_LINK_RETRYING:
		return "retrying";
	}
	return "unknown";
}

/*
 * <link_state> <address> <reconnects> <last_error> <tx_bytes> <rx_bytes>
 * <tx_frames> <rx_frames>
 */
void hm_link_emit_status(struct hm_dev *hd, char *result, unsigned int maxlen,
			 unsigned int *size)
{
	struct hm_link *link = hd->link;
	unsigned int sz = *size;
	const char *error;

	if (!link) {
		DMEMIT(" none - 0 - 0 0 0 0");
		*size = sz;
		return;
	}
	error = READ_ONCE(link->last_error);
	DMEMIT(" %s %s %u %s %lld %lld %lld %lld",
	       hm_link_state_name(READ_ONCE(link->state)), link->addr_str,
	       link->reconnects, error ? error : "-",
	       atomic64_read(&link->tx_bytes), atomic64_read(&link->rx_bytes),
	       atomic64_read(&link->tx_frames), atomic64_read(&link->rx_frames));
	*size = sz;
}
