/* test-certfile.c: lib/import/certfile.c: every certificate container
 * gs_read_certificates reads (PEM bundle, DER, PKCS#7 in DER and PEM,
 * Microsoft .sst), and hostile .sst files. */
#include "unit.h"

#include <openssl/pkcs7.h>

/* ---- building inputs ---- */

static GByteArray *
der_of(X509 *x)
{
	GByteArray *a = g_byte_array_new();
	int len;
	unsigned char *der = gs_cert_to_der(x, &len);

	g_assert_nonnull(der);
	g_byte_array_append(a, der, (guint) len);
	OPENSSL_free(der);
	return a;
}

static PKCS7 *
p7_of(X509 **xs, int n)
{
	PKCS7 *p7 = PKCS7_new();
	int i;

	/* what `openssl crl2pkcs7 -nocrl -certfile` writes: a degenerate
	 * signed-data, no signers, certificates only */
	g_assert_true(PKCS7_set_type(p7, NID_pkcs7_signed));
	g_assert_true(PKCS7_content_new(p7, NID_pkcs7_data));
	for (i = 0; i < n; i++)
		g_assert_true(PKCS7_add_certificate(p7, xs[i]));
	return p7;
}

static GByteArray *
p7_der(X509 **xs, int n)
{
	PKCS7 *p7 = p7_of(xs, n);
	unsigned char *der = NULL;
	int len = i2d_PKCS7(p7, &der);
	GByteArray *a = g_byte_array_new();

	g_assert_cmpint(len, >, 0);
	g_byte_array_append(a, der, (guint) len);
	OPENSSL_free(der);
	PKCS7_free(p7);
	return a;
}

static GByteArray *
p7_pem(X509 **xs, int n)
{
	PKCS7 *p7 = p7_of(xs, n);
	BIO *b = BIO_new(BIO_s_mem());
	GByteArray *a = g_byte_array_new();
	char *p;
	long len;

	g_assert_true(PEM_write_bio_PKCS7(b, p7));
	len = BIO_get_mem_data(b, &p);
	g_byte_array_append(a, (guint8 *) p, (guint) len);
	BIO_free(b);
	PKCS7_free(p7);
	return a;
}

/* The .sst format ([MS-OSHARED] 2.3.9.1, what Wine's crypt32 writes):
 * u32 0, "CERT", then elements {u32 id, u32 encoding (1), u32 length,
 * bytes}, all little-endian; a certificate is its properties followed by
 * element 0x20 with the DER; 12 zero bytes end the file. */
static void
le32_put(GByteArray *a, uint32_t v)
{
	guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff };

	g_byte_array_append(a, b, 4);
}

static void
sst_element(GByteArray *a, uint32_t id, const void *data, uint32_t len)
{
	le32_put(a, id);
	le32_put(a, 1);
	le32_put(a, len);
	if (len)
		g_byte_array_append(a, data, len);
}

static GByteArray *
sst_begin(void)
{
	GByteArray *a = g_byte_array_new();

	le32_put(a, 0);
	g_byte_array_append(a, (const guint8 *) "CERT", 4);
	return a;
}

/* Friendly name (0x0B, UTF-16LE with its NUL), a SHA-1 hash property
 * (0x03), then the certificate (0x20). */
static void
sst_add_cert(GByteArray *a, X509 *x, const char *friendly)
{
	glong n = 0;
	gunichar2 *u16 = g_utf8_to_utf16(friendly, -1, NULL, &n, NULL);
	unsigned char sha1[20];
	unsigned int sl = 0;
	GByteArray *der = der_of(x);

	sst_element(a, 0x0B, u16, (uint32_t) ((n + 1) * 2));
	X509_digest(x, EVP_sha1(), sha1, &sl);
	sst_element(a, 0x03, sha1, sl);
	sst_element(a, 0x20, der->data, der->len);
	g_byte_array_unref(der);
	g_free(u16);
}

static void
sst_end(GByteArray *a)
{
	static const guint8 zero[12];

	g_byte_array_append(a, zero, sizeof zero);
}

/* Read `len` bytes from an exactly sized copy, so that ASan sees any
 * read past the end. */
