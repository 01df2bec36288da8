/* raw.c: CMS objects without MIME around them, for callers that do their
 * own MIME (mutt's $smime_*_command contract). */
#include "gs-private.h"

#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>

static GByteArray *
bio_take(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	GByteArray *a = g_byte_array_sized_new((guint) n);

	g_byte_array_append(a, (guint8 *) p, (guint) n);
	return a;
}

gs_status
gs_raw_sign(gs_session *s, const char *signer, const void *content, size_t len, int detached,
	    GByteArray **der, char **errmsg)
{
	gs_identity *id = NULL;
	BIO *in, *out;
	gs_status st;

	if (!s || !der || (!content && len))
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_raw_sign: bad arguments");
	*der = NULL;
	if ((st = gs_session_signing_identity(s, signer, &id, errmsg)) != GS_OK)
		return st;
	in = BIO_new_mem_buf(content, (int) len);
	out = BIO_new(BIO_s_mem());
	st = gs_cms_sign(s, id, in, out, detached, errmsg);
	if (st == GS_OK)
		*der = bio_take(out);
	BIO_free(in);
	BIO_free(out);
	return st;
}

gs_status
gs_raw_verify(gs_session *s, const void *sig, size_t siglen, const void *content, size_t len,
	      GByteArray **extracted, gs_report **report, char **errmsg)
{
	BIO *in = NULL, *out = NULL;
	gs_cms_result res;
	gs_report *r;
	gs_status st;

	if (!s || !sig || !report)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_raw_verify: bad arguments");
	*report = NULL;
	if (extracted)
		*extracted = NULL;
	if (content)
		in = BIO_new_mem_buf(content, (int) len);
	else if (extracted)
		out = BIO_new(BIO_s_mem());
	gs_cms_result_init(&res);
	st = gs_cms_verify(s, sig, siglen, in, out, &res, errmsg);
	if (st == GS_OK) {
		r = gs_report_new();
		gs_report_add_signed(r, "1", content ? "detached" : "opaque", &res, 0, NULL, 0);
		gs_report_finish(r);
		*report = r;
		if (out)
			*extracted = bio_take(out);
	}
	gs_cms_result_clear(&res);
	BIO_free(in);
	BIO_free(out);
	return st;
}

/* The one verdict on a recipient (gs_judge_recipient, as `galsmime
 * encrypt` judges): dates, key usage, purpose, chain, revocation.
 * GS_E_NO_CERT naming the certificate's addresses (else its subject),
 * printable, and why. */
static gs_status
judge_recipient(gs_session *s, X509 *x, unsigned flags, char **errmsg)
{
	const char *why = NULL;
	char *buf = NULL, *who;
	gs_verdict v;
	gs_certdata cd;
	gs_status st;

	if ((st = gs_judge_recipient(s, x, flags, &v, &why, &buf, errmsg)) != GS_OK ||
	    v == GS_VERDICT_USABLE) {
		g_free(buf);
		return st;
	}
	gs_certdata_fill(&cd, x);
	who = gs_cert_info_addresses(&cd.info);
	if (!who)
		who = gs_printable(cd.info.subject, 256);
	st = gs_fail(errmsg, GS_E_NO_CERT, "%s: %s", who, why);
	g_free(who);
	g_free(buf);
	gs_certdata_clear(&cd);
	return st;
}

