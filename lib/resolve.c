/* resolve.c: recipient string -> candidate certificates with verdicts ->
 * the chosen one. The only place recipient policy lives; the rules are
 * in galsmime.h at gs_resolve and in SECURITY.md. */
#include "gs-private.h"

#include <string.h>

typedef struct cand_data {
	gs_candidate pub;
	gs_certdata cd;
	GArray *sources;     /* of gs_cand_source, strings owned */
	GArray *source_entry;/* int64: the entry id of each source (0: none) */
	GArray *entries;     /* int64 ids of the entries offering it */
	char *reason;        /* pub.reason when it names OpenSSL's error */
	X509 *x;
} cand_data;

/* A directory entry that lists the address (or was named). */
typedef struct entry_data {
	int64_t id;
	char *label, *source, *kind;
	unsigned n_certs;
} entry_data;

/* A name shared by more entries than this picks out nobody (and the
 * failure lists the first few): no unbounded work for a common name. */
#define MAX_NAMED 16

struct gs_resolution {
	char *recipient;
	char *address;       /* NULL: the recipient is a name */
	GPtrArray *cands;    /* of cand_data* */
	GPtrArray *entries;  /* of entry_data*: listing the address, or named */
	int chosen;
	char *failure;
	char *note;
	char *conflict;
	int ambiguous;       /* a name shared by entries that disagree */
};

const char *
gs_verdict_string(gs_verdict v)
{
	switch (v) {
	case GS_VERDICT_USABLE: return "usable";
	case GS_VERDICT_EXPIRED: return "expired";
	case GS_VERDICT_NOT_YET_VALID: return "not yet valid";
	case GS_VERDICT_NO_KEY_USAGE: return "key usage forbids encryption";
	case GS_VERDICT_NO_EMAIL_EKU: return "not for e-mail";
	case GS_VERDICT_UNTRUSTED: return "untrusted";
	case GS_VERDICT_REVOKED: return "revoked";
	case GS_VERDICT_UNSUPPORTED_KEY: return "unsupported key";
	case GS_VERDICT_CA: return "CA certificate";
	}
	return "unknown";
}

const char *
gs_binding_string(gs_binding b)
{
	switch (b) {
	case GS_BIND_CERTIFICATE: return "certificate";
	case GS_BIND_DIRECTORY: return "directory";
	case GS_BIND_NAME: return "name";
	case GS_BIND_NONE: break;
	}
	return "none";
}

/* Why a chain check failed that was neither about dates nor revocation:
 * a missing or untrusted CA (something the user can import), or
 * anything else OpenSSL refuses (a bad signature on the certificate, EC
 * keys with explicit parameters...), named as OpenSSL names it. */
static const char *
untrusted_reason(int err, char **buf)
{
	switch (err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_UNSPECIFIED:
	case X509_V_OK:
		return "its chain does not reach a trust anchor (galsmime trust import CA-FILE)";
	default:
		*buf = g_strdup_printf("its chain does not verify: %s", gs_chain_error_string(err));
		return *buf;
	}
}

static void
cand_free(cand_data *c)
{
	guint i;

	gs_certdata_clear(&c->cd);
	for (i = 0; i < c->sources->len; i++) {
		gs_cand_source *src = &g_array_index(c->sources, gs_cand_source, i);
		g_free((char *) src->source);
		g_free((char *) src->entry);
		g_free((char *) src->attribute);
	}
	g_array_free(c->sources, TRUE);
	g_array_free(c->source_entry, TRUE);
	g_array_free(c->entries, TRUE);
	g_free(c->reason);
	X509_free(c->x);
	g_free(c);
}

static void
entry_free(entry_data *e)
{
	g_free(e->label);
	g_free(e->source);
	g_free(e->kind);
	g_free(e);
}

static int
attribute_rank(const char *attr)
{
	/* Microsoft tells clients to prefer userSMIMECertificate */
	if (attr && !g_ascii_strcasecmp(attr, "userSMIMECertificate"))
		return 2;
	return 1;
}

/* The best rank among the places a candidate came from; with `entry`
 * non-zero, among that entry's only. */
static int
cand_rank(const cand_data *c, int64_t entry)
{
	int best = 0;
	guint i;

	for (i = 0; i < c->sources->len; i++) {
		const gs_cand_source *src = &g_array_index(c->sources, gs_cand_source, i);
		int r;

		if (entry && g_array_index(c->source_entry, int64_t, i) != entry)
			continue;
		if ((r = attribute_rank(src->attribute)) > best)
			best = r;
	}
	return best;
}