static gs_status
read_copy(const guint8 *data, size_t len, STACK_OF(X509) **certs, char **msg)
{
	guint8 *copy = g_memdup2(data, len);
	gs_status st = gs_read_certificates(copy, len, certs, msg);

	g_free(copy);
	return st;
}

static void
expect_certs(const guint8 *data, size_t len, int n, const char *const *cns)
{
	STACK_OF(X509) *certs = NULL;
	char *msg = NULL;
	gs_status st = read_copy(data, len, &certs, &msg);
	int i;

	if (st != GS_OK)
		g_test_fail_printf("read: %s: %s", gs_status_string(st), msg);
	g_assert_cmpint(st, ==, GS_OK);
	g_assert_null(msg); /* untouched on success */
	g_assert_cmpint(sk_X509_num(certs), ==, n);
	for (i = 0; cns && i < n; i++) {
		gs_certdata cd;

		gs_certdata_fill(&cd, sk_X509_value(certs, i));
		g_assert_cmpstr(cd.info.common_name, ==, cns[i]);
		gs_certdata_clear(&cd);
	}
	sk_X509_pop_free(certs, X509_free);
}

static void
expect_malformed(const guint8 *data, size_t len, const char *what)
{
	STACK_OF(X509) *certs = (STACK_OF(X509) *) 1;
	char *msg = NULL;
	gs_status st = read_copy(data, len, &certs, &msg);

	if (st != GS_E_MALFORMED)
		g_test_fail_printf("%s: %s, wanted malformed input", what, gs_status_string(st));
	g_assert_null(certs);
	g_assert_nonnull(msg);
	g_assert_null(strchr(msg, '\n'));
	g_test_message("%s: %s", what, msg);
	g_free(msg);
	if (st == GS_OK)
		sk_X509_pop_free(certs, X509_free);
}

/* ---- the containers ---- */

static void
test_pem_bundle(void)
{
	static const char *const cns[] = { "galsmime test root CA", "galsmime test intermediate CA" };
	unsigned char *data;
	size_t len;

	if (!need_pki())
		return;
	data = pki_read("cas.pem", &len);
	expect_certs(data, len, 2, cns);
	g_free(data);
}

static void
test_pem_with_other_blocks(void)
{
	static const char *const cns[] = { "Carol Example" };
	unsigned char *crt, *key;
	size_t clen, klen;
	GByteArray *a = g_byte_array_new();

	if (!need_pki()) {
		g_byte_array_unref(a);
		return;
	}
	/* a key before the certificate, text around them: only the certificate counts */
	crt = pki_read("carol.crt", &clen);
	key = pki_read("carol.key", &klen);
	g_byte_array_append(a, (const guint8 *) "Bag Attributes\n    friendlyName: carol\n", 39);
	g_byte_array_append(a, key, (guint) klen);
	g_byte_array_append(a, crt, (guint) clen);
	expect_certs(a->data, a->len, 1, cns);
	g_byte_array_unref(a);
	g_free(crt);
	g_free(key);
}

static void
test_der(void)
{
	static const char *const cns[] = { "Alice Example" };
	X509 *x;
	GByteArray *der;

	if (!need_pki())
		return;
	x = pki_cert("alice");
	der = der_of(x);
	expect_certs(der->data, der->len, 1, cns);
	g_byte_array_unref(der);
	X509_free(x);
}

static void
test_der_trailing_garbage(void)
{
	X509 *x;
	GByteArray *der;

	if (!need_pki())
		return;
	x = pki_cert("alice");
	der = der_of(x);
	g_byte_array_append(der, (const guint8 *) "junk", 4);
	expect_malformed(der->data, der->len, "DER with trailing bytes");
	g_byte_array_unref(der);
	X509_free(x);
}

static void
test_pkcs7_der(void)
{
	static const char *const cns[] = { "Bob Example", "Carol Example", "galsmime test intermediate CA" };
	X509 *xs[3];
	GByteArray *a;
	int i;

	if (!need_pki())
		return;
	xs[0] = pki_cert("bob");
	xs[1] = pki_cert("carol");
	xs[2] = pki_cert("inter");
	a = p7_der(xs, 3);
	expect_certs(a->data, a->len, 3, cns);
	g_byte_array_unref(a);
	for (i = 0; i < 3; i++)
		X509_free(xs[i]);
}

