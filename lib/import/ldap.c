/* ldap.c: a GAL snapshot straight from an LDAP directory (gal sync).
 *
 * libldap (dl.c) does the protocol: gs_ldap_open connects and binds
 * (simple, or SASL GSSAPI through Cyrus SASL: Kerberos), for every use
 * of a directory; gal sync then does one subtree search in pages of
 * PAGE entries (RFC 2696's paged results control), each entry read as it
 * arrives, so that memory holds one entry whatever the directory's size,
 * and the server sends while galsmime reads. Each entry
 * goes through what the LDIF importer does with an entry (gs_dir_entry),
 * so both read the same attributes under the same rules. The caller
 * holds the import's transaction: a failure at any page leaves the
 * previous snapshot as it was. */
#include "import.h"

#include <string.h>
#include <sasl/sasl.h>

#define PAGE 500

gs_ldap_api gs_ld;

static gs_status
load_ldap(char **errmsg)
{
	static const gs_symbol syms[] = {
		GS_SYMBOL(gs_ld, initialize, ldap_initialize), GS_SYMBOL(gs_ld, set_option, ldap_set_option),
		GS_SYMBOL(gs_ld, get_option, ldap_get_option), GS_SYMBOL(gs_ld, start_tls, ldap_start_tls_s),
		GS_SYMBOL(gs_ld, bind, ldap_sasl_bind_s), GS_SYMBOL(gs_ld, sasl_bind, ldap_sasl_interactive_bind_s),
		GS_SYMBOL(gs_ld, unbind, ldap_unbind_ext_s),
		GS_SYMBOL(gs_ld, search, ldap_search_ext_s), GS_SYMBOL(gs_ld, search_async, ldap_search_ext),
		GS_SYMBOL(gs_ld, result, ldap_result), GS_SYMBOL(gs_ld, page_control, ldap_create_page_control),
		GS_SYMBOL(gs_ld, parse_page, ldap_parse_pageresponse_control),
		GS_SYMBOL(gs_ld, control_find, ldap_control_find), GS_SYMBOL(gs_ld, controls_free, ldap_controls_free),
		GS_SYMBOL(gs_ld, control_free, ldap_control_free), GS_SYMBOL(gs_ld, parse_result, ldap_parse_result),
		GS_SYMBOL(gs_ld, first_entry, ldap_first_entry), GS_SYMBOL(gs_ld, next_entry, ldap_next_entry),
		GS_SYMBOL(gs_ld, get_dn, ldap_get_dn), GS_SYMBOL(gs_ld, first_attribute, ldap_first_attribute),
		GS_SYMBOL(gs_ld, next_attribute, ldap_next_attribute), GS_SYMBOL(gs_ld, get_values, ldap_get_values_len),
		GS_SYMBOL(gs_ld, values_free, ldap_value_free_len), GS_SYMBOL(gs_ld, memfree, ldap_memfree),
		GS_SYMBOL(gs_ld, msgfree, ldap_msgfree), GS_SYMBOL(gs_ld, err2string, ldap_err2string),
		GS_SYMBOL(gs_ld, ber_free, ber_free), GS_SYMBOL(gs_ld, ber_memfree, ber_memfree),
	};
	return gs_library_load(GS_LIB_LDAP, &gs_ld, syms, G_N_ELEMENTS(syms), errmsg);
}

