/* cert.c: facts about one certificate, and chain building against the
 * store's trust anchors. */
#include "gs-private.h"

#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/sha.h>

enum { S_SHA, S_SUBJ, S_ISS, S_SER, S_CN, S_KT, S_KU, S_EKU };

char *
gs_name_string(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *s;
	long n;

	if (!b)
		return NULL;
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_get_mem_data(b, &p);
	s = g_strndup(p, n);
	BIO_free(b);
	return s;
}

char *
gs_cert_sha256_hex(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!X509_digest(x, EVP_sha256(), md, &n))
		return NULL;
	return gs_hex(md, n);
}

/* the first PEM CERTIFICATE block's DER (gs_pem_each's callback) */
static void
first_cert(const char *name, const unsigned char *der, long len, void *data)
{
	GByteArray **a = data;

	if (!*a && !strcmp(name, "CERTIFICATE")) {
		*a = g_byte_array_sized_new((guint) len);
		g_byte_array_append(*a, der, (guint) len);
	}
}

gs_status
gs_cert_fingerprint(const void *data, size_t len, char **hex, char **errmsg)
{
	GByteArray *pem = NULL;
	X509 *x;

	if (!data || !hex)
		return gs_fail(errmsg, GS_E_PROGRAMMER, "gs_cert_fingerprint: bad arguments");
	*hex = NULL;
	gs_pem_each(data, len, first_cert, &pem);
	x = pem ? gs_cert_from_der(pem->data, pem->len) : gs_cert_from_der(data, len);
	if (pem)
		g_byte_array_unref(pem);
	ERR_clear_error();
	if (!x)
		return gs_fail(errmsg, GS_E_MALFORMED, "not a certificate");
	*hex = gs_cert_sha256_hex(x);
	X509_free(x);
	return *hex ? GS_OK : gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot hash the certificate");
}

/* An address as a certificate may carry it: printable ASCII without
 * spaces (rfc822Name and emailAddress are IA5String, 7-bit), with an @.
 * Anything else would end up raw in JSON, headers and messages. */
static int
plausible_address(const char *v)
{
	const unsigned char *p;

	for (p = (const unsigned char *) v; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	return *v && strchr(v, '@') != NULL;
}

/* The caller has refused embedded NULs, so `len` bytes are the string. */
static int
push_unique(GPtrArray *a, const char *s, int len)
{
	char *v = g_ascii_strdown(s, len);
	guint i;

	g_strstrip(v);
	if (!plausible_address(v)) {
		g_free(v);
		return 0;
	}
	for (i = 0; i < a->len; i++)
		if (!strcmp(a->pdata[i], v)) {
			g_free(v);
			return 0;
		}
	g_ptr_array_add(a, v);
	return 1;
}

static const char *
key_type_name(EVP_PKEY *pk)
{
	if (!pk)
		return "unknown";
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA: return "rsa";
	case EVP_PKEY_RSA_PSS: return "rsa-pss";
	case EVP_PKEY_EC: return "ec";
	case EVP_PKEY_DSA: return "dsa";
	case EVP_PKEY_ED25519: return "ed25519";
	case EVP_PKEY_ED448: return "ed448";
	case EVP_PKEY_X25519: return "x25519";
	default: return "other";
	}
}

void
gs_cert_view_of(X509 *x, gs_cert_view *v)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);

	memset(v, 0, sizeof *v);
	v->subject = X509_get_subject_name(x);
	v->issuer = X509_get_issuer_name(x);
	v->serial = X509_get0_serialNumber(x);
	v->not_before = X509_get0_notBefore(x);
	v->not_after = X509_get0_notAfter(x);
	v->extensions = X509_get0_extensions(x);
	v->key_type = key_type_name(pk);
	v->key_bits = pk ? EVP_PKEY_get_bits(pk) : 0;
}

