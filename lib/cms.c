/* cms.c: the OpenSSL work: sign, verify, encrypt, decrypt, and the
 * algorithm policy (SMIMECapabilities, ciphers, OAEP, the ECDH KDF). */
#include "gs-private.h"

#include <limits.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/x509_vfy.h>

#define COPY_CHUNK 65536

void
gs_signer_data_free(gs_signer_data *sd)
{
	if (!sd)
		return;
	gs_certdata_clear(&sd->cd);
	g_free(sd->detail);
	g_free(sd->digest);
	g_strfreev(sd->emails);
	g_free(sd);
}

void
gs_cms_result_init(gs_cms_result *res)
{
	memset(res, 0, sizeof *res);
	res->signers = g_ptr_array_new_with_free_func((GDestroyNotify) gs_signer_data_free);
}

void
gs_cms_result_clear(gs_cms_result *res)
{
	if (res->signers)
		g_ptr_array_free(res->signers, TRUE);
	g_free(res->cipher);
	memset(res, 0, sizeof *res);
}

CMS_ContentInfo *
gs_cms_read(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;

	if (!der || len == 0 || len > LONG_MAX)
		return NULL;
	return d2i_CMS_ContentInfo(NULL, &p, (long) len);
}

/* ---- counted before OpenSSL decodes them ---- */

/* The BER element at p (definite or indefinite length) and the end of
 * its contents (*ce: where its children stop); returns where the element
 * ends, or NULL when it is not well formed. */
static const unsigned char *
ber_element(const unsigned char *p, const unsigned char *end, int *tag, int *cls,
	    const unsigned char **cs, const unsigned char **ce, int depth)
{
	const unsigned char *q = p, *a, *b;
	long len;
	int r, t, c;

	if (depth > 64 || p >= end)
		return NULL;
	r = ASN1_get_object(&q, &len, tag, cls, end - p);
	if (r & 0x80)
		return NULL;
	*cs = q;
	if (r != 0x21)
		return *ce = q + len;
	/* constructed, indefinite: its elements up to the end-of-contents octets */
	while (q < end && !(end - q >= 2 && q[0] == 0 && q[1] == 0))
		if (!(q = ber_element(q, end, &t, &c, &a, &b, depth + 1)))
			return NULL;
	if (q >= end)
		return NULL;
	*ce = q;
	return q + 2;
}

/* How many elements lie in [p, end), or -1. */
static long
ber_count(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *a, *b;
	long n = 0;
	int t, c;

	while (p < end && n >= 0)
		n = (p = ber_element(p, end, &t, &c, &a, &b, 1)) ? n + 1 : -1;
	return n;
}

typedef struct cms_counts {
	long digests, certs, crls, signers, recipients;
} cms_counts;

/* CertificateSet [0] and RevocationInfoChoices [1], when they come next */
static const unsigned char *
count_certs_crls(const unsigned char *p, const unsigned char *end, cms_counts *n)
{
	const unsigned char *cs, *ce, *next;
	int tag, cls;

	while (p < end && (next = ber_element(p, end, &tag, &cls, &cs, &ce, 1)) &&
	       cls == V_ASN1_CONTEXT_SPECIFIC && (tag == 0 || tag == 1)) {
		if (tag == 0)
			n->certs = ber_count(cs, ce);
		else
			n->crls = ber_count(cs, ce);
		p = next;
	}
	return p;
}

/* The content types, as encoded OBJECT IDENTIFIERs (compared as bytes:
 * d2i_ASN1_OBJECT and OBJ_obj2nid were 4% of a warm 2 KB verify) */
static const unsigned char oid_signed_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
static const unsigned char oid_enveloped_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03 };
static const unsigned char oid_auth_enveloped_data[] = { 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
							 0x01, 0x09, 0x10, 0x01, 0x17 };

/* The NID of the encoded OBJECT IDENTIFIER [p, end) among those three,
 * else NID_undef. */
static int
content_type_at(const unsigned char *p, const unsigned char *end)
{
	static const struct { const unsigned char *oid; size_t len; int nid; } known[] = {
		{ oid_signed_data, sizeof oid_signed_data, NID_pkcs7_signed },
		{ oid_enveloped_data, sizeof oid_enveloped_data, NID_pkcs7_enveloped },
		{ oid_auth_enveloped_data, sizeof oid_auth_enveloped_data, NID_id_smime_ct_authEnvelopedData },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(known); i++)
		if ((size_t) (end - p) >= known[i].len && !memcmp(p, known[i].oid, known[i].len))
			return known[i].nid;
	return NID_undef;
}

/* What a SignedData or (Auth)EnvelopedData holds, from its encoding
 * alone: OpenSSL decodes every certificate it carries (about 0.1 ms each
 * with 3.0), and one message can carry thousands. 0 when the structure
 * is not what it should be (then d2i says so). */
static int
cms_count(const unsigned char *der, size_t len, cms_counts *n)
{
	const unsigned char *end, *cs, *ce, *p, *next;
	int tag, cls, nid, ok = 0;

	memset(n, 0, sizeof *n);
	if (!der || len == 0 || len > LONG_MAX)
		return 0;
	end = der + len;
	if (!ber_element(der, end, &tag, &cls, &cs, &ce, 0) || tag != V_ASN1_SEQUENCE)
		goto out;
	/* ContentInfo { contentType, [0] EXPLICIT content } */
	{
		const unsigned char *oc, *oe;

		if (!(p = ber_element(cs, ce, &tag, &cls, &oc, &oe, 1)) || tag != V_ASN1_OBJECT)
			goto out;
		nid = content_type_at(cs, p);
	}
	if (!ber_element(p, ce, &tag, &cls, &cs, &ce, 0) || !ber_element(cs, ce, &tag, &cls, &cs, &ce, 0) ||
	    tag != V_ASN1_SEQUENCE)
		goto out;
	/* version */
	if (!(p = ber_element(cs, ce, &tag, &cls, &cs, &end, 1)))
		goto out;
	if (nid == NID_pkcs7_signed) {
		/* digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos */
		if (!(next = ber_element(p, ce, &tag, &cls, &cs, &end, 1)))
			goto out;
		n->digests = ber_count(cs, end);
		if (!(p = ber_element(next, ce, &tag, &cls, &cs, &end, 1)))
			goto out;
		p = count_certs_crls(p, ce, n);
		if (!ber_element(p, ce, &tag, &cls, &cs, &end, 1))
			goto out;
		n->signers = ber_count(cs, end);
	} else if (nid == NID_pkcs7_enveloped || nid == NID_id_smime_ct_authEnvelopedData) {
		/* [0] originatorInfo { [0] certs, [1] crls }, recipientInfos */
		if (!(next = ber_element(p, ce, &tag, &cls, &cs, &end, 1)))
			goto out;
		if (cls == V_ASN1_CONTEXT_SPECIFIC && tag == 0) {
			count_certs_crls(cs, end, n);
			if (!ber_element(next, ce, &tag, &cls, &cs, &end, 1))
				goto out;
		}
		n->recipients = ber_count(cs, end);
	}
	ok = 1;
out:
	ERR_clear_error();
	return ok;
}

/* The cost caps on one CMS object: GS_E_LIMIT, saying which, before
 * OpenSSL decodes it. */
