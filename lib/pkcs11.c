/* pkcs11.c: identities whose private key stays on a PKCS#11 token (a
 * smart card, a USB token, SoftHSM), named by an RFC 7512 URI. The
 * store keeps the certificate and the URI; signing and decrypting log in
 * with the PIN the session's callback gives and use the key where it is,
 * through libp11: its EVP_PKEY carries RSA and EC methods that call the
 * token, which OpenSSL 3.0's CMS code uses as a "foreign" legacy key.
 * libp11 is loaded (dl.c) only when such a key is imported or opened:
 * a run without a token key never loads it, nor any PKCS#11 module. */
#include "gs-private.h"

#include <dlfcn.h>
#include <string.h>
#include <libp11.h>
/* PKCS#11's own types and values (p11-kit's copy of the standard
 * header, libp11-kit-dev): the token's flags are asked of the module
 * directly, which libp11 only reads once */
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <openssl/err.h>
#include "gs-sonames.h"

#define PIN_MAX 256

static struct {
	__typeof__(PKCS11_CTX_new) *ctx_new;
	__typeof__(PKCS11_CTX_load) *ctx_load;
	__typeof__(PKCS11_CTX_unload) *ctx_unload;
	__typeof__(PKCS11_CTX_free) *ctx_free;
	__typeof__(PKCS11_enumerate_slots) *enumerate_slots;
	__typeof__(PKCS11_release_all_slots) *release_all_slots;
	__typeof__(PKCS11_login) *login;
	__typeof__(PKCS11_logout) *logout;
	__typeof__(PKCS11_enumerate_keys) *enumerate_keys;
	__typeof__(PKCS11_enumerate_certs) *enumerate_certs;
	__typeof__(PKCS11_get_private_key) *get_private_key;
	__typeof__(PKCS11_get_slotid_from_slot) *slot_id;
	__typeof__(ERR_get_CKR_code) *ckr_lib;
} p11;

static gs_status
load_p11(char **errmsg)
{
	static const gs_symbol syms[] = {
		GS_SYMBOL(p11, ctx_new, PKCS11_CTX_new), GS_SYMBOL(p11, ctx_load, PKCS11_CTX_load),
		GS_SYMBOL(p11, ctx_unload, PKCS11_CTX_unload), GS_SYMBOL(p11, ctx_free, PKCS11_CTX_free),
		GS_SYMBOL(p11, enumerate_slots, PKCS11_enumerate_slots),
		GS_SYMBOL(p11, release_all_slots, PKCS11_release_all_slots),
		GS_SYMBOL(p11, login, PKCS11_login), GS_SYMBOL(p11, logout, PKCS11_logout),
		GS_SYMBOL(p11, enumerate_keys, PKCS11_enumerate_keys),
		GS_SYMBOL(p11, enumerate_certs, PKCS11_enumerate_certs),
		GS_SYMBOL(p11, get_private_key, PKCS11_get_private_key),
		GS_SYMBOL(p11, slot_id, PKCS11_get_slotid_from_slot), GS_SYMBOL(p11, ckr_lib, ERR_get_CKR_code),
	};
	gs_status st = gs_library_load(GS_LIB_P11, &p11, syms, G_N_ELEMENTS(syms), errmsg);

	if (st != GS_OK && errmsg)
		*errmsg = g_strdup_printf("keys on tokens need libp11 (Debian: libp11-3): %s",
					  (char *) g_steal_pointer(errmsg));
	return st;
}

/* ---- RFC 7512 URIs ---- */

enum {
	A_TOKEN, A_MANUFACTURER, A_SERIAL, A_MODEL, A_LIB_MANUFACTURER, A_LIB_DESCRIPTION,
	A_LIB_VERSION, A_SLOT_DESCRIPTION, A_SLOT_MANUFACTURER, A_SLOT_ID, A_OBJECT, A_ID, A_TYPE,
	A_PATH_END,
	A_MODULE_PATH = A_PATH_END, A_MODULE_NAME, A_PIN_VALUE, A_PIN_SOURCE, A_N
};
static const char *const attr_names[A_N] = {
	"token", "manufacturer", "serial", "model", "library-manufacturer", "library-description",
	"library-version", "slot-description", "slot-manufacturer", "slot-id", "object", "id", "type",
	"module-path", "module-name", "pin-value", "pin-source",
};

/* The decoded values, each NUL-terminated past its length; NULL: absent. */
typedef struct p11_uri {
	char *v[A_N];
	size_t len[A_N];
} p11_uri;

static void
uri_clear(p11_uri *u)
{
	int i;

	for (i = 0; i < A_N; i++)
		if (u->v[i])
			gs_secret_free(u->v[i], u->len[i] + 1);
	memset(u, 0, sizeof *u);
}

static const char *
uri_text(const p11_uri *u, int a)
{
	return u->v[a];
}

