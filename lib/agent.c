/* agent.c: the key agent (`galsmime agent`) and its client.
 *
 * The agent holds unlocked private keys and performs only private-key
 * operations with them: an RSA signature or decryption, an ECDSA
 * signature, an ECDH agreement. Keys never leave it. A client gets an
 * EVP_PKEY built from the certificate's public key whose private
 * operations are an RSA_METHOD / EC_KEY_METHOD that asks the agent:
 * OpenSSL 3.0's CMS code takes such a key for CMS_add1_signer and
 * CMS_decrypt_set1_pkey_and_peer (RSA PKCS#1 v1.5 and OAEP, whose
 * padding OpenSSL removes itself after a raw decryption; ECDSA; ECDH for
 * key agreement), as it takes libp11's token keys.
 *
 * The client sends the key as stored (encrypted PKCS#8) with UNLOCK; the
 * agent asks pinentry for the passphrase on the client's terminal and
 * caches the opened key, keyed by the certificate's SHA-256. A key on a
 * token goes the same way with its URI and certificate instead: the
 * agent logs in (the PIN through pinentry) and keeps the login.
 *
 * One thread per connection; the cache and pinentry each have a lock
 * (one prompt at a time: eight clients waiting for the same key get one
 * prompt, the others find the key cached). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "gs-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

/* ------------------------------------------------------------------ */
/* Messages on a socket                                                */
/* ------------------------------------------------------------------ */

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t) w;
	}
	return 0;
}

static int
read_all(int fd, unsigned char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t) r;
	}
	return 0;
}

gs_status
gs_agent_send(int fd, const gs_agent_msg *m, char **errmsg)
{
	GByteArray *a = NULL;
	gs_status st = gs_agent_encode(m, &a, errmsg);
	int r;

	if (st != GS_OK)
		return st;
	r = write_all(fd, a->data, a->len);
	OPENSSL_cleanse(a->data, a->len);
	g_byte_array_unref(a);
	return r ? gs_fail(errmsg, GS_E_AGENT_LOST, "the galsmime agent went away") : GS_OK;
}

gs_status
gs_agent_recv(int fd, int reply, GByteArray **buf, gs_agent_msg *m, char **errmsg)
{
	unsigned char hdr[GS_AGENT_HEADER];
	unsigned version;
	size_t n;
	gs_status st;

	*buf = NULL;
	if (read_all(fd, hdr, sizeof hdr))
		return gs_fail(errmsg, GS_E_AGENT_LOST, "the galsmime agent went away");
	if ((st = gs_agent_header(hdr, &version, &n, errmsg)) != GS_OK)
		return st;
	*buf = g_byte_array_sized_new((guint) (sizeof hdr + n));
	g_byte_array_append(*buf, hdr, sizeof hdr);
	g_byte_array_set_size(*buf, (guint) (sizeof hdr + n));
	if (read_all(fd, (*buf)->data + sizeof hdr, n))
		return gs_fail(errmsg, GS_E_AGENT_LOST, "the galsmime agent went away");
	return gs_agent_parse((*buf)->data, (*buf)->len, reply, m, errmsg);
}

void
gs_agent_wipe(GByteArray *b)
{
	if (b) {
		OPENSSL_cleanse(b->data, b->len);
		g_byte_array_unref(b);
	}
}

static void
set_field(gs_agent_msg *m, gs_agent_tag t, const void *p, size_t len)
{
	m->f[t].p = p;
	m->f[t].len = len;
}

static void
set_str(gs_agent_msg *m, gs_agent_tag t, const char *s)
{
	if (s)
		set_field(m, t, s, strlen(s));
}

/* ------------------------------------------------------------------ */
/* The client                                                          */
/* ------------------------------------------------------------------ */

struct gs_agent {
	int fd;
	char *ttyname, *ttytype, *display, *wayland;
	pthread_mutex_t lock;    /* one request at a time on the connection */
};

gs_status
gs_agent_connect(const char *path, gs_agent **out, char **errmsg)
{
	return gs_agent_connect_within(path, 0, out, errmsg);
}