static gs_status
check_counts(const unsigned char *der, size_t len, char **errmsg)
{
	cms_counts n;
	size_t i;

	if (!cms_count(der, len, &n))
		return GS_OK;
	{
		const struct { const char *what; long n, max; } caps[] = {
			{ "signers", n.signers, GS_MAX_SIGNERS },
			{ "digest algorithms", n.digests, GS_MAX_DIGEST_ALGS },
			{ "certificates", n.certs, GS_MAX_CMS_CERTS },
			{ "CRLs", n.crls, GS_MAX_CMS_CRLS },
			{ "recipients", n.recipients, GS_MAX_RECIPIENTS },
		};
		for (i = 0; i < G_N_ELEMENTS(caps); i++)
			if (caps[i].n > caps[i].max)
				return gs_fail(errmsg, GS_E_LIMIT, "%ld %s in one CMS structure (at most %ld)",
					       caps[i].n, caps[i].what, caps[i].max);
	}
	return GS_OK;
}

/* ---- a SignedData's certificates, decoded once ---- */

/* Where the certificates of a SignedData lie in its encoding, and the
 * levels around them, from gs_cms_read_signed's walk. */
typedef struct signed_layout {
	const unsigned char *ci_cs, *ci_ce, *ci_end; /* ContentInfo: contents, end */
	const unsigned char *ex, *ex_cs, *ex_ce, *ex_end; /* its [0] EXPLICIT */
	const unsigned char *sd, *sd_cs, *sd_ce, *sd_end; /* the SignedData */
	const unsigned char *certs, *certs_cs, *certs_ce, *certs_end; /* [0] certificates */
} signed_layout;

