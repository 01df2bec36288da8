/* cert-lite.c: certificates read without their public key.
 *
 * OpenSSL 3.0's d2i_X509 decodes the subject public key through the
 * provider decoders, which costs about 190 us a certificate here: 10 s
 * for the 50,000 certificates of a large GAL import, most of its time.
 * An import only needs the certificate's names, serial, validity and
 * extensions to store it; the key is decoded when the certificate is
 * used. This file declares the X.509 structure to OpenSSL's ASN.1
 * templates with the key left as raw bytes (OpenSSL still does all the
 * DER parsing) and computes the same facts as cert.c.
 */
#include "gs-private.h"

#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>

typedef struct {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *key;
} GS_SPKI;

typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *signature;
	X509_NAME *issuer;
	X509_VAL *validity;
	X509_NAME *subject;
	GS_SPKI *spki;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *extensions;
} GS_TBS;

typedef struct {
	GS_TBS *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *sig;
} GS_LITE;

ASN1_SEQUENCE(GS_SPKI) = {
	ASN1_SIMPLE(GS_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(GS_SPKI, key, ASN1_BIT_STRING)
} ASN1_SEQUENCE_END(GS_SPKI)

ASN1_SEQUENCE(GS_TBS) = {
	ASN1_EXP_OPT(GS_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(GS_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(GS_TBS, signature, X509_ALGOR),
	ASN1_SIMPLE(GS_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(GS_TBS, validity, X509_VAL),
	ASN1_SIMPLE(GS_TBS, subject, X509_NAME),
	ASN1_SIMPLE(GS_TBS, spki, GS_SPKI),
	ASN1_IMP_OPT(GS_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(GS_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(GS_TBS, extensions, X509_EXTENSION, 3)
} ASN1_SEQUENCE_END(GS_TBS)

ASN1_SEQUENCE(GS_LITE) = {
	ASN1_SIMPLE(GS_LITE, tbs, GS_TBS),
	ASN1_SIMPLE(GS_LITE, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(GS_LITE, sig, ASN1_BIT_STRING)
} ASN1_SEQUENCE_END(GS_LITE)

DECLARE_ASN1_FUNCTIONS(GS_LITE)
IMPLEMENT_ASN1_FUNCTIONS(GS_LITE)

struct gs_certlite {
	GS_LITE *c;
};

gs_certlite *
gs_certlite_parse(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	GS_LITE *c;
	gs_certlite *l;

	if (len == 0 || len > LONG_MAX || der[0] != 0x30)
		return NULL;
	c = d2i_GS_LITE(NULL, &p, (long) len);
	/* one certificate, all of the bytes */
	if (!c || p != der + len) {
		GS_LITE_free(c);
		ERR_clear_error();
		return NULL;
	}
	l = g_new0(gs_certlite, 1);
	l->c = c;
	return l;
}

void
gs_certlite_free(gs_certlite *l)
{
	if (!l)
		return;
	GS_LITE_free(l->c);
	g_free(l);
}

static const char *
key_type_of(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;

	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	switch (OBJ_obj2nid(obj)) {
	case NID_rsaEncryption: return "rsa";
	case NID_rsassaPss: return "rsa-pss";
	case NID_X9_62_id_ecPublicKey: return "ec";
	case NID_dsa: return "dsa";
	case NID_ED25519: return "ed25519";
	case NID_ED448: return "ed448";
	case NID_X25519: return "x25519";
	default: return "other";
	}
}

void
gs_certlite_view(const gs_certlite *l, gs_cert_view *v)
{
	const GS_TBS *t = l->c->tbs;

	memset(v, 0, sizeof *v);
	v->subject = t->subject;
	v->issuer = t->issuer;
	v->serial = t->serial;
	v->not_before = t->validity->notBefore;
	v->not_after = t->validity->notAfter;
	v->extensions = t->extensions;
	v->key_type = key_type_of(t->spki->algor);
	v->key_bits = 0; /* known once the key is decoded, when used */
}