char **
gs_view_emails(const gs_cert_view *v)
{
	GPtrArray *a = g_ptr_array_new();
	GENERAL_NAMES *gens = v->extensions ? X509V3_get_d2i(v->extensions, NID_subject_alt_name, NULL, NULL)
					    : NULL;
	int i;

	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_EMAIL) {
			const ASN1_IA5STRING *s = g->d.rfc822Name;
			/* refuse embedded NULs: never let "a@b\0@evil" match */
			if (s->length > 0 && !memchr(s->data, 0, s->length))
				push_unique(a, (const char *) s->data, s->length);
		}
	}
	GENERAL_NAMES_free(gens);
	if (a->len == 0 && v->subject) {
		int idx = -1;

		while ((idx = X509_NAME_get_index_by_NID(v->subject, NID_pkcs9_emailAddress, idx)) >= 0) {
			const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(v->subject, idx));
			if (s->length > 0 && !memchr(s->data, 0, s->length))
				push_unique(a, (const char *) s->data, s->length);
		}
	}
	g_ptr_array_add(a, NULL);
	ERR_clear_error();
	return (char **) g_ptr_array_free(a, FALSE);
}

char **
gs_cert_emails(X509 *x)
{
	gs_cert_view v;

	gs_cert_view_of(x, &v);
	return gs_view_emails(&v);
}

int
gs_view_is_ca(const gs_cert_view *v)
{
	BASIC_CONSTRAINTS *bc = v->extensions ? X509V3_get_d2i(v->extensions, NID_basic_constraints, NULL, NULL)
					      : NULL;
	int ca = bc && bc->ca;

	BASIC_CONSTRAINTS_free(bc);
	return ca;
}

int
gs_cert_has_email(X509 *x, const char *address)
{
	char **e = gs_cert_emails(x), **p;
	int found = 0;

	for (p = e; *p && !found; p++)
		found = !g_ascii_strcasecmp(*p, address);
	g_strfreev(e);
	return found;
}

static const char *const ku_names[] = {
	"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
};
static const uint32_t ku_bits[] = {
	KU_DIGITAL_SIGNATURE, KU_NON_REPUDIATION, KU_KEY_ENCIPHERMENT, KU_DATA_ENCIPHERMENT,
	KU_KEY_AGREEMENT, KU_KEY_CERT_SIGN, KU_CRL_SIGN, KU_ENCIPHER_ONLY, KU_DECIPHER_ONLY,
};

static char *
key_usage_string(const gs_cert_view *v)
{
	ASN1_BIT_STRING *bits = v->extensions ? X509V3_get_d2i(v->extensions, NID_key_usage, NULL, NULL)
					      : NULL;
	uint32_t ku = 0;
	GString *s;
	size_t i;

	if (!bits)
		return NULL;
	/* as OpenSSL computes its KU_* flags */
	if (bits->length > 0)
		ku = bits->data[0];
	if (bits->length > 1)
		ku |= (uint32_t) bits->data[1] << 8;
	ASN1_BIT_STRING_free(bits);
	s = g_string_new(NULL);
	for (i = 0; i < G_N_ELEMENTS(ku_bits); i++)
		if (ku & ku_bits[i])
			g_string_append_printf(s, "%s%s", s->len ? "," : "", ku_names[i]);
	return g_string_free(s, FALSE);
}

static char *
eku_string(const gs_cert_view *v)
{
	EXTENDED_KEY_USAGE *eku = v->extensions ? X509V3_get_d2i(v->extensions, NID_ext_key_usage, NULL, NULL)
						: NULL;
	GString *s;
	int i;

	if (!eku)
		return NULL;
	s = g_string_new(NULL);
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		char buf[128];
		OBJ_obj2txt(buf, sizeof buf, sk_ASN1_OBJECT_value(eku, i), 0);
		g_string_append_printf(s, "%s%s", s->len ? "," : "", buf);
	}
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return g_string_free(s, FALSE);
}

int64_t
gs_asn1_time_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t) timegm(&tm);
}