static void
test_pkcs7_pem(void)
{
	static const char *const cns[] = { "Bob Example", "Carol Example" };
	X509 *xs[2];
	GByteArray *a;

	if (!need_pki())
		return;
	xs[0] = pki_cert("bob");
	xs[1] = pki_cert("carol");
	a = p7_pem(xs, 2);
	g_assert_nonnull(g_strstr_len((const char *) a->data, a->len, "-----BEGIN PKCS7-----"));
	expect_certs(a->data, a->len, 2, cns);
	g_byte_array_unref(a);
	X509_free(xs[0]);
	X509_free(xs[1]);
}

static void
test_pkcs7_empty(void)
{
	GByteArray *a = p7_der(NULL, 0);

	expect_malformed(a->data, a->len, "PKCS#7 without certificates");
	g_byte_array_unref(a);
}

static GByteArray *
sst_two(void)
{
	GByteArray *a = sst_begin();
	X509 *b = pki_cert("bob"), *r = pki_cert("root");

	sst_add_cert(a, b, "Bob Example");
	/* a CRL element (0x21) between them is not a certificate: skipped */
	sst_element(a, 0x21, "not read", 8);
	sst_add_cert(a, r, "Root");
	sst_end(a);
	X509_free(b);
	X509_free(r);
	return a;
}

static void
test_sst(void)
{
	static const char *const cns[] = { "Bob Example", "galsmime test root CA" };
	STACK_OF(X509) *certs = NULL;
	GByteArray *a;

	if (!need_pki())
		return;
	a = sst_two();
	expect_certs(a->data, a->len, 2, cns);
	/* gs_read_sst itself reads the same */
	g_assert_cmpint(gs_read_sst(a->data, a->len, &certs, NULL), ==, GS_OK);
	g_assert_cmpint(sk_X509_num(certs), ==, 2);
	sk_X509_pop_free(certs, X509_free);
	g_byte_array_unref(a);
}

static void
test_sst_store_import(void)
{
	gs_import_stats stats;
	unit_store u;
	GByteArray *a;

	if (!need_pki())
		return;
	a = sst_two();
	unit_store_open(&u);
	g_assert_cmpint(gs_store_import_certs(u.store, a->data, a->len, "cas.sst", GS_ROLE_CORRESPONDENT,
					      &stats, NULL), ==, GS_OK);
	g_assert_cmpuint(stats.certs_new, ==, 2);
	unit_store_close(&u);
	g_byte_array_unref(a);
}

/* ---- hostile .sst ---- */

static void
test_sst_truncated_header(void)
{
	GByteArray *a = sst_begin();

	/* the magic cut short: not even a serialized store */
	expect_malformed(a->data, 6, "6 bytes of the magic");
	/* an element header cut after 5 of its 12 bytes */
	le32_put(a, 0x20);
	g_byte_array_append(a, (const guint8 *) "\x01", 1);
	expect_malformed(a->data, a->len, "truncated element header");
	g_byte_array_unref(a);
}

static void
test_sst_length_past_end(void)
{
	GByteArray *a = sst_begin();
	X509 *x;
	GByteArray *der;

	if (!need_pki()) {
		g_byte_array_unref(a);
		return;
	}
	x = pki_cert("alice");
	der = der_of(x);
	/* claims one byte more than there is */
	le32_put(a, 0x20);
	le32_put(a, 1);
	le32_put(a, der->len + 1);
	g_byte_array_append(a, der->data, der->len);
	expect_malformed(a->data, a->len, "element longer than the file");
	g_byte_array_unref(der);
	g_byte_array_unref(a);
	X509_free(x);
}

static void
test_sst_length_max(void)
{
	GByteArray *a = sst_begin();

	le32_put(a, 0x20);
	le32_put(a, 1);
	le32_put(a, 0xFFFFFFFFu);
	g_byte_array_append(a, (const guint8 *) "\x30\x82", 2);
	expect_malformed(a->data, a->len, "element length 0xFFFFFFFF");
	/* the same on a property element before any certificate */
	g_byte_array_set_size(a, 8);
	le32_put(a, 0x0B);
	le32_put(a, 1);
	le32_put(a, 0xFFFFFFFFu);
	expect_malformed(a->data, a->len, "property length 0xFFFFFFFF");
	g_byte_array_unref(a);
}

