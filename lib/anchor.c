/* anchor.c: what `trust import` may make a trust anchor. A certificate
 * becomes an anchor only if it can work as one for S/MIME: valid now, a
 * CA that may sign certificates (or a self-signed certificate, which
 * then vouches for itself), not limited to other usages than e-mail,
 * and not disallowed by the Microsoft trust properties an .sst carries
 * with it. Everything else is refused, each with its reason; the usable
 * certificates of the same file are imported. */
#include "gs-private.h"

#include <string.h>
#include <openssl/err.h>

typedef enum anchor_kind {
	ANCHOR_OK = 0,
	ANCHOR_REFUSED,       /* cannot work as an anchor */
	ANCHOR_DISALLOWED,    /* .sst: Microsoft disallows it for e-mail */
	ANCHOR_NOT_EMAIL,     /* .sst: Microsoft trusts it for other usages only */
} anchor_kind;

static char *
date_of(int64_t t)
{
	GDateTime *d = g_date_time_new_from_unix_utc(t);
	char *s = d ? g_date_time_format(d, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");

	if (d)
		g_date_time_unref(d);
	return s;
}

/* Microsoft's properties: disallowed (104, 122), trusted usages (9), and
 * the not-before limit (126, 127). *limit gets the limit that applies to
 * e-mail, or 0. */
static anchor_kind
judge_sst(const gs_sst_trust *t, int64_t *limit, char **why)
{
	unsigned p = t->present, e = t->email;

	*limit = 0;
	/* 104 alone disallows every usage; with 122, the usages 122 lists;
	 * 122 alone, those usages always. A date in the future is taken as
	 * disallowed now: an anchor cannot be withdrawn from a store later. */
	if (((p & GS_SST_DISALLOWED) && !(p & GS_SST_DISALLOWED_EKU)) || (e & GS_SST_DISALLOWED_EKU)) {
		*why = g_strdup((p & GS_SST_DISALLOWED_EKU) ? "Microsoft disallows it for e-mail"
							  : "Microsoft disallows it");
		return ANCHOR_DISALLOWED;
	}
	if ((p & GS_SST_EKU) && !(e & GS_SST_EKU)) {
		*why = g_strdup("Microsoft trusts it for other usages than e-mail only");
		return ANCHOR_NOT_EMAIL;
	}
	if ((p & GS_SST_NOT_BEFORE) && (!(p & GS_SST_NOT_BEFORE_EKU) || (e & GS_SST_NOT_BEFORE_EKU))) {
		if (t->not_before <= 0) {
			*why = g_strdup("its Microsoft not-before date cannot be read");
			return ANCHOR_REFUSED;
		}
		*limit = t->not_before;
	} else if (!(p & GS_SST_NOT_BEFORE) && (e & GS_SST_NOT_BEFORE_EKU)) {
		/* the usages limited, with no date to limit them from */
		*why = g_strdup("Microsoft limits it for e-mail without a date");
		return ANCHOR_NOT_EMAIL;
	}
	return ANCHOR_OK;
}

/* The certificate itself, at `now`. */
static anchor_kind
judge_cert(X509 *x, time_t now, char **why)
{
	uint32_t flags = X509_get_extension_flags(x);
	/* a CA by its basicConstraints, whatever its keyUsage says */
	int ca = (flags & EXFLAG_CA) != 0, self = X509_self_signed(x, 1) == 1;
	time_t t = now;

	ERR_clear_error();
	if (X509_cmp_time(X509_get0_notBefore(x), &t) > 0) {
		char *d = date_of(gs_asn1_time_unix(X509_get0_notBefore(x)));
		*why = g_strdup_printf("not valid until %s", d);
		g_free(d);
		return ANCHOR_REFUSED;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), &t) < 0) {
		char *d = date_of(gs_asn1_time_unix(X509_get0_notAfter(x)));
		*why = g_strdup_printf("expired on %s", d);
		g_free(d);
		return ANCHOR_REFUSED;
	}
	if (!ca && !self) {
		*why = g_strdup("neither a CA nor self-signed: not a trust anchor");
		return ANCHOR_REFUSED;
	}
	if (ca && (flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		*why = g_strdup("a CA whose keyUsage lacks keyCertSign: it cannot issue certificates");
		return ANCHOR_REFUSED;
	}
	/* OpenSSL's S/MIME purpose refuses a chain through such a CA; the
	 * EKU flag XKU_ANYEKU stands for anyExtendedKeyUsage */
	if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(x) & (XKU_SMIME | XKU_ANYEKU))) {
		*why = g_strdup("its extendedKeyUsage excludes emailProtection: not for S/MIME");
		return ANCHOR_REFUSED;
	}
	return ANCHOR_OK;
}

