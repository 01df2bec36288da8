/* crl.c: certificate revocation lists in the store.
 *
 * A CRL is imported only when a certificate in the store signed it (its
 * issuer's key verifies the CRL's signature), and one CRL is kept per
 * issuer: the one with the latest thisUpdate. Filters never fetch: they
 * read what `crl import` and `crl update` stored. The chain check
 * (cert.c) asks for an issuer's CRLs through gs_store_crls_for(), which
 * decodes each one once per store handle.
 *
 * Not supported, and refused with a clear message at import: delta CRLs
 * (a delta would replace the base it completes) and indirect CRLs (a CRL
 * signed by another key than the certificate issuer's).
 */
#include "gs-private.h"

#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

/* a CRL file larger than this is refused: a large CA's CRL is a few MB */
#define CRL_FILE_MAX (256L << 20)

/* ---- reading CRL files ---- */

static void
push_p7_crls(PKCS7 *p7, STACK_OF(X509_CRL) *out)
{
	STACK_OF(X509_CRL) *in = NULL;
	int i;

	if (p7 && PKCS7_type_is_signed(p7) && p7->d.sign)
		in = p7->d.sign->crl;
	for (i = 0; in && i < sk_X509_CRL_num(in); i++)
		if (X509_CRL_up_ref(sk_X509_CRL_value(in, i)))
			sk_X509_CRL_push(out, sk_X509_CRL_value(in, i));
}

static void
pem_block(const char *label, const unsigned char *der, long len, void *user)
{
	STACK_OF(X509_CRL) *out = user;

	if (!strcmp(label, PEM_STRING_X509_CRL)) {
		X509_CRL *c = d2i_X509_CRL(NULL, &der, len);
		if (c)
			sk_X509_CRL_push(out, c);
	} else if (!strcmp(label, PEM_STRING_PKCS7)) {
		PKCS7 *p7 = d2i_PKCS7(NULL, &der, len);
		push_p7_crls(p7, out);
		PKCS7_free(p7);
	}
}

/* Every CRL in `data`: PEM (CRLs and PKCS#7 blocks, any number), one DER
 * CRL, or one DER PKCS#7. */
static gs_status
read_crls(const unsigned char *data, size_t len, STACK_OF(X509_CRL) **crls, char **errmsg)
{
	STACK_OF(X509_CRL) *out = sk_X509_CRL_new_null();
	const unsigned char *p;

	*crls = NULL;
	if (!out)
		return gs_fail(errmsg, GS_E_INTERNAL, "out of memory");
	if (len > (size_t) CRL_FILE_MAX) {
		sk_X509_CRL_free(out);
		return gs_fail(errmsg, GS_E_LIMIT, "over %ld MB: not a CRL file", CRL_FILE_MAX >> 20);
	}
	if (g_strstr_len((const char *) data, (gssize) MIN(len, 65536), "-----BEGIN ")) {
		gs_pem_each(data, len, pem_block, out);
	} else if (len > 0 && len <= LONG_MAX && data[0] == 0x30) {
		X509_CRL *c;

		p = data;
		if ((c = d2i_X509_CRL(NULL, &p, (long) len)) && p == data + len) {
			sk_X509_CRL_push(out, c);
		} else {
			PKCS7 *p7;

			X509_CRL_free(c);
			p = data;
			if ((p7 = d2i_PKCS7(NULL, &p, (long) len)) && p == data + len)
				push_p7_crls(p7, out);
			PKCS7_free(p7);
		}
	}
	ERR_clear_error();
	if (sk_X509_CRL_num(out) == 0) {
		sk_X509_CRL_free(out);
		return gs_fail(errmsg, GS_E_MALFORMED,
			       "no certificate revocation list in it (PEM, DER or PKCS#7 expected)");
	}
	*crls = out;
	return GS_OK;
}

/* ---- storing ---- */

/* The certificate in the store that signed `crl` (*signer NULL when none). */
static gs_status
crl_signer(gs_store *s, X509_CRL *crl, X509 **signer, char **errmsg)
{
	STACK_OF(X509) *cands = NULL;
	gs_status st = gs_store_certs_by_subject(s, X509_CRL_get_issuer(crl), &cands, errmsg);
	int i;

	*signer = NULL;
	for (i = 0; cands && i < sk_X509_num(cands) && !*signer; i++) {
		X509 *x = sk_X509_value(cands, i);
		EVP_PKEY *k = X509_get0_pubkey(x);

		if (k && X509_CRL_verify(crl, k) == 1 && X509_up_ref(x))
			*signer = x;
	}
	sk_X509_pop_free(cands, X509_free);
	ERR_clear_error();
	return st;
}

static int
has_ext(X509_CRL *crl, int nid)
{
	return X509_CRL_get_ext_by_NID(crl, nid, -1) >= 0;
}

