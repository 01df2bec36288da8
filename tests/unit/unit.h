/* unit.h: what the library unit tests share: the test PKI (read from
 * $GALSMIME_TEST_PKI, made by tests/pki/mkpki), throw-away stores in a
 * g_dir_make_tmp folder, and certificates made on the spot with
 * OpenSSL's API.
 *
 * Every test that needs the PKI starts with `if (!need_pki()) return;`:
 * without $GALSMIME_TEST_PKI it is skipped, saying why. Certificates are
 * judged at a pinned time (UNIT_NOW), never at the clock's.
 *
 * Header-only on purpose: the Makefile builds each tests/unit/test-*.c
 * into its own program; this file is not one of them.
 */
#ifndef GALSMIME_UNIT_H
#define GALSMIME_UNIT_H

#include "gs-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* 2026-06-01T00:00:00Z: every PKI user but dave is valid then. */
#define UNIT_NOW ((time_t) 1780272000)

static G_GNUC_UNUSED const char *
pki_dir(void)
{
	const char *d = g_getenv("GALSMIME_TEST_PKI");

	return d && *d ? d : NULL;
}

/* FALSE (and the test marked skipped) when there is no test PKI. */
static G_GNUC_UNUSED gboolean
need_pki(void)
{
	if (pki_dir())
		return TRUE;
	g_test_skip("GALSMIME_TEST_PKI is not set (run through tests/run)");
	return FALSE;
}

static G_GNUC_UNUSED char *
pki_path(const char *name)
{
	return g_build_filename(pki_dir(), name, NULL);
}

/* The bytes of a PKI file; the test fails when it cannot be read. */
static G_GNUC_UNUSED unsigned char *
pki_read(const char *name, size_t *len)
{
	char *path = pki_path(name), *data = NULL;
	GError *err = NULL;
	gsize n = 0;

	if (!g_file_get_contents(path, &data, &n, &err))
		g_error("%s: %s", path, err->message);
	g_free(path);
	*len = n;
	return (unsigned char *) data;
}

static G_GNUC_UNUSED X509 *
pki_cert(const char *name)
{
	char *file = g_strconcat(name, ".crt", NULL), *path = pki_path(file);
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	if (!x)
		g_error("cannot read the certificate %s", path);
	BIO_free(b);
	g_free(file);
	g_free(path);
	return x;
}

static G_GNUC_UNUSED EVP_PKEY *
pki_key(const char *name)
{
	char *file = g_strconcat(name, ".key", NULL), *path = pki_path(file);
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	if (!k)
		g_error("cannot read the key %s", path);
	BIO_free(b);
	g_free(file);
	g_free(path);
	return k;
}

/* ---- throw-away folders and stores ---- */