static int
offered_by(const cand_data *c, int64_t entry)
{
	guint i;

	for (i = 0; i < c->entries->len; i++)
		if (g_array_index(c->entries, int64_t, i) == entry)
			return 1;
	return 0;
}

/* Is `a` better than `b` (both usable)? userSMIMECertificate first,
 * then the newest. */
static int
better(const cand_data *a, const cand_data *b, int64_t entry)
{
	int ra = cand_rank(a, entry), rb = cand_rank(b, entry);

	if (ra != rb)
		return ra > rb;
	return a->pub.cert.not_before > b->pub.cert.not_before;
}

typedef struct collect {
	gs_session *s;
	gs_resolution *r;
	unsigned flags;
	gs_status st;
	char **errmsg;
} collect;

gs_status
gs_judge_recipient(gs_session *s, X509 *x, unsigned flags, gs_verdict *verdict, const char **reason,
		   char **buf, char **errmsg)
{
	int first = X509_V_OK;
	unsigned rs = 0;
	gs_status st;

	*buf = NULL;
	*verdict = gs_cert_recipient_verdict(x, gs_session_now(s), reason);
	if (*verdict != GS_VERDICT_USABLE)
		return GS_OK;
	if ((st = gs_chain_check(s->store, x, NULL, 0, gs_session_now(s), &rs, &first, errmsg)) != GS_OK)
		return st;
	if (rs & GS_REASON_REVOKED) {
		*verdict = GS_VERDICT_REVOKED;
		*reason = "revoked (the revocation list of its CA lists it)";
	} else if (rs & (GS_REASON_EXPIRED | GS_REASON_NOT_YET_VALID)) {
		*verdict = GS_VERDICT_EXPIRED;
		*reason = "a certificate in its chain is expired or not yet valid";
	} else if ((rs & ~GS_REASONS_WARNINGS) && !(flags & GS_RESOLVE_ALLOW_UNTRUSTED)) {
		*verdict = GS_VERDICT_UNTRUSTED;
		*reason = untrusted_reason(first, buf);
	} else if (rs & GS_REASON_CRL_STALE) {
		*reason = "usable, but the revocation list of its CA is out of date "
			  "(galsmime crl update)";
	}
	return GS_OK;
}

/* The verdict on a candidate; a store that cannot be read is a status
 * (in co->st), never a verdict. */
static gs_status
judge(collect *co, cand_data *c)
{
	return co->st = gs_judge_recipient(co->s, c->x, co->flags, &c->pub.verdict, &c->pub.reason,
					   &c->reason, co->errmsg);
}

static void
add_source(cand_data *c, const char *source, int64_t entry_id, const char *entry,
	   const char *attribute)
{
	gs_cand_source src;
	guint i;

	for (i = 0; i < c->sources->len; i++) {
		const gs_cand_source *o = &g_array_index(c->sources, gs_cand_source, i);
		if (!g_strcmp0(o->source, source) && g_array_index(c->source_entry, int64_t, i) == entry_id &&
		    !g_strcmp0(o->attribute, attribute))
			return;
	}
	src.source = g_strdup(source);
	src.entry = g_strdup(entry);
	src.attribute = g_strdup(attribute);
	/* the best ranked place first: it is what one-line listings show */
	if (attribute_rank(attribute) > cand_rank(c, 0)) {
		g_array_prepend_val(c->sources, src);
		g_array_prepend_val(c->source_entry, entry_id);
	} else {
		g_array_append_val(c->sources, src);
		g_array_append_val(c->source_entry, entry_id);
	}
}

/* A source that brought the certificate through a directory entry says
 * more than the same source found by the certificate's own address:
 * keep the entry, drop the bare row. */
static void
drop_redundant_sources(cand_data *c)
{
	guint i, j;

	for (i = c->sources->len; i-- > 0;) {
		gs_cand_source *bare = &g_array_index(c->sources, gs_cand_source, i);
		int dup = 0;

		if (bare->entry)
			continue;
		for (j = 0; j < c->sources->len && !dup; j++) {
			const gs_cand_source *o = &g_array_index(c->sources, gs_cand_source, j);
			dup = o->entry && !g_strcmp0(o->source, bare->source);
		}
		if (!dup)
			continue;
		g_free((char *) bare->source);
		g_free((char *) bare->entry);
		g_free((char *) bare->attribute);
		g_array_remove_index(c->sources, i);
		g_array_remove_index(c->source_entry, i);
	}
}

