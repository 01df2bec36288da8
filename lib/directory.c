/* directory.c: directories asked live at encrypt time, their answers
 * cached in the store.
 *
 * A directory's answer is kept as a snapshot's entries are (a source of
 * kind "directory", "directory:NAME"), so gs_resolve binds its
 * certificates by exactly the rules it applies to an export: nothing
 * here decides who a certificate belongs to. What this module adds is
 * when to ask (a recipient the store cannot resolve, or whose cached
 * answer is older than the directory's TTL), the budget (one deadline
 * for every directory and recipient of the session), and the record of
 * each answer (directory_answer: when, and how many entries, also
 * none). The network is asked before the store's write lock is taken. */
#include "import/import.h"

#include <string.h>

#define DEFAULT_TTL_S 86400
#define DEFAULT_TIMEOUT_MS 3000

struct gs_lookups {
	GArray *notes;               /* gs_lookup_note, strings owned */
};

void
gs_directory_dispose(gs_directory *d)
{
	g_free((char *) d->name);
	g_free((char *) d->conn.url);
	g_free((char *) d->conn.bind_dn);
	g_free((char *) d->conn.ca_file);
	if (d->conn.password)
		gs_wipe((char *) d->conn.password, d->conn.password_len);
	g_free((char *) d->conn.password);
	g_free((char *) d->base);
	memset(d, 0, sizeof *d);
}

void
gs_directories_clear(gs_session *s)
{
	guint i;

	if (!s->directories)
		return;
	for (i = 0; i < s->directories->len; i++)
		gs_directory_dispose(&g_array_index(s->directories, gs_directory, i));
	g_array_free(s->directories, TRUE);
	s->directories = NULL;
}

gs_status
gs_session_set_directories(gs_session *s, const gs_directory *dirs, size_t n, unsigned timeout_ms,
			   char **errmsg)
{
	size_t i, k;

	if (!s || (n && !dirs))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_session_set_directories: bad arguments");
	for (i = 0; i < n; i++) {
		if (!dirs[i].name || !*dirs[i].name)
			return gs_fail(errmsg, GS_E_USAGE, "a directory without a name");
		if (!dirs[i].conn.url ||
		    (strncmp(dirs[i].conn.url, "ldap://", 7) && strncmp(dirs[i].conn.url, "ldaps://", 8)))
			return gs_fail(errmsg, GS_E_USAGE, "directory %s: the URL is not ldap:// or ldaps://",
				       dirs[i].name);
		for (k = 0; k < i; k++)
			if (!strcmp(dirs[k].name, dirs[i].name))
				return gs_fail(errmsg, GS_E_USAGE, "two directories named %s", dirs[i].name);
	}
	gs_directories_clear(s);
	s->dir_timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
	if (n == 0)
		return GS_OK;
	s->directories = g_array_sized_new(FALSE, TRUE, sizeof(gs_directory), (guint) n);
	for (i = 0; i < n; i++) {
		gs_directory d = dirs[i];

		d.name = g_strdup(d.name);
		d.conn.url = g_strdup(d.conn.url);
		d.conn.bind_dn = g_strdup(d.conn.bind_dn);
		d.conn.ca_file = g_strdup(d.conn.ca_file);
		d.conn.password = d.conn.password ? g_memdup2(d.conn.password, d.conn.password_len) : NULL;
		d.base = g_strdup(d.base);
		if (!d.ttl_s)
			d.ttl_s = DEFAULT_TTL_S;
		g_array_append_val(s->directories, d);
	}
	return GS_OK;
}

char *
gs_directory_source(const char *name)
{
	return g_strconcat("directory:", name, NULL);
}

size_t
gs_lookups_count(const gs_lookups *l)
{
	return l ? l->notes->len : 0;
}

const gs_lookup_note *
gs_lookups_get(const gs_lookups *l, size_t i)
{
	return l && i < l->notes->len ? &g_array_index(l->notes, gs_lookup_note, i) : NULL;
}

void
gs_lookups_free(gs_lookups *l)
{
	guint i;

	if (!l)
		return;
	for (i = 0; i < l->notes->len; i++) {
		gs_lookup_note *n = &g_array_index(l->notes, gs_lookup_note, i);

		g_free((char *) n->recipient);
		g_free((char *) n->address);
		g_free((char *) n->directory);
		g_free((char *) n->text);
	}
	g_array_free(l->notes, TRUE);
	g_free(l);
}

