/* test-busy.c: a store that cannot be read gives a status, never a
 * verdict. Another connection holds the database exclusively (or a table
 * the chain check reads is gone) after the store was opened; verifying a
 * good signature and resolving a good recipient must then return
 * GS_E_BUSY (or the store's error), not "bad" or "untrusted". */
#include "unit.h"

static const char plain_message[] =
	"From: Alice <alice@example.org>\n"
	"To: bob@example.org\n"
	"Subject: busy\n"
	"Date: Sat, 28 Nov 2026 12:00:00 +0000\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"a good signature, whatever the store's mood\n";

/* The test root trusted, bob's certificate known, alice's identity; and
 * a message alice signed, as written out. */
static GByteArray *
setup(unit_store *u)
{
	GMimeStream *out = g_mime_stream_mem_new();
	GByteArray *bytes = g_byte_array_new();
	GMimeMessage *m;
	gs_sign_opts so = { 0 };
	char *msg = NULL;

	unit_store_trusting_root(u);
	unit_import(u, "bob.crt", GS_ROLE_CORRESPONDENT);
	unit_import_identity(u, "alice.p12");
	m = unit_parse(unit_session(u), plain_message, sizeof plain_message - 1);
	if (gs_message_sign(unit_session(u), m, &so, &msg) != GS_OK ||
	    gs_message_write(unit_session(u), m, out, &msg) != GS_OK)
		g_error("sign: %s", msg);
	g_byte_array_append(bytes, g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out))->data,
			    g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out))->len);
	g_object_unref(m);
	g_object_unref(out);
	return bytes;
}

/* The setup's handle goes: its connection's lock would stop the other
 * connection from locking. */
static void
release_first_handle(unit_store *u)
{
	gs_session_free(u->session);
	u->session = NULL;
	gs_store_close(u->store);
	u->store = NULL;
}

/* A second handle on the same store, opened (and so past its schema
 * check) before anything locks it, with a short busy timeout and nothing
 * read yet: as a filter that started just before an import. Its
 * connection is made again after the open, so that it holds no lock of
 * its own (an open connection in WAL mode keeps a shared lock, which
 * would stop the other connection from locking). */
static gs_store *
second_handle(unit_store *u)
{
	gs_store *s = NULL;
	char *msg = NULL;

	if (gs_store_open(u->home, GS_STORE_READ_WRITE, 100, &s, &msg) != GS_OK)
		g_error("open: %s", msg);
	if (s->stmts)
		g_hash_table_remove_all(s->stmts);
	sqlite3_close_v2(s->db);
	s->db = NULL;
	g_assert_cmpint(sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL),
			==, SQLITE_OK);
	sqlite3_busy_timeout(s->db, 100);
	sqlite3_extended_result_codes(s->db, 1);
	return s;
}

/* Another connection that holds the whole database: exclusive locking
 * mode, an exclusive transaction, and a write in it. */
static sqlite3 *
lock_store(unit_store *u)
{
	char *path = g_build_filename(u->home, "galsmime.db", NULL);
	sqlite3 *db = NULL;
	char *err = NULL;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	if (sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;"
			     " INSERT INTO harvested(message_id, verdict, at) VALUES ('lock', 'lock', 0);",
			 NULL, NULL, &err) != SQLITE_OK)
		g_error("lock: %s", err);
	g_free(path);
	return db;
}

static void
unlock_store(sqlite3 *db)
{
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}

static gs_status
verify_bytes(gs_session *s, const GByteArray *bytes, gs_sig_status *verdict, char **msg)
{
	GMimeMessage *m = unit_parse(s, (const char *) bytes->data, bytes->len);
	gs_report *r = NULL;
	gs_status st = gs_message_verify(s, m, &r, msg);

	*verdict = r ? gs_report_status(r) : GS_SIG_ERROR;
	gs_report_free(r);
	g_object_unref(m);
	return st;
}