static gs_status
uri_parse(const char *uri, p11_uri *u, char **errmsg)
{
	const char *q;
	char *path;
	char **parts[2];
	gs_status st = GS_OK;
	int k, i, a;

	memset(u, 0, sizeof *u);
	if (!uri || g_ascii_strncasecmp(uri, "pkcs11:", 7))
		return gs_fail(errmsg, GS_E_USAGE, "not a pkcs11: URI");
	q = strchr(uri + 7, '?');
	path = g_strndup(uri + 7, q ? (gsize) (q - uri - 7) : strlen(uri + 7));
	parts[0] = g_strsplit(path, ";", -1);
	parts[1] = g_strsplit(q ? q + 1 : "", "&", -1);
	g_free(path);
	for (k = 0; k < 2 && st == GS_OK; k++)
		for (i = 0; parts[k][i] && st == GS_OK; i++) {
			char *eq = strchr(parts[k][i], '='), *name;
			GError *err = NULL;
			GBytes *val;
			const char *d;
			gsize n;

			if (!*parts[k][i])
				continue;
			name = g_strndup(parts[k][i], eq ? (gsize) (eq - parts[k][i]) : strlen(parts[k][i]));
			for (a = k ? A_PATH_END : 0; a < (k ? A_N : A_PATH_END); a++)
				if (!strcmp(name, attr_names[a]))
					break;
			if (a == (k ? A_N : A_PATH_END)) {
				/* vendor attributes (x-...) name nothing this reader knows */
				if (strncmp(name, "x-", 2))
					st = gs_fail(errmsg, GS_E_USAGE, "unknown attribute '%s' in the pkcs11: URI",
						     name);
				g_free(name);
				continue;
			}
			g_free(name);
			if (u->v[a]) {
				st = gs_fail(errmsg, GS_E_USAGE, "the pkcs11: URI gives %s twice", attr_names[a]);
				break;
			}
			val = g_uri_unescape_bytes(eq ? eq + 1 : "", -1, NULL, &err);
			if (!val) {
				st = gs_fail(errmsg, GS_E_USAGE, "bad %%-escape in the pkcs11: URI's %s",
					     attr_names[a]);
				g_clear_error(&err);
				break;
			}
			d = g_bytes_get_data(val, &n);
			/* text attributes are used NUL-terminated: none may hold a NUL */
			if (a != A_ID && n && memchr(d, 0, n)) {
				g_bytes_unref(val);
				st = gs_fail(errmsg, GS_E_USAGE, "a NUL in the pkcs11: URI's %s", attr_names[a]);
				break;
			}
			u->v[a] = g_malloc0(n + 1);
			if (n)
				memcpy(u->v[a], d, n);
			u->len[a] = n;
			if (a == A_PIN_VALUE)
				OPENSSL_cleanse((void *) d, n);
			g_bytes_unref(val);
		}
	g_strfreev(parts[0]);
	/* the query may hold a pin-value */
	for (i = 0; parts[1][i]; i++)
		OPENSSL_cleanse(parts[1][i], strlen(parts[1][i]));
	g_strfreev(parts[1]);
	if (st == GS_OK && u->v[A_PIN_SOURCE])
		st = gs_fail(errmsg, GS_E_UNSUPPORTED, "pin-source is not supported: the PIN is asked for");
	if (st == GS_OK && u->v[A_MODULE_NAME] && !u->v[A_MODULE_PATH])
		st = gs_fail(errmsg, GS_E_UNSUPPORTED,
			     "module-name is not supported: give module-path, or let p11-kit's proxy find it");
	if (st == GS_OK && uri_text(u, A_TYPE) && strcmp(uri_text(u, A_TYPE), "private") &&
	    strcmp(uri_text(u, A_TYPE), "public") && strcmp(uri_text(u, A_TYPE), "cert"))
		st = gs_fail(errmsg, GS_E_USAGE, "type=%s names no key or certificate (private, public, cert)",
			     uri_text(u, A_TYPE));
	if (st != GS_OK)
		uri_clear(u);
	return st;
}

/* pchar of RFC 7512 without what separates attributes: unreserved and
 * a few sub-delims; the rest %-escaped. */
static void
uri_put(GString *s, const char *name, const unsigned char *p, size_t n, int all)
{
	size_t i;

	g_string_append_printf(s, "%s%s=", s->len == strlen("pkcs11:") ? "" : ";", name);
	for (i = 0; i < n; i++)
		if (!all && (g_ascii_isalnum(p[i]) || strchr("-._~:[]@!$'()*+,", p[i])) && p[i])
			g_string_append_c(s, (char) p[i]);
		else
			g_string_append_printf(s, "%%%02X", p[i]);
}

static char *
uri_for_key(const PKCS11_TOKEN *tok, const PKCS11_CERT *cert, const char *module)
{
	GString *s = g_string_new("pkcs11:");

	uri_put(s, "token", (const unsigned char *) tok->label, strlen(tok->label), 0);
	if (tok->serialnr && *tok->serialnr)
		uri_put(s, "serial", (const unsigned char *) tok->serialnr, strlen(tok->serialnr), 0);
	if (cert->id_len)
		uri_put(s, "id", cert->id, cert->id_len, 1);
	else
		uri_put(s, "object", (const unsigned char *) cert->label, strlen(cert->label), 0);
	g_string_append(s, ";type=private");
	if (module) {
		g_string_append(s, "?module-path=");
		g_string_append_uri_escaped(s, module, "/", FALSE);
	}
	return g_string_free(s, FALSE);
}