static int
signed_walk(const unsigned char *der, size_t len, signed_layout *l)
{
	const unsigned char *end = der + len, *p, *next;
	int tag, cls, i;

	/* each level constructed, as d2i wants it (the bit is in the first
	 * identifier octet) */
	if (!(der[0] & V_ASN1_CONSTRUCTED) ||
	    !(l->ci_end = ber_element(der, end, &tag, &cls, &l->ci_cs, &l->ci_ce, 0)) || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL)
		return 0;
	if ((size_t) (l->ci_ce - l->ci_cs) < sizeof oid_signed_data ||
	    memcmp(l->ci_cs, oid_signed_data, sizeof oid_signed_data))
		return 0;
	l->ex = l->ci_cs + sizeof oid_signed_data;
	if (l->ex >= l->ci_ce || !(l->ex[0] & V_ASN1_CONSTRUCTED) ||
	    !(l->ex_end = ber_element(l->ex, l->ci_ce, &tag, &cls, &l->ex_cs, &l->ex_ce, 0)) || tag != 0 ||
	    cls != V_ASN1_CONTEXT_SPECIFIC)
		return 0;
	l->sd = l->ex_cs;
	if (l->sd >= l->ex_ce || !(l->sd[0] & V_ASN1_CONSTRUCTED) ||
	    !(l->sd_end = ber_element(l->sd, l->ex_ce, &tag, &cls, &l->sd_cs, &l->sd_ce, 0)) ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
		return 0;
	/* version, digestAlgorithms, encapContentInfo, then [0] certificates */
	for (p = l->sd_cs, i = 0; i < 3; i++, p = next) {
		const unsigned char *cs, *ce;
		if (!(next = ber_element(p, l->sd_ce, &tag, &cls, &cs, &ce, 1)))
			return 0;
	}
	l->certs = p;
	return p < l->sd_ce && (p[0] & V_ASN1_CONSTRUCTED) &&
	       (l->certs_end = ber_element(p, l->sd_ce, &tag, &cls, &l->certs_cs, &l->certs_ce, 1)) != NULL &&
	       tag == 0 && cls == V_ASN1_CONTEXT_SPECIFIC;
}

static unsigned char *
put_bytes(unsigned char *w, const unsigned char *from, const unsigned char *to)
{
	memcpy(w, from, (size_t) (to - from));
	return w + (to - from);
}

/* A SignedData decoded without its certificates, which are added back
 * one by one, in their order, decoded through `store` when given
 * (gs_store_decode_cert: the warm engine's set, then the handle's cache
 * by DER, which the chain's lookups in the store find again), else taken
 * from the warm set or decoded here. OpenSSL 3.0
 * decodes each certificate's public key through its decoder machinery,
 * about 2.4 M instructions, and a message carries its signer's
 * certificate and the chain: in a warm 2 KB verify, d2i of the CMS was
 * 40% of the worker's time. The signature covers none of the
 * certificates (RFC 5652, 5.4), so nothing it checks changes; a
 * certificate that does not decode fails the whole, as in d2i. Any other
 * shape (no certificates, a choice other than a plain certificate, an
 * indefinite-length certificate, two the same): gs_cms_read. */
CMS_ContentInfo *
gs_cms_read_signed(gs_store *store, const unsigned char *der, size_t len)
{
	signed_layout l;
	const unsigned char *q, *e, *a, *b;
	unsigned char *buf, *w;
	long sd_len, ex_len, ci_len;
	int tag, cls, n = 0, ok = 1;
	CMS_ContentInfo *cms;
	struct { const unsigned char *p; long len; } one[GS_MAX_CMS_CERTS];

	if (!der || len == 0 || len > LONG_MAX || !signed_walk(der, len, &l))
		return gs_cms_read(der, len);
	for (q = l.certs_cs; q < l.certs_ce; q = e) {
		if (n == GS_MAX_CMS_CERTS || !(q[0] & V_ASN1_CONSTRUCTED) ||
		    !(e = ber_element(q, l.certs_ce, &tag, &cls, &a, &b, 1)) || tag != V_ASN1_SEQUENCE ||
		    cls != V_ASN1_UNIVERSAL || b != e)
			return gs_cms_read(der, len);
		one[n].p = q;
		one[n++].len = e - q;
	}
	/* the three levels around, lengths definite, the rest as it was */
	sd_len = (long) ((l.certs - l.sd_cs) + (l.sd_ce - l.certs_end));
	ex_len = (long) ((l.sd - l.ex_cs) + ASN1_object_size(1, sd_len, V_ASN1_SEQUENCE) + (l.ex_ce - l.sd_end));
	ci_len = (long) ((l.ex - l.ci_cs) + ASN1_object_size(1, ex_len, 0) + (l.ci_ce - l.ex_end));
	w = buf = g_malloc((size_t) ASN1_object_size(1, ci_len, V_ASN1_SEQUENCE));
	ASN1_put_object(&w, 1, ci_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	w = put_bytes(w, l.ci_cs, l.ex);
	ASN1_put_object(&w, 1, ex_len, 0, V_ASN1_CONTEXT_SPECIFIC);
	w = put_bytes(w, l.ex_cs, l.sd);
	ASN1_put_object(&w, 1, sd_len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	w = put_bytes(w, l.sd_cs, l.certs);
	w = put_bytes(w, l.certs_end, l.sd_ce);
	w = put_bytes(w, l.sd_end, l.ex_ce);
	w = put_bytes(w, l.ex_end, l.ci_ce);
	cms = gs_cms_read(buf, (size_t) (w - buf));
	g_free(buf);
	if (!cms) {
		ERR_clear_error();
		return gs_cms_read(der, len);
	}
	for (int i = 0; ok && i < n; i++) {
		X509 *x;

		if (store)
			x = gs_store_decode_cert(store, one[i].p, (int) one[i].len);
		else if (!(x = gs_warm_cert(one[i].p, (int) one[i].len)))
			x = gs_cert_from_der(one[i].p, (size_t) one[i].len);
		ok = x && CMS_add0_cert(cms, x);
		if (!ok)
			X509_free(x);
	}
	if (!ok) {
		/* one that does not decode (d2i says why), or a second copy */
		CMS_ContentInfo_free(cms);
		ERR_clear_error();
		return gs_cms_read(der, len);
	}
	return cms;
}

int
gs_cms_content_type(const unsigned char *der, size_t len)
{
	CMS_ContentInfo *cms = gs_cms_read(der, len);
	int nid = NID_undef;

	if (cms)
		nid = OBJ_obj2nid(CMS_get0_type(cms));
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return nid;
}

/* ---- helpers ---- */

/* Free a BIO chain down to `stop` (excluded). */
static void
free_upto(BIO *b, BIO *stop)
{
	while (b && b != stop) {
		BIO *next = BIO_pop(b);
		BIO_free(b);
		b = next;
	}
}

/* ---- sign ---- */

struct gs_cms_signer {
	CMS_ContentInfo *cms;
	BIO *sink;               /* where the content goes */
	BIO *base;               /* under the sink: a null BIO (detached) or the caller's out */
	int detached;
	const gs_identity *id;   /* the signer (kept by the session) */
};

/* A private-key operation that failed: the agent's reason when the key
 * is the agent's (it went away: try again), the token's when it is gone,
 * else `st` and `what` with OpenSSL's errors. */
static gs_status
key_op_failed(const gs_identity *id, gs_status st, const char *what, char **errmsg)
{
	gs_status agent = gs_agent_key_failure(id->key, errmsg);

	return agent != GS_OK ? agent : gs_token_op_failed(id, st, what, errmsg);
}

void
gs_cms_signer_free(gs_cms_signer *sg)
{
	if (!sg)
		return;
	free_upto(sg->sink, sg->detached ? NULL : sg->base);
	CMS_ContentInfo_free(sg->cms);
	g_free(sg);
}

gs_status
gs_cms_signer_new(gs_session *s, gs_identity *id, BIO *out, gs_cms_signer **out_sg, char **errmsg)
{
	unsigned flags = CMS_BINARY | CMS_PARTIAL | (out ? CMS_STREAM : CMS_DETACHED);
	STACK_OF(X509_ALGOR) *smcap = NULL;
	STACK_OF(X509) *chain = NULL;
	gs_cms_signer *sg;
	CMS_SignerInfo *si;
	gs_status st = GS_OK;
	int i;

	*out_sg = NULL;
	if (!id->key)
		return gs_fail(errmsg, GS_E_NO_KEY, "identity is locked");
	sg = g_new0(gs_cms_signer, 1);
	sg->detached = out == NULL;
	sg->id = id;
	if (!(sg->cms = CMS_sign(NULL, NULL, NULL, NULL, flags))) {
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot create signed-data");
		goto out;
	}
	si = CMS_add1_signer(sg->cms, id->cert, id->key, EVP_sha256(),
			     CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL);
	if (!si) {
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot add the signer");
		goto out;
	}
	/* only modern ciphers, strongest first (RFC 8551 2.5.2) */
	if (!CMS_add_simple_smimecap(&smcap, NID_aes_256_gcm, -1) ||
	    !CMS_add_simple_smimecap(&smcap, NID_aes_256_cbc, -1) ||
	    !CMS_add_simple_smimecap(&smcap, NID_aes_128_cbc, -1) ||
	    !CMS_add_smimecap(si, smcap)) {
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot add SMIMECapabilities");
		goto out;
	}
	if ((st = gs_cert_issuers(s->store, id->cert, &chain, errmsg)) != GS_OK)
		goto out;
	for (i = 0; i < sk_X509_num(chain); i++)
		CMS_add1_cert(sg->cms, sk_X509_value(chain, i));
	if (sg->detached) {
		/* the content only feeds the digests */
		sg->base = BIO_new(BIO_s_null());
		sg->sink = sg->base ? CMS_dataInit(sg->cms, sg->base) : NULL;
	} else {
		/* BER, streamed: the content goes into the structure as it comes */
		sg->base = out;
		sg->sink = BIO_new_CMS(out, sg->cms);
	}
	if (!sg->sink) {
		if (sg->detached)
			BIO_free(sg->base);
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot start signing");
	}
out:
	sk_X509_ALGOR_pop_free(smcap, X509_ALGOR_free);
	sk_X509_pop_free(chain, X509_free);
	if (st != GS_OK)
		gs_cms_signer_free(sg);
	else
		*out_sg = sg;
	return st;
}

BIO *
gs_cms_signer_sink(gs_cms_signer *sg)
{
	return sg->sink;
}

gs_status
gs_cms_signer_finish(gs_cms_signer *sg, GByteArray **der, char **errmsg)
{
	gs_status st = GS_OK;

	if (der)
		*der = NULL;
	if (sg->detached) {
		BIO *mem = BIO_new(BIO_s_mem());
		char *p;
		long n;

		if (!CMS_dataFinal(sg->cms, sg->sink)) {
			/* the private-key operation: a token or the agent may be gone */
			st = key_op_failed(sg->id, GS_E_INTERNAL, "signing failed", errmsg);
		} else if (!mem || !i2d_CMS_bio(mem, sg->cms)) {
			st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot write the signature");
		} else if (der) {
			n = BIO_get_mem_data(mem, &p);
			*der = g_byte_array_sized_new((guint) n);
			g_byte_array_append(*der, (guint8 *) p, (guint) n);
		}
		BIO_free(mem);
	} else if (BIO_flush(sg->sink) <= 0) {
		st = key_op_failed(sg->id, GS_E_INTERNAL, "signing failed", errmsg);
	}
	gs_cms_signer_free(sg);
	return st;
}

static gs_status
pump(BIO *in, BIO *out, char **errmsg)
{
	char *buf = g_malloc(COPY_CHUNK);
	gs_status st = GS_OK;
	int r;

	while ((r = BIO_read(in, buf, COPY_CHUNK)) > 0)
		if (BIO_write(out, buf, r) != r) {
			st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot pass the content on");
			break;
		}
	if (r < 0 && st == GS_OK)
		st = gs_fail(errmsg, GS_E_IO, "cannot read the content");
	g_free(buf);
	return st;
}

gs_status
gs_cms_sign(gs_session *s, gs_identity *id, BIO *in, BIO *out, int detached, char **errmsg)
{
	gs_cms_signer *sg = NULL;
	GByteArray *der = NULL;
	gs_status st;

	if ((st = gs_cms_signer_new(s, id, detached ? NULL : out, &sg, errmsg)) != GS_OK)
		return st;
	if ((st = pump(in, gs_cms_signer_sink(sg), errmsg)) != GS_OK) {
		gs_cms_signer_free(sg);
		return st;
	}
	if ((st = gs_cms_signer_finish(sg, &der, errmsg)) != GS_OK)
		return st;
	if (der) {
		if (BIO_write(out, der->data, (int) der->len) != (int) der->len || BIO_flush(out) <= 0)
			st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot write the signature");
		g_byte_array_unref(der);
	}
	return st;
}

/* ---- verify ---- */

static const char *
digest_label(int nid)
{
	switch (nid) {
	case NID_sha1: return "sha-1";
	case NID_sha224: return "sha-224";
	case NID_sha256: return "sha-256";
	case NID_sha384: return "sha-384";
	case NID_sha512: return "sha-512";
	case NID_md5: return "md5";
	default: return NULL;
	}
}

static int64_t
signing_time(CMS_SignerInfo *si)
{
	int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *t;
	struct tm tm;

	if (idx < 0 || !(attr = CMS_signed_get_attr(si, idx)))
		return 0;
	t = X509_ATTRIBUTE_get0_type(attr, 0);
	if (!t || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
		return 0;
	if (!ASN1_TIME_to_tm((ASN1_TIME *) t->value.asn1_string, &tm))
		return 0;
	return (int64_t) timegm(&tm);
}

/* Find the signer's certificate: in the message, else in the store
 * (*cert NULL when it is in neither). */
static gs_status
signer_cert(gs_session *s, CMS_SignerInfo *si, STACK_OF(X509) *msg_certs, X509 **cert,
	    char **errmsg)
{
	ASN1_OCTET_STRING *keyid = NULL;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *serial = NULL;
	int i;

	*cert = NULL;
	for (i = 0; msg_certs && i < sk_X509_num(msg_certs); i++) {
		X509 *x = sk_X509_value(msg_certs, i);
		if (CMS_SignerInfo_cert_cmp(si, x) == 0) {
			X509_up_ref(x);
			*cert = x;
			return GS_OK;
		}
	}
	if (!CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial))
		return GS_OK;
	if (keyid)
		return gs_store_cert_by_ski(s->store, keyid, cert, errmsg);
	if (issuer && serial)
		return gs_store_cert_by_issuer_serial(s->store, issuer, serial, cert, errmsg);
	return GS_OK;
}

static int
is_unsupported_error(void)
{
	unsigned long e;
	int r = 0;

	while ((e = ERR_get_error()) != 0) {
		int reason = ERR_GET_REASON(e);
		if (reason == EVP_R_UNSUPPORTED_ALGORITHM || reason == CMS_R_UNKNOWN_DIGEST_ALGORITHM ||
		    reason == CMS_R_UNSUPPORTED_CONTENT_TYPE || reason == ERR_R_UNSUPPORTED ||
		    reason == CMS_R_UNKNOWN_ID || reason == EVP_R_UNSUPPORTED_PRIVATE_KEY_ALGORITHM ||
		    reason == CMS_R_NO_MATCHING_DIGEST)
			r = 1;
	}
	return r;
}

struct gs_cms_verifier {
	gs_session *s;
	CMS_ContentInfo *cms;
	STACK_OF(X509) *msg_certs;
	BIO *chain;              /* the digest BIOs (and the shown-content digest) */
	BIO *base;               /* under them: the caller's content BIO, our null sink, or NULL */
	int own_base;
	int dig_ok;
	EVP_MD_CTX *shown;       /* not used once the chain has it: see below */
	int check_shown;         /* the SignedData also embeds content: compare */
};

void
gs_cms_verifier_free(gs_cms_verifier *v)
{
	if (!v)
		return;
	free_upto(v->chain, v->own_base ? NULL : v->base);
	if (!v->chain && v->own_base)
		BIO_free(v->base);
	sk_X509_pop_free(v->msg_certs, X509_free);
	CMS_ContentInfo_free(v->cms);
	g_free(v);
}

gs_status
gs_cms_verifier_new(gs_session *s, const unsigned char *sig, size_t siglen, BIO *content, int push,
		    BIO *out, gs_cms_verifier **out_v, char **errmsg)
{
	gs_cms_verifier *v;
	gs_status st = GS_OK;

	*out_v = NULL;
	if ((st = check_counts(sig, siglen, errmsg)) != GS_OK)
		return st;
	v = g_new0(gs_cms_verifier, 1);
	v->s = s;
	v->dig_ok = 1;
	if (!(v->cms = gs_cms_read_signed(s->store, sig, siglen))) {
		st = gs_fail_ssl(errmsg, GS_E_MALFORMED, "the signature is not a CMS structure");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(v->cms)) != NID_pkcs7_signed) {
		st = gs_fail(errmsg, GS_E_MALFORMED, "the CMS structure is not signed-data");
		goto out;
	}
	if (!content && !push && CMS_is_detached(v->cms)) {
		st = gs_fail(errmsg, GS_E_MALFORMED, "detached signature without its content");
		goto out;
	}
	v->msg_certs = CMS_get1_certs(v->cms);
	if (push) {
		v->base = BIO_new(BIO_s_null());
		v->own_base = 1;
	} else {
		v->base = content;
	}
	/* the content runs through the digest BIOs once, for all signers */
	v->chain = CMS_dataInit(v->cms, v->base);
	if (!v->chain) {
		v->dig_ok = 0;
		ERR_clear_error();
	}
	/* a detached signature whose SignedData also carries content: the
	 * digests are checked over the displayed part; the hidden copy must
	 * be the same bytes, or it is a trap (the displayed part is what the
	 * reader sees, the hidden one what another client shows). A SHA-256
	 * digest BIO on top of the chain sees the displayed bytes. */
	if ((content || push) && !CMS_is_detached(v->cms) && v->chain) {
		ASN1_OCTET_STRING **econt = CMS_get0_content(v->cms);
		BIO *md = econt && *econt ? BIO_new(BIO_f_md()) : NULL;

		if (md && BIO_set_md(md, EVP_sha256()) > 0) {
			v->chain = BIO_push(md, v->chain);
			v->check_shown = 1;
		} else {
			BIO_free(md);
		}
	}
	if (!push && v->chain) {
		/* pull the content (given, or embedded) through now */
		char *buf = g_malloc(COPY_CHUNK);
		int r;

		while ((r = BIO_read(v->chain, buf, COPY_CHUNK)) > 0)
			if (out && BIO_write(out, buf, r) != r) {
				st = gs_fail(errmsg, GS_E_INTERNAL, "out of memory copying the content");
				break;
			}
		if (r < 0)
			v->dig_ok = 0;
		g_free(buf);
	}
out:
	if (st != GS_OK)
		gs_cms_verifier_free(v);
	else
		*out_v = v;
	return st;
}

BIO *
gs_cms_verifier_sink(gs_cms_verifier *v)
{
	/* with no digest chain (an unsupported digest), the content still
	 * has somewhere to go */
	return v->chain ? v->chain : v->base;
}

/* The digest a signer used, by the digestAlgorithm and, for composite
 * signature algorithms (sha1WithRSAEncryption...), the signatureAlgorithm:
 * the weaker of the two counts. */
static int
signer_digest_nid(X509_ALGOR *dig, X509_ALGOR *sigalg)
{
	const ASN1_OBJECT *obj;
	int nid = NID_undef, md = NID_undef, pk;

	if (dig) {
		X509_ALGOR_get0(&obj, NULL, NULL, dig);
		nid = OBJ_obj2nid(obj);
	}
	if (sigalg) {
		X509_ALGOR_get0(&obj, NULL, NULL, sigalg);
		if (OBJ_find_sigid_algs(OBJ_obj2nid(obj), &md, &pk) &&
		    (md == NID_md5 || md == NID_sha1 || md == NID_md2 || md == NID_md4))
			nid = md;
	}
	return nid;
}

/* The digest policy: MD5 (and older) never good; SHA-1 not good unless
 * the session allows it, then with a warning. */
static void
judge_digest(const gs_session *s, int nid, gs_signer_data *sd)
{
	if (nid == NID_md5 || nid == NID_md2 || nid == NID_md4 || (nid == NID_sha1 && !s->allow_sha1)) {
		sd->pub.reasons |= GS_REASON_WEAK_DIGEST;
		if (sd->pub.status == GS_SIG_GOOD)
			sd->pub.status = GS_SIG_BAD;
	} else if (nid == NID_sha1) {
		sd->pub.reasons |= GS_REASON_SHA1_ALLOWED;
	}
}

gs_status
gs_cms_verifier_finish(gs_cms_verifier *v, gs_cms_result *res, char **errmsg)
{
	gs_session *s = v->s;
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(v->cms);
	time_t when = gs_session_now(s);
	gs_status st = GS_OK;
	int i, n = sis ? sk_CMS_SignerInfo_num(sis) : 0;

	if (v->check_shown) {
		ASN1_OCTET_STRING **econt = CMS_get0_content(v->cms);
		EVP_MD_CTX *mctx = NULL;
		unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
		unsigned int alen = 0, blen = 0;
		EVP_MD_CTX *copy = EVP_MD_CTX_new();

		BIO_get_md_ctx(v->chain, &mctx);
		if (copy && mctx && EVP_MD_CTX_copy_ex(copy, mctx) && EVP_DigestFinal_ex(copy, a, &alen) &&
		    EVP_Digest((*econt)->data, (size_t) (*econt)->length, b, &blen, EVP_sha256(), NULL) &&
		    (alen != blen || memcmp(a, b, alen) != 0))
			res->content_mismatch = 1;
		EVP_MD_CTX_free(copy);
	}
	if (n == 0)
		res->no_signers = 1;

	for (i = 0; i < n && st == GS_OK; i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
		gs_signer_data *sd = g_new0(gs_signer_data, 1);
		X509_ALGOR *dig = NULL, *sigalg = NULL;
		const char *why;
		X509 *cert;
		int r;

		g_ptr_array_add(res->signers, sd);
		sd->pub.status = GS_SIG_GOOD;
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sigalg);
		if (dig) {
			const ASN1_OBJECT *obj;
			const char *label;
			char oid[80];

			X509_ALGOR_get0(&obj, NULL, NULL, dig);
			label = digest_label(OBJ_obj2nid(obj));
			OBJ_obj2txt(oid, sizeof oid, obj, 1);
			sd->digest = g_strdup(label ? label : oid);
		}
		sd->pub.digest = sd->digest;
		sd->pub.signing_time = signing_time(si);

		judge_digest(s, signer_digest_nid(dig, sigalg), sd);
		if ((st = signer_cert(s, si, v->msg_certs, &cert, errmsg)) != GS_OK)
			break;
		if (!cert) {
			if (sd->pub.status == GS_SIG_GOOD)
				sd->pub.status = GS_SIG_ERROR;
			sd->pub.reasons |= GS_REASON_MISSING_CERT;
			continue;
		}
		CMS_SignerInfo_set1_signer_cert(si, cert);
		sd->pub.have_cert = 1;
		gs_certdata_fill(&sd->cd, cert);
		sd->pub.cert = sd->cd.info;
		sd->emails = gs_cert_emails(cert);
		/* no check with a key no CA issues: it would cost seconds */
		if ((why = gs_key_refused(X509_get0_pubkey(cert)))) {
			sd->pub.status = GS_SIG_ERROR;
			sd->pub.reasons |= GS_REASON_LIMIT;
			sd->detail = g_strdup_printf("the signer's key is refused: %s", why);
			sd->pub.detail = sd->detail;
			X509_free(cert);
			continue;
		}

		/* the signature over the signed attributes, then the digest */
		ERR_clear_error();
		if (CMS_signed_get_attr_count(si) >= 0) {
			r = CMS_SignerInfo_verify(si);
			if (r != 1) {
				if (is_unsupported_error()) {
					sd->pub.status = GS_SIG_ERROR;
					sd->pub.reasons |= GS_REASON_UNSUPPORTED_ALGO;
				} else {
					sd->pub.status = GS_SIG_BAD;
					sd->pub.reasons |= GS_REASON_BAD_SIGNATURE;
				}
			}
		}
		if (sd->pub.status == GS_SIG_GOOD) {
			ERR_clear_error();
			r = v->dig_ok ? CMS_SignerInfo_verify_content(si, v->chain) : -1;
			if (r != 1) {
				if (!v->dig_ok || is_unsupported_error()) {
					sd->pub.status = GS_SIG_ERROR;
					sd->pub.reasons |= GS_REASON_UNSUPPORTED_ALGO;
				} else {
					sd->pub.status = GS_SIG_BAD;
					sd->pub.reasons |= CMS_signed_get_attr_count(si) >= 0
						? GS_REASON_DIGEST_MISMATCH : GS_REASON_BAD_SIGNATURE;
				}
			}
		}
		/* the certificate: chain, purpose, validity */
		{
			int first = 0;
			unsigned rs = 0;

			st = gs_chain_check(s->store, cert, v->msg_certs, X509_PURPOSE_SMIME_SIGN, when,
					    &rs, &first, errmsg);
			if (st == GS_OK && rs) {
				sd->pub.reasons |= rs;
				/* warnings (a stale CRL) leave a good signature good */
				if ((rs & ~GS_REASONS_WARNINGS) && sd->pub.status == GS_SIG_GOOD)
					sd->pub.status = GS_SIG_BAD;
				sd->detail = g_strdup(gs_chain_error_string(first));
				sd->pub.detail = sd->detail;
			}
		}
		X509_free(cert);
	}
	ERR_clear_error();
	gs_cms_verifier_free(v);
	/* a store that could not be read is no verdict on any signer */
	return st;
}

gs_status
gs_cms_verify(gs_session *s, const unsigned char *sig, size_t siglen, BIO *content, BIO *out,
	      gs_cms_result *res, char **errmsg)
{
	gs_cms_verifier *v = NULL;
	gs_status st = gs_cms_verifier_new(s, sig, siglen, content, 0, out, &v, errmsg);

	return st == GS_OK ? gs_cms_verifier_finish(v, res, errmsg) : st;
}

/* ---- encrypt ---- */

static gs_status
add_recipients(CMS_ContentInfo *cms, STACK_OF(X509) *recips, int oaep, char **errmsg)
{
	int i;

	for (i = 0; i < sk_X509_num(recips); i++) {
		X509 *x = sk_X509_value(recips, i);
		EVP_PKEY *pk = X509_get0_pubkey(x);
		CMS_RecipientInfo *ri = CMS_add1_recipient_cert(cms, x, CMS_KEY_PARAM);
		EVP_PKEY_CTX *pctx;

		if (!ri || !pk)
			return gs_fail_ssl(errmsg, GS_E_UNSUPPORTED, "cannot add recipient %d", i + 1);
		pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
		if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA && oaep) {
			if (!pctx || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
			    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
			    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0)
				return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot set RSA-OAEP");
		} else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
			/* the default KDF is SHA-1 */
			if (!pctx || EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0)
				return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot set the ECDH KDF");
		}
	}
	return GS_OK;
}