static void
test_sst_no_certificates(void)
{
	GByteArray *a = sst_begin();

	sst_end(a);
	expect_malformed(a->data, a->len, "empty store");
	g_byte_array_set_size(a, 8);
	sst_element(a, 0x0B, "n\0a\0m\0e\0\0\0", 10);
	sst_end(a);
	expect_malformed(a->data, a->len, "a property and no certificate");
	g_byte_array_unref(a);
}

static void
test_sst_garbage_certificate(void)
{
	static const guint8 garbage[] = { 0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01 };
	GByteArray *a = sst_begin();

	sst_element(a, 0x20, garbage, sizeof garbage);
	sst_end(a);
	expect_malformed(a->data, a->len, "garbage certificate");
	/* a zero-length certificate element */
	g_byte_array_set_size(a, 8);
	sst_element(a, 0x20, NULL, 0);
	sst_end(a);
	expect_malformed(a->data, a->len, "empty certificate element");
	g_byte_array_unref(a);
}

static void
test_sst_every_truncation(void)
{
	GByteArray *a;
	size_t n;

	if (!need_pki())
		return;
	/* no prefix of a good file may crash or read past its end; only
	 * the prefixes that keep the first certificate whole are accepted */
	a = sst_two();
	for (n = 0; n <= a->len; n++) {
		STACK_OF(X509) *certs = NULL;
		char *msg = NULL;
		gs_status st = read_copy(a->data, n, &certs, &msg);

		g_assert_true(st == GS_OK || st == GS_E_MALFORMED);
		g_assert_true((st == GS_OK) == (certs != NULL));
		sk_X509_pop_free(certs, X509_free);
		g_free(msg);
	}
	g_byte_array_unref(a);
}

static void
test_sst_hostile_store_untouched(void)
{
	static const guint8 garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	gs_import_stats stats;
	unit_store u;
	GByteArray *a = sst_begin();
	char *msg = NULL;
	int n = 0;

	if (!need_pki()) {
		g_byte_array_unref(a);
		return;
	}
	{
		X509 *x = pki_cert("bob");
		sst_add_cert(a, x, "Bob");
		X509_free(x);
	}
	/* a good certificate, then a bad one: nothing is imported */
	sst_element(a, 0x20, garbage, sizeof garbage);
	sst_end(a);
	unit_store_open(&u);
	g_assert_cmpint(gs_store_import_certs(u.store, a->data, a->len, "bad.sst", GS_ROLE_CORRESPONDENT,
					      &stats, &msg), ==, GS_E_MALFORMED);
	g_assert_nonnull(msg);
	g_free(msg);
	g_assert_cmpuint(stats.certs_new, ==, 0);
	{
		sqlite3_stmt *q = NULL;
		sqlite3_prepare_v2(u.store->db, "SELECT count(*) FROM certificate", -1, &q, NULL);
		g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
		n = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
	}
	g_assert_cmpint(n, ==, 0);
	unit_store_close(&u);
	g_byte_array_unref(a);
}

/* ---- other inputs ---- */

static void
test_garbage(void)
{
	static const char pem_junk[] = "-----BEGIN CERTIFICATE-----\nnot base64 !!!\n-----END CERTIFICATE-----\n";

	expect_malformed((const guint8 *) "garbage", 7, "garbage");
	expect_malformed((const guint8 *) pem_junk, sizeof pem_junk - 1, "PEM with a broken body");
	expect_malformed((const guint8 *) "\x30\x80", 2, "a DER start and nothing more");
	{
		STACK_OF(X509) *certs = NULL;
		char *msg = NULL;
		g_assert_cmpint(gs_read_certificates((const guint8 *) "", 0, &certs, &msg), ==, GS_E_MALFORMED);
		g_assert_null(certs);
		g_free(msg);
	}
}

static void
test_oversized_length(void)
{
	static const guint8 small[16] = "-----BEGIN X";
	STACK_OF(X509) *certs = NULL;
	char *msg = NULL;

	/* refused from the length alone, before any byte is read (the
	 * buffer is far shorter than claimed: ASan sees any read) */
	g_assert_cmpint(gs_read_certificates(small, (size_t) INT_MAX + 1, &certs, &msg), ==, GS_E_LIMIT);
	g_assert_null(certs);
	g_assert_nonnull(msg);
	g_free(msg);
}