static int
text_matches(const p11_uri *u, int a, const char *have)
{
	const char *want = uri_text(u, a);

	return !want || (have && !strcmp(want, have));
}

/* The object's id and label against the URI's id and object. */
static int
object_matches(const p11_uri *u, const unsigned char *id, size_t id_len, const char *label)
{
	if (u->v[A_ID] && (u->len[A_ID] != id_len || (id_len && memcmp(u->v[A_ID], id, id_len))))
		return 0;
	return text_matches(u, A_OBJECT, label);
}

/* ---- tokens ---- */

/* One libp11 context per module in the process. PKCS#11's C_Finalize
 * (libp11's PKCS11_CTX_unload) and libp11's release of a slot
 * (C_CloseAllSessions on its id) act on the whole module, whatever
 * context asked: two tokens behind one module (two cards read through
 * OpenSC, two SoftHSM tokens) share it, and the slot lists their opens
 * enumerated are released, and the module finalised, only when the
 * last token of the module is done (an agent that opens one token again
 * and again while another stays keeps one list per open until then: a
 * few hundred bytes each). Tokens keep their own login. */
typedef struct p11_module {
	char *path;              /* the module as named */
	void *handle;            /* our own reference to the module (dlopen) */
	PKCS11_CTX *ctx;
	int loaded;
	GArray *lists;           /* of slot_list: every open's enumeration */
	unsigned refs;
} p11_module;

typedef struct slot_list {
	PKCS11_SLOT *slots;
	unsigned n;
} slot_list;

static GMutex modules_lock;
static GPtrArray *modules;       /* of p11_module, under modules_lock */

struct gs_token {
	p11_module *m;
	PKCS11_SLOT *slot;       /* the URI's token, in one of m's lists */
	char *name;              /* "token 'LABEL'" for messages */
	int logged_in;
};

/* Under modules_lock. */
static void
module_unref(p11_module *m)
{
	guint i;

	if (--m->refs > 0)
		return;
	g_ptr_array_remove(modules, m);
	for (i = 0; i < m->lists->len; i++) {
		slot_list *l = &g_array_index(m->lists, slot_list, i);
		p11.release_all_slots(m->ctx, l->slots, l->n);
	}
	g_array_free(m->lists, TRUE);
	if (m->loaded)
		p11.ctx_unload(m->ctx);
	if (m->ctx)
		p11.ctx_free(m->ctx);
	if (m->handle)
		dlclose(m->handle);
	g_free(m->path);
	g_free(m);
}

