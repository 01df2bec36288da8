/* test-agent-warm.c: lib/agent-warm.c: the warm engine's decoded
 * certificates (anchors, identities, CAs; no correspondent's) are what
 * stores opened afterwards hand out, for exactly the same DER; a store
 * that cannot be opened leaves the set empty. What a store decoded
 * outside the set is noted (gs_warm_certs_missed) and can be learned
 * (gs_warm_certs_learn), by its exact bytes, within a bound. */
#include "unit.h"

/* remove the throw-away folder of store_with_certs' store `dir`, free `dir` */
static void
drop(char *dir)
{
	char *parent = g_path_get_dirname(dir);

	rm_rf(parent);
	g_free(parent);
	g_free(dir);
}

static gs_store *
store_with_certs(char **dir)
{
	gs_store *s = NULL;
	size_t len;
	unsigned char *root = pki_read("root.crt", &len);
	gs_import_stats stats = { 0 };
	char *tmp = tmp_dir();

	*dir = g_build_filename(tmp, "store", NULL);
	g_free(tmp);
	g_assert_cmpint(gs_store_open(*dir, GS_STORE_READ_WRITE, 1000, &s, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_import_certs(s, root, len, "root.crt", GS_ROLE_ANCHOR, &stats, NULL), ==, GS_OK);
	g_free(root);
	root = pki_read("inter.crt", &len);
	g_assert_cmpint(gs_store_import_certs(s, root, len, "inter.crt", GS_ROLE_CORRESPONDENT, &stats, NULL), ==,
			GS_OK);
	g_free(root);
	root = pki_read("bob.crt", &len);
	g_assert_cmpint(gs_store_import_certs(s, root, len, "bob.crt", GS_ROLE_CORRESPONDENT, &stats, NULL), ==,
			GS_OK);
	g_free(root);
	return s;
}

/* the DER of the certificate of row `id` */
static GBytes *
row_der(gs_store *s, int id)
{
	sqlite3_stmt *q = NULL;
	GBytes *b;

	g_assert_cmpint(sqlite3_prepare_v2(s->db, "SELECT der FROM certificate WHERE id = ?", -1, &q, NULL), ==,
			SQLITE_OK);
	sqlite3_bind_int(q, 1, id);
	g_assert_cmpint(sqlite3_step(q), ==, SQLITE_ROW);
	b = g_bytes_new(sqlite3_column_blob(q, 0), (gsize) sqlite3_column_bytes(q, 0));
	sqlite3_finalize(q);
	return b;
}

static void
test_shared(void)
{
	char *dir;
	gs_store *s, *t = NULL;
	GBytes *der;
	X509 *a, *b, *c;
	gsize n;
	const void *p;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	der = row_der(s, 2);
	gs_store_close(s);
	p = g_bytes_get_data(der, &n);

	g_assert_cmpint(gs_warm_certs_load(dir, 100, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	a = gs_store_decode_cert(t, p, (int) n);
	b = gs_warm_cert(p, (int) n);
	g_assert_nonnull(a);
	/* the very object the set decoded, not a second decoding */
	g_assert_true(a == b);
	X509_free(b);
	gs_store_close(t);

	/* emptied: stores decode for themselves again */
	gs_warm_certs_clear();
	g_assert_null(gs_warm_cert(p, (int) n));
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	c = gs_store_decode_cert(t, p, (int) n);
	g_assert_nonnull(c);
	g_assert_true(c != a);
	g_assert_cmpint(X509_cmp(c, a), ==, 0);
	X509_free(c);
	X509_free(a);
	gs_store_close(t);
	g_bytes_unref(der);
	drop(dir);
}

static void
test_limit_and_bytes(void)
{
	char *dir;
	gs_store *s;
	GBytes *der, *bob;
	gsize n;
	const unsigned char *p;
	unsigned char *copy;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	der = row_der(s, 2);
	bob = row_der(s, 3);
	gs_store_close(s);
	p = g_bytes_get_data(der, &n);
	/* one certificate at most: the anchor comes first, the CA is left out */
	g_assert_cmpint(gs_warm_certs_load(dir, 1, NULL), ==, GS_OK);
	g_assert_null(gs_warm_cert(p, (int) n));
	g_assert_cmpint(gs_warm_certs_load(dir, 100, NULL), ==, GS_OK);
	{
		X509 *x = gs_warm_cert(p, (int) n);
		gsize bn;
		const void *bp = g_bytes_get_data(bob, &bn);

		g_assert_nonnull(x);
		X509_free(x);
		/* a correspondent's certificate is not taken */
		g_assert_null(gs_warm_cert(bp, (int) bn));
	}
	g_bytes_unref(bob);
	/* one byte different: not the same certificate */
	copy = g_memdup2(p, n);
	copy[n - 1] ^= 1;
	g_assert_null(gs_warm_cert(copy, (int) n));
	g_assert_null(gs_warm_cert(p, (int) n - 1));
	g_free(copy);
	gs_warm_certs_clear();
	g_bytes_unref(der);
	drop(dir);
}

static void
test_no_store(void)
{
	char *tmp = tmp_dir(), *file = g_build_filename(tmp, "file", NULL);
	char *msg = NULL;

	g_assert_cmpint(gs_warm_certs_load(NULL, 1, NULL), ==, GS_E_PROGRAMMER);
	/* a file where the folder should be: the open fails, the set is empty */
	g_assert_true(g_file_set_contents(file, "x", 1, NULL));
	g_assert_cmpint(gs_warm_certs_load(file, 1, &msg), !=, GS_OK);
	g_assert_nonnull(msg);
	g_assert_null(gs_warm_cert("x", 1));
	g_free(msg);
	g_free(file);
	rm_rf(tmp);
	g_free(tmp);
}

/* gs_store_reuse: a handle opened earlier (the engine's spare opens its
 * store before the request comes) serves only while what gs_store_open
 * checked still holds: the same database file at the path, private
 * folders, no foreign -wal/-shm. Each change below would otherwise make
 * the request read a store other than the one its path now names. */
static void
test_reuse(void)
{
	char *dir, *path, *moved, *msg = NULL;
	gs_store *s, *t = NULL;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	gs_store_close(s);
	path = g_build_filename(dir, "galsmime.db", NULL);
	moved = g_strconcat(path, ".old", NULL);

	g_assert_cmpint(gs_store_reuse(NULL, 1000, NULL), ==, GS_E_PROGRAMMER);
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_reuse(t, 1000, &msg), ==, GS_OK);
	g_assert_null(msg);

	/* the folder opened to others since */
	g_assert_cmpint(chmod(dir, 0777), ==, 0);
	g_assert_cmpint(gs_store_reuse(t, 1000, &msg), ==, GS_E_UNSAFE);
	g_assert_nonnull(msg);
	g_clear_pointer(&msg, g_free);
	g_assert_cmpint(chmod(dir, 0700), ==, 0);
	g_assert_cmpint(gs_store_reuse(t, 1000, NULL), ==, GS_OK);

	/* the database file replaced by another (same content, new file) */
	g_assert_cmpint(rename(path, moved), ==, 0);
	{
		gchar *data;
		gsize n;
		g_assert_true(g_file_get_contents(moved, &data, &n, NULL));
		g_assert_true(g_file_set_contents(path, data, (gssize) n, NULL));
		g_assert_cmpint(chmod(path, 0600), ==, 0);
		g_free(data);
	}
	g_assert_cmpint(gs_store_reuse(t, 1000, &msg), ==, GS_E_UNSAFE);
	g_assert_nonnull(strstr(msg, "no longer the database"));
	g_clear_pointer(&msg, g_free);
	/* ... or gone */
	g_assert_cmpint(unlink(path), ==, 0);
	g_assert_cmpint(gs_store_reuse(t, 1000, NULL), !=, GS_OK);
	/* back where it was: the very file opened, usable again */
	g_assert_cmpint(rename(moved, path), ==, 0);
	g_assert_cmpint(gs_store_reuse(t, 1000, NULL), ==, GS_OK);
	gs_store_close(t);

	/* a -shm that is a symbolic link, planted while the handle waited:
	 * open it with no other connection so that the sidecars are absent */
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	{
		char *shm = g_strconcat(path, "-shm", NULL);
		unlink(shm);
		g_assert_cmpint(symlink("/dev/null", shm), ==, 0);
		g_assert_cmpint(gs_store_reuse(t, 1000, NULL), ==, GS_E_UNSAFE);
		unlink(shm);
		g_free(shm);
	}
	gs_store_close(t);
	g_free(path);
	g_free(moved);
	drop(dir);
}

/* gs_cms_read_signed: a SignedData carrying alice's certificate and the
 * intermediate's, read in a process whose warm set holds the
 * intermediate (a CA of the store): the CMS's intermediate is the warm
 * set's very object, not a second decoding; alice's (a correspondent's,
 * not in the set) is decoded; both in the order the encoding has them,
 * and the whole re-encodes as d2i's reading does. */
static void
test_signed_certs(void)
{
	char *dir;
	gs_store *s;
	X509 *alice, *inter, *warm;
	EVP_PKEY *key;
	STACK_OF(X509) *extra = sk_X509_new_null(), *got, *plain_certs;
	BIO *in = BIO_new_mem_buf("Content-Type: text/plain\r\n\r\nhello\r\n", -1);
	CMS_ContentInfo *cms, *read, *plain;
	unsigned char *der = NULL, *d1 = NULL, *d2 = NULL;
	int len, l1, l2;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	gs_store_close(s);
	alice = pki_cert("alice");
	inter = pki_cert("inter");
	key = pki_key("alice");
	sk_X509_push(extra, inter);
	cms = CMS_sign(alice, key, extra, in, CMS_BINARY | CMS_DETACHED);
	g_assert_nonnull(cms);
	len = i2d_CMS_ContentInfo(cms, &der);
	g_assert_cmpint(len, >, 0);

	g_assert_cmpint(gs_warm_certs_load(dir, 100, NULL), ==, GS_OK);
	read = gs_cms_read_signed(NULL, der, (size_t) len);
	plain = gs_cms_read(der, (size_t) len);
	g_assert_nonnull(read);
	g_assert_nonnull(plain);
	got = CMS_get1_certs(read);
	plain_certs = CMS_get1_certs(plain);
	g_assert_cmpint(sk_X509_num(got), ==, 2);
	g_assert_cmpint(sk_X509_num(plain_certs), ==, 2);
	for (int i = 0; i < 2; i++)
		g_assert_cmpint(X509_cmp(sk_X509_value(got, i), sk_X509_value(plain_certs, i)), ==, 0);
	{
		int i_inter = X509_cmp(sk_X509_value(got, 0), inter) == 0 ? 0 : 1;
		unsigned char *ider = NULL;
		int ilen = i2d_X509(inter, &ider);

		warm = gs_warm_cert(ider, ilen);
		g_assert_nonnull(warm);
		g_assert_true(sk_X509_value(got, i_inter) == warm);
		g_assert_true(sk_X509_value(got, 1 - i_inter) != warm);
		g_assert_cmpint(X509_cmp(sk_X509_value(got, 1 - i_inter), alice), ==, 0);
		X509_free(warm);
		OPENSSL_free(ider);
	}
	l1 = i2d_CMS_ContentInfo(read, &d1);
	l2 = i2d_CMS_ContentInfo(plain, &d2);
	g_assert_cmpint(l1, ==, l2);
	g_assert_cmpmem(d1, l1, d2, l2);

	OPENSSL_free(d1);
	OPENSSL_free(d2);
	sk_X509_pop_free(got, X509_free);
	sk_X509_pop_free(plain_certs, X509_free);
	CMS_ContentInfo_free(read);
	CMS_ContentInfo_free(plain);
	gs_warm_certs_clear();
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	sk_X509_free(extra);
	X509_free(alice);
	X509_free(inter);
	EVP_PKEY_free(key);
	drop(dir);
}

/* gs_store_warm then gs_store_reuse: the anchors the spare loaded serve
 * the request while nobody wrote to the store; an anchor removed by
 * another process in between is gone from the handle's X509_STORE. */
static void
test_warm_then_write(void)
{
	char *dir;
	gs_store *s, *t = NULL;
	X509_STORE *a1, *a2;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	g_assert_cmpint(gs_store_warm(NULL, NULL), ==, GS_E_PROGRAMMER);
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_warm(t, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_anchor_store(t, &a1, NULL), ==, GS_OK);
	g_assert_cmpint(sk_X509_OBJECT_num(X509_STORE_get0_objects(a1)), ==, 1);
	/* nobody wrote: the very same anchors */
	g_assert_cmpint(gs_store_reuse(t, 1000, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_anchor_store(t, &a2, NULL), ==, GS_OK);
	g_assert_true(a1 == a2);
	/* the root's trust removed through another connection */
	g_assert_cmpint(sqlite3_exec(s->db, "DELETE FROM anchor", NULL, NULL, NULL), ==, SQLITE_OK);
	g_assert_cmpint(gs_store_reuse(t, 1000, NULL), ==, GS_OK);
	g_assert_cmpint(gs_store_anchor_store(t, &a2, NULL), ==, GS_OK);
	g_assert_cmpint(sk_X509_OBJECT_num(X509_STORE_get0_objects(a2)), ==, 0);
	gs_store_close(t);
	gs_store_close(s);
	drop(dir);
}

/* A self-signed certificate carrying `pad` bytes of comment. */
static unsigned char *
padded_cert(EVP_PKEY *key, long serial, size_t pad, int *len)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	char *comment = g_malloc(pad + 1);

	memset(comment, 'a', pad);
	comment[pad] = 0;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *) "padded", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_netscape_comment, comment);
	g_assert_nonnull(ext);
	X509_add_ext(x, ext, -1);
	g_assert_cmpint(X509_sign(x, key, EVP_sha256()), >, 0);
	*len = i2d_X509(x, &der);
	g_assert_cmpint(*len, >, (int) pad);
	X509_EXTENSION_free(ext);
	X509_NAME_free(n);
	X509_free(x);
	g_free(comment);
	return der;
}