static char *
serial_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
	char *h, *s;

	if (!bn)
		return g_strdup("?");
	h = BN_bn2hex(bn);
	s = g_strdup(h ? h : "?");
	OPENSSL_free(h);
	BN_free(bn);
	return s;
}

void
gs_certdata_fill_view(gs_certdata *cd, const gs_cert_view *v)
{
	gs_cert_info *in = &cd->info;
	char **emails = gs_view_emails(v);
	int idx;

	memset(cd, 0, sizeof *cd);
	if (v->sha256) {
		cd->strings[S_SHA] = gs_hex(v->sha256, SHA256_DIGEST_LENGTH);
	} else if (v->der) {
		unsigned char md[SHA256_DIGEST_LENGTH];
		SHA256(v->der, v->der_len, md);
		cd->strings[S_SHA] = gs_hex(md, sizeof md);
	}
	cd->strings[S_SUBJ] = v->subject ? gs_name_string(v->subject) : NULL;
	cd->strings[S_ISS] = v->issuer ? gs_name_string(v->issuer) : NULL;
	cd->strings[S_SER] = serial_hex(v->serial);
	idx = v->subject ? X509_NAME_get_index_by_NID(v->subject, NID_commonName, -1) : -1;
	if (idx >= 0) {
		unsigned char *u = NULL;
		int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(v->subject, idx)));
		if (n >= 0)
			cd->strings[S_CN] = g_strndup((char *) u, n);
		OPENSSL_free(u);
	}
	cd->emails = emails;
	cd->strings[S_KT] = g_strdup(v->key_type ? v->key_type : "unknown");
	cd->strings[S_KU] = key_usage_string(v);
	cd->strings[S_EKU] = eku_string(v);

	in->sha256 = cd->strings[S_SHA];
	in->subject = cd->strings[S_SUBJ];
	in->issuer = cd->strings[S_ISS];
	in->serial = cd->strings[S_SER];
	in->common_name = cd->strings[S_CN];
	in->emails = (const char *const *) cd->emails;
	in->key_type = cd->strings[S_KT];
	in->key_bits = v->key_bits;
	in->not_before = gs_asn1_time_unix(v->not_before);
	in->not_after = gs_asn1_time_unix(v->not_after);
	in->is_ca = gs_view_is_ca(v);
	in->key_usage = cd->strings[S_KU];
	in->ext_key_usage = cd->strings[S_EKU];
	ERR_clear_error();
}

void
gs_certdata_fill(gs_certdata *cd, X509 *x)
{
	gs_cert_view v;

	gs_cert_view_of(x, &v);
	gs_certdata_fill_view(cd, &v);
	cd->strings[S_SHA] = gs_cert_sha256_hex(x);
	cd->info.sha256 = cd->strings[S_SHA];
	cd->info.is_ca = gs_cert_is_ca(x);
}

void
gs_certdata_clear(gs_certdata *cd)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cd->strings); i++)
		g_free(cd->strings[i]);
	g_strfreev(cd->emails);
	memset(cd, 0, sizeof *cd);
}

int
gs_cert_is_ca(X509 *x)
{
	return X509_check_ca(x) != 0 && (X509_get_extension_flags(x) & EXFLAG_CA);
}

X509 *
gs_cert_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long) len);
	if (x && p != der + len) {
		/* trailing garbage: not one certificate */
		X509_free(x);
		return NULL;
	}
	return x;
}

unsigned char *
gs_cert_to_der(X509 *x, int *len)
{
	unsigned char *der = NULL;

	*len = i2d_X509(x, &der);
	if (*len <= 0)
		return NULL;
	return der;
}