gs_status
gs_raw_encrypt(gs_session *s, const GPtrArray *files, const char *self, int no_self, unsigned flags,
	       gs_cipher cipher, int oaep, const void *content, size_t len, GByteArray **der,
	       char **errmsg)
{
	STACK_OF(X509) *recips = sk_X509_new_null();
	gs_identity *me = NULL;
	BIO *in = NULL, *out = NULL;
	gs_status st = GS_OK;
	guint i;
	int k;

	if (!s || !files || !der)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_raw_encrypt: bad arguments");
	*der = NULL;
	for (i = 0; i < files->len && st == GS_OK; i++) {
		GByteArray *a = files->pdata[i];
		STACK_OF(X509) *certs = NULL;
		int people = 0;

		if ((st = gs_read_certificates(a->data, a->len, &certs, errmsg)) != GS_OK)
			goto out;
		for (k = 0; k < sk_X509_num(certs) && st == GS_OK; k++) {
			X509 *x = sk_X509_value(certs, k);

			if (gs_cert_is_ca(x))
				continue; /* a chain file may come along */
			people++;
			if ((st = judge_recipient(s, x, flags, errmsg)) == GS_OK) {
				X509_up_ref(x);
				sk_X509_push(recips, x);
			}
		}
		if (st == GS_OK && !people)
			st = gs_fail(errmsg, GS_E_NO_CERT,
				     "certificate file %u holds CA certificates only, no recipient's", i + 1);
		sk_X509_pop_free(certs, X509_free);
	}
	if (st != GS_OK)
		goto out;
	if (!no_self) {
		if ((st = gs_identity_for_address(s, self, &me, errmsg)) != GS_OK)
			goto out;
		X509_up_ref(me->cert);
		sk_X509_push(recips, me->cert);
	}
	if (sk_X509_num(recips) == 0) {
		st = gs_fail(errmsg, GS_E_USAGE, "no recipient certificates");
		goto out;
	}
	in = BIO_new_mem_buf(content, (int) len);
	out = BIO_new(BIO_s_mem());
	if ((st = gs_cms_encrypt(s, recips, cipher, oaep, in, out, errmsg)) == GS_OK)
		*der = bio_take(out);
out:
	BIO_free(in);
	BIO_free(out);
	gs_identity_free(me);
	sk_X509_pop_free(recips, X509_free);
	return st;
}

gs_status
gs_raw_decrypt(gs_session *s, const void *der, size_t len, GByteArray **plain, gs_report **report,
	       char **errmsg)
{
	gs_cms_result res;
	BIO *out;
	gs_status st;

	if (!s || !der || !plain)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_raw_decrypt: bad arguments");
	*plain = NULL;
	if (report)
		*report = NULL;
	out = BIO_new(BIO_s_mem());
	gs_cms_result_init(&res);
	st = gs_cms_decrypt(s, der, len, out, &res, errmsg);
	if (st == GS_OK) {
		*plain = bio_take(out);
		if (report) {
			gs_report *r = gs_report_new();
			gs_report_add_encrypted(r, "1", res.cipher, res.authenticated);
			*report = r;
		}
	}
	gs_cms_result_clear(&res);
	/* the plaintext copy inside the BIO is wiped with it */
	{
		char *p;
		long n = BIO_get_mem_data(out, &p);
		if (n > 0)
			OPENSSL_cleanse(p, (size_t) n);
	}
	BIO_free(out);
	return st;
}

/* The certificates of a PKCS#7 / CMS structure, or only its signers'
 * (then *unmatched, when not NULL, counts the SignerInfos whose
 * certificate is not there). NULL when it is no such structure. */
static STACK_OF(X509) *
structure_certs(const unsigned char *p, size_t len, int signers_only, int *unmatched)
{
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *out = NULL;
	const unsigned char *q = p;

	if (len > 10 && len <= INT_MAX && g_strstr_len((const char *) p, MIN(len, (size_t) 4096), "-----BEGIN ")) {
		/* "PKCS7" (openssl smime -pk7out) or "CMS" */
		BIO *b = BIO_new_mem_buf(p, (int) len);
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long dlen = 0;

		if (PEM_read_bio(b, &name, &header, &der, &dlen) &&
		    (!strcmp(name, "PKCS7") || !strcmp(name, "CMS"))) {
			q = der;
			cms = d2i_CMS_ContentInfo(NULL, &q, dlen);
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
		BIO_free(b);
	} else if (len <= LONG_MAX) {
		cms = d2i_CMS_ContentInfo(NULL, &q, (long) len);
	}
	if (!cms)
		return NULL;
	if (signers_only && OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed) {
		STACK_OF(X509) *all = CMS_get1_certs(cms);
		STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
		int i, j;

		out = sk_X509_new_null();
		for (i = 0; sis && i < sk_CMS_SignerInfo_num(sis); i++) {
			for (j = 0; all && j < sk_X509_num(all); j++)
				if (!CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, i),
							     sk_X509_value(all, j))) {
					X509_up_ref(sk_X509_value(all, j));
					sk_X509_push(out, sk_X509_value(all, j));
					break;
				}
			if (unmatched && (!all || j == sk_X509_num(all)))
				(*unmatched)++;
		}
		sk_X509_pop_free(all, X509_free);
	} else {
		out = CMS_get1_certs(cms);
	}
	CMS_ContentInfo_free(cms);
	return out;
}