/* The store handle's cache of decoded certificates holds a message's
 * certificates too (gs_cms_read_signed): six hostile certificates of a
 * megabyte each, decoded through one handle, are all decoded, but the
 * cache keeps at most 4 MiB of them, not 6 MiB (a notmuch run reading
 * thousands of such messages with one handle would otherwise keep 1024
 * of them). */
static void
test_decoded_budget(void)
{
	char *dir;
	gs_store *s;
	EVP_PKEY *key;
	X509 *first = NULL;
	unsigned char *der1 = NULL;
	int len1 = 0;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	key = pki_key("alice");
	for (long i = 1; i <= 6; i++) {
		int len;
		unsigned char *der = padded_cert(key, i, (size_t) 1 << 20, &len);
		X509 *x = gs_store_decode_cert(s, der, len);

		g_assert_nonnull(x);
		if (i == 1) {
			first = x;
			der1 = der;
			len1 = len;
		} else {
			X509_free(x);
			OPENSSL_free(der);
		}
	}
	g_assert_cmpuint(s->decoded_bytes, <=, (size_t) 4 << 20);
	g_assert_cmpuint(g_hash_table_size(s->decoded), <=, 4);
	g_assert_cmpuint(g_hash_table_size(s->decoded), >=, 3);
	/* the first is still the cached object */
	{
		X509 *again = gs_store_decode_cert(s, der1, len1);

		g_assert_true(again == first);
		X509_free(again);
		OPENSSL_free(der1);
	}
	X509_free(first);
	EVP_PKEY_free(key);
	gs_store_close(s);
	drop(dir);
}