const char *
gs_key_refused(EVP_PKEY *pk)
{
	BIGNUM *e = NULL;
	const char *why = NULL;
	int dec = 0;

	if (!pk)
		return NULL;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		if (EVP_PKEY_get_bits(pk) > GS_MAX_RSA_BITS)
			why = "RSA modulus over 8192 bits";
		else if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) || !BN_is_odd(e) ||
			 BN_num_bits(e) > 32 || BN_is_word(e, 1))
			why = "RSA public exponent that is even, 1, or over 2^32";
		BN_free(e);
		break;
	case EVP_PKEY_DSA:
		if (EVP_PKEY_get_bits(pk) > GS_MAX_DSA_BITS)
			why = "DSA key over 3072 bits";
		break;
	case EVP_PKEY_EC:
		/* a named curve, not explicit parameters (even ones that match one) */
		if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0, NULL) ||
		    (EVP_PKEY_get_int_param(pk, OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS, &dec) && dec))
			why = "EC key without a named curve";
		break;
	}
	ERR_clear_error();
	return why;
}

gs_verdict
gs_cert_recipient_verdict(X509 *x, time_t now, const char **reason)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	uint32_t flags = X509_get_extension_flags(x);
	uint32_t ku = X509_get_key_usage(x);
	int type = pk ? EVP_PKEY_get_base_id(pk) : 0;
	time_t t = now;

	if (X509_cmp_time(X509_get0_notBefore(x), &t) > 0) {
		*reason = "not yet valid";
		return GS_VERDICT_NOT_YET_VALID;
	}
	if (X509_cmp_time(X509_get0_notAfter(x), &t) < 0) {
		*reason = "expired";
		return GS_VERDICT_EXPIRED;
	}
	if (gs_cert_is_ca(x)) {
		*reason = "a CA certificate, not a person's";
		return GS_VERDICT_CA;
	}
	if (type == EVP_PKEY_RSA) {
		if ((flags & EXFLAG_KUSAGE) && !(ku & KU_KEY_ENCIPHERMENT)) {
			*reason = "RSA key without keyEncipherment (a signing-only certificate)";
			return GS_VERDICT_NO_KEY_USAGE;
		}
	} else if (type == EVP_PKEY_EC) {
		if ((flags & EXFLAG_KUSAGE) && !(ku & KU_KEY_AGREEMENT)) {
			*reason = "EC key without keyAgreement (a signing-only certificate)";
			return GS_VERDICT_NO_KEY_USAGE;
		}
	} else {
		*reason = "key type cannot receive encrypted mail";
		return GS_VERDICT_UNSUPPORTED_KEY;
	}
	if ((flags & EXFLAG_XKUSAGE) && !(X509_get_extended_key_usage(x) & XKU_SMIME)) {
		*reason = "extended key usage without emailProtection";
		return GS_VERDICT_NO_EMAIL_EKU;
	}
	*reason = "usable";
	return GS_VERDICT_USABLE;
}

/* Add `c` to `pool` (once), or to `refused` when its key is one no CA
 * issues: no signature is ever checked with it. */
static void
add_candidate(STACK_OF(X509) *pool, STACK_OF(X509) *refused, X509 *c)
{
	STACK_OF(X509) *to = gs_key_refused(X509_get0_pubkey(c)) ? refused : pool;
	int j;

	for (j = 0; j < sk_X509_num(to); j++)
		if (!X509_cmp(c, sk_X509_value(to, j)))
			return;
	if (X509_up_ref(c))
		sk_X509_push(to, c);
}

/* Add to `pool` (or `refused`) the store's certificates that may issue `x`. */
static gs_status
add_store_issuers(gs_store *store, X509 *x, STACK_OF(X509) *pool, STACK_OF(X509) *refused,
		  char **errmsg)
{
	STACK_OF(X509) *found = NULL;
	gs_status st = gs_store_certs_by_subject(store, X509_get_issuer_name(x), &found, errmsg);
	int i;

	for (i = 0; found && i < sk_X509_num(found); i++)
		add_candidate(pool, refused, sk_X509_value(found, i));
	sk_X509_pop_free(found, X509_free);
	return st;
}

/* The first certificate of `certs` that issued `x`, or NULL. */
static X509 *
issuer_in(STACK_OF(X509) *certs, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(certs); i++)
		if (sk_X509_value(certs, i) != x && X509_check_issued(sk_X509_value(certs, i), x) == X509_V_OK)
			return sk_X509_value(certs, i);
	return NULL;
}

