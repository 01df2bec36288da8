/* test-identity.c: lib/identity.c: importing PKCS#12 and PEM
 * identities with right, wrong and missing passphrases, and opening
 * the stored key again. */
#include "unit.h"

#include <limits.h>
#include <openssl/provider.h>

#define PASS "secret"

static gs_status
import(unit_store *u, const char *file, const char *pass, char **fp, int *plain, char **msg)
{
	size_t len;
	unsigned char *data = pki_read(file, &len);
	gs_status st = gs_identity_import(u->store, data, len, pass, pass ? strlen(pass) : 0, NULL, fp,
					  plain, msg);

	g_free(data);
	return st;
}

typedef struct seen {
	int n, encrypted;
	char *sha256;
} seen;

static int
seen_cb(const gs_cert_info *info, const char *label, int key_encrypted, const char *token_uri,
	void *data)
{
	seen *s = data;

	s->n++;
	s->encrypted = key_encrypted;
	g_free(s->sha256);
	s->sha256 = g_strdup(info->sha256);
	return 0;
}

static seen
identities(unit_store *u)
{
	seen s = { 0, -1, NULL };

	g_assert_cmpint(gs_store_list_identities(u->store, seen_cb, &s, NULL), ==, GS_OK);
	return s;
}

static char *
sha_of(const char *user)
{
	X509 *x = pki_cert(user);
	char *h = gs_cert_sha256_hex(x);

	X509_free(x);
	return h;
}

static void
expect_imported(const char *file, const char *pass, const char *user, int want_plain)
{
	unit_store u;
	char *fp = NULL, *msg = NULL, *want = sha_of(user);
	int plain = -1;
	gs_status st;
	seen s;

	unit_store_open(&u);
	st = import(&u, file, pass, &fp, &plain, &msg);
	if (st != GS_OK)
		g_test_fail_printf("%s: %s: %s", file, gs_status_string(st), msg);
	g_assert_cmpint(st, ==, GS_OK);
	g_assert_null(msg);
	g_assert_cmpstr(fp, ==, want);
	g_assert_cmpint(plain, ==, want_plain);
	s = identities(&u);
	g_assert_cmpint(s.n, ==, 1);
	g_assert_cmpint(s.encrypted, ==, !want_plain);
	g_assert_cmpstr(s.sha256, ==, want);
	g_free(s.sha256);
	g_free(fp);
	g_free(want);
	unit_store_close(&u);
}

/* Rows in the certificate and identity tables. */
static int
count_rows(unit_store *u)
{
	sqlite3_stmt *q = NULL;
	int n;

	sqlite3_prepare_v2(u->store->db,
			   "SELECT (SELECT count(*) FROM certificate) + (SELECT count(*) FROM identity)", -1,
			   &q, NULL);
	g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
	n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n;
}

static void
expect_refused(const char *file, const char *pass, gs_status want)
{
	unit_store u;
	char *fp = NULL, *msg = NULL;
	int plain = -1;
	gs_status st;
	seen s;

	unit_store_open(&u);
	st = import(&u, file, pass, &fp, &plain, &msg);
	if (st != want)
		g_test_fail_printf("%s: %s (%s), wanted %s", file, gs_status_string(st), msg ? msg : "",
				   gs_status_string(want));
	g_assert_nonnull(msg);
	g_assert_null(strchr(msg, '\n'));
	g_test_message("%s: %s", file, msg);
	g_assert_null(fp);
	g_assert_cmpint(plain, ==, -1);
	s = identities(&u);
	g_assert_cmpint(s.n, ==, 0);
	g_assert_cmpint(count_rows(&u), ==, 0);
	g_free(msg);
	unit_store_close(&u);
}

static void
test_p12_right(void)
{
	if (!need_pki())
		return;
	expect_imported("alice.p12", PASS, "alice", 0);
}

static void
test_p12_chain_stored(void)
{
	unit_store u;
	sqlite3_stmt *q = NULL;

	if (!need_pki())
		return;
	unit_store_open(&u);
	g_assert_cmpint(import(&u, "alice.p12", PASS, NULL, NULL, NULL), ==, GS_OK);
	/* alice, the intermediate and the root from the file's chain */
	sqlite3_prepare_v2(u.store->db, "SELECT count(*) FROM certificate", -1, &q, NULL);
	g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int(q, 0), ==, 3);
	sqlite3_finalize(q);
	unit_store_close(&u);
}