static gs_status
store_one(gs_store *s, X509_CRL *crl, const char *origin, time_t now, gs_crl_stats *stats,
	  char **errmsg)
{
	const X509_NAME *iss = X509_CRL_get_issuer(crl);
	char *issuer = gs_name_string(iss);
	int64_t this_update = gs_asn1_time_unix(X509_CRL_get0_lastUpdate(crl));
	int64_t next_update = gs_asn1_time_unix(X509_CRL_get0_nextUpdate(crl));
	static const char sql_latest[] = "SELECT max(this_update) FROM crl WHERE issuer_hash = ?"
					 " AND issuer = ? HAVING count(*) > 0";
	static const char sql_seen[] = "UPDATE crl SET fetched_at = ? WHERE issuer_hash = ? AND issuer = ?"
				       " AND this_update = ?";
	static const char sql_delete[] = "DELETE FROM crl WHERE issuer_hash = ? AND issuer = ?";
	static const char sql_insert[] = "INSERT INTO crl(issuer_hash, issuer, der, this_update,"
					 " next_update, url, fetched_at) VALUES (?,?,?,?,nullif(?,0),?,?)";
	unsigned char *der = NULL;
	int derlen;
	X509 *signer = NULL;
	gs_status st = GS_OK;
	int64_t old_this = 0;
	int have_old = 0;

	if (has_ext(crl, NID_delta_crl)) {
		st = gs_fail(errmsg, GS_E_UNSUPPORTED,
			     "CRL of %s is a delta CRL: not supported, import the base CRL", issuer);
		goto out;
	}
	if ((st = crl_signer(s, crl, &signer, errmsg)) != GS_OK)
		goto out;
	if (!signer) {
		st = gs_fail(errmsg, GS_E_MALFORMED,
			     "CRL of %s: no certificate in the store signed it "
			     "(import its CA with galsmime trust import or cert import first)", issuer);
		goto out;
	}
	if ((X509_get_extension_flags(signer) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(signer) & KU_CRL_SIGN)) {
		st = gs_fail(errmsg, GS_E_MALFORMED, "CRL of %s: its issuer may not sign CRLs (keyUsage)",
			     issuer);
		goto out;
	}
	if ((derlen = i2d_X509_CRL(crl, &der)) <= 0) {
		st = gs_fail_ssl(errmsg, GS_E_MALFORMED, "CRL of %s cannot be encoded", issuer);
		goto out;
	}
	/* the one kept for this issuer (one per issuer: see below) */
	st = gs_store_int64(s, sql_latest, &old_this, &have_old, "store: CRL", errmsg,
			    GS_INT(gs_name_hash(iss)), GS_TEXT(issuer));
	if (st != GS_OK)
		goto out;
	if (have_old && old_this >= this_update) {
		/* the same or an older one: keep what we have; the same one
		 * again records when it was last seen */
		stats->crls_known++;
		if (old_this == this_update)
			st = gs_store_exec(s, sql_seen, "store: CRL", errmsg, GS_INT(now),
					   GS_INT(gs_name_hash(iss)), GS_TEXT(issuer), GS_INT(old_this));
		goto out;
	}
	if (have_old) {
		st = gs_store_exec(s, sql_delete, "store: CRL", errmsg, GS_INT(gs_name_hash(iss)),
				   GS_TEXT(issuer));
		if (st != GS_OK)
			goto out;
		stats->crls_replaced++;
	} else {
		stats->crls_new++;
	}
	st = gs_store_exec(s, sql_insert, "store: CRL", errmsg, GS_INT(gs_name_hash(iss)), GS_TEXT(issuer),
			   GS_BLOB(der, derlen), GS_INT(this_update), GS_INT(next_update), GS_TEXT(origin),
			   GS_INT(now));
out:
	X509_free(signer);
	OPENSSL_free(der);
	g_free(issuer);
	return st;
}

gs_status
gs_store_import_crls(gs_store *s, const unsigned char *data, size_t len, const char *origin,
		     gs_crl_stats *stats, char **errmsg)
{
	STACK_OF(X509_CRL) *crls = NULL;
	gs_crl_stats local;
	gs_status st;
	int i;

	if (!s || !data)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_import_crls: bad arguments");
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	if ((st = read_crls(data, len, &crls, errmsg)) != GS_OK)
		return st;
	if ((st = gs_store_begin(s, errmsg)) != GS_OK)
		goto out;
	for (i = 0; i < sk_X509_CRL_num(crls) && st == GS_OK; i++)
		st = store_one(s, sk_X509_CRL_value(crls, i), origin ? origin : "manual", time(NULL),
			       stats, errmsg);
	if (st == GS_OK)
		st = gs_store_commit(s, errmsg);
	else
		gs_store_rollback(s);
	/* what this handle decoded is out of date */
	if (s->crls) {
		g_hash_table_destroy(s->crls);
		s->crls = NULL;
	}
	s->has_crls = -1;
out:
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return st;
}