static CMS_ContentInfo *
new_enveloped(STACK_OF(X509) *recips, gs_cipher cipher, int oaep, unsigned flags, char **errmsg,
	      gs_status *st)
{
	/* GCM makes OpenSSL write AuthEnvelopedData (RFC 5083) */
	const EVP_CIPHER *c = cipher == GS_CIPHER_AES256_GCM ? EVP_aes_256_gcm() : EVP_aes_256_cbc();
	CMS_ContentInfo *cms;

	*st = GS_OK;
	if (!recips || sk_X509_num(recips) == 0) {
		*st = gs_fail(errmsg, GS_E_USAGE, "no recipients");
		return NULL;
	}
	if (!(cms = CMS_encrypt(NULL, NULL, c, CMS_BINARY | CMS_PARTIAL | flags))) {
		*st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot create enveloped-data");
		return NULL;
	}
	if ((*st = add_recipients(cms, recips, oaep, errmsg)) != GS_OK) {
		CMS_ContentInfo_free(cms);
		return NULL;
	}
	return cms;
}

gs_status
gs_cms_encrypt(gs_session *s, STACK_OF(X509) *recips, gs_cipher cipher, int oaep, BIO *in,
	       BIO *out, char **errmsg)
{
	CMS_ContentInfo *cms;
	gs_status st;

	(void) s;
	if (!(cms = new_enveloped(recips, cipher, oaep, 0, errmsg, &st)))
		return st;
	if (!CMS_final(cms, in, NULL, CMS_BINARY))
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "encryption failed");
	else if (!i2d_CMS_bio(out, cms) || BIO_flush(out) <= 0)
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot write the enveloped-data");
	CMS_ContentInfo_free(cms);
	return st;
}