/* One chain check: what it is asked, what it found. */
typedef struct chain_run {
	gs_store *store;
	int purpose;
	time_t when;
	int any_time;            /* signatures only: no dates, purpose or CRLs */
	unsigned reasons;
	int first;
	gs_status st;            /* a store failure met while OpenSSL asked for CRLs */
	char *errmsg;
	STACK_OF(X509) *chain;   /* the validated chain, when asked for and trusted */
} chain_run;

static int chain_run_idx = -1;

static unsigned
reason_of(int err)
{
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return GS_REASON_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return GS_REASON_NOT_YET_VALID;
	case X509_V_ERR_INVALID_PURPOSE:
		return GS_REASON_BAD_PURPOSE;
	case X509_V_ERR_CERT_REVOKED:
		return GS_REASON_REVOKED;
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
		return GS_REASON_CRITICAL_ATTR;
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
	case GS_X509_ERR_KEY_REFUSED:
		return GS_REASON_LIMIT;
	/* revocation: no CRL for an issuer is the common case and not an
	 * error (nothing was fetched for it); a CRL past its nextUpdate is
	 * still used, with a warning; a CRL that cannot be used at all
	 * (wrong scope, no issuer, bad signature: the import checks the
	 * signature, so rarely) is reported the same way, never silently
	 * taken as "not revoked" */
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return 0;
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		return GS_REASON_CRL_STALE;
	default:
		return GS_REASON_UNTRUSTED;
	}
}

/* OpenSSL asks for the CRLs of an issuer: the store's (crl.c). A store
 * that cannot answer stops the check with its status (the run's `st`),
 * so that "could not read the CRLs" never passes for "none". */
static STACK_OF(X509_CRL) *
lookup_crls(const X509_STORE_CTX *ctx, const X509_NAME *issuer)
{
	chain_run *cr = X509_STORE_CTX_get_ex_data((X509_STORE_CTX *) ctx, chain_run_idx);
	STACK_OF(X509_CRL) *crls = NULL;

	if (!cr || !cr->store)
		return sk_X509_CRL_new_null();
	if (cr->st == GS_OK)
		cr->st = gs_store_crls_for(cr->store, issuer, &crls, &cr->errmsg);
	return crls;
}

/* Record every problem and go on, so that an expired certificate from
 * an untrusted CA is reported as both. */
static int
collect_cb(int ok, X509_STORE_CTX *ctx)
{
	chain_run *cr = X509_STORE_CTX_get_ex_data(ctx, chain_run_idx);

	if (!ok && cr) {
		int err = X509_STORE_CTX_get_error(ctx);
		unsigned r = reason_of(err);
		/* first: the first failure, else the first warning */
		if ((r & ~GS_REASONS_WARNINGS) && !(cr->reasons & ~GS_REASONS_WARNINGS))
			cr->first = err;
		else if (r && !cr->reasons)
			cr->first = err;
		cr->reasons |= r;
		return 1;
	}
	return ok;
}

/* An anchor Microsoft limits to certificates issued before a date
 * (NotBefore in an .sst): a chain through it that holds a certificate
 * issued on or after that date is not trusted. */
static void
check_anchor_limit(chain_run *cr, X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	int i, n = chain ? sk_X509_num(chain) : 0;
	int64_t limit = n > 1 ? gs_store_anchor_limit(cr->store, sk_X509_value(chain, n - 1)) : 0;

	for (i = 0; limit && i < n - 1; i++) {
		if (gs_asn1_time_unix(X509_get0_notBefore(sk_X509_value(chain, i))) < limit)
			continue;
		if (!(cr->reasons & ~GS_REASONS_WARNINGS))
			cr->first = GS_X509_ERR_ANCHOR_LIMIT;
		cr->reasons |= GS_REASON_UNTRUSTED;
		break;
	}
}