gs_status
gs_agent_connect_within(const char *path, int timeout_ms, gs_agent **out, char **errmsg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	gs_agent_msg req = { .version = GS_AGENT_PROTOCOL, .code = GS_AGENT_HELLO }, rep;
	GByteArray *buf = NULL;
	gs_agent *a;
	gs_status st;
	int fd;

	*out = NULL;
	if (!path)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_agent_connect: no path");
	if (strlen(path) >= sizeof sa.sun_path)
		return gs_fail(errmsg, GS_E_USAGE, "agent socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return gs_fail(errmsg, GS_E_IO, "socket: %s", g_strerror(errno));
	if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return gs_fail(errmsg, e == ENOENT || e == ECONNREFUSED ? GS_E_NOT_FOUND : GS_E_IO,
			       "no agent at %s: %s", path, g_strerror(e));
	}
	if (timeout_ms > 0) {
		struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	if ((st = gs_agent_send(fd, &req, errmsg)) == GS_OK) {
		char *why = NULL;
		st = gs_agent_recv(fd, 1, &buf, &rep, &why);
		if (st == GS_E_UNSUPPORTED)
			gs_fail(errmsg, st, "the agent speaks protocol %u, this galsmime %u", rep.version,
				GS_AGENT_PROTOCOL);
		else if (st == GS_OK && rep.code != GS_AGENT_OK)
			st = gs_fail(errmsg, GS_E_UNSUPPORTED, "the agent refused this galsmime (%.*s)",
				     rep.f[GS_AGENT_F_TEXT].p ? (int) rep.f[GS_AGENT_F_TEXT].len : 0,
				     rep.f[GS_AGENT_F_TEXT].p ? (const char *) rep.f[GS_AGENT_F_TEXT].p : "");
		else if (st != GS_OK && errmsg)
			*errmsg = g_strdup(why);
		g_free(why);
	}
	gs_agent_wipe(buf);
	if (timeout_ms > 0) {
		struct timeval none = { 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	}
	if (st != GS_OK) {
		close(fd);
		return st;
	}
	a = g_new0(gs_agent, 1);
	a->fd = fd;
	pthread_mutex_init(&a->lock, NULL);
	*out = a;
	return GS_OK;
}

void
gs_agent_close(gs_agent *a)
{
	if (!a)
		return;
	close(a->fd);
	g_free(a->ttyname);
	g_free(a->ttytype);
	g_free(a->display);
	g_free(a->wayland);
	pthread_mutex_destroy(&a->lock);
	g_free(a);
}

int
gs_agent_idle(gs_agent *a)
{
	struct pollfd p;

	if (!a)
		return 0;
	p.fd = a->fd;
	p.events = POLLIN | POLLRDHUP;
	p.revents = 0;
	return poll(&p, 1, 0) == 0;
}

void
gs_agent_set_terminal(gs_agent *a, const gs_pinentry_where *w)
{
	g_free(a->ttyname);
	g_free(a->ttytype);
	g_free(a->display);
	g_free(a->wayland);
	a->ttyname = g_strdup(w ? w->tty : NULL);
	a->ttytype = g_strdup(w ? w->ttytype : NULL);
	a->display = g_strdup(w ? w->display : NULL);
	a->wayland = g_strdup(w ? w->wayland_display : NULL);
}

/* One request and its response (*buf new: the reply's fields are in it). */
static gs_status
call(gs_agent *a, const gs_agent_msg *req, gs_agent_msg *rep, GByteArray **buf, char **errmsg)
{
	gs_status st;

	pthread_mutex_lock(&a->lock);
	st = gs_agent_send(a->fd, req, errmsg);
	if (st == GS_OK)
		st = gs_agent_recv(a->fd, 1, buf, rep, errmsg);
	else
		*buf = NULL;
	pthread_mutex_unlock(&a->lock);
	return st;
}

/* A reply's status as a library status, with the agent's text. */
static gs_status
reply_status(const gs_agent_msg *rep, char **errmsg)
{
	static const gs_status map[] = {
		[GS_AGENT_OK] = GS_OK,
		[GS_AGENT_E_VERSION] = GS_E_UNSUPPORTED,
		[GS_AGENT_E_REFUSED] = GS_E_INTERNAL,
		[GS_AGENT_E_NOT_CACHED] = GS_E_PASSPHRASE,
		[GS_AGENT_E_CANCELLED] = GS_E_PASSPHRASE,
		[GS_AGENT_E_PINENTRY] = GS_E_PASSPHRASE,
		[GS_AGENT_E_BADPASS] = GS_E_PASSPHRASE,
		[GS_AGENT_E_FAILED] = GS_E_INTERNAL,
		[GS_AGENT_E_NO_KEY] = GS_E_NO_KEY,
	};
	if (rep->code == GS_AGENT_OK)
		return GS_OK;
	return gs_fail(errmsg, map[rep->code], "%.*s",
		       rep->f[GS_AGENT_F_TEXT].p ? (int) rep->f[GS_AGENT_F_TEXT].len : 5,
		       rep->f[GS_AGENT_F_TEXT].p ? (const char *) rep->f[GS_AGENT_F_TEXT].p : "agent");
}

gs_status
gs_agent_command(gs_agent *a, gs_agent_op op, const char *keyid, char **text, char **errmsg)
{
	gs_agent_msg req = { .version = GS_AGENT_PROTOCOL, .code = op }, rep;
	GByteArray *buf = NULL;
	gs_status st;

	if (text)
		*text = NULL;
	if (!a || (op != GS_AGENT_STATUS && op != GS_AGENT_FORGET && op != GS_AGENT_STOP &&
		   op != GS_AGENT_HELLO))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_agent_command: bad arguments");
	if (op == GS_AGENT_FORGET)
		set_str(&req, GS_AGENT_F_KEYID, keyid);
	if ((st = call(a, &req, &rep, &buf, errmsg)) == GS_OK && (st = reply_status(&rep, errmsg)) == GS_OK &&
	    text && rep.f[GS_AGENT_F_TEXT].p)
		*text = g_strndup((const char *) rep.f[GS_AGENT_F_TEXT].p, rep.f[GS_AGENT_F_TEXT].len);
	gs_agent_wipe(buf);
	return st;
}

/* ---- keys whose private operations are the agent's ---- */

typedef struct proxy {
	gs_agent *agent;        /* borrowed: outlives the key (the caller's) */
	char keyid[65];
	unsigned char *blob;    /* the stored (encrypted) key, to unlock again */
	size_t blob_len;
	char *uri, *module;     /* or a token key's URI (and module) */
	unsigned char *cert;    /* and its certificate (DER) */
	size_t cert_len;
	char *desc;
	gs_status failure;      /* why the last operation failed (GS_OK: none) */
	char *failmsg;
} proxy;

static int rsa_idx = -1, ec_idx = -1;
static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;

static void
proxy_free(proxy *p)
{
	if (!p)
		return;
	gs_secret_free(p->blob, p->blob_len);
	g_free(p->uri);
	g_free(p->module);
	g_free(p->cert);
	g_free(p->desc);
	g_free(p->failmsg);
	g_free(p);
}

static void
proxy_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	proxy_free(ptr);
}

/* UNLOCK: the key is cached after this, asking pinentry when needed. */
static gs_status
unlock(gs_agent *a, const proxy *p, char **errmsg)
{
	gs_agent_msg req = { .version = GS_AGENT_PROTOCOL, .code = GS_AGENT_UNLOCK }, rep;
	GByteArray *buf = NULL;
	const char *desc = p->desc;
	gs_status st;

	set_str(&req, GS_AGENT_F_KEYID, p->keyid);
	if (p->uri) {
		set_str(&req, GS_AGENT_F_URI, p->uri);
		set_str(&req, GS_AGENT_F_MODULE, p->module);
		set_field(&req, GS_AGENT_F_CERT, p->cert, p->cert_len);
	} else {
		set_field(&req, GS_AGENT_F_BLOB, p->blob, p->blob_len);
	}
	if (desc && strlen(desc) <= 1024)
		set_str(&req, GS_AGENT_F_DESC, desc);
	if (a->ttyname && strlen(a->ttyname) <= 256)
		set_str(&req, GS_AGENT_F_TTYNAME, a->ttyname);
	if (a->ttytype && strlen(a->ttytype) <= 64)
		set_str(&req, GS_AGENT_F_TTYTYPE, a->ttytype);
	if (a->display && strlen(a->display) <= 256)
		set_str(&req, GS_AGENT_F_DISPLAY, a->display);
	if (a->wayland && strlen(a->wayland) <= 256)
		set_str(&req, GS_AGENT_F_WAYLAND, a->wayland);
	if ((st = call(a, &req, &rep, &buf, errmsg)) == GS_OK)
		st = reply_status(&rep, errmsg);
	gs_agent_wipe(buf);
	return st;
}

/* One private-key operation; the key unlocked again (once) when the
 * agent's cache let it go. Returns the result's length, or -1 with
 * p->failure set and an OpenSSL error raised. */
static int
proxy_op(proxy *p, gs_agent_op op, int padding, const unsigned char *in, size_t inlen, unsigned char *out,
	 size_t outmax)
{
	unsigned char pad = (unsigned char) padding;
	int tries, n = -1;
	gs_status st = GS_OK;
	char *msg = NULL;

	for (tries = 0; tries < 2; tries++) {
		gs_agent_msg req = { .version = GS_AGENT_PROTOCOL, .code = op }, rep;
		GByteArray *buf = NULL;

		set_str(&req, GS_AGENT_F_KEYID, p->keyid);
		set_field(&req, GS_AGENT_F_DATA, in, inlen);
		if (op == GS_AGENT_RSA_SIGN || op == GS_AGENT_RSA_DECRYPT)
			set_field(&req, GS_AGENT_F_PADDING, &pad, 1);
		g_free(msg);
		msg = NULL;
		st = call(p->agent, &req, &rep, &buf, &msg);
		if (st == GS_OK && rep.code == GS_AGENT_E_NOT_CACHED && tries == 0) {
			gs_agent_wipe(buf);
			g_free(msg);
			msg = NULL;
			if ((st = unlock(p->agent, p, &msg)) != GS_OK)
				break;
			continue;
		}
		if (st == GS_OK && (st = reply_status(&rep, &msg)) == GS_OK) {
			const gs_agent_msg *r = &rep;
			if (!r->f[GS_AGENT_F_DATA].p || r->f[GS_AGENT_F_DATA].len > outmax) {
				st = gs_fail(&msg, GS_E_INTERNAL, "the agent's answer does not fit");
			} else {
				memcpy(out, r->f[GS_AGENT_F_DATA].p, r->f[GS_AGENT_F_DATA].len);
				n = (int) r->f[GS_AGENT_F_DATA].len;
			}
		}
		gs_agent_wipe(buf);
		break;
	}
	if (n < 0) {
		p->failure = st != GS_OK ? st : GS_E_INTERNAL;
		g_free(p->failmsg);
		p->failmsg = msg;
		ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "galsmime agent: %s", msg ? msg : "failed");
	} else {
		g_free(msg);
	}
	return n;
}