static void
test_p12_wrong(void)
{
	if (!need_pki())
		return;
	expect_refused("alice.p12", "wrong", GS_E_PASSPHRASE);
}

static void
test_p12_missing(void)
{
	if (!need_pki())
		return;
	expect_refused("alice.p12", NULL, GS_E_PASSPHRASE);
}

static void
test_p12_legacy(void)
{
	if (!need_pki())
		return;
	expect_imported("alice-legacy.p12", PASS, "alice", 0);
	expect_refused("alice-legacy.p12", "wrong", GS_E_PASSPHRASE);
	/* the legacy provider was there for the parse only; the default
	 * one still works */
	g_assert_false(OSSL_PROVIDER_available(NULL, "legacy"));
	g_assert_true(OSSL_PROVIDER_available(NULL, "default"));
	expect_imported("alice.p12", PASS, "alice", 0);
}

static void
test_pem_plain_key(void)
{
	unit_store u;
	GByteArray *a = g_byte_array_new();
	unsigned char *p;
	size_t len;
	char *fp = NULL, *want;
	int plain = -1;
	seen s;

	if (!need_pki()) {
		g_byte_array_unref(a);
		return;
	}
	/* carol.crt + carol.key, the key unencrypted: stored as it came */
	p = pki_read("carol.crt", &len);
	g_byte_array_append(a, p, (guint) len);
	g_free(p);
	p = pki_read("carol.key", &len);
	g_byte_array_append(a, p, (guint) len);
	g_free(p);
	want = sha_of("carol");
	unit_store_open(&u);
	g_assert_cmpint(gs_identity_import(u.store, a->data, a->len, NULL, 0, "carol", &fp, &plain, NULL),
			==, GS_OK);
	g_assert_cmpint(plain, ==, 1);
	g_assert_cmpstr(fp, ==, want);
	s = identities(&u);
	g_assert_cmpint(s.n, ==, 1);
	g_assert_cmpint(s.encrypted, ==, 0);
	g_free(s.sha256);
	/* a passphrase given for an unencrypted key does not encrypt it */
	g_free(fp);
	fp = NULL;
	plain = -1;
	g_assert_cmpint(gs_identity_import(u.store, a->data, a->len, PASS, strlen(PASS), NULL, &fp, &plain,
					   NULL), ==, GS_OK);
	g_assert_cmpint(plain, ==, 1);
	g_free(fp);
	g_free(want);
	unit_store_close(&u);
	g_byte_array_unref(a);
}

static void
test_pem_encrypted_key(void)
{
	if (!need_pki())
		return;
	expect_imported("alice-enc.pem", PASS, "alice", 0);
	expect_refused("alice-enc.pem", "wrong", GS_E_PASSPHRASE);
	expect_refused("alice-enc.pem", NULL, GS_E_PASSPHRASE);
}

static void
test_pem_key_mismatch(void)
{
	unit_store u;
	GByteArray *a = g_byte_array_new();
	unsigned char *p;
	size_t len;
	char *msg = NULL;

	if (!need_pki()) {
		g_byte_array_unref(a);
		return;
	}
	p = pki_read("alice.crt", &len);
	g_byte_array_append(a, p, (guint) len);
	g_free(p);
	p = pki_read("bob.key", &len);
	g_byte_array_append(a, p, (guint) len);
	g_free(p);
	unit_store_open(&u);
	g_assert_cmpint(gs_identity_import(u.store, a->data, a->len, NULL, 0, NULL, NULL, NULL, &msg),
			==, GS_E_NO_KEY);
	g_assert_nonnull(msg);
	g_free(msg);
	unit_store_close(&u);
	g_byte_array_unref(a);
}

