/* resolve.c: recipient string -> candidate certificates with verdicts ->
 * the chosen one. The only place recipient policy lives. */
#include "gs-private.h"

#include <string.h>

typedef struct cand_data {
	gs_candidate pub;
	gs_certdata cd;
	char *source, *entry, *attribute;
	char *reason; /* pub.reason when it names OpenSSL's error */
	X509 *x;
} cand_data;

struct gs_resolution {
	char *recipient;
	char *address;
	GPtrArray *cands; /* of cand_data* */
	int chosen;
	char *failure;
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
	gs_certdata_clear(&c->cd);
	g_free(c->source);
	g_free(c->entry);
	g_free(c->attribute);
	g_free(c->reason);
	X509_free(c->x);
	g_free(c);
}

typedef struct collect {
	gs_session *s;
	gs_resolution *r;
	unsigned flags;
	gs_status st;            /* a store failure: the lookup stops */
	char **errmsg;
} collect;

static int
collect_cb(X509 *x, const char *source, const char *entry, const char *attribute, void *data)
{
	collect *co = data;
	cand_data *c;
	cand_data *same = NULL;
	char *fp = gs_cert_sha256_hex(x);
	guint i;

	for (i = 0; i < co->r->cands->len; i++) {
		cand_data *o = co->r->cands->pdata[i];
		if (g_strcmp0(o->pub.cert.sha256, fp))
			continue;
		/* the same certificate reached the same way twice: keep one */
		if (!g_strcmp0(o->entry, entry) && !g_strcmp0(o->attribute, attribute)) {
			g_free(fp);
			return 0;
		}
		/* reached through another entry (a mailbox and its contact):
		 * its verdict is the same */
		same = o;
	}
	g_free(fp);
	c = g_new0(cand_data, 1);
	X509_up_ref(x);
	c->x = x;
	gs_certdata_fill(&c->cd, x);
	c->source = g_strdup(source);
	c->entry = g_strdup(entry);
	c->attribute = g_strdup(attribute);
	c->pub.cert = c->cd.info;
	c->pub.source = c->source;
	c->pub.entry = c->entry;
	c->pub.attribute = c->attribute;
	c->pub.address_match = co->r->address && gs_cert_has_email(x, co->r->address);
	if (same) {
		c->pub.verdict = same->pub.verdict;
		c->pub.reason = same->pub.reason;
		g_ptr_array_add(co->r->cands, c);
		return 0;
	}
	c->pub.verdict = gs_cert_recipient_verdict(x, gs_session_now(co->s), &c->pub.reason);
	if (c->pub.verdict == GS_VERDICT_USABLE) {
		int first = X509_V_OK;
		unsigned rs = 0;

		co->st = gs_chain_check(co->s->store, x, NULL, 0, gs_session_now(co->s), &rs, &first,
					co->errmsg);
		if (co->st != GS_OK) {
			cand_free(c);
			return 1;
		} else if (rs & GS_REASON_REVOKED) {
			c->pub.verdict = GS_VERDICT_REVOKED;
			c->pub.reason = "revoked (the revocation list of its CA lists it)";
		} else if (rs & (GS_REASON_EXPIRED | GS_REASON_NOT_YET_VALID)) {
			c->pub.verdict = GS_VERDICT_EXPIRED;
			c->pub.reason = "a certificate in its chain is expired or not yet valid";
		} else if ((rs & ~GS_REASONS_WARNINGS) && !(co->flags & GS_RESOLVE_ALLOW_UNTRUSTED)) {
			c->pub.verdict = GS_VERDICT_UNTRUSTED;
			c->pub.reason = untrusted_reason(first, &c->reason);
		} else if (rs & GS_REASON_CRL_STALE) {
			c->pub.reason = "usable, but the revocation list of its CA is out of date "
					"(galsmime crl update)";
		}
	}
	g_ptr_array_add(co->r->cands, c);
	return 0;
}

static int
attribute_rank(const char *attr)
{
	/* Microsoft tells clients to prefer userSMIMECertificate */
	if (attr && !g_ascii_strcasecmp(attr, "userSMIMECertificate"))
		return 2;
	return 1;
}

/* The address inside "Name <addr>", or the trimmed string itself. */
static char *
recipient_address(const char *recipient)
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

gs_status
gs_resolve(gs_session *s, const char *recipient, unsigned flags, gs_resolution **out,
	   char **errmsg)
{
	gs_resolution *r;
	collect co;
	gs_status st;
	guint i;

	if (!s || !recipient || !out)
		return gs_fail(errmsg, GS_E_USAGE, "gs_resolve: bad arguments");
	*out = NULL;
	r = g_new0(gs_resolution, 1);
	r->recipient = g_strdup(recipient);
	r->address = recipient_address(recipient);
	r->cands = g_ptr_array_new_with_free_func((GDestroyNotify) cand_free);
	r->chosen = -1;
	co.s = s;
	co.r = r;
	co.flags = flags;
	co.st = GS_OK;
	co.errmsg = errmsg;
	st = gs_store_candidates(s->store, r->address ? r->address : recipient, collect_cb, &co, errmsg);
	if (st == GS_OK)
		st = co.st;
	if (st != GS_OK) {
		gs_resolution_free(r);
		return st;
	}
	for (i = 0; i < r->cands->len; i++) {
		cand_data *c = r->cands->pdata[i], *best;

		if (c->pub.verdict != GS_VERDICT_USABLE)
			continue;
		if (r->chosen < 0) {
			r->chosen = (int) i;
			continue;
		}
		best = r->cands->pdata[r->chosen];
		if (attribute_rank(c->attribute) > attribute_rank(best->attribute) ||
		    (attribute_rank(c->attribute) == attribute_rank(best->attribute) &&
		     c->pub.cert.not_before > best->pub.cert.not_before))
			r->chosen = (int) i;
	}
	if (r->chosen < 0) {
		if (r->cands->len == 0) {
			r->failure = g_strdup("no certificate found (not in the GAL, not imported, not harvested)");
		} else {
			GString *g = g_string_new(NULL);
			g_string_append_printf(g, "no usable certificate among %u: ", r->cands->len);
			for (i = 0; i < r->cands->len; i++) {
				cand_data *c = r->cands->pdata[i];
				if (!strstr(g->str, c->pub.reason))
					g_string_append_printf(g, "%s%s", i ? "; " : "", c->pub.reason);
			}
			r->failure = g_string_free(g, FALSE);
		}
	}
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
	g_free(r->failure);
	g_free(r);
}

const char *
gs_resolution_recipient(const gs_resolution *r)
{
	return r->recipient;
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

X509 *
gs_resolution_chosen_cert(const gs_resolution *r)
{
	return r->chosen >= 0 ? ((cand_data *) r->cands->pdata[r->chosen])->x : NULL;
}