/* ---- reading them back ---- */

gs_status
gs_store_has_crls(gs_store *s, int *has, char **errmsg)
{
	static const char sql[] = "SELECT EXISTS (SELECT 1 FROM crl)";
	gs_status st;
	int64_t any;

	*has = 0;
	if (s->has_crls >= 0) {
		*has = s->has_crls;
		return GS_OK;
	}
	if ((st = gs_store_int64_v(s, sql, NULL, 0, &any, NULL, "store: CRLs", errmsg)) == GS_OK)
		*has = s->has_crls = any != 0;
	return st;
}

static void
crl_stack_free(gpointer p)
{
	sk_X509_CRL_pop_free(p, X509_CRL_free);
}

gs_status
gs_store_crls_for(gs_store *s, const X509_NAME *issuer, STACK_OF(X509_CRL) **crls, char **errmsg)
{
	STACK_OF(X509_CRL) *cached, *out;
	sqlite3_stmt *stmt;
	int64_t h = gs_name_hash(issuer);
	gs_status st;
	int i, rc;

	*crls = NULL;
	if (!s->crls)
		s->crls = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, crl_stack_free);
	if (!(cached = g_hash_table_lookup(s->crls, &h))) {
		if (!(stmt = gs_store_prepare(s, "SELECT der FROM crl WHERE issuer_hash = ?", errmsg, &st)))
			return st;
		cached = sk_X509_CRL_new_null();
		sqlite3_bind_int64(stmt, 1, h);
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			const unsigned char *p = sqlite3_column_blob(stmt, 0);
			X509_CRL *c = p ? d2i_X509_CRL(NULL, &p, sqlite3_column_bytes(stmt, 0)) : NULL;
			if (c)
				sk_X509_CRL_push(cached, c);
		}
		sqlite3_finalize(stmt);
		ERR_clear_error();
		/* only a complete answer is kept: a failed read is not "no CRL" */
		if ((st = gs_store_walked(s, rc, "store: CRLs", errmsg)) != GS_OK) {
			crl_stack_free(cached);
			return st;
		}
		g_hash_table_insert(s->crls, g_memdup2(&h, sizeof h), cached);
	}
	out = sk_X509_CRL_new_null();
	for (i = 0; out && i < sk_X509_CRL_num(cached); i++) {
		X509_CRL *c = sk_X509_CRL_value(cached, i);
		if (!X509_NAME_cmp(X509_CRL_get_issuer(c), issuer) && X509_CRL_up_ref(c))
			sk_X509_CRL_push(out, c);
	}
	if (!out)
		return gs_fail(errmsg, GS_E_INTERNAL, "out of memory");
	*crls = out;
	return GS_OK;
}

gs_status
gs_store_list_crls(gs_store *s, time_t now, gs_crl_cb cb, void *data, char **errmsg)
{
	sqlite3_stmt *stmt;
	gs_status st;
	int rc;

	if (!s || !cb)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_store_list_crls: bad arguments");
	stmt = gs_store_prepare(s, "SELECT issuer, this_update, next_update, url, fetched_at, der"
				   " FROM crl ORDER BY issuer", errmsg, &st);
	if (!stmt)
		return st;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(stmt, 5);
		X509_CRL *c = p ? d2i_X509_CRL(NULL, &p, sqlite3_column_bytes(stmt, 5)) : NULL;
		STACK_OF(X509_REVOKED) *rev = c ? X509_CRL_get_REVOKED(c) : NULL;
		gs_crl_info info = {
			.issuer = (const char *) sqlite3_column_text(stmt, 0),
			.this_update = sqlite3_column_int64(stmt, 1),
			.next_update = sqlite3_column_int64(stmt, 2),
			.origin = (const char *) sqlite3_column_text(stmt, 3),
			.fetched_at = sqlite3_column_int64(stmt, 4),
			.revoked = rev ? sk_X509_REVOKED_num(rev) : 0,
		};
		int stop;

		info.stale = info.next_update && info.next_update < (int64_t) now;
		stop = cb(&info, data);
		X509_CRL_free(c);
		if (stop)
			break;
	}
	st = gs_store_walked(s, rc, "store: CRLs", errmsg);
	sqlite3_finalize(stmt);
	ERR_clear_error();
	return st;
}

/* ---- where to fetch them ---- */

/* The distribution point URIs of a certificate (any scheme; points
 * that name another CRL issuer, indirect CRLs, are not supported and
 * left out), appended to `urls` (g_free each). */
