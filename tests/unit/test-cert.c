/* test-cert.c: lib/cert.c: a certificate's own addresses, its verdict
 * as an encryption recipient, and chain checks against the store. */
#include "unit.h"

/* ---- gs_cert_emails ---- */

static void
test_emails_pki(void)
{
	X509 *x;
	char **e;

	if (!need_pki())
		return;
	x = pki_cert("alice");
	e = gs_cert_emails(x);
	g_assert_cmpint(strv_len(e), ==, 1);
	g_assert_cmpstr(e[0], ==, "alice@example.org");
	g_strfreev(e);
	X509_free(x);
}

static void
test_emails_san_first(void)
{
	static const char *const sans[] = { "first@example.org", "second@example.org", NULL };
	cert_spec sp = { .cn = "San", .subject_email = "subject@example.org", .sans = sans };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	char **e = gs_cert_emails(x);

	/* the subject's emailAddress is ignored when SANs name addresses */
	g_assert_cmpint(strv_len(e), ==, 2);
	g_assert_cmpstr(e[0], ==, "first@example.org");
	g_assert_cmpstr(e[1], ==, "second@example.org");
	g_assert_false(gs_cert_has_email(x, "subject@example.org"));
	g_assert_true(gs_cert_has_email(x, "second@example.org"));
	g_strfreev(e);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A quoted local part may hold commas: it is one address, everywhere it
 * travels (the list in gs_cert_info, the JSON report), never three. */
static void
test_emails_quoted_commas(void)
{
	static const char *const sans[] = { "\"x,ceo@contoso.com,y\"@evil.example", NULL };
	cert_spec sp = { .cn = "Commas", .sans = sans };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	gs_certdata cd;
	char *addrs;

	gs_certdata_fill(&cd, x);
	g_assert_cmpstr(cd.info.emails[0], ==, "\"x,ceo@contoso.com,y\"@evil.example");
	g_assert_null(cd.info.emails[1]);
	g_assert_false(gs_cert_has_email(x, "ceo@contoso.com"));
	addrs = gs_cert_info_addresses(&cd.info);
	g_assert_cmpstr(addrs, ==, "\"x,ceo@contoso.com,y\"@evil.example");
	g_free(addrs);
	gs_certdata_clear(&cd);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_emails_subject_fallback(void)
{
	cert_spec sp = { .cn = "Subject only", .subject_email = "subject@example.org" };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	char **e = gs_cert_emails(x);

	g_assert_cmpint(strv_len(e), ==, 1);
	g_assert_cmpstr(e[0], ==, "subject@example.org");
	g_strfreev(e);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_emails_none(void)
{
	cert_spec sp = { .cn = "Nobody" };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	char **e = gs_cert_emails(x);

	g_assert_nonnull(e);
	g_assert_cmpint(strv_len(e), ==, 0);
	g_strfreev(e);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_emails_lower_case(void)
{
	static const char *const sans[] = { "  Mixed.Case@Example.ORG ", "mixed.case@example.org", NULL };
	cert_spec sp = { .cn = "Case", .sans = sans };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	char **e = gs_cert_emails(x);

	/* lower-cased, trimmed, and the duplicate that makes folded away */
	g_assert_cmpint(strv_len(e), ==, 1);
	g_assert_cmpstr(e[0], ==, "mixed.case@example.org");
	g_assert_true(gs_cert_has_email(x, "MIXED.case@example.org"));
	g_strfreev(e);
	X509_free(x);

	/* the subject's emailAddress is lower-cased too */
	{
		cert_spec sp2 = { .cn = "Case", .subject_email = "Upper@EXAMPLE.org" };
		x = cert_make(&sp2, k, NULL, NULL);
		e = gs_cert_emails(x);
		g_assert_cmpint(strv_len(e), ==, 1);
		g_assert_cmpstr(e[0], ==, "upper@example.org");
		g_strfreev(e);
		X509_free(x);
	}
	EVP_PKEY_free(k);
}

static void
test_emails_embedded_nul(void)
{
	static const char evil[] = "alice@example.org\0@evil.example";
	static const char *const sans[] = { "mallory@evil.example", NULL };
	cert_spec sp = { .cn = "NUL", .sans = sans, .raw_san = evil, .raw_san_len = sizeof evil - 1 };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	char **e = gs_cert_emails(x), **p;

	g_assert_cmpint(strv_len(e), ==, 1);
	g_assert_cmpstr(e[0], ==, "mallory@evil.example");
	for (p = e; *p; p++)
		g_assert_null(strstr(*p, "alice"));
	g_assert_false(gs_cert_has_email(x, "alice@example.org"));
	g_strfreev(e);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_emails_not_ascii(void)
{
	/* IA5String is 7-bit: bytes above 0x7f or control characters are
	 * not an address, and would leak raw bytes into JSON and headers */
	static const char latin1[] = "caf\xe9@example.org";
	static const char ctl[] = "bob@example.org\r\nX-Evil: 1";
	cert_spec sp = { .cn = "8bit", .raw_san = latin1, .raw_san_len = sizeof latin1 - 1 };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	char **e = gs_cert_emails(x);

	g_assert_cmpint(strv_len(e), ==, 0);
	g_strfreev(e);
	X509_free(x);

	sp.raw_san = ctl;
	sp.raw_san_len = sizeof ctl - 1;
	x = cert_make(&sp, k, NULL, NULL);
	e = gs_cert_emails(x);
	g_assert_cmpint(strv_len(e), ==, 0);
	g_strfreev(e);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_certdata_alice(void)
{
	gs_certdata cd;
	X509 *x;

	if (!need_pki())
		return;
	x = pki_cert("alice");
	gs_certdata_fill(&cd, x);
	g_assert_cmpuint(strlen(cd.info.sha256), ==, 64);
	g_assert_cmpstr(cd.info.common_name, ==, "Alice Example");
	g_assert_cmpstr(cd.info.emails[0], ==, "alice@example.org");
	g_assert_null(cd.info.emails[1]);
	g_assert_cmpstr(cd.info.key_type, ==, "rsa");
	g_assert_cmpint(cd.info.key_bits, ==, 2048);
	g_assert_cmpstr(cd.info.serial, ==, "1000");
	g_assert_cmpint(cd.info.is_ca, ==, 0);
	g_assert_cmpint(cd.info.not_before, ==, 1735689600); /* 2025-01-01 */
	g_assert_nonnull(strstr(cd.info.key_usage, "keyEncipherment"));
	g_assert_nonnull(strstr(cd.info.ext_key_usage, "E-mail Protection"));
	gs_certdata_clear(&cd);
	X509_free(x);
}

/* ---- gs_cert_recipient_verdict ---- */

static void
check_verdict(const char *user, time_t when, gs_verdict want)
{
	const char *reason = NULL;
	X509 *x;
	gs_verdict v;

	if (!need_pki())
		return;
	x = pki_cert(user);
	v = gs_cert_recipient_verdict(x, when, &reason);
	g_assert_nonnull(reason);
	if (v != want)
		g_test_fail_printf("%s: verdict %s (%s), wanted %s", user, gs_verdict_string(v), reason,
				   gs_verdict_string(want));
	X509_free(x);
}

static void test_verdict_alice(void) { check_verdict("alice", UNIT_NOW, GS_VERDICT_USABLE); }
static void test_verdict_dave(void) { check_verdict("dave", UNIT_NOW, GS_VERDICT_EXPIRED); }
static void test_verdict_erin(void) { check_verdict("erin", UNIT_NOW, GS_VERDICT_NO_KEY_USAGE); }
static void test_verdict_frank(void) { check_verdict("frank", UNIT_NOW, GS_VERDICT_NO_EMAIL_EKU); }
static void test_verdict_carol(void) { check_verdict("carol", UNIT_NOW, GS_VERDICT_USABLE); }
static void test_verdict_ca(void) { check_verdict("inter", UNIT_NOW, GS_VERDICT_CA); }
static void test_verdict_root(void) { check_verdict("root", UNIT_NOW, GS_VERDICT_CA); }
/* 2024-06-01: before alice's notBefore */
static void test_verdict_not_yet(void) { check_verdict("alice", 1717200000, GS_VERDICT_NOT_YET_VALID); }

static void
test_verdict_ec_without_key_agreement(void)
{
	static const char *const sans[] = { "ec@example.org", NULL };
	cert_spec sp = { .cn = "EC signer", .sans = sans, .key_usage = "critical,digitalSignature",
			 .ext_key_usage = "emailProtection", .basic_constraints = "CA:FALSE" };
	EVP_PKEY *k = ec_key_new();
	X509 *x = cert_make(&sp, k, NULL, NULL);
	const char *reason = NULL;

	g_assert_cmpint(gs_cert_recipient_verdict(x, UNIT_NOW, &reason), ==, GS_VERDICT_NO_KEY_USAGE);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* ---- gs_chain_check ---- */

static unsigned
chain_of(unit_store *u, const char *user, int purpose, int *first)
{
	X509 *x = pki_cert(user);
	unsigned r = 0;

	g_assert_cmpint(gs_chain_check(u->store, x, NULL, purpose, UNIT_NOW, &r, first, NULL), ==, GS_OK);

	X509_free(x);
	return r;
}

static void
test_chain_alice_trusted(void)
{
	unit_store u;
	int first = -1;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	g_assert_cmpuint(chain_of(&u, "alice", X509_PURPOSE_SMIME_SIGN, &first), ==, 0);
	g_assert_cmpint(first, ==, X509_V_OK);
	g_assert_cmpuint(chain_of(&u, "alice", 0, NULL), ==, 0);
	unit_store_close(&u);
}

static void
test_chain_untrusted_without_anchor(void)
{
	unit_store u;
	int first = 0;

	if (!need_pki())
		return;
	/* the intermediate and root known, neither an anchor */
	unit_store_open(&u);
	unit_import(&u, "cas.pem", GS_ROLE_CORRESPONDENT);
	g_assert_cmpuint(chain_of(&u, "alice", 0, &first), ==, GS_REASON_UNTRUSTED);
	g_assert_cmpint(first, !=, X509_V_OK);
	unit_store_close(&u);
}

static void
test_chain_intermediate_from_message(void)
{
	unit_store u;
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509 *x, *inter;
	unsigned r = 0;

	if (!need_pki()) {
		sk_X509_free(extra);
		return;
	}
	/* only the root in the store: the intermediate comes with the message */
	unit_store_open(&u);
	unit_import(&u, "root.crt", GS_ROLE_ANCHOR);
	x = pki_cert("alice");
	inter = pki_cert("inter");
	g_assert_cmpint(gs_chain_check(u.store, x, extra, 0, UNIT_NOW, &r, NULL, NULL), ==, GS_OK);
	g_assert_cmpuint(r, ==, GS_REASON_UNTRUSTED);
	sk_X509_push(extra, inter);
	g_assert_cmpint(gs_chain_check(u.store, x, extra, 0, UNIT_NOW, &r, NULL, NULL), ==, GS_OK);
	g_assert_cmpuint(r, ==, 0);
	sk_X509_pop_free(extra, X509_free);
	X509_free(x);
	unit_store_close(&u);
}

/* An issuing CA imported alone is an anchor: the chain ends there. */
static void
test_chain_intermediate_anchor(void)
{
	unit_store u;
	int first = -1;

	if (!need_pki())
		return;
	unit_store_open(&u);
	unit_import(&u, "inter.crt", GS_ROLE_ANCHOR);
	g_assert_cmpuint(chain_of(&u, "alice", X509_PURPOSE_SMIME_SIGN, &first), ==, 0);
	g_assert_cmpint(first, ==, X509_V_OK);
	/* and only the chains it issued */
	g_assert_cmpuint(chain_of(&u, "mallory", X509_PURPOSE_SMIME_SIGN, NULL), ==, GS_REASON_UNTRUSTED);
	unit_store_close(&u);
}

static void
test_chain_mallory_untrusted(void)
{
	unit_store u;
	int first = 0;
	unsigned r;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	/* knowing the evil root does not make it trusted */
	unit_import(&u, "evil.crt", GS_ROLE_CORRESPONDENT);
	r = chain_of(&u, "mallory", X509_PURPOSE_SMIME_SIGN, &first);
	g_assert_true(r & GS_REASON_UNTRUSTED);
	g_assert_false(r & GS_REASON_EXPIRED);
	g_assert_cmpint(first, !=, X509_V_OK);
	unit_store_close(&u);
}

static void
test_chain_dave_expired(void)
{
	unit_store u;
	int first = 0;
	unsigned r;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	r = chain_of(&u, "dave", X509_PURPOSE_SMIME_SIGN, &first);
	g_assert_cmpuint(r, ==, GS_REASON_EXPIRED);
	g_assert_cmpint(first, ==, X509_V_ERR_CERT_HAS_EXPIRED);
	unit_store_close(&u);
}

static void
test_chain_frank_bad_purpose(void)
{
	unit_store u;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	g_assert_cmpuint(chain_of(&u, "frank", X509_PURPOSE_SMIME_SIGN, NULL), ==, GS_REASON_BAD_PURPOSE);
	g_assert_cmpuint(chain_of(&u, "frank", 0, NULL), ==, 0);
	unit_store_close(&u);
}

static void
test_issuers_alice(void)
{
	unit_store u;
	STACK_OF(X509) *chain;
	X509 *x;
	gs_certdata cd;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	x = pki_cert("alice");
	g_assert_cmpint(gs_cert_issuers(u.store, x, &chain, NULL), ==, GS_OK);
	g_assert_cmpint(sk_X509_num(chain), ==, 2);
	gs_certdata_fill(&cd, sk_X509_value(chain, 0));
	g_assert_cmpstr(cd.info.common_name, ==, "galsmime test intermediate CA");
	gs_certdata_clear(&cd);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	unit_store_close(&u);
}

/* ---- cert-lite.c: the import's key-less parse agrees with d2i_X509 ---- */

static void
check_lite_agrees(X509 *x)
{
	unsigned char *der;
	int len;
	gs_certlite *l;
	gs_cert_view v;
	gs_certdata full, lite;
	char **e1, **e2;
	int i;

	der = gs_cert_to_der(x, &len);
	g_assert_nonnull(der);
	l = gs_certlite_parse(der, (size_t) len);
	g_assert_nonnull(l);
	gs_certdata_fill(&full, x);
	gs_certlite_view(l, &v);
	v.der = der;
	v.der_len = (size_t) len;
	gs_certdata_fill_view(&lite, &v);
	g_assert_cmpstr(lite.info.sha256, ==, full.info.sha256);
	g_assert_cmpstr(lite.info.subject, ==, full.info.subject);
	g_assert_cmpstr(lite.info.issuer, ==, full.info.issuer);
	g_assert_cmpstr(lite.info.serial, ==, full.info.serial);
	g_assert_cmpstr(lite.info.common_name, ==, full.info.common_name);
	g_assert_true(g_strv_equal((const gchar *const *) lite.info.emails, (const gchar *const *) full.info.emails));
	g_assert_cmpstr(lite.info.key_type, ==, full.info.key_type);
	g_assert_cmpstr(lite.info.key_usage, ==, full.info.key_usage);
	g_assert_cmpstr(lite.info.ext_key_usage, ==, full.info.ext_key_usage);
	g_assert_cmpint(lite.info.not_before, ==, full.info.not_before);
	g_assert_cmpint(lite.info.not_after, ==, full.info.not_after);
	g_assert_cmpint(lite.info.is_ca, ==, full.info.is_ca);
	g_assert_cmpint(gs_view_is_ca(&v), ==, full.info.is_ca);
	e1 = gs_cert_emails(x);
	e2 = gs_view_emails(&v);
	g_assert_cmpint(strv_len(e1), ==, strv_len(e2));
	for (i = 0; e1[i]; i++)
		g_assert_cmpstr(e1[i], ==, e2[i]);
	g_strfreev(e1);
	g_strfreev(e2);
	gs_certdata_clear(&full);
	gs_certdata_clear(&lite);
	gs_certlite_free(l);

	/* one certificate and nothing else: trailing bytes, a cut-off
	 * encoding and a non-sequence are refused */
	{
		unsigned char *more = g_malloc((size_t) len + 1);

		memcpy(more, der, (size_t) len);
		more[len] = 0;
		g_assert_null(gs_certlite_parse(more, (size_t) len + 1));
		g_assert_null(gs_certlite_parse(more, (size_t) len - 1));
		more[0] = 0x31;
		g_assert_null(gs_certlite_parse(more, (size_t) len));
		g_assert_null(gs_certlite_parse(more, 0));
		g_free(more);
	}
	OPENSSL_free(der);
}

static void
test_lite_pki(void)
{
	static const char *const names[] = { "alice", "bob", "carol", "inter", "root" };
	unsigned i;

	if (!need_pki())
		return;
	for (i = 0; i < G_N_ELEMENTS(names); i++) {
		X509 *x = pki_cert(names[i]);

		check_lite_agrees(x);
		X509_free(x);
	}
}

static void
test_lite_made(void)
{
	static const char *const sans[] = { "One@Example.ORG", "two@example.org", NULL };
	cert_spec ca = { .cn = "Lite CA", .basic_constraints = "critical,CA:TRUE",
			 .key_usage = "keyCertSign,cRLSign", .serial = 7 };
	cert_spec person = { .cn = "Lite Person", .subject_email = "subject@example.org",
			     .sans = sans, .key_usage = "digitalSignature,keyAgreement",
			     .ext_key_usage = "emailProtection,1.3.6.1.4.1.311.10.3.12",
			     .serial = 0x123456789aL };
	cert_spec bare = { .cn = "Lite Bare", .subject_email = "Bare@Example.org" };
	EVP_PKEY *k1 = ec_key_new(), *k2 = ec_key_new(), *k3 = ec_key_new();
	X509 *xca = cert_make(&ca, k1, NULL, NULL);
	X509 *xp = cert_make(&person, k2, xca, k1);
	X509 *xb = cert_make(&bare, k3, NULL, NULL);

	check_lite_agrees(xca);
	check_lite_agrees(xp);
	check_lite_agrees(xb);
	X509_free(xca);
	X509_free(xp);
	X509_free(xb);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/cert/emails/pki-alice", test_emails_pki);
	g_test_add_func("/cert/emails/san-first", test_emails_san_first);
	g_test_add_func("/cert/emails/subject-fallback", test_emails_subject_fallback);
	g_test_add_func("/cert/emails/quoted-commas", test_emails_quoted_commas);
	g_test_add_func("/cert/emails/none", test_emails_none);
	g_test_add_func("/cert/emails/lower-case", test_emails_lower_case);
	g_test_add_func("/cert/emails/embedded-nul-refused", test_emails_embedded_nul);
	g_test_add_func("/cert/emails/not-ascii-refused", test_emails_not_ascii);
	g_test_add_func("/cert/info/alice", test_certdata_alice);
	g_test_add_func("/cert/lite/agrees-pki", test_lite_pki);
	g_test_add_func("/cert/lite/agrees-made", test_lite_made);
	g_test_add_func("/cert/verdict/alice-usable", test_verdict_alice);
	g_test_add_func("/cert/verdict/dave-expired", test_verdict_dave);
	g_test_add_func("/cert/verdict/erin-no-key-usage", test_verdict_erin);
	g_test_add_func("/cert/verdict/frank-no-email-eku", test_verdict_frank);
	g_test_add_func("/cert/verdict/carol-ec-key-agreement-usable", test_verdict_carol);
	g_test_add_func("/cert/verdict/ec-without-key-agreement", test_verdict_ec_without_key_agreement);
	g_test_add_func("/cert/verdict/intermediate-is-ca", test_verdict_ca);
	g_test_add_func("/cert/verdict/root-is-ca", test_verdict_root);
	g_test_add_func("/cert/verdict/not-yet-valid", test_verdict_not_yet);
	g_test_add_func("/cert/chain/alice-trusted", test_chain_alice_trusted);
	g_test_add_func("/cert/chain/untrusted-without-anchor", test_chain_untrusted_without_anchor);
	g_test_add_func("/cert/chain/intermediate-from-message", test_chain_intermediate_from_message);
	g_test_add_func("/cert/chain/mallory-untrusted", test_chain_mallory_untrusted);
	g_test_add_func("/cert/chain/dave-expired", test_chain_dave_expired);
	g_test_add_func("/cert/chain/frank-bad-purpose", test_chain_frank_bad_purpose);
	g_test_add_func("/cert/issuers/alice", test_issuers_alice);
	g_test_add_func("/cert/chain/intermediate-anchor", test_chain_intermediate_anchor);
	return UNIT_RUN();
}
