/* values.c: certificate values as directories hold them: a DER X.509
 * certificate, a DER CMS SignedData blob (userSMIMECertificate: the
 * user's certificate, its chain and an SMIMECapabilities attribute), or
 * Outlook's tag-length-value security blob ([MS-OXOABK] 2.2.4.36). */
#include "import.h"

#include <string.h>
#include <openssl/err.h>

/* [MS-OXOABK] 2.2.4.36.x setting tags */
#define TLV_ASYMMETRIC_CAPABILITIES 0x0002
#define TLV_KEYEX_CERTIFICATE 0x0003
#define TLV_CHAIN_CERTIFICATE 0x0004
#define TLV_SIGN_CERTIFICATE 0x0008

static char *
caps_string(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509_ALGORS *algs = d2i_X509_ALGORS(NULL, &p, len);
	GString *g;
	int i;

	if (!algs)
		return NULL;
	g = g_string_new(NULL);
	for (i = 0; i < sk_X509_ALGOR_num(algs); i++) {
		const ASN1_OBJECT *obj;
		char oid[80];

		X509_ALGOR_get0(&obj, NULL, NULL, sk_X509_ALGOR_value(algs, i));
		if (OBJ_obj2txt(oid, sizeof oid, obj, 1) > 0)
			g_string_append_printf(g, "%s%s", g->len ? "," : "", oid);
	}
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return g_string_free(g, FALSE);
}

char *
gs_signer_caps(CMS_SignerInfo *si)
{
	int idx = CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1);
	X509_ATTRIBUTE *attr = idx >= 0 ? CMS_signed_get_attr(si, idx) : NULL;
	ASN1_TYPE *t = attr ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;

	if (!t || t->type != V_ASN1_SEQUENCE)
		return NULL;
	return caps_string(t->value.sequence->data, t->value.sequence->length);
}

static gs_status
decode_signed_data(const unsigned char *der, size_t len, STACK_OF(X509) **certs, char **caps,
		   char **errmsg)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long) len);
	STACK_OF(CMS_SignerInfo) *sis;
	int i;

	if (!cms)
		return gs_fail_ssl(errmsg, GS_E_MALFORMED, "neither a certificate nor CMS signed-data");
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		CMS_ContentInfo_free(cms);
		return gs_fail(errmsg, GS_E_MALFORMED, "CMS value is not signed-data");
	}
	*certs = CMS_get1_certs(cms);
	if (!*certs)
		*certs = sk_X509_new_null();
	sis = CMS_get0_SignerInfos(cms);
	for (i = 0; caps && !*caps && sis && i < sk_CMS_SignerInfo_num(sis); i++)
		*caps = gs_signer_caps(sk_CMS_SignerInfo_value(sis, i));
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	if (sk_X509_num(*certs) == 0) {
		sk_X509_free(*certs);
		*certs = NULL;
		return gs_fail(errmsg, GS_E_MALFORMED, "signed-data holds no certificate");
	}
	return GS_OK;
}

gs_status
gs_decode_tlv_blob(const unsigned char *p, size_t len, STACK_OF(X509) **certs, char **caps,
		   char **errmsg)
{
	STACK_OF(X509) *user = sk_X509_new_null(), *chain = sk_X509_new_null();
	size_t off = 0;

	*certs = NULL;
	while (off < len) {
		unsigned tag, tlen;

		if (len - off < 4) {
			sk_X509_pop_free(user, X509_free);
			sk_X509_pop_free(chain, X509_free);
			return gs_fail(errmsg, GS_E_MALFORMED,
				       "security blob: truncated setting header at byte %zu", off);
		}
		tag = p[off] | (unsigned) p[off + 1] << 8;
		tlen = p[off + 2] | (unsigned) p[off + 3] << 8;
		/* LENGTH counts the TAG and LENGTH fields too */
		if (tlen < 4 || tlen > len - off) {
			sk_X509_pop_free(user, X509_free);
			sk_X509_pop_free(chain, X509_free);
			return gs_fail(errmsg, GS_E_MALFORMED,
				       "security blob: setting 0x%04x at byte %zu claims %u bytes, %zu left",
				       tag, off, tlen, len - off);
		}
		if (tag == TLV_KEYEX_CERTIFICATE || tag == TLV_SIGN_CERTIFICATE ||
		    tag == TLV_CHAIN_CERTIFICATE) {
			X509 *x = gs_cert_from_der(p + off + 4, tlen - 4);
			if (!x) {
				sk_X509_pop_free(user, X509_free);
				sk_X509_pop_free(chain, X509_free);
				ERR_clear_error();
				return gs_fail(errmsg, GS_E_MALFORMED,
					       "security blob: setting 0x%04x at byte %zu is not a certificate",
					       tag, off);
			}
			sk_X509_push(tag == TLV_CHAIN_CERTIFICATE ? chain : user, x);
		} else if (tag == TLV_ASYMMETRIC_CAPABILITIES && caps && !*caps) {
			*caps = caps_string(p + off + 4, (long) (tlen - 4));
		}
		off += tlen;
	}
	while (sk_X509_num(chain) > 0)
		sk_X509_push(user, sk_X509_shift(chain));
	sk_X509_free(chain);
	if (sk_X509_num(user) == 0) {
		sk_X509_free(user);
		return gs_fail(errmsg, GS_E_MALFORMED, "security blob holds no certificate");
	}
	*certs = user;
	return GS_OK;
}

gs_status
gs_decode_cert_value(const unsigned char *p, size_t len, STACK_OF(X509) **certs, char **caps,
		     char **errmsg)
{
	X509 *x;

	*certs = NULL;
	if (caps)
		*caps = NULL;
	if (len == 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "empty certificate value");
	if (len > LONG_MAX)
		return gs_fail(errmsg, GS_E_LIMIT, "certificate value too large");
	/* [MS-OXOABK]: a first byte of 0x30 means ASN.1, anything else the TLV blob */
	if (p[0] != 0x30)
		return gs_decode_tlv_blob(p, len, certs, caps, errmsg);
	if ((x = gs_cert_from_der(p, len))) {
		*certs = sk_X509_new_null();
		sk_X509_push(*certs, x);
		return GS_OK;
	}
	ERR_clear_error();
	return decode_signed_data(p, len, certs, caps, errmsg);
}