const char *
gs_chain_error_string(int err)
{
	if (err == GS_X509_ERR_ANCHOR_LIMIT)
		return "issued after the date its trust anchor is limited to (Microsoft's NotBefore)";
	if (err == GS_X509_ERR_KEY_REFUSED)
		return "an issuer's key is refused (an RSA exponent even or over 2^32, RSA over 8192 bits, "
		       "or EC without a named curve)";
	if (err == X509_V_ERR_CERT_CHAIN_TOO_LONG)
		return "certificate chain longer than 8 intermediates";
	return X509_verify_cert_error_string(err);
}

static gs_status
chain_run_check(chain_run *cr, X509 *leaf, STACK_OF(X509) *untrusted, int want_chain,
		char **errmsg)
{
	gs_store *store = cr->store;
	X509_STORE *anchors = NULL;
	STACK_OF(X509) *pool = NULL, *refused = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	unsigned long vflags;
	X509 *cur = leaf;
	gs_status st;
	int i, depth, has_crls = 0;

	cr->reasons = 0;
	cr->first = X509_V_OK;
	cr->st = GS_OK;
	{
		static gsize once;

		/* once per process, whatever the threads */
		if (g_once_init_enter(&once)) {
			chain_run_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
			g_once_init_leave(&once, 1);
		}
	}
	if ((st = gs_store_anchor_store(store, &anchors, errmsg)) != GS_OK ||
	    (!cr->any_time && (st = gs_store_has_crls(store, &has_crls, errmsg)) != GS_OK))
		goto out;
	if (!(pool = sk_X509_new_null()) || !(refused = sk_X509_new_null())) {
		st = gs_fail(errmsg, GS_E_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; untrusted && i < sk_X509_num(untrusted); i++)
		add_candidate(pool, refused, sk_X509_value(untrusted, i));

	/* walk issuers up from the leaf, pulling candidates from the store;
	 * the walk and OpenSSL's chain end one certificate past the limit */
	for (depth = 0; depth <= GS_MAX_CHAIN_DEPTH; depth++) {
		X509 *next;

		if (X509_check_issued(cur, cur) == X509_V_OK)
			break;
		if ((st = add_store_issuers(store, cur, pool, refused, errmsg)) != GS_OK)
			goto out;
		if (!(next = issuer_in(pool, cur))) {
			/* the chain would go on through a key no CA issues */
			if (issuer_in(refused, cur)) {
				cr->reasons |= GS_REASON_LIMIT;
				cr->first = GS_X509_ERR_KEY_REFUSED;
			}
			break;
		}
		cur = next;
	}

	/* the context takes its CRL lookup from the X509_STORE */
	X509_STORE_set_lookup_crls(anchors, lookup_crls);
	ctx = X509_STORE_CTX_new();
	if (!ctx || !X509_STORE_CTX_init(ctx, anchors, leaf, pool)) {
		st = gs_fail_ssl(errmsg, GS_E_INTERNAL, "cannot start a chain check");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_depth(param, GS_MAX_CHAIN_DEPTH);
	if (cr->purpose)
		X509_STORE_CTX_set_purpose(ctx, cr->purpose);
	/* the X509_STORE holds the anchors and nothing else, so any of them
	 * ends a chain: an issuing CA imported alone is an anchor */
	vflags = X509_V_FLAG_PARTIAL_CHAIN;
	if (cr->any_time)
		vflags |= X509_V_FLAG_NO_CHECK_TIME;
	else
		X509_VERIFY_PARAM_set_time(param, cr->when);
	if (has_crls)
		vflags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
	X509_VERIFY_PARAM_set_flags(param, vflags);
	X509_STORE_CTX_set_ex_data(ctx, chain_run_idx, cr);
	X509_STORE_CTX_set_verify_cb(ctx, collect_cb);
	if (X509_verify_cert(ctx) != 1 && !(cr->reasons & ~GS_REASONS_WARNINGS)) {
		cr->first = X509_STORE_CTX_get_error(ctx);
		cr->reasons = reason_of(cr->first);
	}
	if ((st = cr->st) != GS_OK) {
		gs_fail(errmsg, st, "%s", cr->errmsg ? cr->errmsg : gs_status_string(st));
		goto out;
	}
	check_anchor_limit(cr, ctx);
	if (want_chain && !(cr->reasons & ~GS_REASONS_WARNINGS))
		cr->chain = X509_STORE_CTX_get1_chain(ctx);
out:
	if (st != GS_OK) {
		cr->reasons = GS_REASON_UNTRUSTED;
		cr->first = X509_V_ERR_UNSPECIFIED;
	}
	g_free(cr->errmsg);
	cr->errmsg = NULL;
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(pool, X509_free);
	sk_X509_pop_free(refused, X509_free);
	ERR_clear_error();
	return st;
}

gs_status
gs_chain_check(gs_store *store, X509 *leaf, STACK_OF(X509) *untrusted, int purpose, time_t when,
	       unsigned *reasons, int *first_err, char **errmsg)
{
	chain_run cr = { .store = store, .purpose = purpose, .when = when };
	gs_status st = chain_run_check(&cr, leaf, untrusted, 0, errmsg);

	*reasons = cr.reasons;
	if (first_err)
		*first_err = cr.first;
	return st;
}

gs_status
gs_chain_verified(gs_store *store, X509 *leaf, STACK_OF(X509) *untrusted, int purpose,
		  time_t when, STACK_OF(X509) **chain, char **errmsg)
{
	chain_run cr = { .store = store, .purpose = purpose, .when = when };
	gs_status st = chain_run_check(&cr, leaf, untrusted, 1, errmsg);

	*chain = cr.chain;
	return st;
}

gs_status
gs_chain_reaches_anchor(gs_store *store, X509 *leaf, int *reaches, int *first_err, char **errmsg)
{
	chain_run cr = { .store = store, .any_time = 1 };
	gs_status st = chain_run_check(&cr, leaf, NULL, 0, errmsg);

	*reaches = st == GS_OK && !(cr.reasons & GS_REASON_UNTRUSTED);
	if (first_err)
		*first_err = cr.first;
	return st;
}

gs_status
gs_cert_issuers(gs_store *store, X509 *leaf, STACK_OF(X509) **issuers, char **errmsg)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	gs_status st = GS_OK;
	X509 *cur = leaf;
	int depth;

	*issuers = NULL;
	if (!out)
		return gs_fail(errmsg, GS_E_INTERNAL, "out of memory");
	for (depth = 0; depth < 10; depth++) {
		STACK_OF(X509) *found = NULL;
		X509 *next = NULL;
		int i;

		if (X509_check_issued(cur, cur) == X509_V_OK)
			break;
		if ((st = gs_store_certs_by_subject(store, X509_get_issuer_name(cur), &found, errmsg)) != GS_OK)
			break;
		for (i = 0; i < sk_X509_num(found) && !next; i++)
			if (X509_check_issued(sk_X509_value(found, i), cur) == X509_V_OK)
				next = sk_X509_value(found, i);
		if (next && X509_up_ref(next))
			sk_X509_push(out, next);
		sk_X509_pop_free(found, X509_free);
		if (!next)
			break;
		cur = next;
	}
	ERR_clear_error();
	if (st != GS_OK) {
		sk_X509_pop_free(out, X509_free);
		return st;
	}
	*issuers = out;
	return GS_OK;
}

char *
gs_cert_info_addresses(const gs_cert_info *ci)
{
	const char *const *e;
	GString *g;

	if (!ci || !ci->emails || !ci->emails[0])
		return NULL;
	g = g_string_new(NULL);
	for (e = ci->emails; *e; e++) {
		char *p = gs_printable(*e, 256);
		g_string_append_printf(g, "%s%s", g->len ? ", " : "", p);
		g_free(p);
	}
	return g_string_free(g, FALSE);
}