/* The module at `path`, loaded once (a reference). */
static gs_status
module_get(const char *path, p11_module **out, char **errmsg)
{
	p11_module *m = NULL;
	gs_status st = GS_OK;
	guint i;

	*out = NULL;
	g_mutex_lock(&modules_lock);
	if (!modules)
		modules = g_ptr_array_new();
	for (i = 0; i < modules->len && !m; i++)
		if (!strcmp(((p11_module *) modules->pdata[i])->path, path))
			m = modules->pdata[i];
	if (m) {
		m->refs++;
		*out = m;
		g_mutex_unlock(&modules_lock);
		return GS_OK;
	}
	m = g_new0(p11_module, 1);
	m->path = g_strdup(path);
	m->lists = g_array_new(FALSE, TRUE, sizeof(slot_list));
	m->refs = 1;
	g_ptr_array_add(modules, m);
	/* libp11 prints dlopen's complaint on stderr itself: the module is
	 * opened here first, so that a missing one is only our message */
	if (!(m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		const char *why = dlerror();
		st = gs_fail(errmsg, GS_E_NO_KEY, "cannot load the PKCS#11 module %s: %s", path,
			     why ? why : "not found");
	} else if (!(m->ctx = p11.ctx_new())) {
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot start libp11");
	} else if (p11.ctx_load(m->ctx, path) < 0) {
		ERR_clear_error();
		st = gs_fail(errmsg, GS_E_NO_KEY, "cannot load the PKCS#11 module %s", path);
	} else {
		m->loaded = 1;
	}
	if (st != GS_OK)
		module_unref(m);
	else
		*out = m;
	g_mutex_unlock(&modules_lock);
	return st;
}

void
gs_token_free(gs_token *t)
{
	if (!t)
		return;
	if (t->logged_in && t->slot && p11.logout(t->slot) < 0)
		ERR_clear_error();
	if (t->m) {
		g_mutex_lock(&modules_lock);
		module_unref(t->m);
		g_mutex_unlock(&modules_lock);
	}
	g_free(t->name);
	g_free(t);
}

/* Drain OpenSSL's error queue: the PKCS#11 return value libp11 last
 * pushed (under its own library code), or 0; with `text`, the reasons,
 * joined (NULL when none). */
static unsigned long
drain_ckr(char **text)
{
	GString *t = g_string_new(NULL);
	unsigned long e, r = 0;
	int lib = p11.ckr_lib ? p11.ckr_lib() : -1;

	while ((e = ERR_get_error()) != 0) {
		const char *why = ERR_reason_error_string(e);
		if (ERR_GET_LIB(e) == lib)
			r = ERR_GET_REASON(e);
		if (why && !strstr(t->str, why))
			g_string_append_printf(t, "%s%s", t->len ? "; " : "", why);
	}
	if (text)
		*text = t->len ? g_string_free(t, FALSE) : (g_string_free(t, TRUE), NULL);
	else
		g_string_free(t, TRUE);
	return r;
}

static unsigned long
last_ckr(void)
{
	return drain_ckr(NULL);
}

static int
token_matches(const p11_uri *u, const PKCS11_CTX *ctx, PKCS11_SLOT *slot)
{
	const PKCS11_TOKEN *t = slot->token;

	if (!t || !t->initialized)
		return 0;
	if (u->v[A_SLOT_ID]) {
		char *end;
		unsigned long want = strtoul(uri_text(u, A_SLOT_ID), &end, 10);
		if (*end || want != p11.slot_id(slot))
			return 0;
	}
	return text_matches(u, A_TOKEN, t->label) && text_matches(u, A_MANUFACTURER, t->manufacturer) &&
	       text_matches(u, A_SERIAL, t->serialnr) && text_matches(u, A_MODEL, t->model) &&
	       text_matches(u, A_SLOT_DESCRIPTION, slot->description) &&
	       text_matches(u, A_SLOT_MANUFACTURER, slot->manufacturer) &&
	       text_matches(u, A_LIB_MANUFACTURER, ctx->manufacturer) &&
	       text_matches(u, A_LIB_DESCRIPTION, ctx->description);
}

/* How messages name what the URI asked for: its token label, else "a
 * token matching the URI". */
static char *
wanted_token(const p11_uri *u)
{
	char *label, *r;

	if (!uri_text(u, A_TOKEN))
		return g_strdup("a token matching the URI");
	label = gs_printable(uri_text(u, A_TOKEN), 100);
	r = g_strdup_printf("token '%s'", label);
	g_free(label);
	return r;
}

/* Load the module (once per process) and find the one token the URI
 * names in a fresh enumeration of its slots. */
static gs_status
token_open(const p11_uri *u, const char *module, gs_token **out, char **errmsg)
{
	gs_token *t;
	gs_status st;
	slot_list l = { NULL, 0 };
	unsigned i, n = 0;
	GString *names;
	int listed;

	*out = NULL;
	if ((st = load_p11(errmsg)) != GS_OK)
		return st;
	t = g_new0(gs_token, 1);
	if ((st = module_get(module, &t->m, errmsg)) != GS_OK) {
		gs_token_free(t);
		return st;
	}
	g_mutex_lock(&modules_lock);
	if ((listed = p11.enumerate_slots(t->m->ctx, &l.slots, &l.n) >= 0))
		g_array_append_val(t->m->lists, l);
	g_mutex_unlock(&modules_lock);
	if (!listed) {
		gs_token_free(t);
		return gs_fail_ssl(errmsg, GS_E_NO_KEY, "the PKCS#11 module %s lists no slots", module);
	}
	names = g_string_new(NULL);
	for (i = 0; i < l.n; i++) {
		PKCS11_SLOT *sl = &l.slots[i];
		if (!token_matches(u, t->m->ctx, sl))
			continue;
		if (n++ == 0)
			t->slot = sl;
		g_string_append_printf(names, "%s'%s' (serial %s)", n > 1 ? ", " : "", sl->token->label,
				       sl->token->serialnr);
	}
	if (n != 1) {
		char *want = wanted_token(u);
		char *shown = gs_printable(names->str, 400);
		st = n == 0 ? gs_fail(errmsg, GS_E_NO_KEY, "%s is not present (module %s)", want, module)
			    : gs_fail(errmsg, GS_E_USAGE, "the URI matches %u tokens: %s (add serial=)", n, shown);
		g_free(want);
		g_free(shown);
		g_string_free(names, TRUE);
		gs_token_free(t);
		ERR_clear_error();
		return st;
	}
	g_string_free(names, TRUE);
	{
		char *label = gs_printable(t->slot->token->label, 100);
		t->name = g_strdup_printf("token '%s'", label);
		g_free(label);
	}
	*out = t;
	return GS_OK;
}

/* What the token says of its user PIN now (CKF_USER_PIN_* flags). */
typedef struct pin_state {
	int count_low, final_try, locked;
} pin_state;

/* The module's function list (C_GetFunctionList of our reference). */
static CK_FUNCTION_LIST_PTR
module_functions(gs_token *t)
{
	CK_C_GetFunctionList get = (CK_C_GetFunctionList) dlsym(t->m->handle, "C_GetFunctionList");
	CK_FUNCTION_LIST_PTR f = NULL;

	return get && get(&f) == CKR_OK ? f : NULL;
}

/* A CK_TOKEN_INFO text field (blank-padded, not NUL-terminated) equals
 * libp11's copy (its trailing blanks removed). */
static int
padded_equal(const CK_UTF8CHAR *field, size_t size, const char *s)
{
	size_t n = size;

	while (n > 0 && field[n - 1] == ' ')
		n--;
	return s && strlen(s) == n && !memcmp(field, s, n);
}

/* Is t's token still there? The module's slots with a token, asked of
 * the module itself: libp11's enumeration would have to be released,
 * which closes every session on every slot of the module, other
 * tokens' too. */
static int
token_present(gs_token *t)
{
	CK_FUNCTION_LIST_PTR f = module_functions(t);
	CK_SLOT_ID *ids = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO info;
	int here = 0;

	if (!f || f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK || n == 0 || n > 0x10000)
		return 0;
	ids = g_new(CK_SLOT_ID, n);
	if (f->C_GetSlotList(CK_TRUE, ids, &n) == CKR_OK)
		for (i = 0; i < n && !here; i++)
			here = f->C_GetTokenInfo(ids[i], &info) == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED) &&
			       padded_equal(info.label, sizeof info.label, t->slot->token->label) &&
			       padded_equal(info.serialNumber, sizeof info.serialNumber, t->slot->token->serialnr);
	g_free(ids);
	return here;
}