struct gs_cms_encryptor {
	CMS_ContentInfo *cms;
	BIO *sink;
	BIO *out;
};

void
gs_cms_encryptor_free(gs_cms_encryptor *e)
{
	if (!e)
		return;
	free_upto(e->sink, e->out);
	CMS_ContentInfo_free(e->cms);
	g_free(e);
}

gs_status
gs_cms_encryptor_new(gs_session *s, STACK_OF(X509) *recips, gs_cipher cipher, int oaep, BIO *out,
		     gs_cms_encryptor **out_e, char **errmsg)
{
	gs_cms_encryptor *e;
	gs_status st;

	(void) s;
	*out_e = NULL;
	e = g_new0(gs_cms_encryptor, 1);
	e->out = out;
	if (!(e->cms = new_enveloped(recips, cipher, oaep, CMS_STREAM, errmsg, &st))) {
		g_free(e);
		return st;
	}
	/* BER with indefinite lengths, written as the content comes: the
	 * plaintext and the ciphertext are never held whole */
	if (!(e->sink = BIO_new_CMS(out, e->cms))) {
		gs_cms_encryptor_free(e);
		return gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot start encrypting");
	}
	*out_e = e;
	return GS_OK;
}

BIO *
gs_cms_encryptor_sink(gs_cms_encryptor *e)
{
	return e->sink;
}