/* One row from the store: a new candidate, or another place an known
 * one came from. */
static int
collect_cb(const gs_cand_row *row, void *data)
{
	collect *co = data;
	cand_data *c = NULL;
	char *fp = gs_cert_sha256_hex(row->x);
	guint i;

	for (i = 0; fp && i < co->r->cands->len && !c; i++) {
		cand_data *o = co->r->cands->pdata[i];
		if (!g_strcmp0(o->pub.cert.sha256, fp))
			c = o;
	}
	g_free(fp);
	if (!c) {
		c = g_new0(cand_data, 1);
		c->sources = g_array_new(FALSE, FALSE, sizeof(gs_cand_source));
		c->source_entry = g_array_new(FALSE, FALSE, sizeof(int64_t));
		c->entries = g_array_new(FALSE, FALSE, sizeof(int64_t));
		X509_up_ref(row->x);
		c->x = row->x;
		gs_certdata_fill(&c->cd, row->x);
		c->pub.cert = c->cd.info;
		c->pub.address_match = co->r->address && gs_cert_has_email(row->x, co->r->address);
		g_ptr_array_add(co->r->cands, c);
		if (judge(co, c) != GS_OK)
			return 1; /* the store failed: stop */
	}
	if (row->entry_id && !offered_by(c, row->entry_id))
		g_array_append_val(c->entries, row->entry_id);
	if (row->entry_id) {
		add_source(c, row->sources, row->entry_id, row->entry, row->attribute);
	} else {
		/* found by its own address: every source that brought it */
		char **v = g_strsplit(row->sources ? row->sources : "", ",", -1), **p;
		for (p = v; *p; p++)
			add_source(c, **p ? *p : NULL, 0, NULL, row->attribute);
		if (!*v)
			add_source(c, NULL, 0, NULL, row->attribute);
		g_strfreev(v);
	}
	return 0;
}

static int
collect_entry(const gs_entry_row *row, void *data)
{
	GPtrArray *entries = data;
	entry_data *e = g_new0(entry_data, 1);

	e->id = row->id;
	e->label = g_strdup(row->label ? row->label : "(unnamed)");
	e->source = g_strdup(row->source);
	e->kind = g_strdup(row->kind);
	e->n_certs = row->n_certs;
	g_ptr_array_add(entries, e);
	return 0;
}