/* The PIN flags t's token shows now (C_GetTokenInfo of its slot, asked
 * of the module itself: the login session stays). 0 when it cannot
 * say (the token gone). */
static int
token_state(gs_token *t, pin_state *ps)
{
	CK_FUNCTION_LIST_PTR f = module_functions(t);
	CK_TOKEN_INFO info;

	memset(ps, 0, sizeof *ps);
	if (!f || f->C_GetTokenInfo((CK_SLOT_ID) p11.slot_id(t->slot), &info) != CKR_OK)
		return 0;
	ps->count_low = !!(info.flags & CKF_USER_PIN_COUNT_LOW);
	ps->final_try = !!(info.flags & CKF_USER_PIN_FINAL_TRY);
	ps->locked = !!(info.flags & CKF_USER_PIN_LOCKED);
	return 1;
}

/* Log in with `pin` (NUL-terminated). One try: a token counts wrong
 * PINs and locks, so nothing here asks again. */
static gs_status
token_login(gs_token *t, const char *pin, char **errmsg)
{
	unsigned long ckr;

	if (p11.login(t->slot, 0, pin) == 0) {
		t->logged_in = 1;
		return GS_OK;
	}
	ckr = last_ckr();
	ERR_clear_error();
	switch (ckr) {
	case CKR_PIN_LOCKED:
		return gs_fail(errmsg, GS_E_PASSPHRASE, "the PIN of %s is locked (unblock it with its PUK)",
			       t->name);
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return gs_fail(errmsg, GS_E_PASSPHRASE, "wrong PIN for %s", t->name);
	}
	if (!token_present(t))
		return gs_fail(errmsg, GS_E_NO_KEY, "%s was removed", t->name);
	return gs_fail(errmsg, GS_E_NO_KEY, "cannot log in to %s (PKCS#11 error 0x%lx)", t->name, ckr);
}

/* One login with a PIN from the callback. */
static gs_status
token_login_once(gs_token *t, gs_passphrase_cb cb, void *data, const char *whose, int *asked,
		 char **errmsg)
{
	char *buf, *what;
	size_t len = 0;
	gs_status st;

	*asked = 0;
	if (!t->slot->token->loginRequired)
		return GS_OK;
	if (!cb)
		return gs_fail(errmsg, GS_E_PASSPHRASE, "%s needs its PIN and none was given", t->name);
	buf = g_malloc0(PIN_MAX + 1);
	what = whose ? g_strdup_printf("the PIN of %s for %s", t->name, whose)
		     : g_strdup_printf("the PIN of %s", t->name);
	st = cb(data, what, buf, PIN_MAX, &len);
	g_free(what);
	if (st != GS_OK) {
		st = gs_fail(errmsg, GS_E_PASSPHRASE, "%s needs its PIN and none was given", t->name);
	} else {
		*asked = 1;
		buf[MIN(len, (size_t) PIN_MAX)] = 0;
		st = token_login(t, buf, errmsg);
	}
	gs_secret_free(buf, PIN_MAX + 1);
	return st;
}

/* Ask the callback for the PIN of t's token and log in. GS_E_PASSPHRASE
 * with *asked = 0 when the callback has none. `refused` (may be NULL):
 * the tokens that refused a PIN this session, never tried again (a run
 * over many messages would otherwise spend the token's tries, each
 * message one, with the same wrong PIN). */