static void
test_verify_busy(void)
{
	unit_store u;
	GByteArray *signed_msg;
	gs_session *s2 = NULL;
	gs_store *store2;
	gs_sig_status verdict;
	sqlite3 *lock;
	char *msg = NULL;

	if (!need_pki())
		return;
	signed_msg = setup(&u);
	g_assert_cmpint(verify_bytes(unit_session(&u), signed_msg, &verdict, &msg), ==, GS_OK);
	g_assert_cmpint(verdict, ==, GS_SIG_GOOD);
	release_first_handle(&u);

	store2 = second_handle(&u);
	g_assert_cmpint(gs_session_new(store2, &s2, &msg), ==, GS_OK);
	gs_session_set_time(s2, UNIT_NOW);
	lock = lock_store(&u);
	g_assert_cmpint(verify_bytes(s2, signed_msg, &verdict, &msg), ==, GS_E_BUSY);
	g_assert_nonnull(msg);
	g_assert_nonnull(strstr(msg, "busy"));
	g_clear_pointer(&msg, g_free);
	unlock_store(lock);
	/* once the lock is gone the same handle gives the verdict */
	g_assert_cmpint(verify_bytes(s2, signed_msg, &verdict, &msg), ==, GS_OK);
	g_assert_cmpint(verdict, ==, GS_SIG_GOOD);
	gs_session_free(s2);
	gs_store_close(store2);
	g_byte_array_unref(signed_msg);
	unit_store_close(&u);
}

static void
test_resolve_busy(void)
{
	unit_store u;
	GByteArray *signed_msg;
	gs_resolution *r = NULL;
	gs_session *s2 = NULL;
	gs_store *store2;
	sqlite3 *lock;
	char *msg = NULL;

	if (!need_pki())
		return;
	signed_msg = setup(&u);
	release_first_handle(&u);
	store2 = second_handle(&u);
	g_assert_cmpint(gs_session_new(store2, &s2, &msg), ==, GS_OK);
	gs_session_set_time(s2, UNIT_NOW);
	lock = lock_store(&u);
	g_assert_cmpint(gs_resolve(s2, "bob@example.org", 0, &r, &msg), ==, GS_E_BUSY);
	g_assert_null(r);
	g_clear_pointer(&msg, g_free);
	unlock_store(lock);
	g_assert_cmpint(gs_resolve(s2, "bob@example.org", 0, &r, &msg), ==, GS_OK);
	g_assert_nonnull(gs_resolution_chosen(r));
	gs_resolution_free(r);
	gs_session_free(s2);
	gs_store_close(store2);
	g_byte_array_unref(signed_msg);
	unit_store_close(&u);
}

/* A store whose tables the chain check reads cannot be read: the
 * candidates and the message are there, the anchors (or the CRLs) are
 * not. Before statuses this was "untrusted" (resolution) and a bad
 * signature (verify). */
static void
broken_table(const char *sql)
{
	unit_store u;
	GByteArray *signed_msg;
	gs_resolution *r = NULL;
	gs_session *s2 = NULL;
	gs_store *store2;
	gs_sig_status verdict;
	sqlite3 *db;
	char *path, *msg = NULL;
	gs_status st;

	signed_msg = setup(&u);
	release_first_handle(&u);
	path = g_build_filename(u.home, "galsmime.db", NULL);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	g_free(path);
	g_assert_cmpint(gs_store_open(u.home, GS_STORE_READ_WRITE, 100, &store2, &msg), ==, GS_OK);
	g_assert_cmpint(gs_session_new(store2, &s2, &msg), ==, GS_OK);
	gs_session_set_time(s2, UNIT_NOW);

	st = gs_resolve(s2, "bob@example.org", 0, &r, &msg);
	g_assert_cmpint(st, !=, GS_OK);
	g_assert_null(r);
	g_clear_pointer(&msg, g_free);
	st = verify_bytes(s2, signed_msg, &verdict, &msg);
	g_assert_cmpint(st, !=, GS_OK);
	g_assert_nonnull(msg);
	g_free(msg);
	gs_session_free(s2);
	gs_store_close(store2);
	g_byte_array_unref(signed_msg);
	unit_store_close(&u);
}

static void
test_anchors_unreadable(void)
{
	if (need_pki())
		broken_table("DROP TABLE anchor");
}

static void
test_crls_unreadable(void)
{
	if (need_pki())
		broken_table("DROP TABLE crl");
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/busy/verify-is-busy-not-bad", test_verify_busy);
	g_test_add_func("/busy/resolve-is-busy-not-untrusted", test_resolve_busy);
	g_test_add_func("/busy/anchors-unreadable-is-an-error", test_anchors_unreadable);
	g_test_add_func("/busy/crls-unreadable-is-an-error", test_crls_unreadable);
	return UNIT_RUN();
}