gs_status
gs_ldap_fail(LDAP *l, char **errmsg, int err, const char *url, const char *what)
{
	char *u = gs_printable(url, 200), *diag = NULL, *d;
	gs_status st;

	if (l)
		gs_ld.get_option(l, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	d = diag && *diag ? gs_printable(diag, 300) : NULL;
	/* refused credentials are exit 77; Cyrus SASL reports a Kerberos
	 * failure (no ticket, no such service principal) as a local error */
	if (err == LDAP_INVALID_CREDENTIALS)
		st = gs_fail(errmsg, GS_E_PASSPHRASE, "%s: %s: wrong bind DN or password", u, what);
	else if (err == LDAP_INAPPROPRIATE_AUTH || err == LDAP_STRONG_AUTH_REQUIRED ||
		 err == LDAP_AUTH_METHOD_NOT_SUPPORTED || err == LDAP_INSUFFICIENT_ACCESS ||
		 err == LDAP_AUTH_UNKNOWN || (err == LDAP_LOCAL_ERROR && !strcmp(what, "GSSAPI bind")))
		st = gs_fail(errmsg, GS_E_PASSPHRASE, "%s: %s: %s%s%s", u, what, gs_ld.err2string(err),
			     d ? ": " : "", d ? d : "");
	else
		st = gs_fail(errmsg, GS_E_IO, "%s: %s: %s%s%s", u, what, gs_ld.err2string(err), d ? ": " : "",
			     d ? d : "");
	g_free(d);
	if (diag)
		gs_ld.memfree(diag);
	g_free(u);
	return st;
}

/* Cyrus SASL's questions during a GSSAPI bind: its defaults (the
 * identity is the Kerberos ticket's; no authorisation identity). */
static int
sasl_defaults(LDAP *l, unsigned flags, void *defaults, void *in)
{
	sasl_interact_t *q;

	(void) l;
	(void) flags;
	(void) defaults;
	for (q = in; q && q->id != SASL_CB_LIST_END; q++) {
		q->result = q->defresult ? q->defresult : "";
		q->len = (unsigned) strlen(q->result);
	}
	return LDAP_SUCCESS;
}

gs_status
gs_ldap_open(const gs_ldap_opts *o, LDAP **out, char **errmsg)
{
	int ms = o && o->timeout_ms > 0 ? o->timeout_ms : 10000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int version = LDAP_VERSION3, err;
	LDAP *l = NULL;
	char *why = NULL;
	gs_status rc;

	*out = NULL;
	if (!o)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_ldap_open: no options");
	if ((rc = load_ldap(&why)) != GS_OK) {
		rc = gs_fail(errmsg, rc, "LDAP needs libldap: %s", why);
		g_free(why);
		return rc;
	}
	if (o->bind == GS_LDAP_BIND_GSSAPI && o->bind_dn)
		return gs_fail(errmsg, GS_E_USAGE, "a GSSAPI bind takes no bind DN (the Kerberos ticket names who binds)");
	if (!o->url || (strncmp(o->url, "ldap://", 7) && strncmp(o->url, "ldaps://", 8)) ||
	    gs_ld.initialize(&l, o->url) != LDAP_SUCCESS) {
		char *u = gs_printable(o->url, 200);
		rc = gs_fail(errmsg, GS_E_USAGE, "'%s' is not an ldap:// or ldaps:// URL", u ? u : "");
		g_free(u);
		return rc;
	}
	gs_ld.set_option(l, LDAP_OPT_PROTOCOL_VERSION, &version);
	gs_ld.set_option(l, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	gs_ld.set_option(l, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	gs_ld.set_option(l, LDAP_OPT_TIMEOUT, &tv);
	if (o->ca_file) {
		int demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;

		gs_ld.set_option(l, LDAP_OPT_X_TLS_CACERTFILE, o->ca_file);
		gs_ld.set_option(l, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
		gs_ld.set_option(l, LDAP_OPT_X_TLS_NEWCTX, &zero);
	}
	if (o->starttls && (err = gs_ld.start_tls(l, NULL, NULL)) != LDAP_SUCCESS) {
		rc = gs_ldap_fail(l, errmsg, err, o->url, "StartTLS");
		gs_ld.unbind(l, NULL, NULL);
		return rc;
	}
	if (o->bind == GS_LDAP_BIND_GSSAPI) {
		/* the service principal is ldap/ + the URL's host as written:
		 * reverse DNS would let whoever answers it choose the name */
		gs_ld.set_option(l, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON);
		err = gs_ld.sasl_bind(l, NULL, "GSSAPI", NULL, NULL, LDAP_SASL_QUIET, sasl_defaults, NULL);
	} else {
		struct berval cred = { (ber_len_t) o->password_len, (char *) o->password };

		err = gs_ld.bind(l, o->bind_dn ? o->bind_dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	}
	if (err != LDAP_SUCCESS) {
		rc = gs_ldap_fail(l, errmsg, err, o->url, o->bind == GS_LDAP_BIND_GSSAPI ? "GSSAPI bind" : "bind");
		gs_ld.unbind(l, NULL, NULL);
		return rc;
	}
	*out = l;
	return GS_OK;
}

void
gs_ldap_close(LDAP *l)
{
	if (l)
		gs_ld.unbind(l, NULL, NULL);
}

/* One entry of a page into the import. */
static gs_status
one_entry(gs_import_state *st, LDAP *l, LDAPMessage *m, gs_record *rec, const char *url,
	  unsigned long n, char **errmsg)
{
	BerElement *ber = NULL;
	gs_dir_entry *e = gs_dir_entry_new(st, rec, url, n);
	char *dn = gs_ld.get_dn(l, m), *a;
	int dropped = 0;
	gs_status rc;

	g_snprintf(rec->where, sizeof rec->where, "%s: entry %lu", url, n);
	rc = gs_dir_entry_dn(e, dn ? dn : "", dn ? strlen(dn) : 0, 0, &dropped, errmsg);
	for (a = gs_ld.first_attribute(l, m, &ber); a && rc == GS_OK && !dropped;
	     a = gs_ld.next_attribute(l, m, ber)) {
		struct berval **v = gs_ld.get_values(l, m, a);
		char *semi = strchr(a, ';');
		size_t i;

		if (semi)
			*semi = '\0'; /* userCertificate;binary */
		for (i = 0; v && v[i] && rc == GS_OK && !dropped; i++) {
			/* NUL-terminated for the checks that compare text */
			char *copy = g_malloc(v[i]->bv_len + 1);

			memcpy(copy, v[i]->bv_val, v[i]->bv_len);
			copy[v[i]->bv_len] = '\0';
			rc = gs_dir_entry_attribute(e, a, copy, v[i]->bv_len, 0, &dropped, errmsg);
			g_free(copy);
		}
		if (v)
			gs_ld.values_free(v);
		gs_ld.memfree(a);
	}
	if (a)
		gs_ld.memfree(a);
	if (ber)
		gs_ld.ber_free(ber, 0);
	if (rc == GS_OK && !dropped)
		rc = gs_dir_entry_end(e, errmsg);
	gs_dir_entry_free(e);
	if (dn)
		gs_ld.memfree(dn);
	return rc;
}

/* Search for one page of PAGE entries from *cookie (none: the first),
 * each entry handed on as it arrives (libldap holds one message, not
 * the page, and the server sends while the entries before are read);
 * *cookie gets the server's, for the next page (empty: that was the
 * last). *n counts the entries. */
static gs_status
one_page(gs_import_state *st, LDAP *l, const char *url, const char *base, const char *filter,
	 char **attrs, struct timeval *tv, struct berval *cookie, gs_record *rec, unsigned long *n,
	 char **errmsg)
{
	LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL, *pr;
	LDAPMessage *res = NULL;
	char *text = NULL, what[64];
	int result = LDAP_OTHER, msgid = -1, type = 0, err;
	ber_int_t total = 0;
	gs_status rc = GS_OK;

	if ((err = gs_ld.page_control(l, PAGE, cookie->bv_val ? cookie : NULL, 1, &page)) != LDAP_SUCCESS)
		return gs_ldap_fail(l, errmsg, err, url, "paged results control");
	ctrls[0] = page;
	err = gs_ld.search_async(l, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL, tv, 0, &msgid);
	gs_ld.control_free(page);
	gs_ld.ber_memfree(cookie->bv_val);
	cookie->bv_val = NULL;
	cookie->bv_len = 0;
	while (err == LDAP_SUCCESS && rc == GS_OK && type != LDAP_RES_SEARCH_RESULT) {
		type = gs_ld.result(l, msgid, LDAP_MSG_ONE, tv, &res);
		if (type == 0)
			err = LDAP_TIMEOUT;
		else if (type < 0 && (gs_ld.get_option(l, LDAP_OPT_RESULT_CODE, &err) != LDAP_OPT_SUCCESS ||
				      err == LDAP_SUCCESS))
			err = LDAP_OTHER;
		else if (type == LDAP_RES_SEARCH_ENTRY)
			rc = one_entry(st, l, res, rec, url, ++*n, errmsg);
		else if (type == LDAP_RES_SEARCH_RESULT &&
			 (err = gs_ld.parse_result(l, res, &result, NULL, &text, NULL, &rctrls, 0)) == LDAP_SUCCESS &&
			 result == LDAP_SUCCESS && (pr = gs_ld.control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL)) &&
			 gs_ld.parse_page(l, pr, &total, cookie) != LDAP_SUCCESS) {
			cookie->bv_val = NULL;
			cookie->bv_len = 0;
		}
		/* references and anything else: not entries */
		if (res)
			gs_ld.msgfree(res);
		res = NULL;
	}
	if (rc == GS_OK && err != LDAP_SUCCESS) {
		g_snprintf(what, sizeof what, "search (after %lu entries)", *n);
		rc = gs_ldap_fail(l, errmsg, err, url, what);
	} else if (rc == GS_OK && result != LDAP_SUCCESS) {
		char *u = gs_printable(url, 200), *t = gs_printable(text, 200);
		rc = gs_fail(errmsg, GS_E_IO, "%s: the search ended after %lu entries: %s%s%s", u, *n,
			     gs_ld.err2string(result), t && *t ? ": " : "", t ? t : "");
		g_free(u);
		g_free(t);
	}
	if (text)
		gs_ld.memfree(text);
	if (rctrls)
		gs_ld.controls_free(rctrls);
	return rc;
}

/* The base to search when none is given: the server's
 * defaultNamingContext (Active Directory), else its first
 * namingContexts (OpenLDAP). */
static char *
default_base(LDAP *l, struct timeval *tv)
{
	char *attrs[] = { "defaultNamingContext", "namingContexts", NULL };
	LDAPMessage *res = NULL, *m;
	char *out = NULL;
	int i;

	if (gs_ld.search(l, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, tv, 1, &res) ==
		    LDAP_SUCCESS &&
	    (m = gs_ld.first_entry(l, res))) {
		for (i = 0; attrs[i] && !out; i++) {
			struct berval **v = gs_ld.get_values(l, m, attrs[i]);
			if (v && v[0])
				out = g_strndup(v[0]->bv_val, v[0]->bv_len);
			if (v)
				gs_ld.values_free(v);
		}
	}
	if (res)
		gs_ld.msgfree(res);
	return out;
}

gs_status
gs_sync_ldap(gs_import_state *st, const gs_ldap_sync_opts *o, char **errmsg)
{
	static char *attrs[] = { "mail", "proxyAddresses", "targetAddress", "displayName", "cn",
				 "mailNickname", "objectClass", "galsmimeKind", "userCertificate;binary",
				 "userSMIMECertificate", "userSMIMECertificate;binary",
				 "msExchangeCertificate", "msExchangeCertificate;binary", NULL };
	int ms = o->conn.timeout_ms > 0 ? o->conn.timeout_ms : 10000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct berval cookie = { 0, NULL };   /* the server's, for the next page */
	const char *filter = o->filter && *o->filter ? o->filter : "(objectClass=*)";
	const char *url = o->conn.url;
	LDAP *l = NULL;
	char *base = NULL, *why = NULL;
	unsigned long n = 0;
	gs_record rec;
	gs_status rc = GS_OK;

	if ((rc = gs_dir_entry_load(&why)) != GS_OK) {
		rc = gs_fail(errmsg, rc, "gal sync needs libldap: %s", why);
		g_free(why);
		return rc;
	}
	if ((rc = gs_ldap_open(&o->conn, &l, errmsg)) != GS_OK)
		return rc;
	base = o->base ? g_strdup(o->base) : default_base(l, &tv);
	if (!base) {
		char *u = gs_printable(url, 200);
		rc = gs_fail(errmsg, GS_E_USAGE, "%s names no naming context: give --base", u);
		g_free(u);
		gs_ldap_close(l);
		return rc;
	}
	gs_record_init(&rec);
	do {
		rc = one_page(st, l, url, base, filter, attrs, &tv, &cookie, &rec, &n, errmsg);
	} while (rc == GS_OK && cookie.bv_len > 0);
	gs_ld.ber_memfree(cookie.bv_val);
	if (rc == GS_OK && n == 0)
		rc = gs_fail(errmsg, GS_E_MALFORMED, "%s: no entry under %s", url, base);
	gs_record_dispose(&rec);
	g_free(base);
	gs_ldap_close(l);
	return rc;
}

/* ---- live lookups (directory.c): a few addresses, within a deadline ---- */

/* Addresses per search: each is two terms of an OR filter. */
#define ASK_BATCH 50
/* Entries one address may bring back before the answer is refused. */
#define ASK_PER_ADDRESS 20

struct gs_ldap_answer {
	LDAP *l;
	GPtrArray *results;          /* LDAPMessage*: one per search */
	char *url;
};

/* The time left before `deadline` (g_get_monotonic_time), at least 1 ms. */
static struct timeval
time_left(gint64 deadline)
{
	gint64 left = deadline - g_get_monotonic_time();
	struct timeval tv;

	if (left < 1000)
		left = 1000;
	tv.tv_sec = (time_t) (left / G_USEC_PER_SEC);
	tv.tv_usec = (suseconds_t) (left % G_USEC_PER_SEC);
	return tv;
}

/* Every libldap wait from now on ends by the deadline. */
static void
until(LDAP *l, gint64 deadline, struct timeval *tv)
{
	*tv = time_left(deadline);
	gs_ld.set_option(l, LDAP_OPT_NETWORK_TIMEOUT, tv);
	gs_ld.set_option(l, LDAP_OPT_TIMEOUT, tv);
}

/* An RFC 4515 filter value: the five special bytes escaped. */
static void
filter_value(GString *g, const char *v)
{
	for (; *v; v++) {
		if (*v == '*' || *v == '(' || *v == ')' || *v == '\\')
			g_string_append_printf(g, "\\%02x", (unsigned char) *v);
		else
			g_string_append_c(g, *v);
	}
}

void
gs_ldap_answer_free(gs_ldap_answer *a)
{
	guint i;

	if (!a)
		return;
	for (i = 0; a->results && i < a->results->len; i++)
		gs_ld.msgfree(a->results->pdata[i]);
	if (a->results)
		g_ptr_array_free(a->results, TRUE);
	if (a->l)
		gs_ldap_close(a->l);
	g_free(a->url);
	g_free(a);
}

gs_status
gs_ldap_ask(const gs_ldap_opts *conn, const char *base_dn, const char *const *addresses, size_t n,
	    gint64 deadline, gs_ldap_answer **out, char **errmsg)
{
	gs_ldap_opts o = *conn;
	gs_ldap_answer *a;
	struct timeval tv;
	char *base = NULL;
	gs_status rc = GS_OK;
	gint64 left = deadline - g_get_monotonic_time();
	size_t i;
	int err;

	*out = NULL;
	if (left < 1000)
		return gs_fail(errmsg, GS_E_IO, "%s: no time left to ask it", conn->url ? conn->url : "?");
	/* connecting and binding within what is left */
	o.timeout_ms = (int) MIN(left / 1000, G_MAXINT);
	a = g_new0(gs_ldap_answer, 1);
	a->url = g_strdup(o.url);
	a->results = g_ptr_array_new();
	if ((rc = gs_ldap_open(&o, &a->l, errmsg)) != GS_OK || (rc = gs_dir_entry_load(errmsg)) != GS_OK)
		goto out;
	until(a->l, deadline, &tv);
	base = base_dn ? g_strdup(base_dn) : default_base(a->l, &tv);
	if (!base) {
		rc = gs_fail(errmsg, GS_E_USAGE, "%s names no naming context: configure its base", o.url);
		goto out;
	}
	for (i = 0; i < n && rc == GS_OK; i += ASK_BATCH) {
		GString *f = g_string_new("(|");
		LDAPMessage *res = NULL;
		size_t k, m = MIN(n - i, (size_t) ASK_BATCH);
		int result = LDAP_OTHER;
		char *text = NULL;

		for (k = i; k < i + m; k++) {
			g_string_append(f, "(mail=");
			filter_value(f, addresses[k]);
			g_string_append(f, ")(proxyAddresses=smtp:");
			filter_value(f, addresses[k]);
			g_string_append(f, ")");
		}
		g_string_append_c(f, ')');
		until(a->l, deadline, &tv);
		/* every attribute: the entry reader takes what it knows */
		err = gs_ld.search(a->l, base, LDAP_SCOPE_SUBTREE, f->str, NULL, 0, NULL, NULL, &tv,
				(int) (m * ASK_PER_ADDRESS), &res);
		g_string_free(f, TRUE);
		if (res)
			g_ptr_array_add(a->results, res);
		if (err == LDAP_SUCCESS && res &&
		    gs_ld.parse_result(a->l, res, &result, NULL, &text, NULL, NULL, 0) == LDAP_SUCCESS)
			err = result;
		if (text)
			gs_ld.memfree(text);
		if (err == LDAP_SIZELIMIT_EXCEEDED)
			rc = gs_fail(errmsg, GS_E_LIMIT, "%s: more than %d entries for one address", o.url,
				     ASK_PER_ADDRESS);
		else if (err != LDAP_SUCCESS)
			rc = gs_ldap_fail(a->l, errmsg, err, o.url, "search");
	}
out:
	g_free(base);
	if (rc != GS_OK) {
		gs_ldap_answer_free(a);
		return rc;
	}
	*out = a;
	return GS_OK;
}

gs_status
gs_ldap_answer_read(gs_ldap_answer *a, gs_import_state *st, char **errmsg)
{
	unsigned long n = 0;
	gs_record rec;
	gs_status rc = GS_OK;
	guint i;

	gs_record_init(&rec);
	for (i = 0; i < a->results->len && rc == GS_OK; i++) {
		LDAPMessage *m;

		for (m = gs_ld.first_entry(a->l, a->results->pdata[i]); m && rc == GS_OK; m = gs_ld.next_entry(a->l, m))
			rc = one_entry(st, a->l, m, &rec, a->url, ++n, errmsg);
	}
	gs_record_dispose(&rec);
	return rc;
}
