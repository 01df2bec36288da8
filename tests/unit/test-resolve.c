/* test-resolve.c: lib/resolve.c through gs_resolve on a real store:
 * which certificate a recipient gets, and why not when none. */
#include "unit.h"

/* 2025-06-01 and 2026-01-01 */
#define JUNE_2025 ((time_t) 1748736000)
#define JAN_2026 ((time_t) 1767225600)

static gs_resolution *
resolve(unit_store *u, const char *who, unsigned flags)
{
	gs_resolution *r = NULL;
	char *msg = NULL;
	gs_status st = gs_resolve(unit_session(u), who, flags, &r, &msg);

	if (st != GS_OK)
		g_error("gs_resolve %s: %s", who, msg);
	g_assert_nonnull(r);
	return r;
}

static char *
sha_of(X509 *x)
{
	char *h = gs_cert_sha256_hex(x);

	g_assert_nonnull(h);
	return h;
}

/* The store trusting the root, knowing the intermediate and `user`. */
static void
store_with(unit_store *u, const char *user)
{
	char *file = g_strconcat(user, ".crt", NULL);

	unit_store_trusting_root(u);
	unit_import(u, file, GS_ROLE_CORRESPONDENT);
	g_free(file);
}

static void
expect_chosen(const char *user, const char *recipient)
{
	unit_store u;
	gs_resolution *r;
	const gs_candidate *c;
	X509 *x = pki_cert(user);
	char *sha = sha_of(x);

	store_with(&u, user);
	r = resolve(&u, recipient, 0);
	c = gs_resolution_chosen(r);
	g_assert_nonnull(c);
	g_assert_cmpint(c->verdict, ==, GS_VERDICT_USABLE);
	g_assert_cmpstr(c->cert.sha256, ==, sha);
	g_assert_true(c->address_match);
	g_assert_nonnull(gs_resolution_chosen_cert(r));
	g_assert_null(gs_resolution_failure(r));
	g_assert_cmpstr(gs_resolution_recipient(r), ==, recipient);
	gs_resolution_free(r);
	unit_store_close(&u);
	g_free(sha);
	X509_free(x);
}

/* `user`'s only certificate gets `want` and nothing is chosen. */
static void
expect_verdict(const char *user, gs_verdict want, const char *word)
{
	unit_store u;
	gs_resolution *r;
	const gs_candidate *c;
	char *addr = g_strconcat(user, "@example.org", NULL);

	store_with(&u, user);
	if (!strcmp(user, "mallory"))
		unit_import(&u, "evil.crt", GS_ROLE_CORRESPONDENT);
	r = resolve(&u, addr, 0);
	g_assert_null(gs_resolution_chosen(r));
	g_assert_null(gs_resolution_chosen_cert(r));
	g_assert_cmpuint(gs_resolution_count(r), ==, 1);
	c = gs_resolution_candidate(r, 0);
	if (c->verdict != want)
		g_test_fail_printf("%s: verdict %s (%s), wanted %s", user, gs_verdict_string(c->verdict),
				   c->reason, gs_verdict_string(want));
	g_assert_nonnull(c->reason);
	g_assert_nonnull(gs_resolution_failure(r));
	g_assert_nonnull(strstr(gs_resolution_failure(r), word));
	g_assert_null(gs_resolution_candidate(r, 1));
	gs_resolution_free(r);
	unit_store_close(&u);
	g_free(addr);
}

static void
test_usable(void)
{
	if (!need_pki())
		return;
	expect_chosen("bob", "bob@example.org");
}

static void
test_usable_ec(void)
{
	if (!need_pki())
		return;
	expect_chosen("carol", "carol@example.org");
}

static void
test_expired(void)
{
	if (!need_pki())
		return;
	expect_verdict("dave", GS_VERDICT_EXPIRED, "expired");
}

static void
test_signing_only(void)
{
	if (!need_pki())
		return;
	expect_verdict("erin", GS_VERDICT_NO_KEY_USAGE, "keyEncipherment");
}

static void
test_server_auth_only(void)
{
	if (!need_pki())
		return;
	expect_verdict("frank", GS_VERDICT_NO_EMAIL_EKU, "emailProtection");
}

static void
test_untrusted(void)
{
	if (!need_pki())
		return;
	expect_verdict("mallory", GS_VERDICT_UNTRUSTED, "trust anchor");
}