/* Microsoft's trust properties before each certificate element: read
 * for that certificate only; FILETIMEs become Unix time. */
static void
test_sst_trust_properties(void)
{
	/* FILETIME of 2025-06-01T00:00:00Z: (1748736000 + 11644473600) * 10^7 */
	static const guint8 nb[8] = { 0x00, 0x80, 0x1a, 0x1e, 0x88, 0xd2, 0xdb, 0x01 };
	/* SEQUENCE { serverAuth } and SEQUENCE { emailProtection } */
	static const guint8 tls[] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
	static const guint8 email[] = { 0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04 };
	GByteArray *a;
	GArray *trust = NULL;
	STACK_OF(X509) *certs = NULL;
	X509 *b, *r;
	gs_sst_trust *t;

	if (!need_pki())
		return;
	a = sst_begin();
	b = pki_cert("bob");
	r = pki_cert("root");
	sst_element(a, 9, tls, sizeof tls);
	sst_element(a, 104, nb, sizeof nb);
	sst_add_cert(a, b, "Bob Example");
	sst_element(a, 126, nb, sizeof nb);
	sst_element(a, 127, email, sizeof email);
	sst_element(a, 122, "garbage", 7);
	sst_add_cert(a, r, "Root");
	sst_end(a);
	g_assert_cmpint(gs_read_sst_trust(a->data, a->len, &certs, &trust, NULL), ==, GS_OK);
	g_assert_cmpint(sk_X509_num(certs), ==, 2);
	g_assert_cmpuint(trust->len, ==, 2);
	t = &g_array_index(trust, gs_sst_trust, 0);
	g_assert_cmpuint(t->present, ==, GS_SST_EKU | GS_SST_DISALLOWED);
	g_assert_cmpuint(t->email, ==, 0);
	g_assert_cmpint(t->disallowed_since, ==, 1748736000);
	t = &g_array_index(trust, gs_sst_trust, 1);
	g_assert_cmpuint(t->present, ==, GS_SST_NOT_BEFORE | GS_SST_NOT_BEFORE_EKU | GS_SST_DISALLOWED_EKU);
	/* an unreadable usage list names nothing */
	g_assert_cmpuint(t->email, ==, GS_SST_NOT_BEFORE_EKU);
	g_assert_cmpint(t->not_before, ==, 1748736000);
	sk_X509_pop_free(certs, X509_free);
	g_array_unref(trust);
	g_byte_array_unref(a);
	X509_free(b);
	X509_free(r);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/certfile/pem-bundle", test_pem_bundle);
	g_test_add_func("/certfile/pem-with-other-blocks", test_pem_with_other_blocks);
	g_test_add_func("/certfile/der", test_der);
	g_test_add_func("/certfile/der-trailing-garbage", test_der_trailing_garbage);
	g_test_add_func("/certfile/pkcs7-der", test_pkcs7_der);
	g_test_add_func("/certfile/pkcs7-pem", test_pkcs7_pem);
	g_test_add_func("/certfile/pkcs7-without-certificates", test_pkcs7_empty);
	g_test_add_func("/certfile/sst", test_sst);
	g_test_add_func("/certfile/sst-store-import", test_sst_store_import);
	g_test_add_func("/certfile/sst-hostile/truncated-header", test_sst_truncated_header);
	g_test_add_func("/certfile/sst-hostile/length-past-end", test_sst_length_past_end);
	g_test_add_func("/certfile/sst-hostile/length-0xffffffff", test_sst_length_max);
	g_test_add_func("/certfile/sst-hostile/no-certificates", test_sst_no_certificates);
	g_test_add_func("/certfile/sst-hostile/garbage-certificate", test_sst_garbage_certificate);
	g_test_add_func("/certfile/sst-hostile/every-truncation", test_sst_every_truncation);
	g_test_add_func("/certfile/sst-hostile/store-untouched", test_sst_hostile_store_untouched);
	g_test_add_func("/certfile/garbage", test_garbage);
	g_test_add_func("/certfile/oversized-length", test_oversized_length);
	g_test_add_func("/certfile/sst/trust-properties", test_sst_trust_properties);
	return UNIT_RUN();
}