/* "5 seconds", "3 minutes", "2 days" */
static char *
age(int64_t seconds)
{
	static const struct {
		int64_t unit;
		const char *name;
	} units[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" }, { 1, "second" } };
	size_t i;

	if (seconds < 0)
		seconds = 0;
	for (i = 0; i < G_N_ELEMENTS(units) - 1 && seconds < units[i].unit; i++)
		;
	seconds /= units[i].unit;
	return g_strdup_printf("%" G_GINT64_FORMAT " %s%s", seconds, units[i].name, seconds == 1 ? "" : "s");
}

/* One recipient's question to one directory. */
typedef struct question {
	const char *recipient;
	char *address;
	int64_t fetched_at;          /* of the cached answer, 0: none */
	int ask;
} question;

static gs_status
cached_answer(gs_store *st, const char *directory, const char *address, int64_t *at, char **errmsg)
{
	static const char sql[] =
		"SELECT fetched_at FROM directory_answer WHERE directory = ?1 AND address = ?2";
	int found = 0;
	gs_status rc = gs_store_int64(st, sql, at, &found, "store: directory answer", errmsg,
				      GS_TEXT(directory), GS_TEXT(address));

	if (!found)
		*at = 0;
	return rc;
}

/* The answer into the store: for each address asked, the directory's
 * entries listing it replaced by the ones it gave now, in one
 * transaction. */
static gs_status
keep_answer(gs_session *s, const gs_directory *d, gs_ldap_answer *answer, GPtrArray *asked,
	    int64_t now, char **errmsg)
{
	GHashTable *only = g_hash_table_new(g_str_hash, g_str_equal);
	char *source = gs_directory_source(d->name);
	gs_import_state *imp = NULL;
	int64_t source_id = 0;
	gs_status rc;
	guint i;

	for (i = 0; i < asked->len; i++)
		g_hash_table_add(only, asked->pdata[i]);
	if ((rc = gs_store_begin(s->store, errmsg)) != GS_OK)
		goto out;
	rc = gs_store_source(s->store, source, "directory", &source_id, errmsg);
	for (i = 0; rc == GS_OK && i < asked->len; i++)
		rc = gs_store_dir_forget(s->store, source_id, asked->pdata[i], errmsg);
	if (rc == GS_OK) {
		imp = gs_import_append_begin(s->store, source_id, only);
		rc = gs_ldap_answer_read(answer, imp, errmsg);
		gs_import_append_end(imp, NULL, NULL);
	}
	for (i = 0; rc == GS_OK && i < asked->len; i++)
		rc = gs_store_dir_answer_put(s->store, d->name, asked->pdata[i], now, errmsg);
	if (rc == GS_OK)
		rc = gs_store_gc(s->store, errmsg);
	if (rc == GS_OK)
		rc = gs_store_commit(s->store, errmsg);
	if (rc != GS_OK)
		gs_store_rollback(s->store);
	/* the certificates the chain checks see may have changed */
	gs_store_forget_anchors(s->store);
out:
	g_hash_table_destroy(only);
	g_free(source);
	return rc;
}

static void
add_note(gs_lookups *l, const question *q, const gs_directory *d, gs_lookup_state state, int64_t at,
	 char *text)
{
	gs_lookup_note n;

	n.recipient = g_strdup(q->recipient);
	n.address = g_strdup(q->address);
	n.directory = g_strdup(d->name);
	n.state = state;
	n.fetched_at = at;
	n.text = text;
	g_array_append_val(l->notes, n);
}

/* Why a directory gave no answer, in the words the notes use. */
static char *
no_answer(const gs_directory *d, gs_status st, const char *why, unsigned timeout_ms)
{
	char *w = gs_printable(why, 200);
	char *r;

	if (st == GS_E_IO)
		r = g_strdup_printf("directory %s did not answer in %g s (%s)", d->name, timeout_ms / 1000.0,
				    w ? w : "?");
	else
		r = g_strdup_printf("directory %s could not be asked (%s)", d->name, w ? w : "?");
	g_free(w);
	return r;
}

/* Ask one directory the questions that need it; note every one. */
static gs_status
ask_directory(gs_session *s, const gs_directory *d, question *qs, size_t n, gs_lookups *l,
	      char **errmsg)
{
	GPtrArray *asked = g_ptr_array_new();
	gs_ldap_answer *answer = NULL;
	int64_t now = (int64_t) time(NULL);
	gint64 started, budget;
	gs_status st = GS_OK, ldap_st = GS_OK;
	char *why = NULL;
	size_t i;
	guint k;

	for (i = 0; i < n; i++) {
		int dup = 0;

		if (!qs[i].ask)
			continue;
		for (k = 0; k < asked->len && !dup; k++)
			dup = !strcmp(asked->pdata[k], qs[i].address);
		if (!dup)
			g_ptr_array_add(asked, qs[i].address);
	}
	if (asked->len) {
		started = g_get_monotonic_time();
		budget = (gint64) s->dir_timeout_ms * 1000 - s->dir_spent_us;
		if (budget <= 0)
			ldap_st = gs_fail(&why, GS_E_IO, "no time left for it");
		else
			ldap_st = gs_ldap_ask(&d->conn, d->base, (const char *const *) asked->pdata, asked->len,
					      started + budget, &answer, &why);
		s->dir_spent_us += g_get_monotonic_time() - started;
		if (ldap_st == GS_OK)
			st = keep_answer(s, d, answer, asked, now, errmsg);
		gs_ldap_answer_free(answer);
	}
	for (i = 0; st == GS_OK && i < n; i++) {
		question *q = &qs[i];
		char *text = NULL;

		if (!q->ask) {
			add_note(l, q, d, GS_LOOKUP_CACHED, q->fetched_at, NULL);
		} else if (ldap_st == GS_OK) {
			add_note(l, q, d, GS_LOOKUP_ASKED, now, NULL);
		} else if (q->fetched_at) {
			char *failed = no_answer(d, ldap_st, why, s->dir_timeout_ms);
			char *ago = age(now - q->fetched_at);
			text = g_strdup_printf("%s; using its answer for %s cached %s ago", failed, q->address, ago);
			g_free(failed);
			g_free(ago);
			add_note(l, q, d, GS_LOOKUP_STALE, q->fetched_at, text);
		} else {
			char *failed = no_answer(d, ldap_st, why, s->dir_timeout_ms);
			text = g_strdup_printf("%s, and nothing about %s is cached", failed, q->address);
			g_free(failed);
			add_note(l, q, d, GS_LOOKUP_FAILED, 0, text);
		}
	}
	g_free(why);
	g_ptr_array_free(asked, TRUE);
	return st;
}

gs_status
gs_directory_lookup(gs_session *s, const char *const *recipients, const int *resolved, size_t n,
		    unsigned flags, gs_lookups **notes, char **errmsg)
{
	gs_lookups *l;
	question *qs;
	gs_status st = GS_OK;
	int64_t now = (int64_t) time(NULL);
	size_t i, nq = 0;
	guint k;

	if (!s || (n && !recipients))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_directory_lookup: bad arguments");
	if (notes)
		*notes = NULL;
	l = g_new0(gs_lookups, 1);
	l->notes = g_array_new(FALSE, FALSE, sizeof(gs_lookup_note));
	qs = g_new0(question, n + 1);
	for (i = 0; i < n; i++) {
		char *a = gs_recipient_address(recipients[i]);

		if (!a)
			continue; /* a name: directories are asked by address */
		qs[nq].recipient = recipients[i];
		qs[nq].address = a;
		nq++;
	}
	for (k = 0; s->directories && k < s->directories->len && st == GS_OK; k++) {
		const gs_directory *d = &g_array_index(s->directories, gs_directory, k);
		size_t q = 0;

		for (i = 0; i < n && st == GS_OK; i++) {
			int known;

			if (q >= nq || qs[q].recipient != recipients[i])
				continue;
			st = cached_answer(s->store, d->name, qs[q].address, &qs[q].fetched_at, errmsg);
			known = qs[q].fetched_at != 0;
			qs[q].ask = (flags & GS_LOOKUP_REFRESH) ||
				    (known && (now - qs[q].fetched_at >= (int64_t) d->ttl_s ||
					       qs[q].fetched_at > now)) || /* the clock went back */
				    (!known && !(resolved && resolved[i]));
			q++;
		}
		if (st == GS_OK)
			st = ask_directory(s, d, qs, nq, l, errmsg);
	}
	for (i = 0; i < nq; i++)
		g_free(qs[i].address);
	g_free(qs);
	if (st != GS_OK || !notes)
		gs_lookups_free(l);
	else
		*notes = l;
	return st;
}