static int
rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
	return proxy_op(RSA_get_ex_data(rsa, rsa_idx), GS_AGENT_RSA_SIGN, padding, from, (size_t) flen, to,
			(size_t) RSA_size(rsa));
}

static int
rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa, int padding)
{
	return proxy_op(RSA_get_ex_data(rsa, rsa_idx), GS_AGENT_RSA_DECRYPT, padding, from, (size_t) flen,
			to, (size_t) RSA_size(rsa));
}

static int
ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig, unsigned int *siglen,
	const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey)
{
	int n = proxy_op(EC_KEY_get_ex_data(eckey, ec_idx), GS_AGENT_ECDSA_SIGN, 0, dgst, (size_t) dlen, sig,
			 (size_t) ECDSA_size(eckey));

	if (n < 0)
		return 0;
	*siglen = (unsigned) n;
	return 1;
}

static ECDSA_SIG *
ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey)
{
	unsigned char sig[256];
	const unsigned char *p = sig;
	unsigned int n = 0;

	if ((size_t) ECDSA_size(eckey) > sizeof sig || !ec_sign(0, dgst, dlen, sig, &n, kinv, r, eckey))
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, n);
}

static int
ec_compute_key(unsigned char **psec, size_t *pseclen, const EC_POINT *pub, const EC_KEY *ecdh)
{
	const EC_GROUP *g = EC_KEY_get0_group(ecdh);
	unsigned char pt[300], sec[200];
	size_t ptlen = EC_POINT_point2oct(g, pub, POINT_CONVERSION_UNCOMPRESSED, pt, sizeof pt, NULL);
	int n;

	if (!ptlen)
		return 0;
	n = proxy_op(EC_KEY_get_ex_data(ecdh, ec_idx), GS_AGENT_ECDH, 0, pt, ptlen, sec, sizeof sec);
	if (n <= 0 || !(*psec = OPENSSL_malloc((size_t) n)))
		return 0;
	memcpy(*psec, sec, (size_t) n);
	OPENSSL_cleanse(sec, sizeof sec);
	*pseclen = (size_t) n;
	return 1;
}