static void
cdp_urls(const STACK_OF(X509_EXTENSION) *exts, GPtrArray *urls)
{
	CRL_DIST_POINTS *dps = exts ? X509V3_get_d2i(exts, NID_crl_distribution_points, NULL, NULL) : NULL;
	int i, j;

	for (i = 0; dps && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (!dp->distpoint || dp->distpoint->type != 0 || dp->CRLissuer)
			continue;
		for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			const ASN1_IA5STRING *uri;

			if (gn->type != GEN_URI)
				continue;
			uri = gn->d.uniformResourceIdentifier;
			if (uri->length <= 0 || uri->length > 2048 ||
			    memchr(uri->data, 0, (size_t) uri->length))
				continue;
			g_ptr_array_add(urls, g_strndup((const char *) uri->data, (gsize) uri->length));
		}
	}
	CRL_DIST_POINTS_free(dps);
}

/* Where a certificate's chain leads: its issuer's name and key id. Two
 * certificates with the same ones meet the same issuers in the store. */
static char *
issuer_key(const gs_cert_view *v)
{
	AUTHORITY_KEYID *akid = v->extensions ? X509V3_get_d2i(v->extensions, NID_authority_key_identifier,
							       NULL, NULL)
					      : NULL;
	char *kid = akid && akid->keyid ? gs_hex(akid->keyid->data, (size_t) akid->keyid->length) : NULL;
	char *k = g_strdup_printf("%" G_GINT64_FORMAT ":%s", gs_name_hash(v->issuer), kid ? kid : "");

	AUTHORITY_KEYID_free(akid);
	g_free(kid);
	return k;
}

/* An issuer for which the store has no path to an anchor: every
 * certificate it issued fails the same way, whatever its signature. */
static int
no_path(int err)
{
	return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	       err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN || err == X509_V_ERR_CERT_UNTRUSTED;
}

gs_status
gs_store_crl_urls(gs_store *s, char ***out, char **errmsg)
{
	/* the anchors first (their own points), then CA certificates, whose
	 * points name the CRLs that cover the certificates below them, then
	 * every other certificate's, which a large GAL shares by the thousand */
	static const char sql[] =
		"SELECT c.der, c.id IN (SELECT certificate FROM anchor) AS anchor FROM certificate c"
		" ORDER BY anchor DESC, c.is_ca DESC, c.id";
	GPtrArray *urls = g_ptr_array_new_with_free_func(g_free);
	GHashTable *accepted = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTable *dead_ends = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sqlite3_stmt *stmt;
	gs_status st;
	int rc = SQLITE_DONE;

	*out = NULL;
	stmt = gs_store_prepare(s, sql, errmsg, &st);
	while (stmt && st == GS_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const void *der = sqlite3_column_blob(stmt, 0);
		int derlen = sqlite3_column_bytes(stmt, 0);
		gs_certlite *l = gs_certlite_parse(der, (size_t) derlen);
		GPtrArray *mine = g_ptr_array_new_with_free_func(g_free);
		int reaches = sqlite3_column_int(stmt, 1), first = X509_V_OK;
		char *key = NULL;
		gs_cert_view v;
		guint i, pending = 0;

		if (l) {
			gs_certlite_view(l, &v);
			cdp_urls(v.extensions, mine);
		}
		for (i = 0; i < mine->len; i++)
			pending += !g_hash_table_contains(accepted, mine->pdata[i]);
		/* only a point not yet accepted costs a chain check: one
		 * certificate per point (and per dead-end issuer), never every
		 * certificate of a 50,000-entry GAL */
		if (pending && !reaches && !g_hash_table_contains(dead_ends, (key = issuer_key(&v)))) {
			X509 *x = gs_store_decode_cert(s, der, derlen);

			if (x)
				st = gs_chain_reaches_anchor(s, x, &reaches, &first, errmsg);
			if (st == GS_OK && !reaches && no_path(first)) {
				g_hash_table_add(dead_ends, key);
				key = NULL;
			}
			X509_free(x);
		}
		for (i = 0; pending && reaches && i < mine->len; i++) {
			char *u = mine->pdata[i];
			if (g_hash_table_contains(accepted, u))
				continue;
			g_ptr_array_add(urls, g_strdup(u));
			g_hash_table_add(accepted, urls->pdata[urls->len - 1]);
		}
		g_free(key);
		g_ptr_array_free(mine, TRUE);
		gs_certlite_free(l);
	}
	if (stmt && st == GS_OK)
		st = gs_store_walked(s, rc, "store: CRL distribution points", errmsg);
	sqlite3_finalize(stmt);
	ERR_clear_error();
	g_hash_table_destroy(accepted);
	g_hash_table_destroy(dead_ends);
	if (st == GS_OK) {
		g_ptr_array_set_free_func(urls, NULL);
		g_ptr_array_add(urls, NULL);
		*out = (char **) g_ptr_array_free(urls, FALSE);
	} else {
		g_ptr_array_free(urls, TRUE);
	}
	return st;
}