gs_status
gs_cms_encryptor_finish(gs_cms_encryptor *e, char **errmsg)
{
	gs_status st = GS_OK;

	if (BIO_flush(e->sink) <= 0)
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "encryption failed");
	gs_cms_encryptor_free(e);
	return st;
}

/* ---- decrypt ---- */

static gs_status decrypt_cms(gs_session *s, CMS_ContentInfo *cms, BIO *dcont, BIO *out, GByteArray *inplace,
			     gs_cms_result *res, char **errmsg);

static int
ri_matches(CMS_RecipientInfo *ri, X509 *cert)
{
	int type = CMS_RecipientInfo_type(ri);
	int i;

	if (type == CMS_RECIPINFO_TRANS)
		return CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0;
	if (type == CMS_RECIPINFO_AGREE) {
		STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);
		for (i = 0; reks && i < sk_CMS_RecipientEncryptedKey_num(reks); i++)
			if (CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(reks, i),
							       cert) == 0)
				return 1;
	}
	return 0;
}

gs_status
gs_cms_check_key_wrap(CMS_ContentInfo *cms, X509 *cert, char **errmsg)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	int i;

	for (i = 0; ris && i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		X509_ALGOR *kea = NULL, *wrap = NULL;
		ASN1_OCTET_STRING *ukm = NULL;
		const ASN1_OBJECT *obj = NULL;
		const void *pval = NULL;
		const ASN1_STRING *seq;
		const unsigned char *p;
		int ptype = V_ASN1_UNDEF, nid = NID_undef;

		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_AGREE || !ri_matches(ri, cert))
			continue;
		/* the keyEncryptionAlgorithm's parameter is the key wrap's
		 * AlgorithmIdentifier (RFC 5753) */
		if (CMS_RecipientInfo_kari_get0_alg(ri, &kea, &ukm) && kea) {
			X509_ALGOR_get0(&obj, &ptype, &pval, kea);
			if (ptype == V_ASN1_SEQUENCE && (seq = pval) != NULL) {
				p = ASN1_STRING_get0_data(seq);
				if ((wrap = d2i_X509_ALGOR(NULL, &p, ASN1_STRING_length(seq)))) {
					X509_ALGOR_get0(&obj, NULL, NULL, wrap);
					nid = OBJ_obj2nid(obj);
				}
			}
		}
		if (nid != NID_id_aes128_wrap && nid != NID_id_aes192_wrap && nid != NID_id_aes256_wrap) {
			char name[80] = "(none)";

			if (wrap) {
				X509_ALGOR_get0(&obj, NULL, NULL, wrap);
				OBJ_obj2txt(name, sizeof name, obj, 0);
			}
			X509_ALGOR_free(wrap);
			ERR_clear_error();
			return gs_fail(errmsg, GS_E_UNSUPPORTED,
				       "unsupported key wrap algorithm %s for your key (AES key wrap only)", name);
		}
		X509_ALGOR_free(wrap);
	}
	return GS_OK;
}

static char *
describe_recipients(STACK_OF(CMS_RecipientInfo) *ris)
{
	GString *g = g_string_new(NULL);
	int i, j;

	for (i = 0; i < sk_CMS_RecipientInfo_num(ris) && i < 8; i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		ASN1_OCTET_STRING *keyid = NULL;
		X509_NAME *issuer = NULL;
		ASN1_INTEGER *serial = NULL;
		int type = CMS_RecipientInfo_type(ri);

		if (type == CMS_RECIPINFO_TRANS) {
			CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial);
		} else if (type == CMS_RECIPINFO_AGREE) {
			STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);
			for (j = 0; reks && j < 1 && j < sk_CMS_RecipientEncryptedKey_num(reks); j++)
				CMS_RecipientEncryptedKey_get0_id(sk_CMS_RecipientEncryptedKey_value(reks, j),
								  &keyid, NULL, NULL, &issuer, &serial);
		} else {
			g_string_append_printf(g, "%s(recipient of another kind)", g->len ? "; " : "");
			continue;
		}
		if (issuer && serial) {
			char *iss = X509_NAME_oneline(issuer, NULL, 0);
			BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;
			g_string_append_printf(g, "%sserial %s from %s", g->len ? "; " : "",
					       hex ? hex : "?", iss ? iss : "?");
			OPENSSL_free(iss);
			OPENSSL_free(hex);
			BN_free(bn);
		} else if (keyid) {
			char *h = gs_hex(keyid->data, keyid->length);
			g_string_append_printf(g, "%skey id %s", g->len ? "; " : "", h);
			g_free(h);
		}
	}
	return g_string_free(g, FALSE);
}

/* ---- decrypt: the structure apart from the content ---- */

/* d2i of a BER (Auth)EnvelopedData gathers the encrypted content's
 * chunks (a few KiB each) into a buffer that it grows, copies and wipes
 * again and again: for 35 MB, most of decrypt's time went there. So the
 * structure is split with OpenSSL's ASN.1 primitives: `shell`, the same
 * ContentInfo in definite lengths without the encryptedContent (its
 * other elements as they were), which d2i reads in microseconds and CMS
 * decrypts as detached content (RFC 5652 6.1: encryptedContent is
 * OPTIONAL); and where the content's octets lie. Anything unexpected:
 * 0, and the whole goes to d2i, which judges it. */
typedef struct { size_t off, len; } octets;

/* The octets of an OCTET STRING in BER (primitive, or constructed of
 * chunks, themselves possibly constructed), appended to `out`. */
static int
gather_octets(const unsigned char *base, const unsigned char *p, const unsigned char *end, int cons,
	      GArray *out, int depth)
{
	const unsigned char *cs, *ce, *next;
	int tag, cls;

	if (!cons) {
		octets o = { (size_t) (p - base), (size_t) (end - p) };
		if (o.len)
			g_array_append_val(out, o);
		return 1;
	}
	if (depth > 8)
		return 0;
	for (; p < end; p = next) {
		if (!(next = ber_element(p, end, &tag, &cls, &cs, &ce, 1)) || cls != V_ASN1_UNIVERSAL ||
		    tag != V_ASN1_OCTET_STRING ||
		    !gather_octets(base, cs, ce, (*p & V_ASN1_CONSTRUCTED) != 0, out, depth + 1))
			return 0;
	}
	return 1;
}

/* Append a definite-length header for `len` content octets. */
static void
put_header(GByteArray *g, int cons, size_t len, int tag, int cls)
{
	unsigned char h[16], *q = h;

	ASN1_put_object(&q, cons, (int) len, tag, cls);
	g_byte_array_append(g, h, (guint) (q - h));
}

static size_t
header_size(size_t len, int tag)
{
	return (size_t) ASN1_object_size(1, (int) len, tag) - len;
}

