/* certfile.c: certificate containers: PEM bundles, DER, PKCS#7 / CMS
 * certificate bags (.p7b, .p7c) and the Microsoft serialized
 * certificate store (.sst). Input is hostile: every length is checked
 * against what is left. */
#include "../gs-private.h"

#include <limits.h>
#include <string.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/err.h>

/* [MS-OSHARED] 2.3.9.1 / CryptoAPI: the element ids we care about */
#define SST_ID_CERT 0x20
#define SST_ID_CRL 0x21
#define SST_ID_CTL 0x22
#define SST_MAGIC 0x54524543u /* "CERT" little-endian */

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

gs_status
gs_read_sst(const unsigned char *data, size_t len, STACK_OF(X509) **certs, char **errmsg)
{
	STACK_OF(X509) *out;
	size_t off = 8;

	*certs = NULL;
	if (len < 8 || le32(data) != 0 || le32(data + 4) != SST_MAGIC)
		return gs_fail(errmsg, GS_E_MALFORMED, "not a serialized certificate store (no CERT magic)");
	out = sk_X509_new_null();
	while (off < len) {
		uint32_t id, elen;

		if (len - off < 12) {
			sk_X509_pop_free(out, X509_free);
			return gs_fail(errmsg, GS_E_MALFORMED,
				       "serialized store: truncated element header at byte %zu", off);
		}
		id = le32(data + off);
		elen = le32(data + off + 8);
		off += 12;
		if (id == 0 && elen == 0)
			break; /* end marker */
		if (elen > len - off) {
			sk_X509_pop_free(out, X509_free);
			return gs_fail(errmsg, GS_E_MALFORMED,
				       "serialized store: element at byte %zu claims %u bytes, %zu left",
				       off - 12, elen, len - off);
		}
		if (id == SST_ID_CERT) {
			X509 *x = gs_cert_from_der(data + off, elen);
			if (!x) {
				sk_X509_pop_free(out, X509_free);
				ERR_clear_error();
				return gs_fail(errmsg, GS_E_MALFORMED,
					       "serialized store: bad certificate at byte %zu", off);
			}
			sk_X509_push(out, x);
		}
		off += elen;
	}
	if (sk_X509_num(out) == 0) {
		sk_X509_free(out);
		return gs_fail(errmsg, GS_E_MALFORMED, "serialized store holds no certificate");
	}
	*certs = out;
	return GS_OK;
}

static int
push_pkcs7_certs(PKCS7 *p7, STACK_OF(X509) *out)
{
	STACK_OF(X509) *c = NULL;
	int i, n = 0;

	if (!p7)
		return 0;
	if (PKCS7_type_is_signed(p7) && p7->d.sign)
		c = p7->d.sign->cert;
	else if (PKCS7_type_is_signedAndEnveloped(p7) && p7->d.signed_and_enveloped)
		c = p7->d.signed_and_enveloped->cert;
	for (i = 0; c && i < sk_X509_num(c); i++)
		if (X509_up_ref(sk_X509_value(c, i))) {
			sk_X509_push(out, sk_X509_value(c, i));
			n++;
		}
	return n;
}

static int
push_der(const unsigned char *der, size_t len, STACK_OF(X509) *out)
{
	const unsigned char *p;
	X509 *x;
	PKCS7 *p7;
	int n;

	if ((x = gs_cert_from_der(der, len))) {
		sk_X509_push(out, x);
		return 1;
	}
	p = der;
	p7 = d2i_PKCS7(NULL, &p, (long) len);
	n = push_pkcs7_certs(p7, out);
	PKCS7_free(p7);
	return n;
}

static void
pem_block(const char *label, const unsigned char *der, long len, void *user)
{
	STACK_OF(X509) *out = user;

	if (!strcmp(label, "TRUSTED CERTIFICATE")) {
		X509 *x = d2i_X509_AUX(NULL, &der, len);
		if (x)
			sk_X509_push(out, x);
	} else if (!strcmp(label, "CERTIFICATE") || !strcmp(label, "X509 CERTIFICATE") ||
		   !strcmp(label, "PKCS7") || !strcmp(label, "CMS")) {
		push_der(der, (size_t) len, out);
	}
}

gs_status
gs_read_certificates(const unsigned char *data, size_t len, STACK_OF(X509) **certs,
		     char **errmsg)
{
	STACK_OF(X509) *out;

	*certs = NULL;
	if (!data || len == 0)
		return gs_fail(errmsg, GS_E_MALFORMED, "empty input");
	/* BIO_new_mem_buf takes an int, and a negative one means strlen() */
	if (len > INT_MAX)
		return gs_fail(errmsg, GS_E_LIMIT, "input too large (%zu bytes)", len);
	if (len >= 8 && le32(data) == 0 && le32(data + 4) == SST_MAGIC)
		return gs_read_sst(data, len, certs, errmsg);

	out = sk_X509_new_null();
	if (g_strstr_len((const char *) data, MIN(len, (size_t) 1 << 20), "-----BEGIN ")) {
		gs_pem_each(data, len, pem_block, out);
	} else {
		push_der(data, len, out);
	}
	ERR_clear_error();
	if (sk_X509_num(out) == 0) {
		sk_X509_free(out);
		return gs_fail(errmsg, GS_E_MALFORMED,
			       "no certificate found (expected PEM, DER, PKCS#7 or .sst)");
	}
	*certs = out;
	return GS_OK;
}