static gs_status
add_one(gs_store *s, X509 *x, int64_t source, int64_t limit, gs_import_stats *stats,
	char **errmsg)
{
	int64_t id;
	int is_new, anchor_new;
	gs_status st;

	if ((st = gs_store_put_cert(s, x, source, &id, &is_new, errmsg)) != GS_OK ||
	    (st = gs_store_add_anchor(s, id, limit, &anchor_new, errmsg)) != GS_OK)
		return st;
	if (is_new)
		stats->certs_new++;
	else
		stats->certs_known++;
	if (anchor_new)
		stats->anchors_new++;
	else
		stats->anchors_known++;
	if (limit)
		stats->limited++;
	return GS_OK;
}

gs_status
gs_store_import_anchors(gs_store *s, const unsigned char *data, size_t len, const char *source,
			gs_refuse_cb on_refuse, void *cb_data, gs_import_stats *stats, char **errmsg)
{
	STACK_OF(X509) *certs = NULL;
	GArray *trust = NULL;
	GPtrArray *accepted = g_ptr_array_new();
	GArray *limits = g_array_new(FALSE, FALSE, sizeof(int64_t));
	gs_import_stats local;
	char *first_refusal = NULL;
	time_t now = time(NULL);
	int64_t src;
	gs_status st;
	int i;

	if (!s || !data) {
		st = gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_import_anchors: bad arguments");
		goto out;
	}
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	if (len >= 8 && !memcmp(data, "\0\0\0\0CERT", 8))
		st = gs_read_sst_trust(data, len, &certs, &trust, errmsg);
	else
		st = gs_read_certificates(data, len, &certs, errmsg);
	if (st != GS_OK)
		goto out;
	for (i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int64_t limit = 0;
		char *why = NULL;
		anchor_kind k = trust ? judge_sst(&g_array_index(trust, gs_sst_trust, i), &limit, &why)
				      : ANCHOR_OK;

		if (k == ANCHOR_OK)
			k = judge_cert(x, now, &why);
		if (k == ANCHOR_OK) {
			g_ptr_array_add(accepted, x);
			g_array_append_val(limits, limit);
			continue;
		}
		stats->refused++;
		stats->disallowed += k == ANCHOR_DISALLOWED;
		stats->not_for_email += k == ANCHOR_NOT_EMAIL;
		{
			char *subject = gs_name_string(X509_get_subject_name(x));
			if (on_refuse)
				on_refuse(cb_data, (unsigned) i + 1, subject, why);
			if (!first_refusal)
				first_refusal = g_strdup_printf("certificate %d (%s): %s", i + 1, subject, why);
			g_free(subject);
		}
		g_free(why);
	}
	if (accepted->len == 0) {
		st = gs_fail(errmsg, GS_E_USAGE, "%s%s",
			     stats->refused > 1 ? "no certificate in it can be a trust anchor; " : "",
			     first_refusal);
		goto out;
	}
	if ((st = gs_store_begin(s, errmsg)) != GS_OK)
		goto out;
	st = gs_store_source(s, source ? source : "manual", "trust", &src, errmsg);
	for (i = 0; st == GS_OK && i < (int) accepted->len; i++)
		st = add_one(s, accepted->pdata[i], src, g_array_index(limits, int64_t, i), stats, errmsg);
	if (st == GS_OK)
		st = gs_store_commit(s, errmsg);
	else
		gs_store_rollback(s);
out:
	g_free(first_refusal);
	g_ptr_array_free(accepted, TRUE);
	g_array_unref(limits);
	if (trust)
		g_array_unref(trust);
	sk_X509_pop_free(certs, X509_free);
	return st;
}