static void
test_garbage(void)
{
	static const guint8 small[16] = "-----BEGIN X";
	unit_store u;
	char *msg = NULL;

	unit_store_open(&u);
	g_assert_cmpint(gs_identity_import(u.store, (const guint8 *) "garbage", 7, NULL, 0, NULL, NULL, NULL,
					   &msg), ==, GS_E_MALFORMED);
	g_assert_nonnull(msg);
	g_free(msg);
	msg = NULL;
	/* refused from the length alone, before any byte is read (ASan
	 * sees any read past the 16 bytes) */
	g_assert_cmpint(gs_identity_import(u.store, small, (size_t) INT_MAX + 1, NULL, 0, NULL, NULL, NULL,
					   &msg), ==, GS_E_MALFORMED);
	g_assert_nonnull(msg);
	g_free(msg);
	g_assert_cmpint(gs_identity_import(NULL, small, 1, NULL, 0, NULL, NULL, NULL, NULL), ==, GS_E_PROGRAMMER);
	unit_store_close(&u);
}

/* ---- opening the stored key ---- */

static gs_status
pass_cb(void *data, const char *what, char *buf, size_t size, size_t *len)
{
	const char *p = data;

	g_assert_nonnull(what);
	if (!p)
		return GS_E_PASSPHRASE;
	g_assert_cmpuint(strlen(p), <, size);
	memcpy(buf, p, strlen(p));
	*len = strlen(p);
	return GS_OK;
}

static gs_status
unlock_with(unit_store *u, const char *pass)
{
	gs_session *s = unit_session(u);
	gs_identity *id = NULL;
	char *msg = NULL;
	gs_status st;

	gs_session_set_passphrase_cb(s, pass_cb, (void *) pass);
	g_assert_cmpint(gs_identity_for_address(s, "Alice@Example.org", &id, &msg), ==, GS_OK);
	g_assert_nonnull(id);
	st = gs_identity_unlock(s, id, &msg);
	if (st == GS_OK) {
		g_assert_nonnull(id->key);
		g_assert_true(X509_check_private_key(id->cert, id->key));
		g_assert_null(id->blob);
	} else {
		g_assert_null(id->key);
		g_assert_nonnull(msg);
	}
	g_free(msg);
	gs_identity_free(id);
	return st;
}

static void
test_unlock(void)
{
	unit_store u;

	if (!need_pki())
		return;
	unit_store_open(&u);
	g_assert_cmpint(import(&u, "alice.p12", PASS, NULL, NULL, NULL), ==, GS_OK);
	g_assert_cmpint(unlock_with(&u, PASS), ==, GS_OK);
	g_assert_cmpint(unlock_with(&u, "wrong"), ==, GS_E_PASSPHRASE);
	g_assert_cmpint(unlock_with(&u, NULL), ==, GS_E_PASSPHRASE);
	unit_store_close(&u);
}

static void
test_no_identity(void)
{
	unit_store u;
	gs_identity *id = NULL;
	char *msg = NULL;

	if (!need_pki())
		return;
	unit_store_open(&u);
	g_assert_cmpint(gs_identity_for_address(unit_session(&u), "alice@example.org", &id, &msg), ==,
			GS_E_NO_KEY);
	g_assert_null(id);
	g_free(msg);
	msg = NULL;
	g_assert_cmpint(import(&u, "bob.p12", PASS, NULL, NULL, NULL), ==, GS_OK);
	g_assert_cmpint(gs_identity_for_address(unit_session(&u), "alice@example.org", &id, &msg), ==,
			GS_E_NO_KEY);
	g_assert_nonnull(strstr(msg, "alice@example.org"));
	g_free(msg);
	unit_store_close(&u);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/identity/p12/right-passphrase", test_p12_right);
	g_test_add_func("/identity/p12/chain-stored", test_p12_chain_stored);
	g_test_add_func("/identity/p12/wrong-passphrase", test_p12_wrong);
	g_test_add_func("/identity/p12/missing-passphrase", test_p12_missing);
	g_test_add_func("/identity/p12/legacy-rc2-3des", test_p12_legacy);
	g_test_add_func("/identity/pem/unencrypted-key-stored-plain", test_pem_plain_key);
	g_test_add_func("/identity/pem/encrypted-key", test_pem_encrypted_key);
	g_test_add_func("/identity/pem/key-mismatch", test_pem_key_mismatch);
	g_test_add_func("/identity/garbage", test_garbage);
	g_test_add_func("/identity/unlock", test_unlock);
	g_test_add_func("/identity/no-identity-for-address", test_no_identity);
	return UNIT_RUN();
}
