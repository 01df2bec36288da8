/* agent-serve.c: the agent's side (galsmime.h, "The key agent"): a
 * listening socket, a thread per client, the key cache with gpg-agent's
 * two expiry times, and pinentry's Assuan exchange for passphrases.
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

#define PASS_MAX 1024
#define PIN_TRIES 3
#define LINE_MAX_ASSUAN 2048

typedef struct entry {
	char keyid[65];
	EVP_PKEY *key;
	time_t opened, used;
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
entry_free(entry *e)
{
	EVP_PKEY_free(e->key);
	OPENSSL_cleanse(e, sizeof *e);
	g_free(e);
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

/* Forget expired keys (all when `all`, or the one `keyid`). Lock held. */
static void
sweep(server *s, int all, const char *keyid)
{
	time_t now = boot_now();
	guint i;

	for (i = s->cache->len; i-- > 0;) {
		entry *e = s->cache->pdata[i];
		if (all || (keyid && !strcmp(e->keyid, keyid)) || (!keyid && expired(s, e, now)))
			g_ptr_array_remove_index(s->cache, i);
	}
}

/* The cached key (a new reference), its use time refreshed; NULL when
 * not cached or expired. */
static EVP_PKEY *
cached(server *s, const char *keyid)
{
	EVP_PKEY *k = NULL;
	guint i;

	pthread_mutex_lock(&s->lock);
	sweep(s, 0, NULL);
	for (i = 0; i < s->cache->len; i++) {
		entry *e = s->cache->pdata[i];
		if (!strcmp(e->keyid, keyid)) {
			e->used = boot_now();
			k = e->key;
			EVP_PKEY_up_ref(k);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return k;
}

static void
cache_put(server *s, const char *keyid, EVP_PKEY *key)
{
	entry *e = g_new0(entry, 1);

	g_strlcpy(e->keyid, keyid, sizeof e->keyid);
	e->key = key;
	e->opened = e->used = boot_now();
	pthread_mutex_lock(&s->lock);
	sweep(s, 0, keyid);
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

/* ------------------------------------------------------------------ */
/* pinentry (Assuan)                                                   */
/* ------------------------------------------------------------------ */

typedef struct pin {
	pid_t pid;
	int to, from;
	char line[LINE_MAX_ASSUAN];
	size_t have;              /* bytes buffered after the current line */
	char rbuf[LINE_MAX_ASSUAN];
} pin;

/* Read one line (without its LF) into p->line; -1 on EOF or overlong. */
static int
pin_line(pin *p)
{
	for (;;) {
		char *nl = memchr(p->rbuf, '\n', p->have);
		if (nl) {
			size_t n = (size_t) (nl - p->rbuf);
			memcpy(p->line, p->rbuf, n);
			p->line[n] = 0;
			memmove(p->rbuf, nl + 1, p->have - n - 1);
			OPENSSL_cleanse(p->rbuf + p->have - n - 1, n + 1);
			p->have -= n + 1;
			return 0;
		}
		if (p->have == sizeof p->rbuf)
			return -1;
		{
			ssize_t r = read(p->from, p->rbuf + p->have, sizeof p->rbuf - p->have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			p->have += (size_t) r;
		}
	}
}

/* Wait for OK or ERR, skipping comments and status lines; D lines go
 * to `data` (percent-decoded, at most PASS_MAX - 1 bytes, NUL-ended).
 * Returns 0 on OK, the ERR code, or -1 when pinentry failed. */
static long
pin_wait(pin *p, char *data, size_t *dlen)
{
	for (;;) {
		if (pin_line(p))
			return -1;
		if (!strncmp(p->line, "OK", 2) && (!p->line[2] || p->line[2] == ' '))
			return 0;
		if (!strncmp(p->line, "ERR ", 4)) {
			long code = strtol(p->line + 4, NULL, 10);
			return code > 0 ? code : -1;
		}
		if (!strncmp(p->line, "D ", 2) && data) {
			const char *s = p->line + 2;
			while (*s && *dlen < PASS_MAX - 1) {
				if (s[0] == '%' && g_ascii_isxdigit(s[1]) && g_ascii_isxdigit(s[2])) {
					data[(*dlen)++] = (char) (g_ascii_xdigit_value(s[1]) << 4 | g_ascii_xdigit_value(s[2]));
					s += 3;
				} else {
					data[(*dlen)++] = *s++;
				}
			}
			data[*dlen] = 0;
			OPENSSL_cleanse(p->line, sizeof p->line);
		}
		/* "#" comments, "S" status and "INQUIRE" lines: nothing to do */
		if (!strncmp(p->line, "INQUIRE", 7) && write(p->to, "END\n", 4) != 4)
			return -1;
	}
}

/* Send a command with an argument percent-escaped as Assuan wants it. */
static long
pin_cmd(pin *p, const char *cmd, const char *arg)
{
	GString *s = g_string_new(cmd);
	long r;

	if (arg) {
		const char *c;
		g_string_append_c(s, ' ');
		for (c = arg; *c; c++) {
			if (*c == '%' || *c == '\n' || *c == '\r' || (unsigned char) *c < 0x20)
				g_string_append_printf(s, "%%%02X", (unsigned char) *c);
			else
				g_string_append_c(s, *c);
		}
	}
	g_string_append_c(s, '\n');
	r = write(p->to, s->str, s->len) == (ssize_t) s->len ? pin_wait(p, NULL, NULL) : -1;
	g_string_free(s, TRUE);
	return r;
}

static void
pin_close(pin *p)
{
	int status;

	if (p->to >= 0) {
		if (write(p->to, "BYE\n", 4) < 0) {
			/* it is going away anyway */
		}
		close(p->to);
	}
	if (p->from >= 0)
		close(p->from);
	if (p->pid > 0) {
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	OPENSSL_cleanse(p, sizeof *p);
}

/* Start pinentry on the client's terminal (or display). */
static gs_status
pin_open(const server *s, const gs_agent_msg *m, pin *p, char **errmsg)
{
	int in[2], out[2];
	char *tty = m->f[GS_AGENT_F_TTYNAME].p
		? g_strndup((const char *) m->f[GS_AGENT_F_TTYNAME].p, m->f[GS_AGENT_F_TTYNAME].len) : NULL;
	char *term = m->f[GS_AGENT_F_TTYTYPE].p
		? g_strndup((const char *) m->f[GS_AGENT_F_TTYTYPE].p, m->f[GS_AGENT_F_TTYTYPE].len) : NULL;
	char *display = m->f[GS_AGENT_F_DISPLAY].p
		? g_strndup((const char *) m->f[GS_AGENT_F_DISPLAY].p, m->f[GS_AGENT_F_DISPLAY].len) : NULL;
	gs_status st = GS_OK;

	memset(p, 0, sizeof *p);
	p->to = p->from = -1;
	if (!s->opts.pinentry || !*s->opts.pinentry)
		st = gs_fail(errmsg, GS_E_PASSPHRASE, "no pinentry program configured");
	else if (!tty && !display)
		st = gs_fail(errmsg, GS_E_PASSPHRASE,
			     "no terminal and no display to ask for the passphrase on "
			     "(set GPG_TTY, or use galsmime agent preset)");
	else if (pipe2(in, O_CLOEXEC) < 0 || (pipe2(out, O_CLOEXEC) < 0 && (close(in[0]), close(in[1]), 1)))
		st = gs_fail(errmsg, GS_E_IO, "pipe: %s", g_strerror(errno));
	if (st == GS_OK) {
		/* everything the child needs is made before fork: the agent
		 * has threads, and only async-signal-safe calls follow */
		char *argv[] = { (char *) s->opts.pinentry, NULL };
		char *envd = display ? g_strconcat("DISPLAY=", display, NULL) : NULL;
		char *envt = term ? g_strconcat("TERM=", term, NULL) : NULL;
		char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", envd ? envd : envt, envd ? envt : NULL, NULL };
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

		p->pid = fork();
		if (p->pid == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			if (devnull >= 0)
				dup2(devnull, 2);
			execve(s->opts.pinentry, argv, envp);
			_exit(127);
		}
		if (devnull >= 0)
			close(devnull);
		close(in[0]);
		close(out[1]);
		p->to = in[1];
		p->from = out[0];
		g_free(envd);
		g_free(envt);
		if (p->pid < 0) {
			st = gs_fail(errmsg, GS_E_IO, "fork: %s", g_strerror(errno));
		} else if (pin_wait(p, NULL, NULL) != 0) {
			st = gs_fail(errmsg, GS_E_PASSPHRASE, "cannot run pinentry (%s)", s->opts.pinentry);
		}
	}
	if (st == GS_OK && tty) {
		char *o = g_strconcat("OPTION ttyname=", tty, NULL);
		if (pin_cmd(p, o, NULL) != 0)
			st = gs_fail(errmsg, GS_E_PASSPHRASE, "pinentry cannot use the terminal %s", tty);
		g_free(o);
	}
	if (st == GS_OK && term) {
		char *o = g_strconcat("OPTION ttytype=", term, NULL);
		pin_cmd(p, o, NULL);
		g_free(o);
	}
	g_free(tty);
	g_free(term);
	g_free(display);
	if (st != GS_OK)
		pin_close(p);
	return st;
}

/* GS_AGENT_E_* for an UNLOCK that needs pinentry; the key cached on OK. */
static gs_agent_reply
ask_pin(server *s, const gs_agent_msg *m, const char *keyid, char **text)
{
	char *desc = m->f[GS_AGENT_F_DESC].p
		? g_strndup((const char *) m->f[GS_AGENT_F_DESC].p, m->f[GS_AGENT_F_DESC].len)
		: g_strdup("galsmime needs the passphrase of your S/MIME key");
	char *pass = OPENSSL_secure_zalloc(PASS_MAX);
	gs_agent_reply r = GS_AGENT_E_BADPASS;
	EVP_PKEY *k = NULL;
	int attempt;
	pin p;

	if (!pass || pin_open(s, m, &p, text) != GS_OK) {
		g_free(desc);
		OPENSSL_secure_clear_free(pass, PASS_MAX);
		return GS_AGENT_E_PINENTRY;
	}
	pin_cmd(&p, "SETTITLE", "galsmime");
	pin_cmd(&p, "SETDESC", desc);
	pin_cmd(&p, "SETPROMPT", "Passphrase:");
	for (attempt = 1; attempt <= PIN_TRIES && !k; attempt++) {
		size_t len = 0;
		long rc;

		if (attempt > 1) {
			char *e = g_strdup_printf("Wrong passphrase (try %d of %d)", attempt, PIN_TRIES);
			pin_cmd(&p, "SETERROR", e);
			g_free(e);
		}
		if (write(p.to, "GETPIN\n", 7) != 7) {
			r = GS_AGENT_E_PINENTRY;
			*text = g_strdup("pinentry went away");
			break;
		}
		rc = pin_wait(&p, pass, &len);
		/* GPG_ERR_CANCELED (99) or GPG_ERR_FULLY_CANCELED (198) in the
		 * low 16 bits, whatever the source */
		if (rc > 0 && ((rc & 0xffff) == 99 || (rc & 0xffff) == 198)) {
			r = GS_AGENT_E_CANCELLED;
			*text = g_strdup("the passphrase was not given (pinentry cancelled)");
			break;
		}
		if (rc != 0) {
			r = GS_AGENT_E_PINENTRY;
			*text = g_strdup_printf("pinentry failed (%s%ld): is the terminal usable?", rc < 0 ? "" : "error ",
						rc);
			break;
		}
		k = open_blob(m->f[GS_AGENT_F_BLOB].p, m->f[GS_AGENT_F_BLOB].len, pass, len);
		OPENSSL_cleanse(pass, PASS_MAX);
	}
	pin_close(&p);
	if (k) {
		cache_put(s, keyid, k);
		r = GS_AGENT_OK;
	} else if (r == GS_AGENT_E_BADPASS) {
		*text = g_strdup_printf("wrong passphrase for the private key, %d times", PIN_TRIES);
	}
	OPENSSL_secure_clear_free(pass, PASS_MAX);
	g_free(desc);
	return r;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* The private-key operation: the result into out (at most 1024 bytes). */
static gs_agent_reply
key_op(const gs_agent_msg *m, EVP_PKEY *k, unsigned char *out, size_t *outlen, char **text)
{
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
	if (!ok) {
		char *e = gs_ssl_errors();
		*text = g_strdup_printf("the key operation failed%s%s", e ? ": " : "", e ? e : "");
		g_free(e);
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
	sweep(s, 0, NULL);
	g_string_append_printf(t, "pid %ld, protocol %u, keys in locked memory: %s, cache %us (at most %us)\n",
			       (long) getpid(), s->opts.protocol, s->locked_memory ? "yes" : "no",
			       s->opts.default_ttl, s->opts.max_ttl);
	for (i = 0; i < s->cache->len && t->len < 30000; i++) {
		entry *e = s->cache->pdata[i];
		long left = MIN((long) s->opts.default_ttl - (now - e->used),
				(long) s->opts.max_ttl - (now - e->opened));
		g_string_append_printf(t, "%s %lds\n", e->keyid, left);
	}
	pthread_mutex_unlock(&s->lock);
	return g_string_free(t, FALSE);
}

static void
serve_request(server *s, const gs_agent_msg *m, gs_agent_msg *rep, unsigned char *out, char **text)
{
	char keyid[65] = "";
	EVP_PKEY *k;
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
		sweep(s, !*keyid, *keyid ? keyid : NULL);
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
		k = open_blob(m->f[GS_AGENT_F_BLOB].p, m->f[GS_AGENT_F_BLOB].len,
			      (const char *) m->f[GS_AGENT_F_PASS].p, m->f[GS_AGENT_F_PASS].len);
		if (!k) {
			rep->code = GS_AGENT_E_BADPASS;
			*text = g_strdup("wrong passphrase for the private key");
		} else {
			cache_put(s, keyid, k);
		}
		break;
	case GS_AGENT_UNLOCK:
		if ((k = cached(s, keyid))) {
			EVP_PKEY_free(k);
			break;
		}
		pthread_mutex_lock(&s->pinentry);
		/* another client may have unlocked it while this one waited */
		if ((k = cached(s, keyid)))
			EVP_PKEY_free(k);
		else
			rep->code = ask_pin(s, m, keyid, text);
		pthread_mutex_unlock(&s->pinentry);
		break;
	default:
		if (!(k = cached(s, keyid))) {
			rep->code = GS_AGENT_E_NOT_CACHED;
			*text = g_strdup("the key is not unlocked (or no longer)");
			break;
		}
		rep->code = key_op(m, k, out, &n, text);
		EVP_PKEY_free(k);
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
	s.cache = g_ptr_array_new_with_free_func((GDestroyNotify) entry_free);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = s.wake[0], .events = POLLIN } };
		int stop, fd;

		poll(p, 2, 1000);
		pthread_mutex_lock(&s.lock);
		sweep(&s, 0, NULL);
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
	/* the keys go first; then the clients get three seconds to finish
	 * (each holds its own reference for an operation under way) */
	pthread_mutex_lock(&s.lock);
	sweep(&s, 1, NULL);
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