/* the DER of pki/NAME.crt */
static GBytes *
cert_der(const char *name)
{
	X509 *x = pki_cert(name);
	unsigned char *d = NULL;
	int len = i2d_X509(x, &d);
	GBytes *b;

	g_assert_cmpint(len, >, 0);
	b = g_bytes_new(d, (gsize) len);
	OPENSSL_free(d);
	X509_free(x);
	return b;
}

static void
test_missed_and_learned(void)
{
	char *dir;
	gs_store *s, *t = NULL;
	GBytes *bob, *alice, *junk;
	GPtrArray *got;
	X509 *a, *b;
	gsize bn, an;
	const void *bp, *ap;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	bob = row_der(s, 3);
	gs_store_close(s);
	bp = g_bytes_get_data(bob, &bn);
	alice = cert_der("alice");
	ap = g_bytes_get_data(alice, &an);
	junk = g_bytes_new("\x30\x03\x02\x01\x01", 5);

	/* no set: nothing noted, nothing learned */
	gs_warm_certs_clear();
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	X509_free(gs_store_decode_cert(t, bp, (int) bn));
	gs_store_close(t);
	got = gs_warm_certs_missed();
	g_assert_cmpuint(got->len, ==, 0);
	g_ptr_array_unref(got);
	g_assert_cmpuint(gs_warm_certs_learn(&bob, 1, 10), ==, 0);

	g_assert_cmpint(gs_warm_certs_load(dir, 100, NULL), ==, GS_OK);
	g_assert_null(gs_warm_cert(bp, (int) bn));
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	/* bob's (from the store), then alice's (one a message brought), each
	 * noted once per handle; what does not decode is not noted */
	X509_free(gs_store_decode_cert(t, bp, (int) bn));
	X509_free(gs_store_decode_cert(t, bp, (int) bn));
	X509_free(gs_store_decode_cert(t, ap, (int) an));
	g_assert_null(gs_store_decode_cert(t, g_bytes_get_data(junk, NULL), (int) g_bytes_get_size(junk)));
	gs_store_close(t);
	got = gs_warm_certs_missed();
	g_assert_cmpuint(got->len, ==, 2);
	g_assert_true(g_bytes_equal(got->pdata[0], bob));
	g_assert_true(g_bytes_equal(got->pdata[1], alice));

	/* learned: both, each by its bytes; what is not a certificate is not */
	g_assert_cmpuint(gs_warm_certs_learn((GBytes *const *) got->pdata, 0, 10), ==, 0);
	g_assert_null(gs_warm_cert(bp, (int) bn));
	g_assert_cmpuint(gs_warm_certs_learn(&junk, 1, 10), ==, 0);
	g_assert_cmpuint(gs_warm_certs_learn((GBytes *const *) got->pdata, got->len, 10), ==, 2);
	g_ptr_array_unref(got);
	b = gs_warm_cert(bp, (int) bn);
	g_assert_nonnull(b);
	a = gs_warm_cert(ap, (int) an);
	g_assert_nonnull(a);
	X509_free(a);
	/* what a store hands out now is that very object */
	g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
	a = gs_store_decode_cert(t, bp, (int) bn);
	g_assert_true(a == b);
	X509_free(a);
	gs_store_close(t);
	X509_free(b);
	/* learning it again adds nothing; a bound of 0 learns nothing */
	g_assert_cmpuint(gs_warm_certs_learn(&bob, 1, 10), ==, 0);

	/* loading the set again drops what was learned and what was noted */
	g_assert_cmpint(gs_warm_certs_load(dir, 100, NULL), ==, GS_OK);
	g_assert_null(gs_warm_cert(bp, (int) bn));
	got = gs_warm_certs_missed();
	g_assert_cmpuint(got->len, ==, 0);
	g_ptr_array_unref(got);
	g_assert_cmpuint(gs_warm_certs_learn(&bob, 1, 0), ==, 0);
	g_assert_null(gs_warm_cert(bp, (int) bn));
	g_assert_cmpuint(gs_warm_certs_learn(NULL, 1, 10), ==, 0);
	gs_warm_certs_clear();
	g_bytes_unref(junk);
	g_bytes_unref(alice);
	g_bytes_unref(bob);
	drop(dir);
}