static gs_status
token_login_cb(gs_token *t, gs_passphrase_cb cb, void *data, const gs_pinentry_where *w, const char *whose,
	       GPtrArray *refused, int *asked, char **errmsg)
{
	char *key = g_strdup_printf("%s\n%s", t->slot->token->label, t->slot->token->serialnr);
	gs_status st;
	guint i;

	*asked = 0;
	for (i = 0; refused && i < refused->len; i++)
		if (!strcmp(refused->pdata[i], key)) {
			g_free(key);
			return gs_fail(errmsg, GS_E_PASSPHRASE, "wrong PIN for %s (not tried again)", t->name);
		}
	if (w && t->slot->token->loginRequired) {
		gs_pinentry_result how;
		char *desc = gs_token_pin_desc(t->name, whose);
		st = gs_token_login_pinentry(t, w, desc, &how, errmsg);
		*asked = how == GS_PINENTRY_OK;
		g_free(desc);
	} else {
		st = token_login_once(t, cb, data, whose, asked, errmsg);
	}
	/* a PIN the token refused (not one that was missing) */
	if (st == GS_E_PASSPHRASE && *asked && refused)
		g_ptr_array_add(refused, g_steal_pointer(&key));
	g_free(key);
	return st;
}

char *
gs_token_pin_desc(const char *token, const char *whose)
{
	return whose ? g_strdup_printf("galsmime needs the PIN of %s for the S/MIME key of %s", token, whose)
		     : g_strdup_printf("galsmime needs the PIN of %s", token);
}

/* Log in with PINs asked through pinentry at `w`: a wrong one is asked
 * again with an error text, at most GS_PINENTRY_TRIES times, and never once the
 * token says that the next wrong PIN locks it (the PIN is not spent
 * down to a locked card: a try is left for the user's own care). What
 * the token says of its remaining tries is shown. *how: how pinentry
 * ended (GS_PINENTRY_OK when it gave PINs). */
gs_status
gs_token_login_pinentry(gs_token *t, const gs_pinentry_where *w, const char *desc, gs_pinentry_result *how,
			char **errmsg)
{
	gs_pinentry *pe = NULL;
	pin_state ps = { 0 };
	char *error = NULL, *why = NULL;
	gs_status st;
	int attempt;

	*how = GS_PINENTRY_OK;
	if (!t->slot->token->loginRequired || t->logged_in)
		return GS_OK;
	if (!token_state(t, &ps))
		return gs_fail(errmsg, GS_E_NO_KEY, "%s was removed", t->name);
	if (ps.locked)
		return gs_fail(errmsg, GS_E_PASSPHRASE, "the PIN of %s is locked (unblock it with its PUK)", t->name);
	if (ps.final_try)
		error = g_strdup("The token says this is the last try before its PIN locks");
	else if (ps.count_low)
		error = g_strdup("The token says few PIN tries are left");
	if ((st = gs_pinentry_open(w, desc, "PIN:", &pe, errmsg)) != GS_OK) {
		*how = GS_PINENTRY_FAILED;
		g_free(error);
		return st;
	}
	st = GS_E_PASSPHRASE;
	for (attempt = 1; attempt <= GS_PINENTRY_TRIES; attempt++) {
		char *pin = NULL;
		size_t len = 0;

		*how = gs_pinentry_get(pe, error, &pin, &len, &why);
		g_clear_pointer(&error, g_free);
		if (*how != GS_PINENTRY_OK) {
			st = *how == GS_PINENTRY_CANCELLED
				     ? gs_fail(errmsg, GS_E_PASSPHRASE, "the PIN of %s was not given (pinentry cancelled)",
					       t->name)
				     : gs_fail(errmsg, GS_E_PASSPHRASE, "%s", why);
			break;
		}
		st = token_login(t, pin, &why);
		OPENSSL_secure_clear_free(pin, GS_PINENTRY_MAX);
		if (st == GS_OK)
			break;
		/* the token gone, or its PIN locked: no use asking again */
		if (st != GS_E_PASSPHRASE || !token_state(t, &ps) || ps.locked) {
			st = gs_fail(errmsg, st, "%s", why);
			break;
		}
		if (ps.final_try) {
			st = gs_fail(errmsg, GS_E_PASSPHRASE,
				     "wrong PIN for %s; it says one more wrong PIN locks it, so it is not asked again",
				     t->name);
			break;
		}
		if (attempt == GS_PINENTRY_TRIES) {
			st = gs_fail(errmsg, GS_E_PASSPHRASE, "wrong PIN for %s, %d times", t->name, GS_PINENTRY_TRIES);
			break;
		}
		error = g_strdup_printf("Wrong PIN (try %d of %d)%s", attempt + 1, GS_PINENTRY_TRIES,
					ps.count_low ? "; the token says few tries are left" : "");
		g_clear_pointer(&why, g_free);
	}
	g_free(why);
	g_free(error);
	gs_pinentry_close(pe);
	return st;
}