static G_GNUC_UNUSED void
rm_rf(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;

	if (d) {
		while ((n = g_dir_read_name(d))) {
			char *p = g_build_filename(path, n, NULL);
			rm_rf(p);
			g_free(p);
		}
		g_dir_close(d);
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

static G_GNUC_UNUSED char *
tmp_dir(void)
{
	GError *err = NULL;
	char *d = g_dir_make_tmp("galsmime-unit-XXXXXX", &err);

	if (!d)
		g_error("g_dir_make_tmp: %s", err->message);
	return d;
}

typedef struct unit_store {
	char *dir;          /* the tmp folder */
	char *home;         /* dir/store, the store folder */
	gs_store *store;
	gs_session *session;
} unit_store;

static G_GNUC_UNUSED void
unit_store_open(unit_store *u)
{
	char *msg = NULL;
	gs_status st;

	memset(u, 0, sizeof *u);
	u->dir = tmp_dir();
	u->home = g_build_filename(u->dir, "store", NULL);
	st = gs_store_open(u->home, GS_STORE_READ_WRITE, 2000, &u->store, &msg);
	if (st != GS_OK)
		g_error("gs_store_open: %s", msg);
}

static G_GNUC_UNUSED gs_session *
unit_session(unit_store *u)
{
	char *msg = NULL;

	if (!u->session) {
		if (gs_session_new(u->store, &u->session, &msg) != GS_OK)
			g_error("gs_session_new: %s", msg);
		gs_session_set_time(u->session, UNIT_NOW);
	}
	return u->session;
}

static G_GNUC_UNUSED void
unit_store_close(unit_store *u)
{
	gs_session_free(u->session);
	gs_store_close(u->store);
	rm_rf(u->dir);
	g_free(u->home);
	g_free(u->dir);
	memset(u, 0, sizeof *u);
}

/* Import bytes with a role; the test fails unless it works. */
static G_GNUC_UNUSED void
unit_import_data(unit_store *u, const unsigned char *data, size_t len, const char *source,
		 gs_cert_role role)
{
	gs_import_stats stats;
	char *msg = NULL;
	gs_status st = gs_store_import_certs(u->store, data, len, source, role, &stats, &msg);

	if (st != GS_OK)
		g_error("import %s: %s", source, msg);
}

/* Import a PKI file ("root.crt") with a role. */
static G_GNUC_UNUSED void
unit_import(unit_store *u, const char *file, gs_cert_role role)
{
	size_t len;
	unsigned char *data = pki_read(file, &len);

	unit_import_data(u, data, len, file, role);
	g_free(data);
}

static G_GNUC_UNUSED void
unit_import_x509(unit_store *u, X509 *x, const char *source)
{
	int len;
	unsigned char *der = gs_cert_to_der(x, &len);

	g_assert_nonnull(der);
	unit_import_data(u, der, (size_t) len, source, GS_ROLE_CORRESPONDENT);
	OPENSSL_free(der);
}

/* The passphrase of the PKI's PKCS#12 files, as a session callback. */
static G_GNUC_UNUSED gs_status
unit_pass_secret(void *data, const char *what, char *buf, size_t size, size_t *len)
{
	(void) data;
	(void) what;
	(void) size;
	memcpy(buf, "secret", 6);
	*len = 6;
	return GS_OK;
}

/* Import a PKI PKCS#12 file ("alice.p12") as an identity, and have the
 * session answer with its passphrase. */
static G_GNUC_UNUSED void
unit_import_identity(unit_store *u, const char *file)
{
	size_t len;
	unsigned char *p12 = pki_read(file, &len);
	char *msg = NULL;
	int plain;

	if (gs_identity_import(u->store, p12, len, "secret", 6, NULL, NULL, &plain, &msg) != GS_OK)
		g_error("%s: %s", file, msg);
	g_free(p12);
	gs_session_set_passphrase_cb(unit_session(u), unit_pass_secret, NULL);
}

/* The usual setup: the test root trusted, the intermediate known. */
static G_GNUC_UNUSED void
unit_store_trusting_root(unit_store *u)
{
	unit_store_open(u);
	unit_import(u, "root.crt", GS_ROLE_ANCHOR);
	unit_import(u, "inter.crt", GS_ROLE_CORRESPONDENT);
}

/* ---- certificates made on the spot ---- */

static G_GNUC_UNUSED EVP_PKEY *
ec_key_new(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	g_assert_nonnull(k);
	return k;
}

typedef struct cert_spec {
	const char *cn;
	const char *subject_email;    /* subject emailAddress, or NULL */
	const char *const *sans;      /* rfc822Name SANs, NULL-terminated, or NULL */
	const char *raw_san;          /* one more rfc822Name SAN given as bytes (may hold NUL) */
	int raw_san_len;
	const char *key_usage;        /* openssl config syntax, or NULL for none */
	const char *ext_key_usage;
	const char *basic_constraints;
	time_t not_before, not_after;
	long serial;
} cert_spec;

static G_GNUC_UNUSED void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	g_assert_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
}

/* A certificate for `key` by `issuer`/`ikey` (self-signed when NULL). */
static G_GNUC_UNUSED X509 *
cert_make(const cert_spec *sp, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	GENERAL_NAMES *gens = NULL;
	int i;

	g_assert_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), sp->serial ? sp->serial : 0x5000);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *) "galsmime unit", -1, -1, 0);
	if (sp->cn)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *) sp->cn, -1, -1, 0);
	if (sp->subject_email)
		X509_NAME_add_entry_by_NID(n, NID_pkcs9_emailAddress, MBSTRING_ASC,
					   (const unsigned char *) sp->subject_email, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	ASN1_TIME_set(X509_getm_notBefore(x), sp->not_before ? sp->not_before : UNIT_NOW - 86400);
	ASN1_TIME_set(X509_getm_notAfter(x), sp->not_after ? sp->not_after : UNIT_NOW + 86400 * 365);
	X509_set_pubkey(x, key);

	if (sp->basic_constraints)
		add_ext(x, issuer, NID_basic_constraints, sp->basic_constraints);
	if (sp->key_usage)
		add_ext(x, issuer, NID_key_usage, sp->key_usage);
	if (sp->ext_key_usage)
		add_ext(x, issuer, NID_ext_key_usage, sp->ext_key_usage);
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	for (i = 0; sp->sans && sp->sans[i]; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		ASN1_STRING_set(s, sp->sans[i], -1);
		GENERAL_NAME_set0_value(g, GEN_EMAIL, s);
		if (!gens)
			gens = GENERAL_NAMES_new();
		sk_GENERAL_NAME_push(gens, g);
	}
	if (sp->raw_san) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		ASN1_STRING_set(s, sp->raw_san, sp->raw_san_len);
		GENERAL_NAME_set0_value(g, GEN_EMAIL, s);
		if (!gens)
			gens = GENERAL_NAMES_new();
		sk_GENERAL_NAME_push(gens, g);
	}
	if (gens) {
		X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
		GENERAL_NAMES_free(gens);
	}
	if (!X509_sign(x, ikey ? ikey : key, EVP_sha256()))
		g_error("X509_sign failed");
	return x;
}