static gpointer
methods_init(gpointer unused)
{
	int (*setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

	rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, proxy_ex_free);
	ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, proxy_ex_free);
	rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	RSA_meth_set1_name(rsa_meth, "galsmime agent");
	RSA_meth_set_priv_enc(rsa_meth, rsa_priv_enc);
	RSA_meth_set_priv_dec(rsa_meth, rsa_priv_dec);
	ec_meth = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	EC_KEY_METHOD_get_sign(ec_meth, NULL, &setup, NULL);
	EC_KEY_METHOD_set_sign(ec_meth, ec_sign, setup, ec_sign_sig);
	EC_KEY_METHOD_set_compute_key(ec_meth, ec_compute_key);
	return NULL;
}

/* The EVP_PKEY of `cert`'s public key whose private operations the
 * agent performs; p is the key's from then on. */
static gs_status
proxy_key(X509 *cert, proxy *p, EVP_PKEY **out, char **errmsg)
{
	static GOnce once = G_ONCE_INIT;
	EVP_PKEY *pub = X509_get0_pubkey(cert), *k = EVP_PKEY_new();

	g_once(&once, methods_init, NULL);
	*out = NULL;
	if (pub && k && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		RSA *r = RSAPublicKey_dup(EVP_PKEY_get0_RSA(pub));
		if (r && RSA_set_method(r, rsa_meth) && RSA_set_ex_data(r, rsa_idx, p) &&
		    EVP_PKEY_assign_RSA(k, r)) {
			*out = k;
			return GS_OK;
		}
		RSA_free(r);
	} else if (pub && k && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		EC_KEY *e = EC_KEY_dup(EVP_PKEY_get0_EC_KEY(pub));
		if (e && EC_KEY_set_method(e, ec_meth) && EC_KEY_set_ex_data(e, ec_idx, p) &&
		    EVP_PKEY_assign_EC_KEY(k, e)) {
			*out = k;
			return GS_OK;
		}
		EC_KEY_free(e);
	} else {
		EVP_PKEY_free(k);
		proxy_free(p);
		return gs_fail(errmsg, GS_E_UNSUPPORTED, "the agent holds RSA and EC keys only");
	}
	EVP_PKEY_free(k);
	proxy_free(p);
	return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot make the agent's key");
}