/* The one private key (after login) whose id or label the URI names. */
static gs_status
find_key(gs_token *t, const p11_uri *u, PKCS11_KEY **out, char **errmsg)
{
	PKCS11_KEY *keys = NULL;
	unsigned n = 0, i, found = 0;

	*out = NULL;
	if (p11.enumerate_keys(t->slot->token, &keys, &n) < 0) {
		unsigned long ckr = last_ckr();
		return !token_present(t) ? gs_fail(errmsg, GS_E_NO_KEY, "%s was removed", t->name)
			       : gs_fail(errmsg, GS_E_NO_KEY, "cannot list the keys of %s (PKCS#11 error 0x%lx)",
					 t->name, ckr);
	}
	for (i = 0; i < n; i++)
		if (object_matches(u, keys[i].id, keys[i].id_len, keys[i].label) && found++ == 0)
			*out = &keys[i];
	if (found == 1)
		return GS_OK;
	*out = NULL;
	return found ? gs_fail(errmsg, GS_E_USAGE, "%u private keys on %s match the URI (give its id=)", found,
			       t->name)
		     : gs_fail(errmsg, GS_E_NO_KEY, "no private key on %s matches the URI", t->name);
}

/* The private key for `cert` on t's token (logged in), checked against
 * the certificate. */
static gs_status
token_key(gs_token *t, const p11_uri *u, X509 *cert, EVP_PKEY **key, char **errmsg)
{
	PKCS11_KEY *k;
	gs_status st;

	*key = NULL;
	if ((st = find_key(t, u, &k, errmsg)) != GS_OK)
		return st;
	if (!(*key = p11.get_private_key(k)))
		return gs_fail_ssl(errmsg, GS_E_NO_KEY, "cannot use the private key on %s", t->name);
	if (X509_check_private_key(cert, *key) != 1) {
		EVP_PKEY_free(*key);
		*key = NULL;
		ERR_clear_error();
		return gs_fail(errmsg, GS_E_NO_KEY, "the private key on %s does not match the certificate",
			       t->name);
	}
	return GS_OK;
}

gs_status
gs_token_open(const char *uri, const char *module, gs_token **t, char **errmsg)
{
	p11_uri u;
	gs_status st;

	*t = NULL;
	if ((st = uri_parse(uri, &u, errmsg)) != GS_OK)
		return st;
	st = token_open(&u, uri_text(&u, A_MODULE_PATH) ? uri_text(&u, A_MODULE_PATH)
				: module ? module : GS_P11_DEFAULT_MODULE, t, errmsg);
	uri_clear(&u);
	return st;
}

int
gs_token_serves(gs_token *t, const char *uri, const char *module)
{
	p11_uri u;
	int yes;

	if (!t || uri_parse(uri, &u, NULL) != GS_OK)
		return 0;
	module = uri_text(&u, A_MODULE_PATH) ? uri_text(&u, A_MODULE_PATH) : module ? module : GS_P11_DEFAULT_MODULE;
	yes = !strcmp(module, t->m->path) && token_matches(&u, t->m->ctx, t->slot);
	uri_clear(&u);
	return yes;
}

const char *
gs_token_name(const gs_token *t)
{
	return t->name;
}

gs_status
gs_token_login_pin(gs_token *t, const char *pin, char **errmsg)
{
	if (!t->slot->token->loginRequired || t->logged_in)
		return GS_OK;
	return token_login(t, pin, errmsg);
}

gs_status
gs_token_find_key(gs_token *t, const char *uri, X509 *cert, EVP_PKEY **key, char **errmsg)
{
	p11_uri u;
	gs_status st;

	*key = NULL;
	if ((st = uri_parse(uri, &u, errmsg)) != GS_OK)
		return st;
	st = token_key(t, &u, cert, key, errmsg);
	uri_clear(&u);
	return st;
}

gs_status
gs_token_unlock(gs_session *s, gs_identity *id, char **errmsg)
{
	p11_uri u;
	gs_token *t = NULL;
	EVP_PKEY *key = NULL;
	gs_agent *agent;
	char *whose;
	gs_status st;
	int asked;

	if ((st = uri_parse(id->token_uri, &u, errmsg)) != GS_OK)
		return st;
	/* with an agent, the agent logs in (asking the PIN on this
	 * terminal), keeps the login, and uses the key there */
	if (s->agent_cb && (agent = s->agent_cb(s->agent_data))) {
		uri_clear(&u);
		whose = gs_identity_describe(id);
		st = gs_agent_open_token_key(agent, id->cert, id->token_uri, s->p11_module, whose, &id->key,
					     errmsg);
		g_free(whose);
		if (st == GS_OK)
			id->in_agent = 1;
		return st;
	}
	st = token_open(&u, uri_text(&u, A_MODULE_PATH) ? uri_text(&u, A_MODULE_PATH)
				: s->p11_module ? s->p11_module : GS_P11_DEFAULT_MODULE, &t, errmsg);
	if (st == GS_OK) {
		whose = gs_identity_describe(id);
		if (!s->pin_refused)
			s->pin_refused = g_ptr_array_new_with_free_func(g_free);
		st = token_login_cb(t, s->pass_cb, s->pass_data, s->pinentry, whose, s->pin_refused, &asked,
				    errmsg);
		g_free(whose);
	}
	if (st == GS_OK)
		st = token_key(t, &u, id->cert, &key, errmsg);
	uri_clear(&u);
	if (st != GS_OK) {
		gs_token_free(t);
		return st;
	}
	id->key = key;
	id->token = t;
	return GS_OK;
}