/* At most `max` learned stay, the oldest going first; the loaded set
 * stays whole; a store notes at most 16. */
static void
test_learned_bound(void)
{
	char *dir;
	gs_store *s, *t = NULL;
	GBytes *v[3];
	GPtrArray *got;
	X509 *x;
	gsize n;
	const void *p;
	int i;

	if (!need_pki())
		return;
	s = store_with_certs(&dir);
	v[0] = row_der(s, 3);          /* bob */
	v[1] = cert_der("alice");
	v[2] = row_der(s, 2);          /* the intermediate CA: loaded */
	gs_store_close(s);
	g_assert_cmpint(gs_warm_certs_load(dir, 100, NULL), ==, GS_OK);
	/* bob's added, then gone when alice's came; the CA's was loaded */
	g_assert_cmpuint(gs_warm_certs_learn(v, 3, 1), ==, 2);
	p = g_bytes_get_data(v[0], &n);
	g_assert_null(gs_warm_cert(p, (int) n));
	p = g_bytes_get_data(v[1], &n);
	g_assert_nonnull((x = gs_warm_cert(p, (int) n)));
	X509_free(x);
	p = g_bytes_get_data(v[2], &n);
	g_assert_nonnull((x = gs_warm_cert(p, (int) n)));
	X509_free(x);

	/* 20 certificates decoded outside the set, through 20 handles: 16 noted */
	gs_warm_certs_clear();
	g_assert_cmpint(gs_warm_certs_load(dir, 100, NULL), ==, GS_OK);
	for (i = 0; i < 20; i++) {
		g_assert_cmpint(gs_store_open(dir, GS_STORE_READ_ONLY, 1000, &t, NULL), ==, GS_OK);
		p = g_bytes_get_data(v[i % 2], &n);
		X509_free(gs_store_decode_cert(t, p, (int) n));
		gs_store_close(t);
	}
	got = gs_warm_certs_missed();
	g_assert_cmpuint(got->len, ==, 16);
	g_ptr_array_unref(got);
	gs_warm_certs_clear();
	for (i = 0; i < 3; i++)
		g_bytes_unref(v[i]);
	drop(dir);
}

int
main(int argc, char **argv)
{
	UNIT_INIT(argc, argv);
	g_test_add_func("/agent-warm/shared-with-stores", test_shared);
	g_test_add_func("/agent-warm/limit-and-exact-bytes", test_limit_and_bytes);
	g_test_add_func("/agent-warm/no-store", test_no_store);
	g_test_add_func("/agent-warm/store-reuse", test_reuse);
	g_test_add_func("/agent-warm/signed-data-certificates", test_signed_certs);
	g_test_add_func("/agent-warm/warm-then-write", test_warm_then_write);
	g_test_add_func("/agent-warm/decoded-cache-budget", test_decoded_budget);
	g_test_add_func("/agent-warm/missed-and-learned", test_missed_and_learned);
	g_test_add_func("/agent-warm/learned-bound", test_learned_bound);
	return g_test_run();
}
