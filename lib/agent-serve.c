/* agent-serve.c: the agent's side (galsmime.h, "The key agent"): a
 * listening socket, a thread per client, the key cache with gpg-agent's
 * two expiry times, passphrases and token PINs asked through pinentry
 * (pinentry.c), and the token sessions (pkcs11.c) it keeps logged in.
 *
 * Keys are opened in OpenSSL's secure heap (CRYPTO_secure_malloc_init:
 * locked memory, never swapped, wiped when freed): the private numbers
 * of RSA and EC keys are secure BIGNUMs. Nothing here prints. */
#include "gs-private.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>

/* A token's session, logged in, shared by the keys cached from it: it
 * logs out when the last of them goes (expiry, forget, stop). */
typedef struct tok {
	gs_token *t;
	time_t opened;            /* the login: max_ttl counts from it */
	gint refs;
} tok;

/* A cached key: opened from its stored form, or found on a token. Held
 * by the cache and by each request using it. */
typedef struct entry {
	char keyid[65];
	EVP_PKEY *key;
	tok *token;               /* a token key: the session it lives in */
	time_t opened, used;
	gint refs;
} entry;

typedef struct server {
	gs_agent_opts opts;
	pthread_mutex_t lock;     /* cache, clients */
	pthread_mutex_t pinentry; /* one prompt at a time */
	GPtrArray *cache;         /* entry */
	int wake[2];              /* STOP writes here */
	int stopping;
	int locked_memory;
	unsigned clients;
} server;

static void
tok_unref(tok *k)
{
	if (k && g_atomic_int_dec_and_test(&k->refs)) {
		gs_token_free(k->t);
		g_free(k);
	}
}

static void
entry_unref(entry *e)
{
	if (e && g_atomic_int_dec_and_test(&e->refs)) {
		/* the token's key before its module */
		EVP_PKEY_free(e->key);
		tok_unref(e->token);
		OPENSSL_cleanse(e, sizeof *e);
		g_free(e);
	}
}

static time_t
boot_now(void)
{
	struct timespec ts;
	/* BOOTTIME: a suspended laptop's sleep counts towards expiry */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec;
}

static int
expired(const server *s, const entry *e, time_t now)
{
	return now - e->used >= (time_t) s->opts.default_ttl || now - e->opened >= (time_t) s->opts.max_ttl;
}

/* Forget expired keys (all when `all`, or the one `keyid`, or every
 * key of the token session `token`). Lock held. */
static void
sweep(server *s, int all, const char *keyid, const tok *token)
{
	time_t now = boot_now();
	guint i;

	for (i = s->cache->len; i-- > 0;) {
		entry *e = s->cache->pdata[i];
		if (all || (keyid && !strcmp(e->keyid, keyid)) || (token && e->token == token) ||
		    (!keyid && !token && expired(s, e, now)))
			g_ptr_array_remove_index(s->cache, i);
	}
}

/* The cached key (a new reference: entry_unref), its use time
 * refreshed; NULL when not cached or expired. */
