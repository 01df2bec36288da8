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

/* Microsoft's per-certificate trust properties (CryptoAPI property ids,
 * wincrypt.h), as `certutil -generateSSTFromWU` and the root program
 * write them before each certificate element:
 *
 *   9   CERT_ENHKEY_USAGE_PROP_ID: DER SEQUENCE OF OID, the usages the
 *       certificate is trusted for (present and empty: none).
 *   104 CERT_DISALLOWED_FILETIME_PROP_ID: FILETIME since when it is
 *       disallowed; alone, for every usage.
 *   122 CERT_DISALLOWED_ENHKEY_USAGE_PROP_ID: the usages disallowed (from
 *       104's date when 104 is there, else always).
 *   126 CERT_NOT_BEFORE_FILETIME_PROP_ID: certificates issued (notBefore)
 *       on or after this FILETIME under this root are not trusted; earlier
 *       ones still are. Alone, for every usage.
 *   127 CERT_NOT_BEFORE_ENHKEY_USAGE_PROP_ID: the usages 126 limits (with
 *       no 126, those usages are not trusted at all).
 *
 * Microsoft documents the ids and the root program's "Disable" and
 * "NotBefore" actions, not their encoding; the rules above are how the
 * root program's CTL attributes are read by those who have taken them
 * apart (the signify project's authroot handling agrees) and how Wine's
 * crypt32 serializes properties: {u32 id, u32 1, u32 length, bytes}. A
 * FILETIME counts 100 ns ticks since 1601-01-01 UTC, little-endian. */
#define SST_PROP_EKU 9
#define SST_PROP_DISALLOWED 104
#define SST_PROP_DISALLOWED_EKU 122
#define SST_PROP_NOT_BEFORE 126
#define SST_PROP_NOT_BEFORE_EKU 127
/* seconds from 1601-01-01 to 1970-01-01 */
#define FILETIME_UNIX_OFFSET 11644473600LL

/* Does this DER SEQUENCE OF OID name emailProtection or
 * anyExtendedKeyUsage? Unreadable bytes name nothing. */
static int
eku_names_email(const unsigned char *p, uint32_t len)
{
	const unsigned char *q = p;
	EXTENDED_KEY_USAGE *eku = d2i_EXTENDED_KEY_USAGE(NULL, &q, (long) len);
	int i, found = 0;

	for (i = 0; eku && q == p + len && i < sk_ASN1_OBJECT_num(eku) && !found; i++) {
		int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));
		found = nid == NID_email_protect || nid == NID_anyExtendedKeyUsage;
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	ERR_clear_error();
	return found;
}

/* A FILETIME as Unix time; -1 when it is not 8 bytes (or before 1970). */
static int64_t
filetime_unix(const unsigned char *p, uint32_t len)
{
	uint64_t ticks;

	if (len != 8)
		return -1;
	ticks = (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
	if (ticks / 10000000 < (uint64_t) FILETIME_UNIX_OFFSET)
		return -1;
	return (int64_t) (ticks / 10000000) - FILETIME_UNIX_OFFSET;
}

static const struct {
	uint32_t id;
	unsigned bit;
	int filetime;            /* a FILETIME, else a usage list */
} sst_props[] = {
	{ SST_PROP_EKU, GS_SST_EKU, 0 },
	{ SST_PROP_DISALLOWED, GS_SST_DISALLOWED, 1 },
	{ SST_PROP_DISALLOWED_EKU, GS_SST_DISALLOWED_EKU, 0 },
	{ SST_PROP_NOT_BEFORE, GS_SST_NOT_BEFORE, 1 },
	{ SST_PROP_NOT_BEFORE_EKU, GS_SST_NOT_BEFORE_EKU, 0 },
};

static void
sst_prop(gs_sst_trust *t, uint32_t id, const unsigned char *p, uint32_t len)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(sst_props); i++) {
		if (sst_props[i].id != id)
			continue;
		t->present |= sst_props[i].bit;
		if (sst_props[i].filetime)
			*(id == SST_PROP_DISALLOWED ? &t->disallowed_since : &t->not_before) =
				filetime_unix(p, len);
		else if (eku_names_email(p, len))
			t->email |= sst_props[i].bit;
	}
}

gs_status
gs_read_sst_trust(const unsigned char *data, size_t len, STACK_OF(X509) **certs, GArray **trust,
		  char **errmsg)
{
	STACK_OF(X509) *out;
	GArray *props;
	gs_sst_trust cur = { 0 };
	gs_status st = GS_OK;
	size_t off = 8;

	*certs = NULL;
	if (trust)
		*trust = NULL;
	if (len < 8 || le32(data) != 0 || le32(data + 4) != SST_MAGIC)
		return gs_fail(errmsg, GS_E_MALFORMED, "not a serialized certificate store (no CERT magic)");
	out = sk_X509_new_null();
	props = g_array_new(FALSE, TRUE, sizeof(gs_sst_trust));
	while (off < len && st == GS_OK) {
		uint32_t id, elen;

		if (len - off < 12) {
			st = gs_fail(errmsg, GS_E_MALFORMED,
				     "serialized store: truncated element header at byte %zu", off);
			break;
		}
		id = le32(data + off);
		elen = le32(data + off + 8);
		off += 12;
		if (id == 0 && elen == 0)
			break; /* end marker */
		if (elen > len - off) {
			st = gs_fail(errmsg, GS_E_MALFORMED,
				     "serialized store: element at byte %zu claims %u bytes, %zu left",
				     off - 12, elen, len - off);
			break;
		}
		if (id == SST_ID_CERT) {
			X509 *x = gs_cert_from_der(data + off, elen);
			if (!x) {
				ERR_clear_error();
				st = gs_fail(errmsg, GS_E_MALFORMED,
					     "serialized store: bad certificate at byte %zu", off);
				break;
			}
			sk_X509_push(out, x);
			g_array_append_val(props, cur);
			memset(&cur, 0, sizeof cur);
		} else if (id == SST_ID_CRL || id == SST_ID_CTL) {
			/* a CRL or CTL element ends what properties came before */
			memset(&cur, 0, sizeof cur);
		} else {
			sst_prop(&cur, id, data + off, elen);
		}
		off += elen;
	}
	if (st == GS_OK && sk_X509_num(out) == 0)
		st = gs_fail(errmsg, GS_E_MALFORMED, "serialized store holds no certificate");
	if (st != GS_OK) {
		sk_X509_pop_free(out, X509_free);
		g_array_unref(props);
		return st;
	}
	*certs = out;
	if (trust)
		*trust = props;
	else
		g_array_unref(props);
	return GS_OK;
}

gs_status
gs_read_sst(const unsigned char *data, size_t len, STACK_OF(X509) **certs, char **errmsg)
{
	return gs_read_sst_trust(data, len, certs, NULL, errmsg);
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
