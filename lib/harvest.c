/* harvest.c: learn certificates from good signatures, as Outlook and
 * Thunderbird do: the signer's certificate, the chain that validated it,
 * and the SMIMECapabilities it announced. Nothing else the sender put
 * in the message: a stranger's CA (with a CRL URL of their choosing)
 * rides along in any signature. */
#include "gs-private.h"

#include <string.h>
#include <openssl/err.h>

gs_status
gs_harvest_seen(gs_store *s, const char *message_id, int *seen, char **errmsg)
{
	static const char sql[] = "SELECT 1 FROM harvested WHERE message_id = ?";
	int64_t one;

	*seen = 0;
	if (!s || !message_id)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_harvest_seen: bad arguments");
	return gs_store_int64(s, sql, &one, seen, "store: harvested messages", errmsg, GS_TEXT(message_id));
}

static gs_status
remember(gs_store *s, const char *message_id, const char *verdict, char **errmsg)
{
	static const char sql[] =
		"INSERT INTO harvested(message_id, verdict, at) VALUES (?1,?2,?3)"
		" ON CONFLICT(message_id) DO UPDATE SET verdict = ?2, at = ?3";
	if (!message_id)
		return GS_OK;
	return gs_store_exec(s, sql, "store: harvested messages", errmsg, GS_TEXT(message_id),
			     GS_TEXT(verdict), GS_INT(time(NULL)));
}

/* Store one signer's certificate and the chain that validated it now:
 * the leaf, then its issuers up to (not including) the anchor, which
 * the store has already. */
static gs_status
store_signer(gs_session *s, CMS_SignerInfo *si, X509 *x, STACK_OF(X509) *msg_certs,
	     int64_t source, gs_harvest_result *res, char **errmsg)
{
	STACK_OF(X509) *chain = NULL;
	char *caps = NULL;
	gs_status st;
	int64_t id;
	int i, n, is_new;

	st = gs_chain_verified(s->store, x, msg_certs, X509_PURPOSE_SMIME_SIGN, gs_session_now(s),
			       &chain, errmsg);
	if (st != GS_OK || !chain)
		return st; /* judged good a moment ago; not now: learn nothing */
	n = sk_X509_num(chain);
	for (i = 0; st == GS_OK && i < (n > 1 ? n - 1 : n); i++) {
		st = gs_store_put_cert(s->store, sk_X509_value(chain, i), source, &id, &is_new, errmsg);
		if (st != GS_OK || i > 0)
			continue;
		if (is_new)
			res->certs_new++;
		else
			res->certs_known++;
		if ((caps = gs_signer_caps(si)))
			st = gs_store_put_capabilities(s->store, id, caps, errmsg);
		g_free(caps);
	}
	sk_X509_pop_free(chain, X509_free);
	return st;
}

/* Store the signers of a verified SignedData whose certificates the
 * message carries (one found in the store is known already). */
static gs_status
store_signers(gs_session *s, const GByteArray *der, int64_t source, gs_harvest_result *res,
	      char **errmsg)
{
	const unsigned char *p = der->data;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) der->len);
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *certs;
	gs_status st = GS_OK;
	int i, j;

	if (!cms)
		return gs_fail_ssl(errmsg, GS_E_MALFORMED, "the signature is not CMS");
	certs = CMS_get1_certs(cms);
	sis = CMS_get0_SignerInfos(cms);
	for (i = 0; st == GS_OK && sis && i < sk_CMS_SignerInfo_num(sis); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);

		for (j = 0; certs && j < sk_X509_num(certs); j++)
			if (!CMS_SignerInfo_cert_cmp(si, sk_X509_value(certs, j)))
				break;
		if (certs && j < sk_X509_num(certs))
			st = store_signer(s, si, sk_X509_value(certs, j), certs, source, res, errmsg);
	}
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return st;
}

static int
is_encrypted(GMimeMessage *m)
{
	GMimeObject *o = g_mime_message_get_mime_part(m);

	return o && GMIME_IS_APPLICATION_PKCS7_MIME(o) &&
	       g_mime_application_pkcs7_mime_get_smime_type(GMIME_APPLICATION_PKCS7_MIME(o)) !=
		       GMIME_SECURE_MIME_TYPE_SIGNED_DATA;
}

gs_status
gs_harvest(gs_session *s, GMimeMessage *m, const char *message_id, unsigned flags,
	   gs_harvest_result *res, char **errmsg)
{
	GByteArray *der = NULL;
	gs_report *r = NULL;
	const char *verdict;
	int64_t source;
	gs_status st;
	int seen = 0;

	if (!s || !m || !res)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_harvest: bad arguments");
	memset(res, 0, sizeof *res);
	if (message_id && !(flags & GS_HARVEST_FORCE)) {
		if ((st = gs_harvest_seen(s->store, message_id, &seen, errmsg)) != GS_OK)
			return st;
		if (seen) {
			res->outcome = GS_HARVEST_DONE_BEFORE;
			return GS_OK;
		}
	}
	if (is_encrypted(m)) {
		char *why = NULL;
		if (!(flags & GS_HARVEST_DECRYPT) || gs_message_decrypt(s, m, NULL, NULL, &why) != GS_OK) {
			/* not remembered: with the key at hand a later run can look inside */
			g_free(why);
			res->outcome = GS_HARVEST_ENCRYPTED;
			return GS_OK;
		}
	}
	if ((st = gs_message_verify(s, m, &r, errmsg)) != GS_OK)
		return st;
	if (gs_report_kind_of(r) != GS_REPORT_SIGNED) {
		res->outcome = GS_HARVEST_UNSIGNED;
		verdict = "unsigned";
	} else if (gs_report_status(r) != GS_SIG_GOOD) {
		res->outcome = GS_HARVEST_BAD;
		verdict = "bad";
	} else {
		res->outcome = GS_HARVEST_GOOD;
		verdict = "good";
	}
	if ((st = gs_store_begin(s->store, errmsg)) != GS_OK)
		goto out;
	if (res->outcome == GS_HARVEST_GOOD) {
		if ((st = gs_message_signature(m, &der, errmsg)) != GS_OK ||
		    (st = gs_store_source(s->store, "harvest", "harvest", &source, errmsg)) != GS_OK ||
		    (st = store_signers(s, der, source, res, errmsg)) != GS_OK) {
			gs_store_rollback(s->store);
			goto out;
		}
	}
	if ((st = remember(s->store, message_id, verdict, errmsg)) != GS_OK) {
		gs_store_rollback(s->store);
		goto out;
	}
	st = gs_store_commit(s->store, errmsg);
out:
	if (der)
		g_byte_array_unref(der);
	if (st == GS_OK && r && gs_report_kind_of(r) == GS_REPORT_SIGNED)
		res->report = r;
	else
		gs_report_free(r);
	return st;
}