static entry *
cached(server *s, const char *keyid)
{
	entry *k = NULL;
	guint i;

	pthread_mutex_lock(&s->lock);
	sweep(s, 0, NULL, NULL);
	for (i = 0; i < s->cache->len; i++) {
		entry *e = s->cache->pdata[i];
		if (!strcmp(e->keyid, keyid)) {
			e->used = boot_now();
			k = e;
			g_atomic_int_inc(&k->refs);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return k;
}

/* Cache `key` (taken) under keyid; `token` (a reference taken): the
 * token session it lives in. */
static void
cache_put(server *s, const char *keyid, EVP_PKEY *key, tok *token)
{
	entry *e = g_new0(entry, 1);

	g_strlcpy(e->keyid, keyid, sizeof e->keyid);
	e->key = key;
	e->token = token;
	e->refs = 1;
	e->used = boot_now();
	/* a key found in a session already open expires with its login */
	e->opened = token ? token->opened : e->used;
	pthread_mutex_lock(&s->lock);
	sweep(s, 0, keyid, NULL);
	g_ptr_array_add(s->cache, e);
	pthread_mutex_unlock(&s->lock);
}

/* Open an encrypted PKCS#8 blob with a passphrase: the key, or NULL. */
static EVP_PKEY *
open_blob(const unsigned char *blob, size_t len, const char *pass, size_t passlen)
{
	const unsigned char *p = blob;
	X509_SIG *sig = d2i_X509_SIG(NULL, &p, (long) len);
	PKCS8_PRIV_KEY_INFO *p8 = sig && p == blob + len ? PKCS8_decrypt(sig, pass, (int) passlen) : NULL;
	EVP_PKEY *k = p8 ? EVP_PKCS82PKEY(p8) : NULL;

	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_SIG_free(sig);
	ERR_clear_error();
	return k;
}

/* Where the client's pinentry asks: its terminal or display, the
 * agent's programs. Strings point into the request. */
static void
client_where(const server *s, const gs_agent_msg *m, gs_pinentry_where *w, char *strs[4])
{
	static const gs_agent_tag tags[4] = { GS_AGENT_F_TTYNAME, GS_AGENT_F_TTYTYPE, GS_AGENT_F_DISPLAY,
					      GS_AGENT_F_WAYLAND };
	int i;

	for (i = 0; i < 4; i++)
		strs[i] = m->f[tags[i]].p ? g_strndup((const char *) m->f[tags[i]].p, m->f[tags[i]].len) : NULL;
	w->program = s->opts.pinentry;
	w->graphical = s->opts.pinentry_graphical;
	w->tty = strs[0];
	w->ttytype = strs[1];
	w->display = strs[2];
	w->wayland_display = strs[3];
}

static char *
field_str(const gs_agent_msg *m, gs_agent_tag t)
{
	return m->f[t].p ? g_strndup((const char *) m->f[t].p, m->f[t].len) : NULL;
}

/* GS_AGENT_E_* of a failed unlock: how pinentry ended, or the status. */
static gs_agent_reply
unlock_reply(gs_status st, gs_pinentry_result how)
{
	if (st == GS_E_NO_KEY)
		return GS_AGENT_E_NO_KEY;
	if (how == GS_PINENTRY_CANCELLED)
		return GS_AGENT_E_CANCELLED;
	if (how == GS_PINENTRY_FAILED)
		return GS_AGENT_E_PINENTRY;
	return st == GS_E_PASSPHRASE ? GS_AGENT_E_BADPASS : GS_AGENT_E_FAILED;
}

/* GS_AGENT_E_* for an UNLOCK of a stored key that needs pinentry; the
 * key cached on OK. */
static gs_agent_reply
ask_pin(server *s, const gs_agent_msg *m, const char *keyid, char **text)
{
	char *desc = m->f[GS_AGENT_F_DESC].p ? field_str(m, GS_AGENT_F_DESC)
					     : g_strdup("galsmime needs the passphrase of your S/MIME key");
	gs_pinentry_result how = GS_PINENTRY_FAILED;
	gs_pinentry_where w;
	gs_pinentry *pe = NULL;
	EVP_PKEY *k = NULL;
	char *strs[4], *error = NULL;
	int attempt, i;

	client_where(s, m, &w, strs);
	if (gs_pinentry_open(&w, desc, "Passphrase:", &pe, text) == GS_OK) {
		for (attempt = 1; attempt <= GS_PINENTRY_TRIES && !k; attempt++) {
			char *pass = NULL;
			size_t len = 0;

			g_clear_pointer(text, g_free);
			if (attempt > 1)
				error = g_strdup_printf("Wrong passphrase (try %d of %d)", attempt, GS_PINENTRY_TRIES);
			how = gs_pinentry_get(pe, error, &pass, &len, text);
			g_clear_pointer(&error, g_free);
			if (how != GS_PINENTRY_OK)
				break;
			k = open_blob(m->f[GS_AGENT_F_BLOB].p, m->f[GS_AGENT_F_BLOB].len, pass, len);
			OPENSSL_secure_clear_free(pass, GS_PINENTRY_MAX);
		}
		gs_pinentry_close(pe);
	}
	for (i = 0; i < 4; i++)
		g_free(strs[i]);
	g_free(desc);
	if (k) {
		cache_put(s, keyid, k, NULL);
		return GS_AGENT_OK;
	}
	if (how == GS_PINENTRY_OK) {
		g_free(*text);
		*text = g_strdup_printf("wrong passphrase for the private key, %d times", GS_PINENTRY_TRIES);
		return GS_AGENT_E_BADPASS;
	}
	if (how == GS_PINENTRY_CANCELLED) {
		g_free(*text);
		*text = g_strdup("the passphrase was not given (pinentry cancelled)");
		return GS_AGENT_E_CANCELLED;
	}
	return GS_AGENT_E_PINENTRY;
}

/* A token session already logged in for the URI's token, or NULL (a new
 * reference). Lock held. */
static tok *
token_session(server *s, const char *uri, const char *module)
{
	guint i;

	for (i = 0; i < s->cache->len; i++) {
		entry *e = s->cache->pdata[i];
		if (e->token && gs_token_serves(e->token->t, uri, module)) {
			g_atomic_int_inc(&e->token->refs);
			return e->token;
		}
	}
	return NULL;
}

/* GS_AGENT_E_* for an UNLOCK (or a PRESET: its PASS is the PIN, tried
 * once) of a token key: the token's session (one already logged in, or
 * a new one whose PIN pinentry asks), the key found there and cached. */
static gs_agent_reply
open_token_key(server *s, const gs_agent_msg *m, const char *keyid, char **text)
{
	char *uri = field_str(m, GS_AGENT_F_URI), *module = field_str(m, GS_AGENT_F_MODULE);
	const unsigned char *der = m->f[GS_AGENT_F_CERT].p;
	X509 *cert = d2i_X509(NULL, &der, (long) m->f[GS_AGENT_F_CERT].len);
	gs_pinentry_result how = GS_PINENTRY_OK;
	EVP_PKEY *key = NULL;
	gs_status st = GS_OK;
	tok *k;

	if (!cert || der != m->f[GS_AGENT_F_CERT].p + m->f[GS_AGENT_F_CERT].len) {
		X509_free(cert);
		g_free(uri);
		g_free(module);
		ERR_clear_error();
		*text = g_strdup("the token key's certificate is not DER");
		return GS_AGENT_E_REFUSED;
	}
	pthread_mutex_lock(&s->lock);
	k = token_session(s, uri, module);
	pthread_mutex_unlock(&s->lock);
	if (!k) {
		gs_token *t = NULL;
		if ((st = gs_token_open(uri, module, &t, text)) == GS_OK) {
			if (m->code == GS_AGENT_PRESET) {
				char *pin = OPENSSL_secure_zalloc(m->f[GS_AGENT_F_PASS].len + 1);
				st = pin ? GS_OK : gs_fail(text, GS_E_INTERNAL, "out of secure memory");
				if (pin) {
					memcpy(pin, m->f[GS_AGENT_F_PASS].p, m->f[GS_AGENT_F_PASS].len);
					st = gs_token_login_pin(t, pin, text);
					OPENSSL_secure_clear_free(pin, m->f[GS_AGENT_F_PASS].len + 1);
				}
			} else {
				char *whose = field_str(m, GS_AGENT_F_DESC);
				char *desc = gs_token_pin_desc(gs_token_name(t), whose);
				gs_pinentry_where w;
				char *strs[4];
				int i;

				client_where(s, m, &w, strs);
				st = gs_token_login_pinentry(t, &w, desc, &how, text);
				for (i = 0; i < 4; i++)
					g_free(strs[i]);
				g_free(desc);
				g_free(whose);
			}
		}
		if (st == GS_OK) {
			k = g_new0(tok, 1);
			k->t = t;
			k->refs = 1;
			k->opened = boot_now();
		} else {
			gs_token_free(t);
		}
	}
	if (st == GS_OK && (st = gs_token_find_key(k->t, uri, cert, &key, text)) != GS_OK)
		tok_unref(k);
	X509_free(cert);
	g_free(uri);
	g_free(module);
	if (st != GS_OK)
		return unlock_reply(st, how);
	cache_put(s, keyid, key, k);
	return GS_AGENT_OK;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* The private-key operation: the result into out (at most 1024 bytes). */
static gs_agent_reply
key_op(server *s, const gs_agent_msg *m, entry *e, unsigned char *out, size_t *outlen, char **text)
{
	EVP_PKEY *k = e->key;
	const unsigned char *in = m->f[GS_AGENT_F_DATA].p;
	size_t inlen = m->f[GS_AGENT_F_DATA].len;
	int pad = m->f[GS_AGENT_F_PADDING].p ? m->f[GS_AGENT_F_PADDING].p[0] : 0;
	int base = EVP_PKEY_get_base_id(k), ok = 0;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	EVP_PKEY *peer = NULL;

	*outlen = 1024;
	switch (m->code) {
	case GS_AGENT_RSA_SIGN:
		ok = base == EVP_PKEY_RSA && pad == RSA_PKCS1_PADDING && EVP_PKEY_sign_init(c) > 0 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, pad) > 0 && EVP_PKEY_sign(c, out, outlen, in, inlen) > 0;
		break;
	case GS_AGENT_RSA_DECRYPT:
		ok = base == EVP_PKEY_RSA && (pad == RSA_PKCS1_PADDING || pad == RSA_NO_PADDING) &&
		     EVP_PKEY_decrypt_init(c) > 0 && EVP_PKEY_CTX_set_rsa_padding(c, pad) > 0 &&
		     EVP_PKEY_decrypt(c, out, outlen, in, inlen) > 0;
		break;
	case GS_AGENT_ECDSA_SIGN:
		ok = base == EVP_PKEY_EC && EVP_PKEY_sign_init(c) > 0 && EVP_PKEY_sign(c, out, outlen, in, inlen) > 0;
		break;
	case GS_AGENT_ECDH:
		peer = EVP_PKEY_new();
		ok = base == EVP_PKEY_EC && peer && EVP_PKEY_copy_parameters(peer, k) > 0 &&
		     EVP_PKEY_set1_encoded_public_key(peer, in, inlen) > 0 && EVP_PKEY_derive_init(c) > 0 &&
		     EVP_PKEY_derive_set_peer(c, peer) > 0 && EVP_PKEY_derive(c, out, outlen) > 0;
		break;
	}
	EVP_PKEY_free(peer);
	EVP_PKEY_CTX_free(c);
	if (!ok && e->token) {
		/* a token gone takes its session along: the next request
		 * opens it again (and says it is not present) */
		if (gs_token_failed(e->token->t, GS_E_INTERNAL, "the key operation failed", text) == GS_E_NO_KEY) {
			pthread_mutex_lock(&s->lock);
			sweep(s, 0, NULL, e->token);
			pthread_mutex_unlock(&s->lock);
			return GS_AGENT_E_NO_KEY;
		}
		return GS_AGENT_E_FAILED;
	}
	if (!ok) {
		char *why = gs_ssl_errors();
		*text = g_strdup_printf("the key operation failed%s%s", why ? ": " : "", why ? why : "");
		g_free(why);
		return GS_AGENT_E_FAILED;
	}
	return GS_AGENT_OK;
}

static char *
status_text(server *s)
{
	GString *t = g_string_new(NULL);
	time_t now = boot_now();
	guint i;

	pthread_mutex_lock(&s->lock);
	sweep(s, 0, NULL, NULL);
	g_string_append_printf(t, "pid %ld, protocol %u, keys in locked memory: %s, cache %us (at most %us)\n",
			       (long) getpid(), s->opts.protocol, s->locked_memory ? "yes" : "no",
			       s->opts.default_ttl, s->opts.max_ttl);
	for (i = 0; i < s->cache->len && t->len < 30000; i++) {
		entry *e = s->cache->pdata[i];
		long left = MIN((long) s->opts.default_ttl - (now - e->used),
				(long) s->opts.max_ttl - (now - e->opened));
		if (e->token)
			g_string_append_printf(t, "%s %lds on %s\n", e->keyid, left, gs_token_name(e->token->t));
		else
			g_string_append_printf(t, "%s %lds\n", e->keyid, left);
	}
	pthread_mutex_unlock(&s->lock);
	return g_string_free(t, FALSE);
}

/* Does an UNLOCK or PRESET name one key: a stored key (BLOB), or a
 * token key (URI CERT [MODULE])? */
static int
key_named(const gs_agent_msg *m)
{
	int blob = !!m->f[GS_AGENT_F_BLOB].p, uri = !!m->f[GS_AGENT_F_URI].p;

	return blob != uri && uri == !!m->f[GS_AGENT_F_CERT].p && (uri || !m->f[GS_AGENT_F_MODULE].p);
}

static void
serve_request(server *s, const gs_agent_msg *m, gs_agent_msg *rep, unsigned char *out, char **text)
{
	char keyid[65] = "";
	EVP_PKEY *k;
	entry *e;
	size_t n = 0;

	if (m->f[GS_AGENT_F_KEYID].p)
		memcpy(keyid, m->f[GS_AGENT_F_KEYID].p, 64);
	switch (m->code) {
	case GS_AGENT_HELLO:
		*text = g_strdup_printf("galsmime agent %s, pid %ld", GALSMIME_VERSION, (long) getpid());
		break;
	case GS_AGENT_STATUS:
		*text = status_text(s);
		break;
	case GS_AGENT_FORGET:
		pthread_mutex_lock(&s->lock);
		sweep(s, !*keyid, *keyid ? keyid : NULL, NULL);
		pthread_mutex_unlock(&s->lock);
		break;
	case GS_AGENT_STOP:
		pthread_mutex_lock(&s->lock);
		s->stopping = 1;
		pthread_mutex_unlock(&s->lock);
		if (write(s->wake[1], "x", 1) < 0) {
			/* the loop wakes within a second anyway */
		}
		break;
	case GS_AGENT_PRESET:
		if (!key_named(m)) {
			rep->code = GS_AGENT_E_REFUSED;
			*text = g_strdup("a stored key, or a token key's URI and certificate, is needed");
			break;
		}
		if (m->f[GS_AGENT_F_URI].p) {
			/* a PIN preset: the login it gives replaces none kept */
			pthread_mutex_lock(&s->pinentry);
			if ((e = cached(s, keyid)))
				entry_unref(e);
			else
				rep->code = open_token_key(s, m, keyid, text);
			pthread_mutex_unlock(&s->pinentry);
			break;
		}
		k = open_blob(m->f[GS_AGENT_F_BLOB].p, m->f[GS_AGENT_F_BLOB].len,
			      (const char *) m->f[GS_AGENT_F_PASS].p, m->f[GS_AGENT_F_PASS].len);
		if (!k) {
			rep->code = GS_AGENT_E_BADPASS;
			*text = g_strdup("wrong passphrase for the private key");
		} else {
			cache_put(s, keyid, k, NULL);
		}
		break;
	case GS_AGENT_UNLOCK:
		if (!key_named(m)) {
			rep->code = GS_AGENT_E_REFUSED;
			*text = g_strdup("a stored key, or a token key's URI and certificate, is needed");
			break;
		}
		if ((e = cached(s, keyid))) {
			entry_unref(e);
			break;
		}
		pthread_mutex_lock(&s->pinentry);
		/* another client may have unlocked it while this one waited */
		if ((e = cached(s, keyid)))
			entry_unref(e);
		else if (m->f[GS_AGENT_F_URI].p)
			rep->code = open_token_key(s, m, keyid, text);
		else
			rep->code = ask_pin(s, m, keyid, text);
		pthread_mutex_unlock(&s->pinentry);
		break;
	default:
		if (!(e = cached(s, keyid))) {
			rep->code = GS_AGENT_E_NOT_CACHED;
			*text = g_strdup("the key is not unlocked (or no longer)");
			break;
		}
		rep->code = key_op(s, m, e, out, &n, text);
		entry_unref(e);
		if (rep->code == GS_AGENT_OK) {
			rep->f[GS_AGENT_F_DATA].p = out;
			rep->f[GS_AGENT_F_DATA].len = n;
		}
	}
}

typedef struct client {
	server *s;
	int fd;
} client;

static void *
client_thread(void *arg)
{
	client *c = arg;
	server *s = c->s;
	unsigned char *out = OPENSSL_secure_zalloc(1024);

	for (;;) {
		gs_agent_msg m, rep = { .version = s->opts.protocol, .code = GS_AGENT_OK };
		GByteArray *buf = NULL;
		char *text = NULL, *why = NULL;
		gs_status st = gs_agent_recv(c->fd, 0, &buf, &m, &why);

		if (st == GS_E_AGENT_LOST) {
			g_free(why);
			gs_agent_wipe(buf);
			break;
		}
		if (st == GS_E_UNSUPPORTED || (st == GS_OK && m.version != s->opts.protocol)) {
			rep.code = GS_AGENT_E_VERSION;
			text = g_strdup_printf("this agent speaks protocol %u, the client %u: "
					       "stop it (galsmime agent stop) to start one of this version",
					       s->opts.protocol, m.version);
		} else if (st != GS_OK) {
			rep.code = GS_AGENT_E_REFUSED;
			text = why;
			why = NULL;
		} else if (!out) {
			rep.code = GS_AGENT_E_FAILED;
			text = g_strdup("the agent is out of locked memory");
		} else {
			serve_request(s, &m, &rep, out, &text);
		}
		if (text)
			rep.f[GS_AGENT_F_TEXT].p = (unsigned char *) text, rep.f[GS_AGENT_F_TEXT].len = MIN(strlen(text), 32768);
		st = gs_agent_send(c->fd, &rep, NULL);
		gs_agent_wipe(buf);
		if (out)
			OPENSSL_cleanse(out, 1024);
		g_free(text);
		g_free(why);
		/* a refused peer gets its answer, then the door */
		if (st != GS_OK || rep.code == GS_AGENT_E_REFUSED || rep.code == GS_AGENT_E_VERSION)
			break;
	}
	OPENSSL_secure_clear_free(out, 1024);
	close(c->fd);
	pthread_mutex_lock(&s->lock);
	s->clients--;
	pthread_mutex_unlock(&s->lock);
	g_free(c);
	return NULL;
}

gs_status
gs_agent_serve(int listen_fd, const gs_agent_opts *opts, char **errmsg)
{
	server s = { .opts = *opts };
	pthread_attr_t attr;
	struct stat own;

	if (listen_fd < 0 || !opts)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_agent_serve: bad arguments");
	if (!s.opts.protocol)
		s.opts.protocol = GS_AGENT_PROTOCOL;
	if (!s.opts.max_ttl)
		s.opts.max_ttl = 7200;
	if (!s.opts.default_ttl)
		s.opts.default_ttl = 600;
	/* locked memory for the keys: as much as the memlock limit allows */
	s.locked_memory = CRYPTO_secure_malloc_initialized() ||
			  CRYPTO_secure_malloc_init(256 * 1024, 32) == 1 ||
			  CRYPTO_secure_malloc_init(32 * 1024, 32) == 1;
	/* the socket file as bound (by the caller, just now) */
	if (opts->socket_path && stat(opts->socket_path, &own) < 0)
		return gs_fail(errmsg, GS_E_IO, "%s: %s", opts->socket_path, g_strerror(errno));
	if (pipe2(s.wake, O_CLOEXEC) < 0)
		return gs_fail(errmsg, GS_E_IO, "pipe: %s", g_strerror(errno));
	pthread_mutex_init(&s.lock, NULL);
	pthread_mutex_init(&s.pinentry, NULL);
	s.cache = g_ptr_array_new_with_free_func((GDestroyNotify) entry_unref);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = s.wake[0], .events = POLLIN } };
		int stop, fd;

		poll(p, 2, 1000);
		pthread_mutex_lock(&s.lock);
		sweep(&s, 0, NULL, NULL);
		stop = s.stopping;
		pthread_mutex_unlock(&s.lock);
		/* the socket removed or replaced (its folder deleted, a new
		 * agent): nobody can reach this one any more */
		if (s.opts.socket_path) {
			struct stat now;
			if (stat(s.opts.socket_path, &now) < 0 || now.st_ino != own.st_ino ||
			    now.st_dev != own.st_dev)
				stop = 1;
		}
		if (stop)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		{
			struct ucred cred;
			socklen_t len = sizeof cred;
			pthread_t t;
			client *c;

			/* only this user: SO_PEERCRED is the kernel's word */
			if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
				close(fd);
				continue;
			}
			c = g_new0(client, 1);
			c->s = &s;
			c->fd = fd;
			pthread_mutex_lock(&s.lock);
			s.clients++;
			pthread_mutex_unlock(&s.lock);
			if (pthread_create(&t, &attr, client_thread, c) != 0) {
				close(fd);
				g_free(c);
				pthread_mutex_lock(&s.lock);
				s.clients--;
				pthread_mutex_unlock(&s.lock);
			}
		}
	}
	if (s.opts.on_stop)
		s.opts.on_stop(s.opts.on_stop_data);
	/* the keys go first; then the clients get three seconds to finish
	 * (each holds its own reference for an operation under way) */
	pthread_mutex_lock(&s.lock);
	sweep(&s, 1, NULL, NULL);
	pthread_mutex_unlock(&s.lock);
	{
		int i, left = 1;
		for (i = 0; i < 300 && left; i++) {
			pthread_mutex_lock(&s.lock);
			left = s.clients;
			pthread_mutex_unlock(&s.lock);
			if (left)
				g_usleep(10000);
		}
	}
	g_ptr_array_free(s.cache, TRUE);
	pthread_attr_destroy(&attr);
	close(s.wake[0]);
	close(s.wake[1]);
	return GS_OK;
}