static proxy *
proxy_of(EVP_PKEY *key)
{
	if (!key || rsa_idx < 0)
		return NULL;
	/* get0 on a key made by EVP_PKEY_assign_* is the object itself */
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_get0_RSA(key) &&
	    RSA_get_method(EVP_PKEY_get0_RSA(key)) == rsa_meth)
		return RSA_get_ex_data(EVP_PKEY_get0_RSA(key), rsa_idx);
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && EVP_PKEY_get0_EC_KEY(key) &&
	    EC_KEY_get_method(EVP_PKEY_get0_EC_KEY(key)) == ec_meth)
		return EC_KEY_get_ex_data(EVP_PKEY_get0_EC_KEY(key), ec_idx);
	return NULL;
}

gs_status
gs_agent_key_failure(EVP_PKEY *key, char **errmsg)
{
	proxy *p = proxy_of(key);

	if (!p || p->failure == GS_OK)
		return GS_OK;
	ERR_clear_error();
	return gs_fail(errmsg, p->failure, "%s", p->failmsg ? p->failmsg : "the galsmime agent failed");
}

/* Unlock p's key in the agent and make the key whose private
 * operations it performs (p is the key's from then on). */
static gs_status
open_proxy(gs_agent *a, X509 *cert, proxy *p, EVP_PKEY **key, char **errmsg)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *keyid;
	gs_status st;

	*key = NULL;
	p->agent = a;
	if (!X509_digest(cert, EVP_sha256(), md, &mdlen)) {
		proxy_free(p);
		return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot hash the certificate");
	}
	keyid = gs_hex(md, mdlen);
	g_strlcpy(p->keyid, keyid, sizeof p->keyid);
	g_free(keyid);
	if ((st = unlock(a, p, errmsg)) != GS_OK) {
		proxy_free(p);
		return st;
	}
	return proxy_key(cert, p, key, errmsg);
}