/* `certs` (taken) as a PEM bundle; none is GS_E_NOT_FOUND, NULL (no
 * structure) GS_E_MALFORMED. */
static gs_status
certs_pem(STACK_OF(X509) *certs, char **pem, char **errmsg)
{
	BIO *out;
	gs_status st = GS_OK;
	int i;

	ERR_clear_error();
	if (!certs || sk_X509_num(certs) == 0) {
		sk_X509_pop_free(certs, X509_free);
		return gs_fail(errmsg, certs ? GS_E_NOT_FOUND : GS_E_MALFORMED,
			       certs ? "no certificate in the structure" : "not a PKCS#7/CMS structure");
	}
	out = BIO_new(BIO_s_mem());
	for (i = 0; i < sk_X509_num(certs); i++)
		if (!PEM_write_bio_X509(out, sk_X509_value(certs, i)))
			st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot write PEM");
	if (st == GS_OK) {
		char *p;
		long n = BIO_get_mem_data(out, &p);
		*pem = g_strndup(p, (gsize) n);
	}
	BIO_free(out);
	sk_X509_pop_free(certs, X509_free);
	return st;
}

gs_status
gs_raw_certs(const void *data, size_t len, int signers_only, char **pem, char **errmsg)
{
	if ((!data && len) || !pem)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_raw_certs: bad arguments");
	*pem = NULL;
	if (!data)
		data = ""; /* empty input (an empty signature part) is malformed, not a bug */
	return certs_pem(structure_certs(data, len, signers_only, NULL), pem, errmsg);
}

/* The From address mutt's sender check may compare: the one mailbox of
 * the one From field (no group: mutt would compare the group's name),
 * spelled in the field as it is (no comment or folding inside it, where
 * mutt's parser and GMime's could read two addresses). NULL otherwise,
 * with *why. */
static char *
plain_from(GMimeMessage *m, const char **why)
{
	GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(m));
	InternetAddressList *l = g_mime_message_get_from(m);
	const char *raw = NULL;
	char *from, *lraw;
	int i, fields = 0;

	for (i = 0; i < g_mime_header_list_get_count(hl); i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
		if (!g_ascii_strcasecmp(g_mime_header_get_name(h), "From")) {
			fields++;
			raw = g_mime_header_get_raw_value(h);
		}
	}
	*why = "the message has no From address";
	if (fields > 1)
		*why = "the message has several From fields";
	if (fields != 1 || !raw)
		return NULL;
	for (i = 0; l && i < internet_address_list_length(l); i++)
		if (INTERNET_ADDRESS_IS_GROUP(internet_address_list_get_address(l, i))) {
			*why = "the From field holds a group";
			return NULL;
		}
	if (!(from = gs_message_from_address(m))) {
		*why = "the From field does not hold exactly one address";
		return NULL;
	}
	lraw = g_ascii_strdown(raw, -1);
	if (!strstr(lraw, from)) {
		*why = "the From address is not spelled out in the From field";
		g_free(from);
		from = NULL;
	}
	g_free(lraw);
	return from;
}

gs_status
gs_message_signer_certs(GMimeMessage *m, char **pem, char **errmsg)
{
	STACK_OF(X509) *signers;
	GByteArray *der = NULL;
	const char *why;
	char *from;
	gs_status st;
	int i, unmatched = 0;

	if (!m || !pem)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_signer_certs: bad arguments");
	*pem = NULL;
	if ((st = gs_message_signature(m, &der, errmsg)) != GS_OK)
		return st;
	signers = structure_certs(der->data, der->len, 1, &unmatched);
	g_byte_array_unref(der);
	if (!(from = plain_from(m, &why))) {
		sk_X509_pop_free(signers, X509_free);
		return gs_fail(errmsg, GS_E_NOT_FOUND, "%s: no signer can be shown as its sender", why);
	}
	if (unmatched) {
		sk_X509_pop_free(signers, X509_free);
		g_free(from);
		return gs_fail(errmsg, GS_E_NOT_FOUND, "a signer's certificate is not in the signature");
	}
	/* the From rule of gs_message_verify: every signer names From */
	for (i = 0; signers && i < sk_X509_num(signers); i++) {
		X509 *x = sk_X509_value(signers, i);
		gs_certdata cd;
		char *names, *pfrom;

		if (gs_cert_has_email(x, from))
			continue;
		gs_certdata_fill(&cd, x);
		names = gs_cert_info_addresses(&cd.info);
		pfrom = gs_printable(from, 256);
		st = gs_fail(errmsg, GS_E_NOT_FOUND,
			     "the signer's certificate does not name the From address %s (it names %s)",
			     pfrom, names ? names : "no address");
		g_free(names);
		g_free(pfrom);
		gs_certdata_clear(&cd);
		break;
	}
	g_free(from);
	if (st != GS_OK) {
		sk_X509_pop_free(signers, X509_free);
		return st;
	}
	return certs_pem(signers, pem, errmsg);
}