static int
split_enveloped(const unsigned char *der, size_t len, GByteArray **shell, GArray **content)
{
	const unsigned char *end = der + len, *cs, *ce, *p, *next, *oid, *env, *envend, *eci = NULL;
	const unsigned char *eci_cs = NULL, *eci_ce = NULL, *ctype = NULL, *alg = NULL, *alg_end = NULL;
	const unsigned char *cont = NULL, *cont_cs = NULL, *cont_ce = NULL, *eci_next = NULL;
	size_t env_body, eci_body, expl, oid_len;
	ASN1_OBJECT *o = NULL;
	int tag, cls, nid, i;

	*shell = NULL;
	*content = NULL;
	if (!der || len == 0 || len > INT_MAX)
		return 0;
	/* ContentInfo { contentType, [0] EXPLICIT (Auth)EnvelopedData } */
	if (!ber_element(der, end, &tag, &cls, &cs, &ce, 0) || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
		return 0;
	oid = p = cs;
	o = d2i_ASN1_OBJECT(NULL, &p, ce - cs);
	oid_len = (size_t) (p - oid);
	nid = o ? OBJ_obj2nid(o) : NID_undef;
	ASN1_OBJECT_free(o);
	if (nid != NID_pkcs7_enveloped && nid != NID_id_smime_ct_authEnvelopedData)
		return 0;
	if (!(next = ber_element(p, ce, &tag, &cls, &cs, &ce, 0)) || cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0 ||
	    !ber_element(cs, ce, &tag, &cls, &env, &envend, 0) || tag != V_ASN1_SEQUENCE)
		return 0;
	/* version, [0] originatorInfo, recipientInfos, then the
	 * (auth)encryptedContentInfo { contentType, algorithm, [0] content } */
	env_body = 0;
	for (p = env, i = 0; p < envend; p = next, i++) {
		if (!(next = ber_element(p, envend, &tag, &cls, &cs, &ce, 1)))
			return 0;
		if (!eci && i >= 2 && cls == V_ASN1_UNIVERSAL && tag == V_ASN1_SEQUENCE) {
			eci = p;
			eci_cs = cs;
			eci_ce = ce;
			eci_next = next;
		} else {
			env_body += (size_t) (next - p);
		}
	}
	if (!eci)
		return 0;
	ctype = eci_cs;
	if (!(alg = ber_element(ctype, eci_ce, &tag, &cls, &cs, &ce, 1)) || tag != V_ASN1_OBJECT ||
	    !(alg_end = ber_element(alg, eci_ce, &tag, &cls, &cs, &ce, 1)) || tag != V_ASN1_SEQUENCE)
		return 0;
	if (alg_end < eci_ce) {
		cont = alg_end;
		if (ber_element(cont, eci_ce, &tag, &cls, &cont_cs, &cont_ce, 1) != eci_ce ||
		    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0)
			return 0;
	}
	if (!cont)
		return 0; /* already detached: nothing to gain */
	*content = g_array_new(FALSE, FALSE, sizeof(octets));
	if (!gather_octets(der, cont_cs, cont_ce, (*cont & V_ASN1_CONSTRUCTED) != 0, *content, 0)) {
		g_array_free(*content, TRUE);
		*content = NULL;
		return 0;
	}
	/* the shell, inside out: sizes first, then the bytes */
	eci_body = (size_t) (alg_end - ctype);
	env_body += header_size(eci_body, V_ASN1_SEQUENCE) + eci_body;
	expl = header_size(env_body, V_ASN1_SEQUENCE) + env_body;
	{
		size_t ci_body = oid_len + header_size(expl, 0) + expl;
		GByteArray *g = g_byte_array_sized_new((guint) (header_size(ci_body, V_ASN1_SEQUENCE) + ci_body));

		put_header(g, 1, ci_body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		g_byte_array_append(g, oid, (guint) oid_len);
		put_header(g, 1, expl, 0, V_ASN1_CONTEXT_SPECIFIC);
		put_header(g, 1, env_body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		g_byte_array_append(g, env, (guint) (eci - env));
		put_header(g, 1, eci_body, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		g_byte_array_append(g, ctype, (guint) eci_body);
		g_byte_array_append(g, eci_next, (guint) (envend - eci_next));
		*shell = g;
	}
	return 1;
}

gs_status
gs_cms_decrypt(gs_session *s, const unsigned char *der, size_t len, BIO *out, gs_cms_result *res,
	       char **errmsg)
{
	gs_status st = check_counts(der, len, errmsg);
	GByteArray *shell = NULL, *ct = NULL;
	GArray *chunks = NULL;
	BIO *src = NULL;
	guint i;

	if (st != GS_OK)
		return st;
	if (!split_enveloped(der, len, &shell, &chunks)) {
		ERR_clear_error();
		return decrypt_cms(s, gs_cms_read(der, len), NULL, out, NULL, res, errmsg);
	}
	/* the encrypted content, gathered once into a buffer of its size */
	ct = g_byte_array_sized_new((guint) len);
	for (i = 0; i < chunks->len; i++) {
		octets *o = &g_array_index(chunks, octets, i);
		g_byte_array_append(ct, der + o->off, (guint) o->len);
	}
	src = BIO_new_mem_buf(ct->data, (int) ct->len);
	st = src ? decrypt_cms(s, gs_cms_read(shell->data, shell->len), src, out, NULL, res, errmsg)
		 : gs_fail(errmsg, GS_E_INTERNAL, "out of memory");
	BIO_free(src);
	g_byte_array_unref(ct);
	g_byte_array_unref(shell);
	g_array_free(chunks, TRUE);
	return st;
}

gs_status
gs_cms_decrypt_bytes(gs_session *s, GByteArray *der, GByteArray **plain, gs_cms_result *res,
		     char **errmsg)
{
	gs_status st = check_counts(der->data, der->len, errmsg);
	GByteArray *shell = NULL;
	GArray *chunks = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *src = NULL;
	size_t n = 0;
	guint i;

	*plain = NULL;
	if (st != GS_OK) {
		g_byte_array_unref(der);
		return st;
	}
	if (split_enveloped(der->data, der->len, &shell, &chunks)) {
		/* the content's octets to the front, in place (each moves down
		 * by the headers before it), then decrypted in place too */
		for (i = 0; i < chunks->len; i++) {
			octets *o = &g_array_index(chunks, octets, i);
			memmove(der->data + n, der->data + o->off, o->len);
			n += o->len;
		}
		cms = gs_cms_read(shell->data, shell->len);
		g_byte_array_unref(shell);
		g_array_free(chunks, TRUE);
		if (!(src = BIO_new_mem_buf(der->data, (int) n))) {
			CMS_ContentInfo_free(cms);
			g_byte_array_unref(der);
			return gs_fail(errmsg, GS_E_INTERNAL, "out of memory");
		}
	} else {
		/* the structure holds its own copy: the plaintext can take the
		 * encoded bytes' place */
		ERR_clear_error();
		cms = gs_cms_read(der->data, der->len);
	}
	st = decrypt_cms(s, cms, src, NULL, der, res, errmsg);
	BIO_free(src);
	if (st != GS_OK) {
		gs_wipe(der->data, der->len);
		g_byte_array_unref(der);
		return st;
	}
	*plain = der;
	return GS_OK;
}

/* Decrypt `cms` (freed here), its content read from `dcont` when it is
 * detached. The plaintext goes to `out`, or with `inplace` to the front
 * of that array, and the array is cut to its length: with `dcont`, a
 * memory BIO over the front of `inplace` (the ciphertext), deciphered
 * there in one step; without, copied over the encoded structure, which
 * CMS holds a copy of. */
static gs_status
decrypt_cms(gs_session *s, CMS_ContentInfo *cms, BIO *dcont, BIO *out, GByteArray *inplace, gs_cms_result *res,
	    char **errmsg)
{
	size_t done = 0;
	STACK_OF(CMS_RecipientInfo) *ris;
	GPtrArray *ids = NULL;
	gs_identity *match = NULL;
	BIO *cont = NULL;
	char *buf = NULL;
	gs_status st = GS_OK;
	int i, nid, r;
	guint k;

	if (!cms)
		return gs_fail_ssl(errmsg, GS_E_MALFORMED, "the encrypted part is not a CMS structure");
	nid = OBJ_obj2nid(CMS_get0_type(cms));
	if (nid != NID_pkcs7_enveloped && nid != NID_id_smime_ct_authEnvelopedData) {
		st = gs_fail(errmsg, GS_E_MALFORMED, "the CMS structure is not enveloped-data");
		goto out;
	}
	ris = CMS_get0_RecipientInfos(cms);
	/* an identity this session holds already: a run over many messages
	 * (notmuch harvest --decrypt) keeps one copy of each key, unlocked
	 * once, instead of one more per message */
	for (i = 0; ris && i < sk_CMS_RecipientInfo_num(ris) && !match; i++)
		for (k = 0; k < s->identities->len && !match; k++)
			if (ri_matches(sk_CMS_RecipientInfo_value(ris, i),
				       ((gs_identity *) s->identities->pdata[k])->cert))
				match = s->identities->pdata[k];
	if (!match) {
		if ((st = gs_identity_find(s->store, NULL, &ids, errmsg)) != GS_OK)
			goto out;
		for (i = 0; ris && i < sk_CMS_RecipientInfo_num(ris) && !match; i++)
			for (k = 0; k < ids->len && !match; k++)
				if (ri_matches(sk_CMS_RecipientInfo_value(ris, i),
					       ((gs_identity *) ids->pdata[k])->cert))
					match = g_ptr_array_steal_index(ids, k);
		if (!match) {
			char *who = ris ? describe_recipients(ris) : g_strdup("none");
			st = gs_fail(errmsg, GS_E_NO_KEY,
				     "not encrypted to any of your %u identities (recipients: %s)", ids->len, who);
			g_free(who);
			goto out;
		}
		g_ptr_array_add(s->identities, match);
	}
	/* an ECDH recipient's content key is unwrapped by OpenSSL: only with
	 * AES key wrap (RFC 5753). OpenSSL 3.0's unwrap with padding (RFC
	 * 5649), when the key does not unwrap, wipes eight bytes past the end
	 * of its buffer (CRYPTO_128_unwrap_pad): refused before that */
	if ((st = gs_cms_check_key_wrap(cms, match->cert, errmsg)) != GS_OK)
		goto out;
	if ((st = gs_identity_unlock(s, match, errmsg)) != GS_OK)
		goto out;
	/* with the certificate given, OpenSSL tries only the matching
	 * RecipientInfo and reports a wrong key instead of decrypting with
	 * a random one */
	if (!CMS_decrypt_set1_pkey_and_peer(cms, match->key, match->cert, NULL)) {
		st = key_op_failed(match, GS_E_NO_KEY, "cannot decrypt the content key with your key", errmsg);
		goto out;
	}
	if (!(cont = CMS_dataInit(cms, dcont))) {
		st = is_unsupported_error()
			? gs_fail(errmsg, GS_E_UNSUPPORTED, "unsupported content encryption algorithm")
			: gs_fail_ssl(errmsg, GS_E_MALFORMED, "cannot decrypt the content");
		goto out;
	}
	{
		EVP_CIPHER_CTX *cctx = NULL;
		const EVP_CIPHER *c = NULL;
		int mode;

		if (BIO_get_cipher_ctx(cont, &cctx) > 0 && cctx)
			c = EVP_CIPHER_CTX_get0_cipher(cctx);
		/* content is enciphered by a block cipher in CBC mode
		 * (EnvelopedData) or an AEAD mode (AuthEnvelopedData): any
		 * other cipher OpenSSL knows by the OID the sender wrote (a key
		 * wrap, a stream mode) is refused, not run over the content */
		mode = c ? EVP_CIPHER_get_mode(c) : -1;
		if (nid == NID_id_smime_ct_authEnvelopedData ? mode != EVP_CIPH_GCM_MODE && mode != EVP_CIPH_CCM_MODE
							      : mode != EVP_CIPH_CBC_MODE) {
			st = gs_fail(errmsg, GS_E_UNSUPPORTED, "unsupported content encryption algorithm %s%s",
				     c ? EVP_CIPHER_get0_name(c) : "(none)",
				     nid == NID_id_smime_ct_authEnvelopedData ? " for authenticated enveloped-data"
									       : " (not a CBC cipher)");
			goto out;
		}
		res->cipher = g_ascii_strdown(EVP_CIPHER_get0_name(c), -1);
	}
	res->authenticated = nid == NID_id_smime_ct_authEnvelopedData;
	if (inplace && dcont) {
		/* the ciphertext is the front of `inplace` itself (dcont reads
		 * it): deciphered there in one call, with the context CMS set
		 * up (key, IV, and for GCM the tag that Final checks), instead
		 * of through the cipher BIO's buffer and then a copy back */
		EVP_CIPHER_CTX *cctx = NULL;
		char *at = NULL;
		long avail = BIO_get_mem_data(dcont, &at);
		int outl = 0, fl = 0;

		if (BIO_get_cipher_ctx(cont, &cctx) <= 0 || !cctx || at != (char *) inplace->data || avail < 0 ||
		    (size_t) avail > inplace->len) {
			st = gs_fail(errmsg, GS_E_INTERNAL, "cannot decipher the content in place");
			goto out;
		}
		if (!EVP_DecryptUpdate(cctx, inplace->data, &outl, inplace->data, (int) avail) ||
		    !EVP_DecryptFinal_ex(cctx, inplace->data + outl, &fl)) {
			st = key_op_failed(match, GS_E_MALFORMED,
					   res->authenticated ? "the content fails its authentication tag"
							      : "the content does not decrypt (bad padding)",
					   errmsg);
			goto out;
		}
		g_byte_array_set_size(inplace, (guint) (outl + fl));
		goto out;
	}
	buf = g_malloc(COPY_CHUNK);
	while ((r = BIO_read(cont, buf, COPY_CHUNK)) > 0) {
		if (inplace) {
			/* the structure holds the ciphertext (no dcont): the
			 * plaintext takes the encoded bytes' place */
			if (done + (size_t) r > inplace->len) {
				st = gs_fail(errmsg, GS_E_INTERNAL, "the plaintext outgrows its ciphertext");
				goto out;
			}
			memcpy(inplace->data + done, buf, (size_t) r);
			done += (size_t) r;
		} else if (BIO_write(out, buf, r) != r) {
			st = gs_fail(errmsg, GS_E_INTERNAL, "out of memory writing the plaintext");
			goto out;
		}
	}
	if (r < 0 || BIO_get_cipher_status(cont) <= 0) {
		/* a content key the token failed to unwrap shows only here:
		 * OpenSSL goes on with a random key rather than tell (MMA) */
		st = key_op_failed(match, GS_E_MALFORMED,
					res->authenticated ? "the content fails its authentication tag"
							   : "the content does not decrypt (bad padding)",
					errmsg);
		goto out;
	}
	if (inplace)
		g_byte_array_set_size(inplace, (guint) done);
out:
	if (buf)
		gs_secret_free(buf, COPY_CHUNK);
	if (cont && dcont)
		BIO_pop(cont); /* the caller's */
	BIO_free_all(cont);
	if (ids)
		g_ptr_array_free(ids, TRUE);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return st;
}