gs_status
gs_agent_open_key(gs_agent *a, X509 *cert, const unsigned char *blob, size_t blob_len, const char *desc,
		  EVP_PKEY **key, char **errmsg)
{
	proxy *p = g_new0(proxy, 1);

	p->blob = g_memdup2(blob, blob_len);
	p->blob_len = blob_len;
	p->desc = g_strdup(desc);
	return open_proxy(a, cert, p, key, errmsg);
}

gs_status
gs_agent_open_token_key(gs_agent *a, X509 *cert, const char *uri, const char *module, const char *whose,
			EVP_PKEY **key, char **errmsg)
{
	proxy *p = g_new0(proxy, 1);
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);

	if (n <= 0) {
		proxy_free(p);
		return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot encode the certificate");
	}
	p->cert = g_memdup2(der, (gsize) n);
	p->cert_len = (size_t) n;
	OPENSSL_free(der);
	p->uri = g_strdup(uri);
	p->module = g_strdup(module);
	p->desc = g_strdup(whose);
	return open_proxy(a, cert, p, key, errmsg);
}

gs_status
gs_agent_preset(gs_agent *a, gs_session *session, const char *address, const char *pass,
		size_t passlen, char **errmsg)
{
	gs_agent_msg req = { .version = GS_AGENT_PROTOCOL, .code = GS_AGENT_PRESET }, rep;
	GByteArray *buf = NULL;
	gs_identity *id = NULL;
	unsigned char md[32], *der = NULL;
	unsigned int mdlen = 0;
	char *keyid;
	gs_status st;

	if (!a || !session || (!pass && passlen))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_agent_preset: bad arguments");
	if ((st = gs_identity_for_address(session, address, &id, errmsg)) != GS_OK)
		return st;
	if (!id->encrypted && !id->token_uri) {
		gs_identity_free(id);
		return gs_fail(errmsg, GS_E_USAGE, "the key is not encrypted: it needs no agent");
	}
	if (!X509_digest(id->cert, EVP_sha256(), md, &mdlen)) {
		gs_identity_free(id);
		return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot hash the certificate");
	}
	keyid = gs_hex(md, mdlen);
	set_str(&req, GS_AGENT_F_KEYID, keyid);
	if (id->token_uri) {
		int n = i2d_X509(id->cert, &der);
		set_str(&req, GS_AGENT_F_URI, id->token_uri);
		set_str(&req, GS_AGENT_F_MODULE, session->p11_module);
		set_field(&req, GS_AGENT_F_CERT, der, n > 0 ? (size_t) n : 0);
	} else {
		set_field(&req, GS_AGENT_F_BLOB, id->blob, id->blob_len);
	}
	set_field(&req, GS_AGENT_F_PASS, pass, passlen);
	if ((st = call(a, &req, &rep, &buf, errmsg)) == GS_OK)
		st = reply_status(&rep, errmsg);
	gs_agent_wipe(buf);
	OPENSSL_free(der);
	g_free(keyid);
	gs_identity_free(id);
	return st;
}