static void
test_untrusted_without_anchor(void)
{
	unit_store u;
	gs_resolution *r;

	if (!need_pki())
		return;
	/* bob's CAs known but not trusted: bob is untrusted too */
	unit_store_open(&u);
	unit_import(&u, "cas.pem", GS_ROLE_CORRESPONDENT);
	unit_import(&u, "bob.crt", GS_ROLE_CORRESPONDENT);
	r = resolve(&u, "bob@example.org", 0);
	g_assert_null(gs_resolution_chosen(r));
	g_assert_cmpint(gs_resolution_candidate(r, 0)->verdict, ==, GS_VERDICT_UNTRUSTED);
	gs_resolution_free(r);
	unit_store_close(&u);
}

static void
test_allow_untrusted(void)
{
	unit_store u;
	gs_resolution *r;
	const gs_candidate *c;

	if (!need_pki())
		return;
	store_with(&u, "mallory");
	r = resolve(&u, "mallory@example.org", GS_RESOLVE_ALLOW_UNTRUSTED);
	c = gs_resolution_chosen(r);
	g_assert_nonnull(c);
	g_assert_cmpint(c->verdict, ==, GS_VERDICT_USABLE);
	g_assert_cmpstr(c->cert.common_name, ==, "Mallory Example");
	gs_resolution_free(r);
	/* the flag does not excuse anything else */
	unit_import(&u, "dave.crt", GS_ROLE_CORRESPONDENT);
	r = resolve(&u, "dave@example.org", GS_RESOLVE_ALLOW_UNTRUSTED);
	g_assert_null(gs_resolution_chosen(r));
	g_assert_cmpint(gs_resolution_candidate(r, 0)->verdict, ==, GS_VERDICT_EXPIRED);
	gs_resolution_free(r);
	unit_store_close(&u);
}

static void
test_name_addr(void)
{
	if (!need_pki())
		return;
	expect_chosen("bob", "Bob Example <bob@example.org>");
	expect_chosen("bob", "\"Example, Bob\" <bob@example.org>");
}

static void
test_name_addr_display_name_ignored(void)
{
	unit_store u;
	gs_resolution *r;

	if (!need_pki())
		return;
	/* an address in the display name is not the recipient's address */
	store_with(&u, "bob");
	r = resolve(&u, "\"bob@example.org\" <nobody@example.org>", 0);
	g_assert_null(gs_resolution_chosen(r));
	g_assert_cmpuint(gs_resolution_count(r), ==, 0);
	gs_resolution_free(r);
	unit_store_close(&u);
}

static void
test_case_insensitive(void)
{
	if (!need_pki())
		return;
	expect_chosen("bob", "BOB@Example.ORG");
	expect_chosen("bob", "Bob <Bob@EXAMPLE.org>");
	expect_chosen("bob", "  bob@example.org  ");
}

static void
test_unknown(void)
{
	unit_store u;
	gs_resolution *r;

	if (!need_pki())
		return;
	store_with(&u, "bob");
	r = resolve(&u, "nobody@example.org", 0);
	g_assert_cmpuint(gs_resolution_count(r), ==, 0);
	g_assert_null(gs_resolution_chosen(r));
	g_assert_null(gs_resolution_candidate(r, 0));
	g_assert_nonnull(gs_resolution_failure(r));
	g_assert_cmpstr(gs_resolution_failure(r), !=, "");
	gs_resolution_free(r);
	/* a name that is nobody's, and someone else's name-addr */
	r = resolve(&u, "Nobody At All", 0);
	g_assert_null(gs_resolution_chosen(r));
	g_assert_nonnull(gs_resolution_failure(r));
	gs_resolution_free(r);
	r = resolve(&u, "Bob Example <nobody@example.org>", 0);
	g_assert_null(gs_resolution_chosen(r));
	gs_resolution_free(r);
	unit_store_close(&u);
}

/* A second certificate for alice's key and address, by the intermediate. */
static X509 *
alice_again(time_t not_before, time_t not_after, long serial)
{
	static const char *const sans[] = { "alice@example.org", NULL };
	cert_spec sp = {
		.cn = "Alice Example", .sans = sans,
		.key_usage = "critical,digitalSignature,nonRepudiation,keyEncipherment",
		.ext_key_usage = "emailProtection", .basic_constraints = "CA:FALSE",
		.not_before = not_before, .not_after = not_after, .serial = serial,
	};
	EVP_PKEY *k = pki_key("alice"), *ik = pki_key("inter");
	X509 *inter = pki_cert("inter");
	X509 *x = cert_make(&sp, k, inter, ik);

	X509_free(inter);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ik);
	return x;
}