/* ---- reports made by hand ---- */

/* A signer for a report (gs_report_new, then add it to r->signers), its
 * certificate `x` (or none), signed at UNIT_NOW. */
static G_GNUC_UNUSED gs_signer_data *
unit_signer_new(gs_sig_status status, unsigned reasons, X509 *x)
{
	gs_signer_data *sd = g_new0(gs_signer_data, 1);

	sd->pub.status = status;
	sd->pub.reasons = reasons;
	sd->digest = g_strdup("sha-256");
	sd->pub.digest = sd->digest;
	sd->pub.signing_time = UNIT_NOW;
	if (x) {
		sd->pub.have_cert = 1;
		gs_certdata_fill(&sd->cd, x);
		sd->pub.cert = sd->cd.info;
		sd->emails = gs_cert_emails(x);
	}
	return sd;
}

/* Add a signed layer holding `sd` to the report. */
static G_GNUC_UNUSED void
unit_add_signer(gs_report *r, gs_signer_data *sd, const char *form)
{
	gs_cms_result res;

	gs_cms_result_init(&res);
	g_ptr_array_add(res.signers, sd);
	gs_report_add_signed(r, "1", form, &res, 0, NULL, 0);
	gs_cms_result_clear(&res);
}

/* A signed report with one signer (unit_signer_new), detached. */
static G_GNUC_UNUSED gs_report *
unit_signed_report(X509 *x, gs_sig_status status, unsigned reasons)
{
	gs_report *r = gs_report_new();

	unit_add_signer(r, unit_signer_new(status, reasons, x), "detached");
	return r;
}

/* A message from `len` bytes of text (-1: up to its NUL), or the test
 * stops. */
static G_GNUC_UNUSED GMimeMessage *
unit_parse(gs_session *s, const char *text, gssize len)
{
	GMimeStream *in = g_mime_stream_mem_new_with_buffer(text, len < 0 ? strlen(text) : (size_t) len);
	GMimeMessage *m = NULL;
	char *msg = NULL;

	if (gs_message_parse(s, in, &m, &msg) != GS_OK)
		g_error("parse: %s", msg);
	g_object_unref(in);
	return m;
}

/* ---- small checks ---- */

static G_GNUC_UNUSED int
strv_len(char **v)
{
	int n = 0;

	while (v && v[n])
		n++;
	return n;
}

static G_GNUC_UNUSED mode_t
file_mode(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		g_error("stat %s: %s", path, g_strerror(errno));
	return sb.st_mode & 07777;
}

/* Standard main() prologue: GLib's test framework, GMime, the library. */
#define UNIT_INIT(argc, argv)                   \
	do {                                    \
		g_test_init(&(argc), &(argv), NULL); \
		g_mime_init();                  \
		gs_init();                      \
	} while (0)

#define UNIT_RUN()                              \
	({                                      \
		int unit_rc_ = g_test_run();    \
		g_mime_shutdown();              \
		unit_rc_;                       \
	})

#endif /* GALSMIME_UNIT_H */