gs_status
gs_token_op_failed(const gs_identity *id, gs_status st, const char *what, char **errmsg)
{
	if (!id || !id->token)
		return gs_fail_ssl(errmsg, st, "%s", what);
	return gs_token_failed(id->token, st, what, errmsg);
}

gs_status
gs_token_failed(gs_token *t, gs_status st, const char *what, char **errmsg)
{
	unsigned long ckr;
	char *why = NULL;

	/* the module's answer may be gone from the queue (CMS clears it
	 * after a failed RSA key transport): the token is asked again */
	ckr = drain_ckr(&why);
	if (ckr == CKR_DEVICE_REMOVED || ckr == CKR_TOKEN_NOT_PRESENT || !token_present(t))
		st = gs_fail(errmsg, GS_E_NO_KEY, "%s was removed during the private-key operation",
			     t->name);
	else if (!ckr)
		st = gs_fail(errmsg, st, "%s%s%s", what, why ? ": " : "", why ? why : "");
	else
		st = gs_fail(errmsg, GS_E_NO_KEY, "%s: %s refused (PKCS#11: %s)", what, t->name,
			     why ? why : "no reason");
	g_free(why);
	return st;
}

gs_status
gs_identity_import_token(gs_store *s, const char *uri, const char *module, const char *label,
			 const gs_pinentry_where *pinentry, gs_passphrase_cb pin_cb, void *pin_data,
			 char **fingerprint, int *key_checked, char **errmsg)
{
	p11_uri u;
	gs_token *t = NULL;
	PKCS11_CERT *certs = NULL, *cert = NULL;
	unsigned n = 0, i, found = 0;
	const char *mod;
	char *stored = NULL;
	gs_status st;
	int asked = 0;

	if (key_checked)
		*key_checked = 0;
	if (!s || !uri)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_identity_import_token: no store or URI");
	if ((st = uri_parse(uri, &u, errmsg)) != GS_OK)
		return st;
	mod = uri_text(&u, A_MODULE_PATH) ? uri_text(&u, A_MODULE_PATH)
		: module ? module : GS_P11_DEFAULT_MODULE;
	if ((st = token_open(&u, mod, &t, errmsg)) != GS_OK)
		goto out;
	if (p11.enumerate_certs(t->slot->token, &certs, &n) < 0) {
		st = gs_fail_ssl(errmsg, GS_E_NO_KEY, "cannot list the certificates of %s", t->name);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (certs[i].x509 && object_matches(&u, certs[i].id, certs[i].id_len, certs[i].label) &&
		    found++ == 0)
			cert = &certs[i];
	if (found != 1) {
		st = found ? gs_fail(errmsg, GS_E_USAGE,
				     "%u certificates on %s match the URI (say which with id= or object=)",
				     found, t->name)
			   : gs_fail(errmsg, GS_E_NO_KEY, "no certificate on %s matches the URI", t->name);
		goto out;
	}
	if (!cert->id_len && (!cert->label || !*cert->label)) {
		st = gs_fail(errmsg, GS_E_NO_KEY, "the certificate on %s has neither id nor label to find its key by",
			     t->name);
		goto out;
	}
	stored = uri_for_key(t->slot->token, cert, uri_text(&u, A_MODULE_PATH));
	/* with a PIN at hand, check that the token holds the key */
	if (t->slot->token->loginRequired && u.v[A_PIN_VALUE]) {
		asked = 1;
		st = token_login(t, uri_text(&u, A_PIN_VALUE), errmsg);
	} else if (t->slot->token->loginRequired) {
		char *whose = X509_NAME_oneline(X509_get_subject_name(cert->x509), NULL, 0);
		char *err = NULL;
		st = token_login_cb(t, pin_cb, pin_data, pinentry, whose, NULL, &asked, &err);
		OPENSSL_free(whose);
		if (st != GS_OK && !asked) {
			/* no PIN: the key is checked when first used */
			g_free(err);
			st = GS_OK;
		} else if (st != GS_OK && errmsg) {
			*errmsg = err;
		} else {
			g_free(err);
		}
	} else {
		asked = 1;
	}
	if (st == GS_OK && asked) {
		p11_uri ku;
		EVP_PKEY *key = NULL;

		if ((st = uri_parse(stored, &ku, errmsg)) == GS_OK) {
			st = token_key(t, &ku, cert->x509, &key, errmsg);
			uri_clear(&ku);
		}
		EVP_PKEY_free(key);
		if (st == GS_OK && key_checked)
			*key_checked = 1;
	}
	if (st != GS_OK)
		goto out;
	if ((st = gs_identity_store(s, cert->x509, NULL, label, NULL, 0, 0, stored, errmsg)) != GS_OK)
		goto out;
	if (fingerprint)
		*fingerprint = gs_cert_sha256_hex(cert->x509);
out:
	g_free(stored);
	uri_clear(&u);
	gs_token_free(t);
	ERR_clear_error();
	return st;
}