static void
check_newest_chosen(int newer_first)
{
	unit_store u;
	gs_resolution *r;
	X509 *old = pki_cert("alice"), *renewed = alice_again(JUNE_2025, UNIT_NOW + 86400 * 365, 0x7001);
	char *want = sha_of(renewed);

	unit_store_trusting_root(&u);
	/* import order decides the row order: the rule must not depend on it */
	unit_import_x509(&u, newer_first ? renewed : old, "first");
	unit_import_x509(&u, newer_first ? old : renewed, "second");
	r = resolve(&u, "alice@example.org", 0);
	g_assert_cmpuint(gs_resolution_count(r), ==, 2);
	g_assert_cmpint(gs_resolution_candidate(r, 0)->verdict, ==, GS_VERDICT_USABLE);
	g_assert_cmpint(gs_resolution_candidate(r, 1)->verdict, ==, GS_VERDICT_USABLE);
	g_assert_nonnull(gs_resolution_chosen(r));
	g_assert_cmpstr(gs_resolution_chosen(r)->cert.sha256, ==, want);
	g_assert_cmpint(gs_resolution_chosen(r)->cert.not_before, ==, JUNE_2025);
	gs_resolution_free(r);
	unit_store_close(&u);
	g_free(want);
	X509_free(old);
	X509_free(renewed);
}

static void
test_latest_not_before(void)
{
	if (!need_pki())
		return;
	check_newest_chosen(0);
	check_newest_chosen(1);
}

static void
test_unusable_newer_not_chosen(void)
{
	unit_store u;
	gs_resolution *r;
	X509 *old, *lapsed;
	char *want;
	size_t i;
	int expired = 0;

	if (!need_pki())
		return;
	old = pki_cert("alice");
	lapsed = alice_again(JUNE_2025, JAN_2026, 0x7002);
	want = sha_of(old);
	/* newer but expired: the older usable certificate wins */
	unit_store_trusting_root(&u);
	unit_import_x509(&u, lapsed, "lapsed");
	unit_import(&u, "alice.crt", GS_ROLE_CORRESPONDENT);
	r = resolve(&u, "alice@example.org", 0);
	g_assert_cmpuint(gs_resolution_count(r), ==, 2);
	for (i = 0; i < gs_resolution_count(r); i++)
		expired += gs_resolution_candidate(r, i)->verdict == GS_VERDICT_EXPIRED;
	g_assert_cmpint(expired, ==, 1);
	g_assert_nonnull(gs_resolution_chosen(r));
	g_assert_cmpstr(gs_resolution_chosen(r)->cert.sha256, ==, want);
	gs_resolution_free(r);
	unit_store_close(&u);
	g_free(want);
	X509_free(old);
	X509_free(lapsed);
}

static void
test_bad_arguments(void)
{
	gs_resolution *r = (gs_resolution *) 1;
	char *msg = NULL;

	g_assert_cmpint(gs_resolve(NULL, "a@b", 0, &r, &msg), ==, GS_E_PROGRAMMER);
	g_assert_nonnull(msg);
	g_free(msg);
	gs_resolution_free(NULL);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/resolve/usable-chosen", test_usable);
	g_test_add_func("/resolve/usable-ec-chosen", test_usable_ec);
	g_test_add_func("/resolve/expired", test_expired);
	g_test_add_func("/resolve/signing-only", test_signing_only);
	g_test_add_func("/resolve/server-auth-only", test_server_auth_only);
	g_test_add_func("/resolve/untrusted", test_untrusted);
	g_test_add_func("/resolve/untrusted-without-anchor", test_untrusted_without_anchor);
	g_test_add_func("/resolve/allow-untrusted", test_allow_untrusted);
	g_test_add_func("/resolve/name-addr", test_name_addr);
	g_test_add_func("/resolve/name-addr-display-name-ignored", test_name_addr_display_name_ignored);
	g_test_add_func("/resolve/case-insensitive", test_case_insensitive);
	g_test_add_func("/resolve/unknown-recipient", test_unknown);
	g_test_add_func("/resolve/latest-not-before-chosen", test_latest_not_before);
	g_test_add_func("/resolve/unusable-newer-not-chosen", test_unusable_newer_not_chosen);
	g_test_add_func("/resolve/bad-arguments", test_bad_arguments);
	return UNIT_RUN();
}