gs_status
gs_raw_cert_emails(const void *data, size_t len, char ***emails, char **errmsg)
{
	STACK_OF(X509) *certs = NULL;
	GPtrArray *a;
	gs_status st;
	int i;

	if ((!data && len) || !emails)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_raw_cert_emails: bad arguments");
	*emails = NULL;
	if (!data)
		data = "";
	if ((st = gs_read_certificates(data, len, &certs, errmsg)) != GS_OK)
		return st;
	a = g_ptr_array_new();
	for (i = 0; i < sk_X509_num(certs); i++) {
		char **e = gs_cert_emails(sk_X509_value(certs, i)), **p;
		for (p = e; *p; p++)
			g_ptr_array_add(a, g_strdup(*p));
		g_strfreev(e);
	}
	g_ptr_array_add(a, NULL);
	*emails = (char **) g_ptr_array_free(a, FALSE);
	sk_X509_pop_free(certs, X509_free);
	return GS_OK;
}

/* The content of a leaf part, decoded. */
static GByteArray *
part_content(GMimeObject *part)
{
	GMimeDataWrapper *w;
	GMimeStream *mem;
	GByteArray *a;

	if (!GMIME_IS_PART(part) || !(w = g_mime_part_get_content(GMIME_PART(part))))
		return NULL;
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, mem);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	g_object_unref(mem);
	return a;
}

/* A part that may hold opaque signed-data, as gs_message_verify sees
 * it: application/(x-)pkcs7-mime whatever its smime-type says, or
 * application/octet-stream named *.p7m, as some clients send it. */
static int
maybe_opaque(GMimeObject *o)
{
	const char *name;

	if (GMIME_IS_APPLICATION_PKCS7_MIME(o))
		return 1;
	if (!GMIME_IS_PART(o) ||
	    !g_mime_content_type_is_type(g_mime_object_get_content_type(o), "application", "octet-stream"))
		return 0;
	name = g_mime_part_get_filename(GMIME_PART(o));
	return name && (g_str_has_suffix(name, ".p7m") || g_str_has_suffix(name, ".P7M"));
}

gs_status
gs_message_signature(GMimeMessage *m, GByteArray **der, char **errmsg)
{
	GMimeObject *top, *part;
	GByteArray *a;

	if (!m || !der)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_message_signature: bad arguments");
	*der = NULL;
	top = g_mime_message_get_mime_part(m);
	if (top && GMIME_IS_MULTIPART_SIGNED(top)) {
		if (g_mime_multipart_get_count(GMIME_MULTIPART(top)) < 2)
			return gs_fail(errmsg, GS_E_MALFORMED, "multipart/signed without a signature part");
		part = g_mime_multipart_get_part(GMIME_MULTIPART(top), GMIME_MULTIPART_SIGNED_SIGNATURE);
		if (!(a = part_content(part)))
			return gs_fail(errmsg, GS_E_MALFORMED, "the signature part is empty");
		*der = a;
		return GS_OK;
	}
	/* opaque: judged by the content, as gs_message_verify judges it */
	if (top && maybe_opaque(top) && (a = part_content(top))) {
		if (gs_cms_content_type(a->data, a->len) == NID_pkcs7_signed) {
			*der = a;
			return GS_OK;
		}
		g_byte_array_unref(a);
	}
	return gs_fail(errmsg, GS_E_NOT_FOUND, "the message is not signed");
}