char *
gs_recipient_address(const char *recipient)
{
	InternetAddressList *l;
	char *addr = NULL;

	if (strchr(recipient, '<')) {
		l = internet_address_list_parse(NULL, recipient);
		if (l && internet_address_list_length(l) == 1) {
			InternetAddress *ia = internet_address_list_get_address(l, 0);
			if (INTERNET_ADDRESS_IS_MAILBOX(ia))
				addr = gs_address_normalize(
					internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
		}
		if (l)
			g_object_unref(l);
	}
	if (!addr && strchr(recipient, '@'))
		addr = gs_address_normalize(recipient);
	return addr;
}

static const char *
entry_name(const gs_resolution *r, int64_t id)
{
	guint i;

	for (i = 0; i < r->entries->len; i++) {
		entry_data *e = r->entries->pdata[i];
		if (e->id == id)
			return e->label;
	}
	return "?";
}

/* Append a string from the directory or a certificate, made printable. */
static void
append_printable(GString *g, const char *s)
{
	char *p = gs_printable(s, 200);

	g_string_append(g, p ? p : "?");
	g_free(p);
}

/* A certificate's addresses, or "no address". */
static void
append_addresses(GString *g, const gs_cert_info *ci)
{
	char *addrs = gs_cert_info_addresses(ci);

	g_string_append(g, addrs ? addrs : "no address");
	g_free(addrs);
}

static void
describe_entry(GString *g, const entry_data *e)
{
	g_string_append_c(g, '\'');
	append_printable(g, e->label);
	g_string_append(g, "' [");
	append_printable(g, e->source);
	g_string_append_c(g, ']');
}

static void
describe_cert(GString *g, const cand_data *c)
{
	g_string_append_printf(g, "%.16s", c->pub.cert.sha256 ? c->pub.cert.sha256 : "?");
	if (c->pub.cert.emails[0]) {
		char *addrs = gs_cert_info_addresses(&c->pub.cert);
		g_string_append_printf(g, " (for %s)", addrs);
		g_free(addrs);
	} else if (c->pub.cert.common_name) {
		g_string_append(g, " (");
		append_printable(g, c->pub.cert.common_name);
		g_string_append_c(g, ')');
	}
}

/* The usable candidate an entry would choose on its own, or NULL. */
static cand_data *
entry_choice(const gs_resolution *r, const entry_data *e)
{
	cand_data *best = NULL;
	guint i;

	for (i = 0; i < r->cands->len; i++) {
		cand_data *c = r->cands->pdata[i];
		if (!offered_by(c, e->id) || c->pub.verdict != GS_VERDICT_USABLE)
			continue;
		if (!best || better(c, best, e->id))
			best = c;
	}
	return best;
}

/* Choose for an address: a usable certificate that names it; else the
 * one every entry offering certificates agrees on. */
static void
choose_for_address(gs_resolution *r)
{
	cand_data *agreed = NULL;
	int disagree = 0, offering = 0;
	GString *g;
	guint i;

	for (i = 0; i < r->cands->len; i++) {
		cand_data *c = r->cands->pdata[i];
		c->pub.binding = c->pub.address_match ? GS_BIND_CERTIFICATE : GS_BIND_DIRECTORY;
		if (c->pub.verdict != GS_VERDICT_USABLE || !c->pub.address_match)
			continue;
		if (r->chosen < 0 || better(c, r->cands->pdata[r->chosen], 0))
			r->chosen = (int) i;
	}
	/* do the entries agree? each one that offers any certificate for the
	 * address must choose the same usable one on its own */
	for (i = 0; i < r->entries->len; i++) {
		entry_data *e = r->entries->pdata[i];
		cand_data *pick;

		if (e->n_certs == 0)
			continue; /* a plain contact beside its *_SMIME twin */
		offering++;
		pick = entry_choice(r, e);
		if (!pick || (agreed && pick != agreed))
			disagree = 1;
		else
			agreed = pick;
	}
	if (disagree && offering > 1) {
		g = g_string_new("the directory entries listing ");
		append_printable(g, r->address);
		g_string_append(g, " disagree:");
		for (i = 0; i < r->entries->len; i++) {
			entry_data *e = r->entries->pdata[i];
			cand_data *pick;

			if (e->n_certs == 0)
				continue;
			g_string_append_c(g, ' ');
			describe_entry(g, e);
			if ((pick = entry_choice(r, e))) {
				g_string_append(g, " offers ");
				describe_cert(g, pick);
			} else {
				g_string_append(g, " offers no usable certificate");
			}
			g_string_append_c(g, ';');
		}
		g->str[g->len - 1] = 0;
		r->conflict = g_string_free(g, FALSE);
	}
	if (r->chosen >= 0)
		return;
	if (disagree || !agreed)
		return; /* the failure says why */
	/* no certificate names the address: the directory binds one */
	for (i = 0; i < r->cands->len; i++)
		if (r->cands->pdata[i] == agreed)
			r->chosen = (int) i;
	g = g_string_new(NULL);
	g_string_append_printf(g, "bound by the directory: ");
	for (i = 0; i < agreed->entries->len; i++) {
		if (i)
			g_string_append(g, ", ");
		g_string_append_c(g, '\'');
		append_printable(g, entry_name(r, g_array_index(agreed->entries, int64_t, i)));
		g_string_append_c(g, '\'');
	}
	g_string_append_printf(g, " list%s ", agreed->entries->len == 1 ? "s" : "");
	append_printable(g, r->address);
	g_string_append_printf(g, " and offer%s it; the certificate itself names ",
			       agreed->entries->len == 1 ? "s" : "");
	append_addresses(g, &agreed->pub.cert);
	r->note = g_string_free(g, FALSE);
}

/* Choose for a name: one entry, or several that would each choose the
 * same usable certificate (the same directory imported twice); a name
 * shared by entries that disagree, or that offer nothing, picks out
 * nobody. */
static void
choose_for_name(gs_resolution *r)
{
	cand_data *agreed = NULL;
	GString *g;
	guint i;

	for (i = 0; i < r->cands->len; i++)
		((cand_data *) r->cands->pdata[i])->pub.binding = GS_BIND_NAME;
	for (i = 0; i < r->entries->len; i++) {
		cand_data *pick = entry_choice(r, r->entries->pdata[i]);

		if (!pick || (agreed && pick != agreed)) {
			r->ambiguous = r->entries->len > 1;
			return;
		}
		agreed = pick;
	}
	if (!agreed)
		return;
	for (i = 0; i < r->cands->len; i++)
		if (r->cands->pdata[i] == agreed)
			r->chosen = (int) i;
	g = g_string_new("bound by name: ");
	for (i = 0; i < r->entries->len; i++) {
		if (i)
			g_string_append(g, ", ");
		describe_entry(g, r->entries->pdata[i]);
	}
	g_string_append_printf(g, " %s named '",
			       r->entries->len == 1 ? "is the only directory entry" : "are the directory entries");
	append_printable(g, r->recipient);
	g_string_append(g, "'; the certificate names ");
	append_addresses(g, &agreed->pub.cert);
	r->note = g_string_free(g, FALSE);
}

static int
is_list(const entry_data *e)
{
	return e->kind && (strcasestr(e->kind, "group") || strcasestr(e->kind, "distribution") ||
			   strcasestr(e->kind, "list"));
}

/* Why nothing was chosen, saying what is true. */
static char *
failure_text(const gs_resolution *r)
{
	GString *g = g_string_new(NULL);
	guint i;

	if (r->conflict) {
		g_string_append_printf(g, "%s; no certificate names the address, so none is chosen "
					  "(galsmime gal explain ", r->conflict);
		append_printable(g, r->address);
		g_string_append_c(g, ')');
		return g_string_free(g, FALSE);
	}
	if (r->ambiguous) {
		g_string_append_printf(g, "%u directory entries are named '", r->entries->len);
		append_printable(g, r->recipient);
		g_string_append(g, "':");
		for (i = 0; i < r->entries->len && i < 8; i++) {
			g_string_append(g, i ? ", " : " ");
			describe_entry(g, r->entries->pdata[i]);
		}
		g_string_append(g, i < r->entries->len ? ", ..." : "");
		g_string_append(g, ", and they do not agree on one certificate (give the address instead)");
		return g_string_free(g, FALSE);
	}
	if (r->cands->len == 0) {
		entry_data *list = NULL;

		for (i = 0; i < r->entries->len && !list; i++)
			if (is_list(r->entries->pdata[i]))
				list = r->entries->pdata[i];
		if (list) {
			g_string_append(g, "a distribution list in the GAL as ");
			describe_entry(g, list);
			g_string_append(g, ": lists have no certificate; encrypt to its members");
		} else if (r->entries->len) {
			g_string_append(g, "in the GAL as ");
			for (i = 0; i < r->entries->len && i < 4; i++) {
				if (i)
					g_string_append(g, ", ");
				describe_entry(g, r->entries->pdata[i]);
			}
			g_string_append(g, ", with no certificate");
		} else if (r->address) {
			g_string_append(g, "no certificate found (not in the GAL, not imported, not harvested)");
		} else {
			g_string_append(g, "no directory entry is named '");
			append_printable(g, r->recipient);
			g_string_append(g, "' (give the address)");
		}
		return g_string_free(g, FALSE);
	}
	g_string_append_printf(g, "no usable certificate among %u: ", r->cands->len);
	for (i = 0; i < r->cands->len; i++) {
		cand_data *c = r->cands->pdata[i];
		if (!strstr(g->str, c->pub.reason)) {
			g_string_append(g, i ? "; " : "");
			append_printable(g, c->pub.reason);
		}
	}
	return g_string_free(g, FALSE);
}

gs_status
gs_resolve(gs_session *s, const char *recipient, unsigned flags, gs_resolution **out,
	   char **errmsg)
{
	gs_resolution *r;
	collect co;
	gs_status st;
	guint i;

	if (!s || !recipient || !out)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_resolve: bad arguments");
	*out = NULL;
	r = g_new0(gs_resolution, 1);
	r->recipient = g_strdup(recipient);
	r->address = gs_recipient_address(recipient);
	r->cands = g_ptr_array_new_with_free_func((GDestroyNotify) cand_free);
	r->entries = g_ptr_array_new_with_free_func((GDestroyNotify) entry_free);
	r->chosen = -1;
	co.s = s;
	co.r = r;
	co.flags = flags;
	co.st = GS_OK;
	co.errmsg = errmsg;
	if (r->address) {
		st = gs_store_entries_by_address(s->store, r->address, collect_entry, r->entries, errmsg);
		if (st == GS_OK)
			st = gs_store_address_candidates(s->store, r->address, collect_cb, &co, errmsg);
	} else {
		char *name = g_strstrip(g_strdup(recipient));

		st = gs_store_entries_by_name(s->store, name, collect_entry, r->entries, errmsg);
		g_free(name);
		for (i = 0; st == GS_OK && i < r->entries->len && i < MAX_NAMED; i++)
			st = gs_store_entry_candidates(s->store, ((entry_data *) r->entries->pdata[i])->id,
						       collect_cb, &co, errmsg);
		if (r->entries->len > MAX_NAMED)
			r->ambiguous = 1;
	}
	if (st == GS_OK)
		st = co.st;
	if (st != GS_OK) {
		gs_resolution_free(r);
		return st;
	}
	if (r->address)
		choose_for_address(r);
	else
		choose_for_name(r);
	for (i = 0; i < r->cands->len; i++) {
		cand_data *c = r->cands->pdata[i];

		drop_redundant_sources(c);
		const gs_cand_source *first = c->sources->len ? &g_array_index(c->sources, gs_cand_source, 0)
							      : NULL;
		c->pub.source = first ? first->source : NULL;
		c->pub.entry = first ? first->entry : NULL;
		c->pub.attribute = first ? first->attribute : NULL;
		c->pub.n_sources = c->sources->len;
		c->pub.sources = (const gs_cand_source *) (void *) c->sources->data;
	}
	if (r->chosen < 0)
		r->failure = failure_text(r);
	*out = r;
	return GS_OK;
}

void
gs_resolution_free(gs_resolution *r)
{
	if (!r)
		return;
	g_free(r->recipient);
	g_free(r->address);
	g_ptr_array_free(r->cands, TRUE);
	g_ptr_array_free(r->entries, TRUE);
	g_free(r->failure);
	g_free(r->note);
	g_free(r->conflict);
	g_free(r);
}

const char *
gs_resolution_recipient(const gs_resolution *r)
{
	return r->recipient;
}

const char *
gs_resolution_address(const gs_resolution *r)
{
	return r->address;
}

size_t
gs_resolution_count(const gs_resolution *r)
{
	return r->cands->len;
}

const gs_candidate *
gs_resolution_candidate(const gs_resolution *r, size_t i)
{
	return i < r->cands->len ? &((cand_data *) r->cands->pdata[i])->pub : NULL;
}

const gs_candidate *
gs_resolution_chosen(const gs_resolution *r)
{
	return r->chosen >= 0 ? &((cand_data *) r->cands->pdata[r->chosen])->pub : NULL;
}

const char *
gs_resolution_failure(const gs_resolution *r)
{
	return r->failure;
}

const char *
gs_resolution_note(const gs_resolution *r)
{
	return r->note;
}

const char *
gs_resolution_conflict(const gs_resolution *r)
{
	return r->conflict;
}

X509 *
gs_resolution_chosen_cert(const gs_resolution *r)
{
	return r->chosen >= 0 ? ((cand_data *) r->cands->pdata[r->chosen])->x : NULL;
}

gs_status
gs_resolve_many(gs_session *s, const char *const *recipients, size_t n, unsigned flags,
		gs_resolution **res, char **dir, char **errmsg)
{
	gs_lookups *notes = NULL;
	int *resolved;
	gs_status st = GS_OK;
	size_t i, k;

	for (i = 0; i < n; i++) {
		res[i] = NULL;
		dir[i] = NULL;
	}
	for (i = 0; i < n && st == GS_OK; i++)
		st = gs_resolve(s, recipients[i], flags, &res[i], errmsg);
	if (st != GS_OK || !s->directories)
		goto out;
	resolved = g_new0(int, n + 1);
	for (i = 0; i < n; i++)
		resolved[i] = gs_resolution_chosen(res[i]) != NULL;
	st = gs_directory_lookup(s, recipients, resolved, n, 0, &notes, errmsg);
	g_free(resolved);
	/* an answer may have changed what the store says: resolve again */
	for (i = 0; st == GS_OK && i < n; i++) {
		int again = 0;

		for (k = 0; k < gs_lookups_count(notes); k++) {
			const gs_lookup_note *note = gs_lookups_get(notes, k);

			if (strcmp(note->recipient, recipients[i]))
				continue;
			again |= note->state == GS_LOOKUP_ASKED;
			if (note->text) {
				char *joined = dir[i] ? g_strconcat(dir[i], "; ", note->text, NULL)
						      : g_strdup(note->text);
				g_free(dir[i]);
				dir[i] = joined;
			}
		}
		if (again) {
			gs_resolution_free(res[i]);
			res[i] = NULL;
			st = gs_resolve(s, recipients[i], flags, &res[i], errmsg);
		}
	}
	gs_lookups_free(notes);
out:
	if (st != GS_OK)
		for (i = 0; i < n; i++) {
			gs_resolution_free(res[i]);
			res[i] = NULL;
			g_free(dir[i]);
			dir[i] = NULL;
		}
	return st;
}
