/* test-store.c: lib/store.c: file modes, migrations on reopen, and
 * certificate imports with their roles and counts. */
#include "unit.h"

#include <fcntl.h>
#include <unistd.h>

static int
count(gs_store *s, const char *sql)
{
	sqlite3_stmt *q = NULL;
	int n;

	g_assert_cmpint(sqlite3_prepare_v2(s->db, sql, -1, &q, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
	n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return n;
}

static gs_status
import(gs_store *s, const char *file, gs_cert_role role, gs_import_stats *stats, char **msg)
{
	size_t len;
	unsigned char *data = pki_read(file, &len);
	gs_status st = gs_store_import_certs(s, data, len, file, role, stats, msg);

	g_free(data);
	return st;
}

static void
test_modes_umask_0(void)
{
	char *dir = tmp_dir(), *home = g_build_filename(dir, "a", "store", NULL), *db;
	gs_store *s = NULL;
	mode_t old = umask(0);
	gs_status st;

	st = gs_store_open(home, GS_STORE_READ_WRITE, 1000, &s, NULL);
	umask(old);
	g_assert_cmpint(st, ==, GS_OK);
	db = g_build_filename(home, "galsmime.db", NULL);
	g_assert_cmpstr(gs_store_path(s), ==, db);
	g_assert_cmpint(file_mode(home), ==, 0700);
	g_assert_cmpint(file_mode(db), ==, 0600);
	gs_store_close(s);
	g_free(db);
	g_free(home);
	rm_rf(dir);
	g_free(dir);
}

static void
test_modes_existing_folder(void)
{
	char *dir = tmp_dir(), *home = g_build_filename(dir, "store", NULL), *db;
	gs_store *s = NULL;
	mode_t old = umask(0);
	int fd;

	/* a folder and a file others can read are made private; a file others
	 * can write is refused (t12: anyone could have planted it) */
	g_assert_cmpint(g_mkdir(home, 0755), ==, 0);
	db = g_build_filename(home, "galsmime.db", NULL);
	fd = open(db, O_CREAT | O_WRONLY, 0666);
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_cmpint(gs_store_open(home, GS_STORE_READ_WRITE, 1000, &s, NULL), ==, GS_E_UNSAFE);
	g_assert_null(s);
	g_assert_cmpint(chmod(db, 0644), ==, 0);
	g_assert_cmpint(gs_store_open(home, GS_STORE_READ_WRITE, 1000, &s, NULL), ==, GS_OK);
	umask(old);
	g_assert_cmpint(file_mode(home), ==, 0700);
	g_assert_cmpint(file_mode(db), ==, 0600);
	gs_store_close(s);
	g_free(db);
	g_free(home);
	rm_rf(dir);
	g_free(dir);
}

/* A store opened read-only writes nothing, whoever asks: an import
 * through it fails (GS_E_IO) and leaves the store as it was. */
static void
test_read_only(void)
{
	unit_store u;
	gs_store *ro = NULL;
	gs_import_stats stats;
	unsigned char *der;
	size_t len;
	char *msg = NULL;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	g_assert_cmpint(gs_store_open(u.home, GS_STORE_READ_ONLY, 1000, &ro, &msg), ==, GS_OK);
	g_assert_cmpint(count(ro, "SELECT count(*) FROM certificate"), ==, 2);
	der = pki_read("bob.crt", &len);
	g_assert_cmpint(gs_store_import_certs(ro, der, len, "ro", GS_ROLE_CORRESPONDENT, &stats, &msg), ==,
			GS_E_IO);
	g_assert_nonnull(msg);
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM certificate"), ==, 2);
	/* the read-write handle still writes */
	g_assert_cmpint(gs_store_import_certs(u.store, der, len, "rw", GS_ROLE_CORRESPONDENT, &stats, &msg), ==,
			GS_OK);
	g_free(der);
	gs_store_close(ro);
	unit_store_close(&u);
}

static void
test_reopen_idempotent(void)
{
	unit_store u;
	gs_store *again = NULL;
	char *msg = NULL;
	int version, tables, certs, i;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	version = count(u.store, "PRAGMA user_version");
	tables = count(u.store, "SELECT count(*) FROM sqlite_master");
	certs = count(u.store, "SELECT count(*) FROM certificate");
	g_assert_cmpint(version, >=, 1);
	g_assert_cmpint(certs, ==, 2);
	gs_store_close(u.store);
	u.store = NULL;
	for (i = 0; i < 3; i++) {
		g_assert_cmpint(gs_store_open(u.home, i == 2 ? GS_STORE_READ_ONLY : GS_STORE_READ_WRITE, 1000,
					      &again, &msg), ==, GS_OK);
		g_assert_null(msg);
		g_assert_cmpint(count(again, "PRAGMA user_version"), ==, version);
		g_assert_cmpint(count(again, "SELECT count(*) FROM sqlite_master"), ==, tables);
		g_assert_cmpint(count(again, "SELECT count(*) FROM certificate"), ==, certs);
		g_assert_cmpint(count(again, "SELECT count(*) FROM anchor"), ==, 1);
		gs_store_close(again);
		again = NULL;
	}
	unit_store_close(&u);
}

static void
test_wal_mode(void)
{
	unit_store u;
	sqlite3_stmt *q = NULL;

	unit_store_open(&u);
	g_assert_cmpint(sqlite3_prepare_v2(u.store->db, "PRAGMA journal_mode", -1, &q, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
	g_assert_cmpstr((const char *) sqlite3_column_text(q, 0), ==, "wal");
	sqlite3_finalize(q);
	unit_store_close(&u);
}

static void
test_newer_schema_refused(void)
{
	unit_store u;
	gs_store *again = NULL;
	char *msg = NULL;

	unit_store_open(&u);
	g_assert_cmpint(sqlite3_exec(u.store->db, "PRAGMA user_version=999", NULL, NULL, NULL), ==, SQLITE_OK);
	gs_store_close(u.store);
	u.store = NULL;
	g_assert_cmpint(gs_store_open(u.home, GS_STORE_READ_WRITE, 1000, &again, &msg), ==, GS_E_MALFORMED);
	g_assert_null(again);
	g_assert_nonnull(msg);
	g_free(msg);
	unit_store_close(&u);
}

/* A store of schema 3 (identity keys always a blob) opened by this
 * galsmime: the identity table is rebuilt for token keys, its rows and
 * their keys kept as they were. */
static void
test_upgrade_from_3(void)
{
	static const char v3[] =
		"DROP TABLE identity;"
		"CREATE TABLE identity ("
		"  id INTEGER PRIMARY KEY,"
		"  certificate INTEGER NOT NULL UNIQUE REFERENCES certificate(id),"
		"  label TEXT, key_blob BLOB NOT NULL, encrypted INTEGER NOT NULL,"
		"  added_at INTEGER);"
		"INSERT INTO identity(id, certificate, label, key_blob, encrypted, added_at)"
		"  SELECT 7, id, 'old', x'0102', 1, 42 FROM certificate LIMIT 1;"
		"DROP TABLE directory_answer;" /* schema 5's */
		"PRAGMA user_version=3;";
	unit_store u;
	gs_store *again = NULL;
	char *msg = NULL;

	if (!need_pki())
		return;
	unit_store_trusting_root(&u);
	g_assert_cmpint(sqlite3_exec(u.store->db, v3, NULL, NULL, NULL), ==, SQLITE_OK);
	gs_store_close(u.store);
	u.store = NULL;
	g_assert_cmpint(gs_store_open(u.home, GS_STORE_READ_WRITE, 1000, &again, &msg), ==, GS_OK);
	g_assert_null(msg);
	g_assert_cmpint(count(again, "PRAGMA user_version"), >=, 5);
	/* schema 5: the live directories' answers, none yet */
	g_assert_cmpint(count(again, "SELECT count(*) FROM directory_answer"), ==, 0);
	g_assert_cmpint(count(again, "SELECT count(*) FROM identity WHERE id = 7 AND label = 'old'"
				     " AND key_blob = x'0102' AND encrypted = 1 AND added_at = 42"
				     " AND token_uri IS NULL"), ==, 1);
	/* a key blob or a token URI, never both, never neither */
	g_assert_cmpint(sqlite3_exec(again->db, "UPDATE identity SET token_uri = 'pkcs11:id=%01'",
				     NULL, NULL, NULL), !=, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(again->db, "UPDATE identity SET key_blob = NULL", NULL, NULL, NULL),
			!=, SQLITE_OK);
	gs_store_close(again);
	unit_store_close(&u);
}

static void
test_not_a_store(void)
{
	char *dir = tmp_dir(), *db = g_build_filename(dir, "galsmime.db", NULL);
	gs_store *s = NULL;
	char *msg = NULL;
	gs_status st;

	g_assert_true(g_file_set_contents(db, "this is not an SQLite database, not at all.\n", -1, NULL));
	st = gs_store_open(dir, GS_STORE_READ_WRITE, 1000, &s, &msg);
	g_assert_cmpint(st, ==, GS_E_MALFORMED);
	g_assert_null(s);
	g_assert_nonnull(msg);
	g_free(msg);
	g_free(db);
	rm_rf(dir);
	g_free(dir);
}

static void
test_bad_arguments(void)
{
	gs_store *s = NULL;
	char *msg = NULL;

	g_assert_cmpint(gs_store_open(NULL, GS_STORE_READ_WRITE, 0, &s, &msg), ==, GS_E_PROGRAMMER);
	g_assert_nonnull(msg);
	g_free(msg);
	gs_store_close(NULL);
	g_assert_null(gs_store_path(NULL));
	g_assert_cmpint(gs_store_import_certs(NULL, (const unsigned char *) "x", 1, NULL,
					      GS_ROLE_CORRESPONDENT, NULL, NULL), ==, GS_E_PROGRAMMER);
}

static void
test_anchor_refuses_leaf(void)
{
	gs_import_stats stats;
	unit_store u;
	char *msg = NULL;

	if (!need_pki())
		return;
	unit_store_open(&u);
	g_assert_cmpint(import(u.store, "bob.crt", GS_ROLE_ANCHOR, &stats, &msg), ==, GS_E_USAGE);
	g_assert_nonnull(msg);
	g_assert_nonnull(strstr(msg, "Bob Example"));
	g_free(msg);
	msg = NULL;
	/* CAs are accepted; the refused leaf never became an anchor */
	g_assert_cmpint(import(u.store, "alice-chain.pem", GS_ROLE_ANCHOR, &stats, NULL), ==, GS_OK);
	g_assert_cmpint(import(u.store, "bob.crt", GS_ROLE_CORRESPONDENT, &stats, NULL), ==, GS_OK);
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM anchor"), ==, 2);
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM anchor a JOIN certificate c ON c.id = a.certificate"
				       " WHERE c.subject LIKE '%Bob%'"), ==, 0);
	unit_store_close(&u);
}

static void
note_refusal(void *data, unsigned index, const char *subject, const char *reason)
{
	GString *g = data;

	g_string_append_printf(g, "%u|%s|%s\n", index, subject, reason);
}

/* A bundle with a CA and a leaf: the CA becomes an anchor, the leaf is
 * refused (and reported), and is not stored. */
static void
test_anchor_refuses_leaf_in_bundle(void)
{
	gs_import_stats stats;
	unit_store u;
	GByteArray *a = g_byte_array_new();
	GString *refused = g_string_new(NULL);
	unsigned char *p;
	size_t len;

	if (!need_pki()) {
		g_byte_array_unref(a);
		g_string_free(refused, TRUE);
		return;
	}
	p = pki_read("root.crt", &len);
	g_byte_array_append(a, p, (guint) len);
	g_free(p);
	p = pki_read("bob.crt", &len);
	g_byte_array_append(a, p, (guint) len);
	g_free(p);
	unit_store_open(&u);
	g_assert_cmpint(gs_store_import_anchors(u.store, a->data, a->len, "mixed", note_refusal, refused,
						&stats, NULL), ==, GS_OK);
	g_assert_cmpuint(stats.anchors_new, ==, 1);
	g_assert_cmpuint(stats.refused, ==, 1);
	g_assert_nonnull(strstr(refused->str, "2|"));
	g_assert_nonnull(strstr(refused->str, "Bob Example"));
	g_assert_nonnull(strstr(refused->str, "neither a CA nor self-signed"));
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM anchor"), ==, 1);
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM certificate"), ==, 1);
	unit_store_close(&u);
	g_byte_array_unref(a);
	g_string_free(refused, TRUE);
}

static void
test_import_twice(void)
{
	gs_import_stats stats;
	unit_store u;

	if (!need_pki())
		return;
	unit_store_open(&u);
	g_assert_cmpint(import(u.store, "cas.pem", GS_ROLE_CORRESPONDENT, &stats, NULL), ==, GS_OK);
	g_assert_cmpuint(stats.certs_new, ==, 2);
	g_assert_cmpuint(stats.certs_known, ==, 0);
	g_assert_cmpuint(stats.anchors_new, ==, 0);
	g_assert_cmpint(import(u.store, "cas.pem", GS_ROLE_CORRESPONDENT, &stats, NULL), ==, GS_OK);
	g_assert_cmpuint(stats.certs_new, ==, 0);
	g_assert_cmpuint(stats.certs_known, ==, 2);
	/* known certificates become anchors once, then are known anchors */
	g_assert_cmpint(import(u.store, "root.crt", GS_ROLE_ANCHOR, &stats, NULL), ==, GS_OK);
	g_assert_cmpuint(stats.certs_new, ==, 0);
	g_assert_cmpuint(stats.certs_known, ==, 1);
	g_assert_cmpuint(stats.anchors_new, ==, 1);
	g_assert_cmpint(import(u.store, "root.crt", GS_ROLE_ANCHOR, &stats, NULL), ==, GS_OK);
	g_assert_cmpuint(stats.anchors_new, ==, 0);
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM certificate"), ==, 2);
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM anchor"), ==, 1);
	unit_store_close(&u);
}

static void
test_import_malformed(void)
{
	gs_import_stats stats = { 7, 7, 7, 7 };
	unit_store u;
	char *msg = NULL;

	unit_store_open(&u);
	g_assert_cmpint(gs_store_import_certs(u.store, (const unsigned char *) "garbage", 7, "junk",
					      GS_ROLE_CORRESPONDENT, &stats, &msg), ==, GS_E_MALFORMED);
	g_assert_nonnull(msg);
	g_free(msg);
	g_assert_cmpuint(stats.certs_new + stats.certs_known + stats.anchors_new, ==, 0);
	g_assert_cmpint(count(u.store, "SELECT count(*) FROM certificate"), ==, 0);
	unit_store_close(&u);
}

static int
collect_cn(const gs_cert_info *info, const char *sources, void *data)
{
	g_ptr_array_add(data, g_strdup_printf("%s|%s", info->common_name, sources ? sources : ""));
	return 0;
}

static void
test_list_filters(void)
{
	GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *anchors = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *people = g_ptr_array_new_with_free_func(g_free);
	unit_store u;

	if (!need_pki()) {
		g_ptr_array_free(all, TRUE);
		g_ptr_array_free(anchors, TRUE);
		g_ptr_array_free(people, TRUE);
		return;
	}
	unit_store_trusting_root(&u);
	unit_import(&u, "bob.crt", GS_ROLE_CORRESPONDENT);
	g_assert_cmpint(gs_store_list_certs(u.store, GS_LIST_ALL, collect_cn, all, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_list_certs(u.store, GS_LIST_ANCHORS, collect_cn, anchors, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_list_certs(u.store, GS_LIST_CORRESPONDENTS, collect_cn, people, NULL), ==, GS_OK);
	g_assert_cmpuint(all->len, ==, 3);
	g_assert_cmpuint(anchors->len, ==, 1);
	g_assert_cmpstr(anchors->pdata[0], ==, "galsmime test root CA|root.crt");
	g_assert_cmpuint(people->len, ==, 1);
	g_assert_cmpstr(people->pdata[0], ==, "Bob Example|bob.crt");
	unit_store_close(&u);
	g_ptr_array_free(all, TRUE);
	g_ptr_array_free(anchors, TRUE);
	g_ptr_array_free(people, TRUE);
}

/* Decoded certificates are shared by their bytes: the same DER gives the
 * same object, other bytes another, and non-certificates nothing. */
static void
test_decode_cache(void)
{
	unit_store u;
	size_t la, lb;
	unsigned char *pa, *pb, *da = NULL, *db = NULL, *copy;
	X509 *a, *b, *x1, *x2, *y, *z;
	int lena, lenb;

	if (!need_pki())
		return;
	unit_store_open(&u);
	pa = pki_read("alice.crt", &la);
	pb = pki_read("bob.crt", &lb);
	a = pki_cert("alice");
	b = pki_cert("bob");
	lena = i2d_X509(a, &da);
	lenb = i2d_X509(b, &db);
	x1 = gs_store_decode_cert(u.store, da, lena);
	copy = g_memdup2(da, (guint) lena);
	x2 = gs_store_decode_cert(u.store, copy, lena);
	y = gs_store_decode_cert(u.store, db, lenb);
	g_assert_nonnull(x1);
	g_assert_true(x1 == x2);
	g_assert_nonnull(y);
	g_assert_true(y != x1);
	g_assert_cmpint(X509_cmp(x1, a), ==, 0);
	g_assert_cmpint(X509_cmp(y, b), ==, 0);
	/* a changed byte (in the signature) is another certificate */
	copy[lena - 1] ^= 0x01;
	z = gs_store_decode_cert(u.store, copy, lena);
	g_assert_nonnull(z);
	g_assert_true(z != x1);
	g_assert_cmpint(X509_cmp(z, a), !=, 0);
	X509_free(z);
	g_assert_null(gs_store_decode_cert(u.store, da, lena - 1));
	g_assert_null(gs_store_decode_cert(u.store, NULL, 0));
	X509_free(x1);
	X509_free(x2);
	X509_free(y);
	X509_free(a);
	X509_free(b);
	OPENSSL_free(da);
	OPENSSL_free(db);
	g_free(copy);
	g_free(pa);
	g_free(pb);
	unit_store_close(&u);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/store/open/modes-under-umask-0", test_modes_umask_0);
	g_test_add_func("/store/open/modes-of-existing-files", test_modes_existing_folder);
	g_test_add_func("/store/open/reopen-idempotent", test_reopen_idempotent);
	g_test_add_func("/store/open/read-only", test_read_only);
	g_test_add_func("/store/open/wal-mode", test_wal_mode);
	g_test_add_func("/store/open/newer-schema-refused", test_newer_schema_refused);
	g_test_add_func("/store/open/upgrade-from-3", test_upgrade_from_3);
	g_test_add_func("/store/open/not-a-store", test_not_a_store);
	g_test_add_func("/store/bad-arguments", test_bad_arguments);
	g_test_add_func("/store/import/anchor-refuses-leaf", test_anchor_refuses_leaf);
	g_test_add_func("/store/import/anchor-bundle-imports-ca-refuses-leaf", test_anchor_refuses_leaf_in_bundle);
	g_test_add_func("/store/import/twice-known-counts", test_import_twice);
	g_test_add_func("/store/import/malformed", test_import_malformed);
	g_test_add_func("/store/list/filters", test_list_filters);
	g_test_add_func("/store/decode/shared-by-bytes", test_decode_cache);
	return UNIT_RUN();
}
